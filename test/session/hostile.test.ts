// Hostile input against a session endpoint: bad certificates, replayed handshakes, truncated,
// altered and random datagrams, and a flood of handshake initiations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPair, drain, side, pathA, pathB } from './pair.ts';
import { testIdentity, endpointConfig, testCertificate } from '../helpers/identities.ts';
import { HandshakeState } from '../../src/crypto/noise.ts';
import { x25519FromPrivate } from '../../src/crypto/keys.ts';
import { headerKey, maskHeader } from '../../src/session/header-mask.ts';
import { encodeInit, PacketType } from '../../src/session/packet.ts';
import { randomPadding } from '../../src/session/handshake-padding.ts';
import type { EndpointConfig } from '../../src/session/endpoint.ts';
import { prng } from '../helpers/prng.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const login = testIdentity(50);
const hour = 3_600_000;

/** A with certificate `aCert`, B with `bCert`; both check certificates against `login`. */
function certified(aCert: (now: number) => Uint8Array, bCert: (now: number) => Uint8Array, aIdentity = 1) {
  const now = 1_764_000_000_000;
  const withCert = (seed: number, cert: Uint8Array) => (c: EndpointConfig) =>
    endpointConfig(testIdentity(seed), c.random, 'node', { certificate: cert, loginKey: login.signing.publicKey });
  const p = createPair({ a: withCert(aIdentity, aCert(now)), b: withCert(2, bCert(now)) });
  return p;
}
const valid = (seed: number, user: string) => (now: number) => testCertificate(login.signing, user, testIdentity(seed).signing, now);

const certCases = [
  { name: 'expired', cert: (seed: number, user: string) => (now: number) => testCertificate(login.signing, user, testIdentity(seed).signing, now - 2 * hour, hour), reason: /expired/ },
  { name: 'for another user (a stolen certificate)', cert: (_seed: number, _user: string) => valid(9, 'mallory-victim'), reason: /another key/ },
  { name: 'signed by another key', cert: (seed: number, user: string) => (now: number) => testCertificate(testIdentity(51).signing, user, testIdentity(seed).signing, now), reason: /login server|another issuer/ },
];

for (const c of certCases) {
  test(`a certificate ${c.name} fails the handshake, whichever side shows it`, () => {
    // The initiator shows it: the IK responder drops the initiation, answers nothing, keeps nothing.
    const p1 = certified(c.cert(1, 'alice'), valid(2, 'bob'));
    p1.a.ep.connect(pathB, p1.clock.now, { remoteStatic: p1.b.id.static.publicKey });
    p1.flush();
    assert.equal(p1.b.ep.stats.handshakeRejected, 1);
    assert.ok(!p1.b.ep.isEstablished(pathA) && !p1.a.ep.isEstablished(pathB));
    assert.equal(p1.b.events.length, 0);
    // The responder shows it: the initiator refuses the reply and says why.
    const p2 = certified(valid(1, 'alice'), c.cert(2, 'bob'));
    p2.a.ep.send(pathB, enc('secret'), p2.clock.now);
    p2.flush();
    const failed = p2.a.events.find((e) => e.type === 'failed');
    assert.ok(failed && failed.type === 'failed' && c.reason.test(failed.reason), JSON.stringify(p2.a.events));
    assert.ok(!p2.a.ep.isEstablished(pathB));
    assert.equal(p2.messages(p2.b).length, 0, 'nothing was sent to an unproven peer');
  });
}

test('valid certificates on both sides: the session carries the proven user names', () => {
  const p = certified(valid(1, 'alice'), valid(2, 'bob'));
  p.a.ep.send(pathB, enc('hi'), p.clock.now);
  p.flush();
  assert.equal(p.messages(p.b)[0]?.peer.user, 'alice');
  assert.equal(p.a.ep.peerOf(pathB)?.user, 'bob');
});

