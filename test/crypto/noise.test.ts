import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandshakeState, type NoisePattern } from '../../src/crypto/noise.ts';
import { x25519FromPrivate } from '../../src/crypto/keys.ts';
import { prng } from '../helpers/prng.ts';

const prologue = new TextEncoder().encode('test');

function run(pattern: NoisePattern, seed = 1) {
  const r = prng(seed);
  const si = x25519FromPrivate(r.bytes(32)), sr = x25519FromPrivate(r.bytes(32));
  const i = new HandshakeState({ pattern, initiator: true, prologue, staticKey: si, remoteStatic: pattern === 'IK' ? sr.publicKey : undefined, random: r.bytes });
  const s = new HandshakeState({ pattern, initiator: false, prologue, staticKey: sr, random: r.bytes });
  const payloads: Uint8Array[] = [];
  let [w, rd] = [i, s];
  while (!i.isComplete || !s.isComplete) {
    const p = new TextEncoder().encode(`payload ${payloads.length}`);
    const m = w.writeMessage(p);
    assert.ok(m.ok);
    const got = rd.readMessage(m.value);
    assert.ok(got.ok, JSON.stringify(!got.ok && got.error));
    payloads.push(got.value);
    [w, rd] = [rd, w];
  }
  return { i, s, si, sr, payloads };
}

for (const pattern of ['XX', 'IK'] as const) {
  test(`${pattern}: both sides complete with matching transport keys and learn each other's static key`, () => {
    const { i, s, si, sr, payloads } = run(pattern);
    assert.equal(payloads.length, pattern === 'XX' ? 3 : 2);
    assert.deepEqual(i.remoteStatic, sr.publicKey);
    assert.deepEqual(s.remoteStatic, si.publicKey);
    assert.deepEqual(i.handshakeHash, s.handshakeHash);
    const ki = i.split(), ks = s.split();
    const sealed = ki.send.seal(5n, new TextEncoder().encode('hi'), new Uint8Array([1]));
    const opened = ks.receive.open(5n, sealed, new Uint8Array([1]));
    assert.ok(opened.ok && new TextDecoder().decode(opened.value) === 'hi');
    assert.equal(ks.receive.open(6n, sealed, new Uint8Array([1])).ok, false, 'wrong counter');
    assert.equal(ks.receive.open(5n, sealed, new Uint8Array([2])).ok, false, 'wrong associated data');
    const back = ks.send.seal(0n, new Uint8Array([9]));
    assert.ok(ki.receive.open(0n, back).ok);
  });

  test(`${pattern}: a tampered message is a typed error and the state survives for the genuine one`, () => {
    const r = prng(3);
    const si = x25519FromPrivate(r.bytes(32)), sr = x25519FromPrivate(r.bytes(32));
    const i = new HandshakeState({ pattern, initiator: true, prologue, staticKey: si, remoteStatic: pattern === 'IK' ? sr.publicKey : undefined, random: r.bytes });
    const s = new HandshakeState({ pattern, initiator: false, prologue, staticKey: sr, random: r.bytes });
    const m1 = i.writeMessage(new Uint8Array(0));
    assert.ok(m1.ok);
    assert.ok(s.readMessage(m1.value).ok);
    const m2 = s.writeMessage(new Uint8Array([1, 2, 3]));
    assert.ok(m2.ok);
    const bad = m2.value.slice(); bad[bad.length - 1] ^= 1;
    const r1 = i.readMessage(bad);
    assert.ok(!r1.ok && typeof r1.error.code === 'string');
    const r2 = i.readMessage(m2.value);
    assert.ok(r2.ok, 'the genuine message still reads after a forged one');
  });
}

test('IK towards the wrong static key fails at the responder', () => {
  const r = prng(4);
  const si = x25519FromPrivate(r.bytes(32)), sr = x25519FromPrivate(r.bytes(32)), other = x25519FromPrivate(r.bytes(32));
  const i = new HandshakeState({ pattern: 'IK', initiator: true, prologue, staticKey: si, remoteStatic: other.publicKey, random: r.bytes });
  const s = new HandshakeState({ pattern: 'IK', initiator: false, prologue, staticKey: sr, random: r.bytes });
  const m1 = i.writeMessage(new Uint8Array(0));
  assert.ok(m1.ok);
  assert.equal(s.readMessage(m1.value).ok, false);
});

test('a different prologue makes the handshake fail', () => {
  const r = prng(5);
  const si = x25519FromPrivate(r.bytes(32)), sr = x25519FromPrivate(r.bytes(32));
  const i = new HandshakeState({ pattern: 'IK', initiator: true, prologue, staticKey: si, remoteStatic: sr.publicKey, random: r.bytes });
  const s = new HandshakeState({ pattern: 'IK', initiator: false, prologue: new Uint8Array([9]), staticKey: sr, random: r.bytes });
  const m1 = i.writeMessage(new Uint8Array(0));
  assert.ok(m1.ok);
  assert.equal(s.readMessage(m1.value).ok, false);
});

test('writing out of turn is a local error, not a throw', () => {
  const r = prng(6);
  const s = new HandshakeState({ pattern: 'XX', initiator: false, prologue, staticKey: x25519FromPrivate(r.bytes(32)), random: r.bytes });
  const m = s.writeMessage(new Uint8Array(0));
  assert.ok(!m.ok && m.error.code === 'wrong-turn');
});

test('hostile bytes into readMessage and open never throw', () => {
  const r = prng(8);
  const sr = x25519FromPrivate(r.bytes(32));
  const { i, s } = run('XX', 9);
  const key = s.split().receive;
  for (let n = 0; n < 2000; n++) {
    const bytes = r.bytes(r.int(200));
    for (const pattern of ['XX', 'IK'] as const) {
      const h = new HandshakeState({ pattern, initiator: false, prologue, staticKey: sr, random: r.bytes });
      const res = h.readMessage(bytes);
      assert.ok(res.ok || typeof res.error.code === 'string');
    }
    assert.equal(key.open(BigInt(n), bytes).ok, false);
  }
  void i;
});
