// Session cost: secured 1200-byte packets per second through a whole session endpoint (header,
// counter, replay window, rekey bookkeeping, header masking, both ends) against the bare AEAD
// it is built on (node:crypto ChaCha20-Poly1305, seal and open) in the same run; and Noise
// handshakes per second, ours against noise-handshake (libsodium) on the same patterns.
import crypto from 'node:crypto';
import NoiseState from 'noise-handshake';
import { Endpoint } from '../src/session/endpoint.ts';
import { HandshakeState, type NoisePattern } from '../src/crypto/noise.ts';
import { x25519FromPrivate } from '../src/crypto/keys.ts';
import { testIdentity, endpointConfig } from '../test/helpers/identities.ts';
import { opsPerSecond, opsPerSecondInterleaved, printTable, ratio } from './harness.ts';

const payloadBytes = 1200;
const payload = crypto.randomBytes(payloadBytes);
const random = (n: number) => new Uint8Array(crypto.randomBytes(n));

// ---- the bare primitive: seal then open one 1200-byte packet with a 13-byte header as AD ----
const key = crypto.randomBytes(32);
const ad = crypto.randomBytes(13);
let counter = 0n;
function rawRoundTrip() {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter++, 4);
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: payload.length });
  const body = c.update(payload);
  c.final();
  const tag = c.getAuthTag();
  const d = crypto.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(ad, { plaintextLength: body.length });
  d.setAuthTag(tag);
  d.update(body);
  d.final();
}
function rawSeal() {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter++, 4);
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: payload.length });
  c.update(payload);
  c.final();
  c.getAuthTag();
}

// ---- ours: A.send → the datagram → B.handleDatagram → B's message event ----
const ia = testIdentity(1), ib = testIdentity(2);
const a = new Endpoint(endpointConfig(ia, random));
const b = new Endpoint(endpointConfig(ib, random));
const pathA = 'udp:203.0.113.1:1000', pathB = 'udp:203.0.113.2:2000';
let now = 1_764_000_000_000;
a.connect(pathB, now, { remoteStatic: ib.static.publicKey });
for (let moved = true; moved;) {
  moved = false;
  for (let t = a.pollTransmit(); t; t = a.pollTransmit()) { b.handleDatagram(pathA, t.bytes, now); moved = true; }
  for (let t = b.pollTransmit(); t; t = b.pollTransmit()) { a.handleDatagram(pathB, t.bytes, now); moved = true; }
}
while (a.pollEvent()); while (b.pollEvent());
if (!a.isEstablished(pathB)) throw new Error('bench session did not establish');
let delivered = 0;
function sessionRoundTrip() {
  a.send(pathB, payload, now);
  const t = a.pollTransmit()!;
  b.handleDatagram(pathA, t.bytes, now);
  if (b.pollEvent()?.type === 'message') delivered++;
}
function sessionSeal() {
  a.send(pathB, payload, now);
  a.pollTransmit();
}

// ---- handshakes ----
const r = () => new Uint8Array(crypto.randomBytes(32));
const si = x25519FromPrivate(r()), sr = x25519FromPrivate(r());
const prologue = new TextEncoder().encode('tincan/1');
function ourHandshake(pattern: NoisePattern) {
  const i = new HandshakeState({ pattern, initiator: true, prologue, staticKey: si, remoteStatic: pattern === 'IK' ? sr.publicKey : undefined, random });
  const s = new HandshakeState({ pattern, initiator: false, prologue, staticKey: sr, random });
  let [w, rd] = [i, s];
  while (!i.isComplete || !s.isComplete) {
    const m = w.writeMessage(new Uint8Array(0));
    if (!m.ok || !rd.readMessage(m.value).ok) throw new Error('handshake failed');
    [w, rd] = [rd, w];
  }
  i.split(); s.split();
}
const theirStaticI = new NoiseState('IK', true).s, theirStaticR = new NoiseState('IK', false).s;
function theirHandshake(pattern: NoisePattern) {
  const i = new NoiseState(pattern, true, { ...theirStaticI, secretKey: Buffer.from(theirStaticI.secretKey), publicKey: Buffer.from(theirStaticI.publicKey) });
  const s = new NoiseState(pattern, false, { ...theirStaticR, secretKey: Buffer.from(theirStaticR.secretKey), publicKey: Buffer.from(theirStaticR.publicKey) });
  i.initialise(prologue, pattern === 'IK' ? theirStaticR.publicKey : undefined);
  s.initialise(prologue);
  let [w, rd] = [i, s];
  while (!i.complete || !s.complete) { rd.recv(w.send()); [w, rd] = [rd, w]; }
}
/** A whole endpoint handshake: Noise IK plus identity proofs (Ed25519), padding, masking. */
function endpointHandshake() {
  const x = new Endpoint(endpointConfig(ia, random)), y = new Endpoint(endpointConfig(ib, random));
  x.connect(pathB, now, { remoteStatic: ib.static.publicKey });
  for (let moved = true; moved;) {
    moved = false;
    for (let t = x.pollTransmit(); t; t = x.pollTransmit()) { y.handleDatagram(pathA, t.bytes, now); moved = true; }
    for (let t = y.pollTransmit(); t; t = y.pollTransmit()) { x.handleDatagram(pathB, t.bytes, now); moved = true; }
  }
  if (!x.isEstablished(pathB)) throw new Error('endpoint handshake failed');
  now += 1;  // IK initiations carry a strictly increasing timestamp
}

