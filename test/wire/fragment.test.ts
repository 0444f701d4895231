import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitMessage, Reassembler, decodeFragment } from '../../src/wire/fragment.ts';
import { prng } from '../helpers/prng.ts';

const payload = (n: number, seed = 1) => prng(seed).bytes(n);

test('a 1 MiB message survives loss, duplicates and reordering', () => {
  const msg = payload(1 << 20);
  const frags = splitMessage(7, msg, 1100);
  assert.ok(frags.every((f) => f.length <= 1100 + 12));
  const rng = prng(2);
  const r = new Reassembler();
  // First pass: 20 % lost, the rest shuffled and some repeated.
  const firstPass = frags.filter(() => rng.int(5) !== 0);
  const shuffled = [...firstPass, ...firstPass.slice(0, 50)].sort(() => (rng.int(3) - 1));
  let out: Uint8Array | undefined;
  for (const f of shuffled) out = r.add(f, 0) ?? out;
  assert.equal(out, undefined, 'incomplete after losses');
  assert.ok(r.stats.duplicates > 0);
  // The sender's retransmission of the whole message fills the gaps.
  for (const f of frags) { out = r.add(f, 100); if (out) break; }
  assert.deepEqual(out, msg);
  assert.equal(r.bytesHeld, 0, 'nothing held after completion');
});

test('memory per peer is bounded: old partial messages are evicted, never exceeding the limit', () => {
  const r = new Reassembler({ partialsMax: 3, bytesHeldMax: 50_000 });
  for (let id = 0; id < 20; id++) {
    const frags = splitMessage(id, payload(40_000, id), 1000);
    for (const f of frags.slice(0, frags.length - 1)) r.add(f, 0); // never the last one
    assert.ok(r.bytesHeld <= 50_000, `held ${r.bytesHeld}`);
  }
  assert.ok(r.stats.evicted > 0);
});

test('a message that does not complete in time is dropped', () => {
  const r = new Reassembler({ timeoutMs: 1000 });
  const frags = splitMessage(1, payload(5000), 1000);
  r.add(frags[0], 0);
  assert.equal(r.pollTimeout(), 1000);
  r.expire(1000);
  assert.equal(r.bytesHeld, 0);
  assert.equal(r.stats.timedOut, 1);
  // The late rest alone does not complete it.
  let out: Uint8Array | undefined;
  for (const f of frags.slice(1)) out = r.add(f, 1001) ?? out;
  assert.equal(out, undefined);
});

test('hostile fragments: bad headers, lying counts, inconsistent counts, garbage never throw', () => {
  const r = new Reassembler();
  assert.equal(decodeFragment(new Uint8Array([1, 5, 5])).ok, false, 'index ≥ count');
  assert.equal(decodeFragment(new Uint8Array([1, 0, 0])).ok, false, 'count 0');
  assert.equal(decodeFragment(new Uint8Array([1, 0, 0xff, 0xff, 0x03])).ok, false, 'count above the limit');
  r.add(new Uint8Array([9, 0, 3, 1, 2]), 0);
  r.add(new Uint8Array([9, 1, 4, 1, 2]), 0); // same message, another count
  assert.equal(r.stats.inconsistent, 1);
  const rng = prng(5);
  for (let i = 0; i < 5000; i++) r.add(rng.bytes(rng.int(64)), i);
  assert.ok(r.bytesHeld <= 2 * 1024 * 1024);
});
