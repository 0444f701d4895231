// Our Noise against the published test vectors (cacophony, snow): every handshake message, the
// handshake hash and the first transport messages must match byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import crypto from 'node:crypto';
import { HandshakeState, TransportKey, type NoisePattern } from '../../src/crypto/noise.ts';
import { x25519FromPrivate } from '../../src/crypto/keys.ts';

interface Vector {
  origin: string; protocol_name: string; init_prologue: string; init_static: string; init_ephemeral: string;
  resp_static: string; resp_ephemeral: string; handshake_hash?: string; messages: [string, string][];
}
const file = JSON.parse(readFileSync(new URL('./noise-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const noRandom = () => { throw new Error('a test vector needs no randomness'); };

for (const v of file.vectors) {
  test(`${v.origin} vector ${v.protocol_name} matches byte for byte`, () => {
    const pattern = /^Noise_(XX|IK)_25519_ChaChaPoly_SHA256$/.exec(v.protocol_name)![1] as NoisePattern;
    const rs = x25519FromPrivate(hex(v.resp_static));
    const i = new HandshakeState({
      pattern, initiator: true, prologue: hex(v.init_prologue), staticKey: x25519FromPrivate(hex(v.init_static)),
      ephemeral: x25519FromPrivate(hex(v.init_ephemeral)), remoteStatic: pattern === 'IK' ? rs.publicKey : undefined, random: noRandom,
    });
    const r = new HandshakeState({
      pattern, initiator: false, prologue: hex(v.init_prologue), staticKey: rs, ephemeral: x25519FromPrivate(hex(v.resp_ephemeral)), random: noRandom,
    });
    const handshakeMessages = pattern === 'XX' ? 3 : 2;
    for (let n = 0; n < handshakeMessages; n++) {
      const [writer, reader] = n % 2 === 0 ? [i, r] : [r, i];
      const [payload, ciphertext] = v.messages[n];
      const m = writer.writeMessage(hex(payload));
      assert.ok(m.ok);
      assert.equal(toHex(m.value), ciphertext, `handshake message ${n}`);
      const got = reader.readMessage(m.value);
      assert.ok(got.ok && toHex(got.value) === payload);
    }
    assert.ok(i.isComplete && r.isComplete);
    if (v.handshake_hash) assert.equal(toHex(i.handshakeHash), v.handshake_hash);
    assert.deepEqual(i.handshakeHash, r.handshakeHash);
    const ki = i.split(), kr = r.split();
    const nonces = [0n, 0n];
    for (let n = handshakeMessages; n < v.messages.length; n++) {
      const fromInitiator = n % 2 === 0;
      const [send, receive] = fromInitiator ? [ki.send, kr.receive] : [kr.send, ki.receive];
      const nonce = nonces[fromInitiator ? 0 : 1]++;
      const [payload, ciphertext] = v.messages[n];
      const sealed = send.seal(nonce, hex(payload));
      assert.equal(toHex(sealed), ciphertext, `transport message ${n}`);
      const opened = receive.open(nonce, sealed);
      assert.ok(opened.ok && toHex(opened.value) === payload);
    }
  });
}

test('REKEY follows §11.3: the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes)', () => {
  const k = new Uint8Array(32).fill(7);
  // ENCRYPT's nonce: 4 zero bytes, then the counter 2^64-1 little-endian.
  const nonce = Buffer.alloc(12, 0xff).fill(0, 0, 4);
  const c = crypto.createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 });
  const expected = new Uint8Array(c.update(new Uint8Array(32)));
  const sample = new Uint8Array([1, 2, 3]);
  assert.deepEqual(new TransportKey(k).rekeyed().seal(9n, sample), new TransportKey(expected).seal(9n, sample));
  assert.notDeepEqual(new TransportKey(k).rekeyed().seal(9n, sample), new TransportKey(k).seal(9n, sample));
});
