import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ed25519FromSeed, ed25519Sign, ed25519Verify, x25519FromPrivate, x25519 } from '../../src/crypto/keys.ts';
import { ReplayWindow } from '../../src/crypto/replay-window.ts';
import { prng } from '../helpers/prng.ts';

test('Ed25519: RFC 8032 test vector 1', () => {
  const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
  const k = ed25519FromSeed(new Uint8Array(seed));
  assert.equal(Buffer.from(k.publicKey).toString('hex'), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = ed25519Sign(k.privateKey, new Uint8Array(0));
  assert.equal(Buffer.from(sig).toString('hex'),
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
});

test('Ed25519 signatures verify only with the right key and message, and bad input is false', () => {
  const r = prng(1);
  const a = ed25519FromSeed(r.bytes(32)), b = ed25519FromSeed(r.bytes(32));
  const msg = new TextEncoder().encode('presence');
  const sig = ed25519Sign(a.privateKey, msg);
  assert.ok(ed25519Verify(a.publicKey, msg, sig));
  assert.equal(ed25519Verify(b.publicKey, msg, sig), false);
  assert.equal(ed25519Verify(a.publicKey, new TextEncoder().encode('presencf'), sig), false);
  assert.equal(ed25519Verify(a.publicKey.subarray(1), msg, sig), false);
  assert.equal(ed25519Verify(a.publicKey, msg, sig.subarray(1)), false);
  assert.equal(ed25519Verify(new Uint8Array(32), msg, new Uint8Array(64)), false);
});

test('X25519: RFC 7748 section 6.1 vector, and low-order keys are refused', () => {
  const alice = x25519FromPrivate(new Uint8Array(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex')));
  const bob = x25519FromPrivate(new Uint8Array(Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex')));
  assert.equal(Buffer.from(alice.publicKey).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  const s = x25519(alice.privateKey, bob.publicKey);
  assert.ok(s.ok);
  assert.equal(Buffer.from(s.value).toString('hex'), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  assert.equal(x25519(alice.privateKey, new Uint8Array(32)).ok, false);
  assert.equal(x25519(alice.privateKey, new Uint8Array(31)).ok, false);
});

test('replay window: in order, out of order within the window, too old, duplicates', () => {
  const w = new ReplayWindow(64);
  assert.ok(w.accept(0n) && w.accept(1n) && w.accept(5n));
  assert.equal(w.accept(5n), false, 'duplicate');
  assert.ok(w.accept(3n), 'late but within the window');
  assert.equal(w.accept(3n), false);
  assert.ok(w.accept(100n));
  assert.equal(w.check(36n), false, 'older than the window');
  assert.ok(w.check(37n));
  assert.ok(w.accept(99n));
  assert.ok(w.accept(10_000n), 'a jump clears the window');
  assert.equal(w.accept(100n), false);
  assert.ok(w.accept(9_999n));
});
