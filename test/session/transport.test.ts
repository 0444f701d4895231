// The transport half of a session: replay window, rekeying, per-direction and media keys, roaming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPair, drain, pathA, pathB } from './pair.ts';
import { headerKey, unmaskHeader } from '../../src/session/header-mask.ts';
import { decodePacket, Channel } from '../../src/session/packet.ts';
import { HandshakeState } from '../../src/crypto/noise.ts';
import { x25519FromPrivate } from '../../src/crypto/keys.ts';
import { prng } from '../helpers/prng.ts';

const enc = (s: string) => new TextEncoder().encode(s);

/** The data header of a datagram as its receiver B reads it. */
function headerAtB(p: ReturnType<typeof createPair>, bytes: Uint8Array) {
  const d = decodePacket(unmaskHeader(bytes, headerKey(p.b.id.static.publicKey))!);
  assert.ok(d.ok && d.value.type === 5);
  return d.value;
}

test('replay window: each counter is delivered once, reordering within the window is fine, older is refused', () => {
  const p = createPair();
  p.establish();
  const sealed = Array.from({ length: 2100 }, (_, i) => p.sealFromA(`m${i}`));
  p.b.ep.handleDatagram(pathA, sealed[5], p.clock.now);
  p.b.ep.handleDatagram(pathA, sealed[5], p.clock.now);          // duplicate
  p.b.ep.handleDatagram(pathA, sealed[3], p.clock.now);          // older, not yet seen: fine
  p.b.ep.handleDatagram(pathA, sealed[2099], p.clock.now);       // far ahead
  p.b.ep.handleDatagram(pathA, sealed[4], p.clock.now);          // now more than 2048 behind
  p.b.ep.handleDatagram(pathA, sealed[2099], p.clock.now);       // duplicate again
  drain(p.b);
  assert.deepEqual(p.text(p.b), ['m5', 'm3', 'm2099']);
  assert.equal(p.b.ep.stats.replayed, 3);
});

test('rekey after N packets: the phase flips every N, both directions, nothing lost across a boundary even reordered', () => {
  const p = createPair({ a: (c) => ({ ...c, rekey: { afterMessages: 10 } }), b: (c) => ({ ...c, rekey: { afterMessages: 7 } }) });
  p.establish();
  const sealed = Array.from({ length: 60 }, (_, i) => p.sealFromA(`a${i}`));
  assert.deepEqual(sealed.map((s) => headerAtB(p, s).phase), Array.from({ length: 60 }, (_, i) => Math.floor(i / 10) % 2));
  // Swap neighbours across every boundary: the first packet of a new phase arrives before the
  // last of the old one.
  const order = sealed.map((_, i) => i);
  for (let k = 10; k < 60; k += 10) [order[k - 1], order[k]] = [order[k], order[k - 1]];
  for (const i of order) p.b.ep.handleDatagram(pathA, sealed[i], p.clock.now);
  drain(p.b);
  assert.deepEqual(p.text(p.b).sort(), sealed.map((_, i) => `a${i}`).sort());
  assert.equal(p.b.ep.stats.decryptFailed, 0);
  // B's direction rekeys on its own schedule.
  for (let i = 0; i < 30; i++) p.b.ep.send(pathA, enc(`b${i}`), p.clock.now);
  p.flush();
  assert.deepEqual(p.text(p.a), Array.from({ length: 30 }, (_, i) => `b${i}`));
});

test('rekey after T ms, with sparse traffic and a whole phase lost in transit', () => {
  const p = createPair({ a: (c) => ({ ...c, rekey: { afterMs: 1000 } }) });
  p.establish();
  const phases: number[] = [];
  for (let i = 0; i < 8; i++) {
    p.clock.now += 1500;  // every packet starts a new key
    const s = p.sealFromA(`t${i}`);
    phases.push(headerAtB(p, s).phase);
    if (i === 3) continue;  // lost: the receiver never sees that phase
    p.b.ep.handleDatagram(pathA, s, p.clock.now);
  }
  drain(p.b);
  assert.deepEqual(phases, [1, 0, 1, 0, 1, 0, 1, 0]);
  assert.deepEqual(p.text(p.b), ['t0', 't1', 't2', 't4', 't5', 't6', 't7']);
});

test('a straggler from the previous key is still read; one from two keys back is not', () => {
  const p = createPair({ a: (c) => ({ ...c, rekey: { afterMessages: 4 } }) });
  p.establish();
  const sealed = Array.from({ length: 12 }, (_, i) => p.sealFromA(`s${i}`));  // keys: s0-3, s4-7, s8-11
  for (const i of [0, 1, 4, 5, 6, 7]) p.b.ep.handleDatagram(pathA, sealed[i], p.clock.now);
  p.b.ep.handleDatagram(pathA, sealed[3], p.clock.now);   // the previous key: read
  p.b.ep.handleDatagram(pathA, sealed[8], p.clock.now);   // B moves on to the third key
  p.b.ep.handleDatagram(pathA, sealed[2], p.clock.now);   // two keys back: gone
  drain(p.b);
  assert.deepEqual(p.text(p.b), ['s0', 's1', 's4', 's5', 's6', 's7', 's3', 's8']);
  assert.equal(p.b.ep.stats.decryptFailed, 1);
});