test('a replayed IK initiation, even long after, gets no session and does not disturb the live one', () => {
  const p = createPair();
  p.a.ep.connect(pathB, p.clock.now, { remoteStatic: p.b.id.static.publicKey });
  drain(p.a);
  const init = p.a.outbox[0].bytes.slice();
  p.flush();
  assert.ok(p.b.ep.isEstablished(pathA));
  p.clock.now += 60_000;
  p.a.ep.handleTimeout(p.clock.now); p.b.ep.handleTimeout(p.clock.now);
  p.a.ep.send(pathB, enc('keepalive'), p.clock.now); p.flush();
  // Replayed from A's own address (spoofed) and from elsewhere.
  p.b.ep.handleDatagram(pathA, init, p.clock.now);
  p.b.ep.handleDatagram('udp:198.51.100.66:66', init, p.clock.now);
  drain(p.b);
  assert.equal(p.b.ep.stats.handshakesReplayed, 2);
  assert.equal(p.b.outbox.length, 0, 'no answer to a replay');
  assert.equal(p.b.ep.stats.handshakesCompleted, 1);
  // Both directions of the real session still work.
  p.a.ep.send(pathB, enc('still here'), p.clock.now);
  p.b.ep.send(pathA, enc('me too'), p.clock.now);
  p.flush();
  assert.deepEqual(p.text(p.b), ['keepalive', 'still here']);
  assert.deepEqual(p.text(p.a), ['me too']);
});

test('a replayed XX initiation costs an answer but makes no session; replayed handshake replies are dropped', () => {
  const p = createPair();
  p.a.ep.connect(pathB, p.clock.now);
  drain(p.a);
  const init = p.a.outbox[0].bytes.slice();
  p.b.ep.handleDatagram(pathA, init, p.clock.now); drain(p.b);
  const response = p.b.outbox[0].bytes.slice();
  p.flush();
  assert.ok(p.a.ep.isEstablished(pathB));
  // Once B has spoken, A no longer keeps its final for a lost-final repeat.
  p.b.ep.send(pathA, enc('hello'), p.clock.now);
  p.flush();
  p.clock.now += 60_000;
  p.b.ep.handleTimeout(p.clock.now);
  p.b.ep.handleDatagram('udp:198.51.100.66:66', init, p.clock.now);
  drain(p.b);
  assert.equal(p.b.ep.stats.handshakesCompleted, 1);
  p.b.outbox.length = 0;
  const unknown = p.a.ep.stats.unknownIndex;
  p.a.ep.handleDatagram(pathB, response, p.clock.now);   // the response again, after completion
  assert.equal(p.a.ep.stats.unknownIndex, unknown + 1);
  p.a.ep.send(pathB, enc('fine'), p.clock.now);
  p.flush();
  assert.deepEqual(p.text(p.b), ['fine']);
});

test('every truncation, every single-bit change and 5000 random datagrams are dropped and counted, never thrown', () => {
  const p = createPair();
  p.establish();
  const st = p.b.ep.stats;
    // A garbage packet that unmasks to something shaped like an initiation may be throttled instead.
  // One in 256 unmasks under the public key to type 1, and an XX first message has nothing to
  // authenticate (an ephemeral key and plaintext padding): that is an initiation, and gets an
  // answer (packetsOut) but never a session.
  const counted = () => st.malformed + st.unknownIndex + st.decryptFailed + st.replayed + st.handshakeRejected +
    st.handshakesThrottled + st.packetsOut;
  const data = p.sealFromA('a genuine message of some length');
  p.a.ep.connect('udp:203.0.113.3:3000', p.clock.now, { remoteStatic: p.b.id.static.publicKey });
  drain(p.a);
  const init = p.a.outbox.pop()!.bytes;
  let dropped = 0;
  for (const packet of [data, init]) {
    for (let n = 0; n < packet.length; n++) {
      const before = counted();
      p.b.ep.handleDatagram(pathA, packet.subarray(0, n), p.clock.now);
      assert.equal(counted(), before + 1, `truncation to ${n} of ${packet.length} bytes counted`);
      dropped++;
    }
  }
  for (let bit = 0; bit < data.length * 8; bit++) {
    const altered = data.slice();
    altered[bit >> 3] ^= 1 << (bit & 7);
    const before = counted();
    p.b.ep.handleDatagram(pathA, altered, p.clock.now);
    assert.equal(counted(), before + 1, `bit ${bit} changed`);
  }
  const r = prng(99);
  for (let i = 0; i < 5000; i++) p.b.ep.handleDatagram(pathA, r.bytes(r.int(1500)), p.clock.now);
  drain(p.b);
  assert.equal(p.messages(p.b).length, 0, 'nothing altered was ever delivered');
  assert.equal(p.b.ep.stats.handshakesCompleted, 1, 'and no session came of it');
  assert.ok(st.packetsOut < 100, `${st.packetsOut} answers to garbage shaped like XX initiations`);
  assert.ok(counted() >= dropped + data.length * 8 + 5000);
  p.b.ep.handleDatagram(pathA, data, p.clock.now);
  drain(p.b);
  assert.deepEqual(p.text(p.b), ['a genuine message of some length'], 'the genuine datagram still reads');
});

