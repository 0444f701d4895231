import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, decodeMessageList, encodeObjectList, decodeObjectList, type ObjectList } from '../../src/wire/object-list.ts';
import { prng } from '../helpers/prng.ts';

const sample = (): ObjectList => new Map<number, any>([
  [0, 0], [1, 300], [2, 'héllo'], [3, { host: '203.0.113.7', port: 4000 }], [4, new Uint8Array([1, 2, 3])],
  [5, [1, 128, 2 ** 40]], [6, new Map<number, any>([[1, 'nested'], [2, { host: '2001:db8::1', port: 443 }]])],
  [7, Number.MAX_SAFE_INTEGER],
]);

test('every object type survives a round trip', () => {
  const bytes = encodeMessage(42, sample());
  const m = decodeMessageList(bytes);
  assert.ok(m.ok);
  assert.equal(m.value.command, 42);
  assert.deepEqual(m.value.body, sample());
});

test('encoding is canonical: insertion order does not matter', () => {
  const a = encodeObjectList(new Map<number, any>([[2, 'b'], [1, 'a']]));
  const b = encodeObjectList(new Map<number, any>([[1, 'a'], [2, 'b']]));
  assert.deepEqual(a, b);
});

test('out-of-order or repeated ids are refused', () => {
  // count 2: (string id 2 "b"), (string id 1 "a"); key = id << 3 | type
  const bytes = new Uint8Array([2, 17, 1, 0x62, 9, 1, 0x61]);
  const r = decodeObjectList(bytes);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.code, 'not-canonical');
  assert.ok(decodeObjectList(new Uint8Array([2, 9, 1, 0x61, 17, 1, 0x62])).ok, 'the same objects in order are fine');
});

test('non-minimal varints are refused', () => {
  const r = decodeObjectList(new Uint8Array([1, 8, 0x80, 0x00]));
  assert.equal(r.ok, false);
  assert.ok(decodeObjectList(new Uint8Array([1, 8, 0x80, 0x01])).ok, 'the minimal spelling of 128 is fine');
});

test('a count larger than the input is refused before allocating', () => {
  const r = decodeObjectList(new Uint8Array([0xff, 0xff, 0xff, 0x7f]));
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.code, 'bad-count');
  // The number-list overflow that Skype patched in many places: a huge count in a tiny message.
  const r2 = decodeObjectList(new Uint8Array([1, 12, 0xff, 0xff, 0xff, 0xff, 0x0f]));
  assert.equal(r2.ok, false);
});

test('nesting deeper than the limit is refused', () => {
  let list: ObjectList = new Map<number, any>([[1, 1]]);
  for (let i = 0; i < 12; i++) list = new Map<number, any>([[1, list]]);
  // Build the bytes by hand, since our encoder refuses to write it.
  const bytes: number[] = [];
  for (let i = 0; i < 12; i++) bytes.push(1, 13);
  bytes.push(1, 8, 1);
  const r = decodeObjectList(new Uint8Array(bytes));
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.error.code, 'too-deep');
  assert.throws(() => encodeObjectList(list));
});

test('invalid UTF-8 and bad address families are typed errors', () => {
  const badUtf8 = decodeObjectList(new Uint8Array([1, 9, 2, 0xc3, 0x28]));
  assert.equal(badUtf8.ok, false);
  const badFamily = decodeObjectList(new Uint8Array([1, 10, 5, 1, 2, 3, 4, 0, 80]));
  assert.equal(badFamily.ok, false);
});

test('hostile bytes: truncations, bit flips and random buffers never throw', () => {
  const rng = prng(7);
  const good = encodeMessage(9, sample());
  for (let cut = 0; cut < good.length; cut++) {
    const r = decodeMessageList(good.subarray(0, cut));
    assert.equal(r.ok, false, `truncated at ${cut} must fail`);
  }
  for (let i = 0; i < 3000; i++) {
    const buf = i % 2 ? rng.bytes(rng.int(64)) : good.map((b) => (rng.int(8) === 0 ? rng.u32() & 0xff : b));
    const r = decodeMessageList(buf);
    assert.ok(r.ok === true || typeof r.error.code === 'string');
  }
});

test('trailing bytes after a list are refused', () => {
  const r = decodeObjectList(new Uint8Array([0, 0]));
  assert.equal(r.ok, false);
});
