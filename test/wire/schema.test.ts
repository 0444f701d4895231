import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, f } from '../../src/wire/schema.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';

const Sample = command(77, {
  user: f.string(1, 8),
  key: f.key(2),
  port: f.uint(3, 65535).opt(),
  where: f.addresses(4).opt(),
  on: f.bool(5).opt(),
});

test('a command round-trips through its schema', () => {
  const fields = { user: 'alice', key: new Uint8Array(32).fill(7), port: 80, where: [{ host: '198.51.100.1', port: 1 }], on: true };
  const m = decodeMessage(Sample.toBytes(fields));
  assert.ok(m.ok);
  assert.equal(m.value.command, 77);
  const d = Sample.decode(m.value.body);
  assert.ok(d.ok);
  assert.deepEqual(d.value, fields);
});

test('missing required fields, wrong types and out-of-bound values are typed errors', () => {
  const missing = Sample.decode(new Map<number, any>([[1, 'bob']]));
  assert.ok(!missing.ok && missing.error.code === 'missing-field');
  const wrongType = Sample.decode(new Map<number, any>([[1, 5], [2, new Uint8Array(32)]]));
  assert.ok(!wrongType.ok && wrongType.error.code === 'bad-field');
  const tooLong = Sample.decode(new Map<number, any>([[1, 'much-too-long'], [2, new Uint8Array(32)]]));
  assert.ok(!tooLong.ok);
  const shortKey = Sample.decode(new Map<number, any>([[1, 'bob'], [2, new Uint8Array(31)]]));
  assert.ok(!shortKey.ok);
});

test('unknown ids are skipped for forward compatibility', () => {
  const d = Sample.decode(new Map<number, any>([[1, 'bob'], [2, new Uint8Array(32)], [99, 'from the future']]));
  assert.ok(d.ok);
  assert.equal(d.value.user, 'bob');
});

test('no two commands share a number', async () => {
  const { Cmd } = await import('../../src/wire/commands.ts');
  const seen = new Map<number, string>();
  for (const [name, n] of Object.entries(Cmd)) {
    assert.ok(!seen.has(n), `${name} and ${seen.get(n)} both use command ${n}`);
    seen.set(n, name);
  }
});