/** An XX initiation from a fresh ephemeral key, as a flooder (or anyone) would send. */
function floodInit(r: ReturnType<typeof prng>): Uint8Array {
  const hs = new HandshakeState({ pattern: 'XX', initiator: true, prologue: enc('tincan/1'), staticKey: x25519FromPrivate(r.bytes(32)), random: r.bytes });
  const m = hs.writeMessage(randomPadding('init-xx', r.bytes));
  if (!m.ok) throw new Error(m.error.message);
  return maskHeader(encodeInit(PacketType.InitXX, r.u32(), m.value), headerKey());
}

test('under a flood of handshake initiations an endpoint keeps serving its peers (token buckets, not cookies)', () => {
  const p = createPair();
  p.establish();
  const r = prng(1234);
  const floods = Array.from({ length: 3000 }, () => floodInit(r));
  const newcomer = side(3, prng(77).bytes);
  const newcomerPath = 'udp:203.0.113.3:3000';
  let answered = 0;
  // 3000 initiations over 10 s of virtual time: 2000 from one address, 1000 from 1000 (spoofed) addresses,
  // with A's traffic and a newcomer's handshake in the middle of it.
  for (let i = 0; i < floods.length; i++) {
    if (i % 300 === 0) p.clock.now += 1000;
    const from = i % 3 === 2 ? `udp:100.64.${(i >> 8) & 255}.${i & 255}:4000` : 'udp:198.51.100.9:5000';
    p.b.ep.handleDatagram(from, floods[i], p.clock.now);
    for (let t = p.b.ep.pollTransmit(); t; t = p.b.ep.pollTransmit()) {
      if (t.path === pathA) p.a.ep.handleDatagram(pathB, t.bytes, p.clock.now);
      else if (t.path === newcomerPath) newcomer.ep.handleDatagram(pathB, t.bytes, p.clock.now);
      else answered++;
    }
    if (i % 100 === 50) {
      p.a.ep.send(pathB, enc(`during flood ${i}`), p.clock.now);
      p.b.ep.send(pathA, enc(`answer ${i}`), p.clock.now);
      p.flush();
    }
    if (i === 1500) newcomer.ep.send(pathB, enc('hello from a newcomer'), p.clock.now);
    for (let t = newcomer.ep.pollTransmit(); t; t = newcomer.ep.pollTransmit()) p.b.ep.handleDatagram(newcomerPath, t.bytes, p.clock.now);
  }
  drain(p.a, p.b, newcomer);
  const st = p.b.ep.stats;
  assert.equal(p.text(p.b).filter((t) => t.startsWith('during flood')).length, 30, 'every message of the established peer arrived');
  assert.equal(p.text(p.a).length, 30, 'and every answer');
  assert.ok(p.text(p.b).includes('hello from a newcomer'), 'a newcomer from a clean address got in');
  // Per source 20 + 10/s; in all 200 + 100/s: over ~10 s at most ~1200 Diffie-Hellman answers.
  assert.ok(answered <= 200 + 100 * 11, `answered ${answered} initiations`);
  assert.ok(st.handshakesThrottled >= floods.length - answered - 1, `throttled ${st.handshakesThrottled}`);
  // The single loud address got only its own small share.
  assert.ok(answered < 1000 + 20 + 10 * 11);
});