test('four keys per session: one per direction for signaling and for media, all different', () => {
  const r = prng(3);
  const si = x25519FromPrivate(r.bytes(32)), sr = x25519FromPrivate(r.bytes(32));
  const prologue = enc('tincan/1');
  const i = new HandshakeState({ pattern: 'IK', initiator: true, prologue, staticKey: si, remoteStatic: sr.publicKey, random: r.bytes });
  const s = new HandshakeState({ pattern: 'IK', initiator: false, prologue, staticKey: sr, random: r.bytes });
  s.readMessage((i.writeMessage(new Uint8Array(0)) as any).value);
  i.readMessage((s.writeMessage(new Uint8Array(0)) as any).value);
  const sig = i.split(), media = i.splitMedia(), sigR = s.split(), mediaR = s.splitMedia();
  const probe = (k: { seal(c: bigint, p: Uint8Array): Uint8Array }) => Buffer.from(k.seal(0n, enc('x'))).toString('hex');
  const all = [sig.send, sig.receive, media.send, media.receive].map(probe);
  assert.equal(new Set(all).size, 4);
  assert.equal(probe(media.send), probe(mediaR.receive));
  assert.equal(probe(media.receive), probe(mediaR.send));
  assert.equal(probe(sig.send), probe(sigR.receive));
});

test('media travels under the media keys: relabelled as signaling it does not open', () => {
  const p = createPair();
  p.establish();
  const m = p.sealFromA('frame', Channel.Media);
  assert.equal(headerAtB(p, m).channel, Channel.Media);
  // Flip the header's type from media to signaling (same phase) and mask it again.
  const key = headerKey(p.b.id.static.publicKey);
  const plain = unmaskHeader(m, key)!;
  const mask = plain.map((x, k) => (k < 13 ? x ^ m[k] : 0));
  plain[0] -= 2;
  const forged = m.slice();
  for (let k = 0; k < 13; k++) forged[k] = plain[k] ^ mask[k];
  p.b.ep.handleDatagram(pathA, forged, p.clock.now);
  assert.equal(p.b.ep.stats.decryptFailed, 1);
  p.b.ep.handleDatagram(pathA, m, p.clock.now);
  drain(p.b);
  const got = p.messages(p.b);
  assert.equal(got.length, 1);
  assert.equal(got[0].channel, Channel.Media);
  // Media and signaling counters are independent: signaling starts at 0 after media was sent.
  assert.equal(headerAtB(p, p.sealFromA('signal')).counter, 0n);
});

test('roaming: an authenticated packet from a new address moves the session there, without a handshake', () => {
  const p = createPair();
  p.establish();
  const handshakes = p.b.ep.stats.handshakesCompleted;
  const moved = 'udp:198.51.100.7:3333';
  const old = p.sealFromA('before the move');
  p.b.ep.handleDatagram(moved, p.sealFromA('from the new address'), p.clock.now);
  assert.ok(p.b.ep.isEstablished(moved));
  p.b.ep.send(moved, enc('reply'), p.clock.now);
  // Layers above that still name A by its old address reach it at the new one.
  assert.ok(p.b.ep.isEstablished(pathA));
  p.b.ep.send(pathA, enc('to the old name'), p.clock.now);
  drain(p.b);
  assert.deepEqual(p.b.outbox.map((t) => t.path), [moved, moved], 'B answers at the new address');
  for (const t of p.b.outbox.splice(0)) p.a.ep.handleDatagram(pathB, t.bytes, p.clock.now);
  drain(p.a);
  assert.deepEqual(p.text(p.a), ['reply', 'to the old name']);
  // An older packet (delivered late, or replayed by someone at yet another address) is read if
  // it was never seen, but does not drag the session away.
  p.b.ep.handleDatagram('udp:100.64.0.9:9', old, p.clock.now);
  // A forgery from another address moves nothing either.
  const forged = p.sealFromA('forged'); forged[20] ^= 1;
  p.b.ep.handleDatagram('udp:100.64.0.10:10', forged, p.clock.now);
  assert.ok(p.b.ep.isEstablished(moved));
  assert.equal(p.b.ep.stats.roamed, 1);
  assert.equal(p.b.ep.stats.handshakesCompleted, handshakes, 'no new handshake');
  drain(p.b);
  assert.deepEqual(p.text(p.b), ['from the new address', 'before the move']);
});
