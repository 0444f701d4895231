// The test vectors of docs/session.md: every session datagram (IK and XX handshake messages, a
// data packet, a media packet, a data packet after a rekey) rebuilt from fixed keys with the
// same functions the endpoint uses, compared with test/session/vectors.json, shown in the doc,
// and accepted by the other side. `TINCAN_WRITE_VECTORS=1` rewrites the JSON after a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { HandshakeState, type NoisePattern } from '../../src/crypto/noise.ts';
import { x25519FromPrivate } from '../../src/crypto/keys.ts';
import { headerKey, maskHeader, unmaskHeader } from '../../src/session/header-mask.ts';
import { encodeInit, encodeReply, writeDataHeader, decodePacket, PacketType, Channel, dataHeaderBytes } from '../../src/session/packet.ts';
import { Endpoint } from '../../src/session/endpoint.ts';
import { ok } from '../../src/wire/result.ts';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const noRandom = () => { throw new Error('vectors use no randomness'); };
// The keys of the cacophony vectors; Tincan's prologue.
const initiatorStatic = x25519FromPrivate(hex('e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1'));
const initiatorEphemeral = x25519FromPrivate(hex('893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a'));
const responderStatic = x25519FromPrivate(hex('4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893'));
const responderEphemeral = x25519FromPrivate(hex('bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b'));
const prologue = new TextEncoder().encode('tincan/1');
const initiatorIndex = 0x01020304, responderIndex = 0x0a0b0c0d;
const timestampMs = 1_764_000_000_000;
const proof = (who: string) => new TextEncoder().encode(`identity proof of the ${who}`);
const packetBytes = 256;

/** varint(length) proof zeros, so that the whole datagram is `packetBytes` long. */
function padded(p: Uint8Array, overhead: number): Uint8Array {
  const out = new Uint8Array(packetBytes - overhead);
  out[0] = p.length; out.set(p, 1);
  return out;
}
function withTimestamp(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(timestampMs));
  out.set(payload, 8);
  return out;
}

function build(pattern: NoisePattern) {
  const i = new HandshakeState({ pattern, initiator: true, prologue, staticKey: initiatorStatic, ephemeral: initiatorEphemeral,
    remoteStatic: pattern === 'IK' ? responderStatic.publicKey : undefined, random: noRandom });
  const r = new HandshakeState({ pattern, initiator: false, prologue, staticKey: responderStatic, ephemeral: responderEphemeral, random: noRandom });
  const out: Record<string, string> = {};
  const respKey = headerKey(responderStatic.publicKey), initKey = headerKey(initiatorStatic.publicKey), publicKey = headerKey();
  // Message 1.
  const p1 = pattern === 'IK' ? withTimestamp(padded(proof('initiator'), 5 + 32 + 48 + 8 + 16)) : new Uint8Array(packetBytes - 5 - 32);
  const m1 = i.writeMessage(p1);
  assert.ok(m1.ok && r.readMessage(m1.value).ok);
  out[`${pattern}-init`] = toHex(maskHeader(encodeInit(pattern === 'IK' ? PacketType.InitIK : PacketType.InitXX, initiatorIndex, m1.value), pattern === 'IK' ? respKey : publicKey));
  // Message 2.
  const m2 = r.writeMessage(padded(proof('responder'), pattern === 'IK' ? 9 + 32 + 16 : 9 + 32 + 48 + 16));
  assert.ok(m2.ok && i.readMessage(m2.value).ok);
  out[`${pattern}-response`] = toHex(maskHeader(encodeReply(PacketType.Response, responderIndex, initiatorIndex, m2.value), pattern === 'IK' ? initKey : publicKey));
  if (pattern === 'XX') {
    const m3 = i.writeMessage(padded(proof('initiator'), 9 + 48 + 16));
    assert.ok(m3.ok && r.readMessage(m3.value).ok);
    out['XX-final'] = toHex(maskHeader(encodeReply(PacketType.Final, initiatorIndex, responderIndex, m3.value), respKey));
  }
  out[`${pattern}-handshake-hash`] = toHex(i.handshakeHash);
  return { out, i, r };
}

function dataPacket(key: { sealInto(c: bigint, p: Uint8Array, ad: Uint8Array, out: Uint8Array, at: number): void }, channel: Channel, phase: 0 | 1, counter: bigint, text: string) {
  const payload = new TextEncoder().encode(text);
  const out = new Uint8Array(dataHeaderBytes + payload.length + 16);
  writeDataHeader(out, channel, phase, responderIndex, counter);
  key.sealInto(counter, payload, out.subarray(0, dataHeaderBytes), out, dataHeaderBytes);
  return maskHeader(out, headerKey(responderStatic.publicKey));
}

