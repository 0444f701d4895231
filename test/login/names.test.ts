import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseUserName } from '../../src/login/names.ts';

test('case and Unicode width variants are one name', () => {
  for (const v of ['alice', 'Alice', 'ALICE', 'ａｌｉｃｅ', ' alice ']) {
    const r = normaliseUserName(v);
    assert.ok(r.ok, v);
    assert.equal(r.value, 'alice');
  }
});

test('look-alikes from other scripts and bad shapes are refused with a reason', () => {
  const cases: [string, string][] = [
    ['аlice', 'name-bad-char'],   // Cyrillic а
    ['al', 'name-too-short'],
    ['a'.repeat(33), 'name-too-long'],
    ['1alice', 'name-bad-start'],
    ['al..ice', 'name-bad-char'],
    ['alice.', 'name-bad-end'],
    ['al ice', 'name-bad-char'],
    ['x'.repeat(10_000), 'name-too-long'],
  ];
  for (const [v, code] of cases) {
    const r = normaliseUserName(v);
    assert.ok(!r.ok, v);
    assert.equal(r.error.code, code, v);
  }
});
