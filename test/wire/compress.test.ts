import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packMessage, unpackMessage } from '../../src/wire/envelope.ts';
import { compressBytes, decompressBytes } from '../../src/wire/compress.ts';
import { encodeMessage, Sint } from '../../src/wire/object-list.ts';
import { primingMessages } from '../../src/wire/priming.ts';
import { randomObjectList } from '../helpers/random-objects.ts';
import { prng } from '../helpers/prng.ts';

test('compression round-trips random object lists and arbitrary bytes', () => {
  const rng = prng(1);
  for (let i = 0; i < 300; i++) {
    const raw = i % 3 === 0 ? rng.bytes(rng.int(400)) : encodeMessage(rng.int(100), randomObjectList(rng, 3));
    const packed = packMessage(raw);
    const back = unpackMessage(packed);
    assert.ok(back.ok);
    assert.deepEqual(back.value, raw);
    assert.ok(packed.length <= raw.length + 1, 'never more than one byte of overhead');
  }
});

test('a typical small message shrinks thanks to the primed model', () => {
  const chat = encodeMessage(40, new Map<number, any>([[1, '3f9a1c0b7e2d4a6f8b1c2d3e'], [2, 'see you at the meeting tomorrow'], [3, 1_764_123_456_789]]));
  const packed = packMessage(chat);
  assert.equal(packed[0], 1, 'compressed form');
  assert.ok(packed.length < chat.length * 0.8, `${chat.length} → ${packed.length} bytes`);
});

test('incompressible payloads go raw, with a single form byte', () => {
  const raw = prng(3).bytes(300);
  const packed = packMessage(raw);
  assert.equal(packed[0], 0);
  assert.equal(packed.length, 301);
  assert.equal(packMessage(encodeMessage(1, new Map([[1, new Sint(-5)]])), false)[0], 0);
});

test('the model is the same before and after each message (messages decode in any order)', () => {
  const msgs = primingMessages().slice(0, 40);
  const coded = msgs.map((m) => compressBytes(m));
  for (let i = msgs.length - 1; i >= 0; i--) {
    const d = decompressBytes(coded[i], msgs[i].length);
    assert.ok(d.ok);
    assert.deepEqual(d.value, msgs[i]);
  }
  assert.deepEqual(compressBytes(msgs[0]), coded[0], 'same input, same output');
});

test('hostile compressed input: garbage and lying lengths are typed errors or garbage out, bounded', () => {
  const rng = prng(4);
  for (let i = 0; i < 2000; i++) {
    const bytes = rng.bytes(rng.int(60));
    if (bytes.length) bytes[0] = 1;
    const r = unpackMessage(bytes);
    if (r.ok) assert.ok(r.value.length <= (bytes.length + 8) * 512);
  }
  const lie = unpackMessage(new Uint8Array([1, 0xff, 0xff, 0x7f, 1, 2, 3]));
  assert.ok(!lie.ok, 'a tiny input claiming megabytes is refused before any work');
  assert.ok(!unpackMessage(new Uint8Array([9, 1, 2])).ok, 'unknown form');
  assert.ok(!unpackMessage(new Uint8Array([])).ok);
});