function vectors() {
  const ik = build('IK'), xx = build('XX');
  const sig = ik.i.split(), media = ik.i.splitMedia();
  return {
    'header-key-public': toHex(headerKey()),
    'header-key-responder': toHex(headerKey(responderStatic.publicKey)),
    'header-key-initiator': toHex(headerKey(initiatorStatic.publicKey)),
    ...ik.out, ...xx.out,
    'IK-data': toHex(dataPacket(sig.send, Channel.Signaling, 0, 0n, 'hello')),
    'IK-media': toHex(dataPacket(media.send, Channel.Media, 0, 0n, 'a media frame')),
    'IK-data-rekeyed': toHex(dataPacket(sig.send.rekeyed(), Channel.Signaling, 1, 1000n, 'after one rekey')),
  };
}

const file = path.join(import.meta.dirname, 'vectors.json');
if (process.env.TINCAN_WRITE_VECTORS) fs.writeFileSync(file, JSON.stringify(vectors(), null, 2) + '\n');
const expected: Record<string, string> = JSON.parse(fs.readFileSync(file, 'utf8'));

test('session vectors: rebuilt byte for byte, and every one shown in docs/session.md', () => {
  assert.deepEqual(vectors(), expected);
  const doc = fs.readFileSync(path.join(import.meta.dirname, '../../docs/session.md'), 'utf8').replace(/\s+/g, '');
  for (const [name, h] of Object.entries(expected)) assert.ok(doc.includes(h), `${name} missing from docs/session.md`);
});

test('session vectors: each datagram unmasks to its layout, and the data packets open under the responder keys', () => {
  const kinds: Record<string, number> = { 'IK-init': 2, 'IK-response': 3, 'XX-init': 1, 'XX-response': 3, 'XX-final': 4, 'IK-data': 5, 'IK-media': 7, 'IK-data-rekeyed': 6 };
  const keyFor = (name: string) => name.startsWith('XX-init') || name === 'XX-response' ? headerKey()
    : name === 'IK-response' ? headerKey(initiatorStatic.publicKey) : headerKey(responderStatic.publicKey);
  for (const [name, type] of Object.entries(kinds)) {
    const bytes = hex(expected[name]);
    if (type <= 4) assert.equal(bytes.length, packetBytes, name);
    const d = decodePacket(unmaskHeader(bytes, keyFor(name))!);
    assert.ok(d.ok, name);
    assert.equal(unmaskHeader(bytes, keyFor(name))![0], type, name);
  }
  const { r } = build('IK');
  const sig = r.split(), media = r.splitMedia();
  const open = (name: string, key: typeof sig.receive, counter: bigint) => {
    const plain = unmaskHeader(hex(expected[name]), headerKey(responderStatic.publicKey))!;
    const o = key.open(counter, plain.subarray(dataHeaderBytes), plain.subarray(0, dataHeaderBytes));
    assert.ok(o.ok, name);
    return new TextDecoder().decode(o.value);
  };
  assert.equal(open('IK-data', sig.receive, 0n), 'hello');
  assert.equal(open('IK-media', media.receive, 0n), 'a media frame');
  assert.equal(open('IK-data-rekeyed', sig.receive.rekeyed(), 1000n), 'after one rekey');
});

test('session vectors: a responder endpoint accepts the IK initiation vector and answers it', () => {
  let seen = '';
  const verifying = new Endpoint({
    staticKey: responderStatic, random: (n) => new Uint8Array(n).fill(1), identityPayload: proof('responder'),
    verifyPeer: (payload, rs) => { seen = new TextDecoder().decode(payload); return ok({ role: 'node', staticKey: rs, signingKey: new Uint8Array(32) }); },
  });
  verifying.handleDatagram('udp:203.0.113.1:1000', hex(expected['IK-init']), timestampMs);
  assert.equal(seen, 'identity proof of the initiator');
  assert.equal(verifying.stats.handshakesCompleted, 1);
  assert.ok(verifying.pollTransmit(), 'answered with a response');
  const e = verifying.pollEvent();
  assert.ok(e?.type === 'established' && Buffer.from(e.peer.staticKey).equals(Buffer.from(initiatorStatic.publicKey)));
});
