import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseUserName } from '../../src/login/names.ts';

test('case, width and compatibility variants are one name', () => {
  const cases: [string, string][] = [
    ['alice', 'alice'], ['Alice', 'alice'], ['ALICE', 'alice'],
    ['ａｌｉｃｅ', 'alice'],          // fullwidth
    ['ＡＬＩＣＥ', 'alice'],
    ['\u212Aate', 'kate'],          // KELVIN SIGN
    ['ﬀoo', 'ffoo'],                // ligature
    ['ａ．ｂｃ', 'a.bc'],            // fullwidth full stop
    [' alice ', 'alice'], ['\u3000alice\u3000', 'alice'], ['alice\n', 'alice'],
    ['bob_smith-2', 'bob_smith-2'], ['a.b', 'a.b'],
  ];
  for (const [input, want] of cases) {
    const r = normaliseUserName(input);
    assert.ok(r.ok, `${JSON.stringify(input)}: ${!r.ok && r.error.message}`);
    assert.equal(r.value, want, JSON.stringify(input));
  }
});

test('lengths 3 and 32 are the bounds', () => {
  assert.ok(normaliseUserName('abc').ok);
  assert.ok(normaliseUserName('a'.repeat(32)).ok);
  assert.equal(normaliseUserName('ab').ok, false);
  assert.equal(normaliseUserName('a'.repeat(33)).ok, false);
});

test('look-alikes from other scripts and bad shapes are refused with a reason', () => {
  const cases: [string, string][] = [
    ['аlice', 'name-bad-char'],      // Cyrillic а
    ['alicе', 'name-bad-char'],      // Cyrillic е
    ['bοb', 'name-bad-char'],        // Greek ο
    ['a\u200Blice', 'name-bad-char'], // zero-width space
    ['alice\u0301', 'name-bad-char'], // combining accent (composes to é)
    ['İlker', 'name-bad-char'],      // lower-cases to i + combining dot
    ['straße', 'name-bad-char'],     // not folded to "ss"
    ['al ice', 'name-bad-char'],
    ['al@ice', 'name-bad-char'],
    ['\uD800abc', 'name-bad-char'],  // lone surrogate
    ['', 'name-too-short'],
    ['   ', 'name-too-short'],
    ['al', 'name-too-short'],
    ['a'.repeat(33), 'name-too-long'],
    ['x'.repeat(10_000), 'name-too-long'],
    ['1alice', 'name-bad-start'],
    ['_alice', 'name-bad-start'],
    ['.alice', 'name-bad-start'],
    ['al..ice', 'name-double-dot'],
    ['alice.', 'name-bad-end'],
    ['alice-', 'name-bad-end'],
  ];
  for (const [input, code] of cases) {
    const r = normaliseUserName(input);
    assert.ok(!r.ok, JSON.stringify(input));
    assert.equal(r.error.code, code, JSON.stringify(input));
    assert.ok(r.error.message.length > 0);
  }
});

test('a refused character is named by its code point, since it may be invisible or look like ASCII', () => {
  const cyrillic = normaliseUserName('аlice');
  assert.ok(!cyrillic.ok);
  assert.match(cyrillic.error.message, /U\+0430/);
  assert.match(cyrillic.error.message, /not a plain ASCII character/);
  const invisible = normaliseUserName('a\u200Blice');
  assert.ok(!invisible.ok);
  assert.match(invisible.error.message, /U\+200B/);
});

test('normalising is idempotent', () => {
  for (const input of ['Alice', 'ａｌｉｃｅ', '\u212Aate', 'ﬀoo', ' Bob.Smith ']) {
    const once = normaliseUserName(input);
    assert.ok(once.ok);
    assert.deepEqual(normaliseUserName(once.value), once);
  }
});