const packets = opsPerSecondInterleaved({ session: sessionRoundTrip, raw: rawRoundTrip }, 5, 300, 500, 'cpu');
const sealOnly = opsPerSecondInterleaved({ session: sessionSeal, raw: rawSeal }, 3, 300, 500, 'cpu');
if (delivered === 0) throw new Error('no packet went through the session');
const hs = {
  XX: opsPerSecondInterleaved({ ours: () => ourHandshake('XX'), theirs: () => theirHandshake('XX') }, 3, 400, 10, 'cpu'),
  IK: opsPerSecondInterleaved({ ours: () => ourHandshake('IK'), theirs: () => theirHandshake('IK') }, 3, 400, 10, 'cpu'),
};
const endpointIK = opsPerSecond(endpointHandshake, 800, 10, 'cpu');

printTable(`secured ${payloadBytes}-byte packets per CPU-second (goal: session ≥ 0.8 × raw AEAD)`, [
  { name: 'seal + open (both ends)', 'session pkt/s': Math.round(packets.session), 'raw AEAD pkt/s': Math.round(packets.raw), ratio: ratio(packets.session, packets.raw) },
  { name: 'seal only (sender)', 'session pkt/s': Math.round(sealOnly.session), 'raw AEAD pkt/s': Math.round(sealOnly.raw), ratio: ratio(sealOnly.session, sealOnly.raw) },
]);
printTable('Noise handshakes per CPU-second (initiator and responder, to transport keys)', [
  { name: 'Noise_XX_25519_ChaChaPoly', 'ours (SHA256) /s': Math.round(hs.XX.ours), 'noise-handshake (BLAKE2b) /s': Math.round(hs.XX.theirs), ratio: ratio(hs.XX.ours, hs.XX.theirs) },
  { name: 'Noise_IK_25519_ChaChaPoly', 'ours (SHA256) /s': Math.round(hs.IK.ours), 'noise-handshake (BLAKE2b) /s': Math.round(hs.IK.theirs), ratio: ratio(hs.IK.ours, hs.IK.theirs) },
  { name: 'endpoint IK with identity proofs', 'ours (SHA256) /s': Math.round(endpointIK), 'noise-handshake (BLAKE2b) /s': '-', ratio: ratio(endpointIK, hs.IK.theirs) },
]);
process.stdout.write(JSON.stringify({
  bench: 'crypto',
  clock: 'cpu',
  packetBytes: payloadBytes,
  packetsPerSecond: { session: Math.round(packets.session), rawAead: Math.round(packets.raw), ratio: ratio(packets.session, packets.raw), goal: 0.8 },
  sealPerSecond: { session: Math.round(sealOnly.session), rawAead: Math.round(sealOnly.raw), ratio: ratio(sealOnly.session, sealOnly.raw) },
  handshakesPerSecond: {
    XX: { ours: Math.round(hs.XX.ours), noiseHandshake: Math.round(hs.XX.theirs), ratio: ratio(hs.XX.ours, hs.XX.theirs) },
    IK: { ours: Math.round(hs.IK.ours), noiseHandshake: Math.round(hs.IK.theirs), ratio: ratio(hs.IK.ours, hs.IK.theirs) },
    endpointIK: Math.round(endpointIK),
  },
}) + '\n');
