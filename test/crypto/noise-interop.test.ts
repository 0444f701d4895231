// Interoperability with an independent Noise implementation from npm, noise-handshake 4.2.0
// (libsodium underneath). It implements only the BLAKE2b hash, so both sides run
// Noise_{XX,IK}_25519_ChaChaPoly_BLAKE2b: our token processing, DH, cipher, HKDF and framing
// are the ones the network uses with SHA256 (pinned by the cacophony vectors next door).
// With the same static and ephemeral keys, every handshake message must be byte-identical
// whoever writes it, and the transport keys must match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import NoiseState from 'noise-handshake';
import { generateKeyPair } from 'noise-handshake/dh.js';
import { HandshakeState, TransportKey, type NoisePattern } from '../../src/crypto/noise.ts';
import { x25519FromPrivate, type KeyPair } from '../../src/crypto/keys.ts';
import { prng } from '../helpers/prng.ts';

const prologue = new TextEncoder().encode('tincan/1');
const noRandom = () => { throw new Error('fixed keys only'); };

function keys(seed: number) {
  const r = prng(seed);
  // noise-handshake wipes its key buffers when a handshake completes: give it fresh copies.
  const pair = (): { ours: KeyPair; readonly theirs: { publicKey: Buffer; secretKey: Buffer } } => {
    const priv = r.bytes(32);
    return { ours: x25519FromPrivate(priv), get theirs() { return generateKeyPair(Buffer.from(priv)); } };
  };
  return { is: pair(), ie: pair(), rs: pair(), re: pair() };
}

function theirs(pattern: NoisePattern, initiator: boolean, k: ReturnType<typeof keys>) {
  const n = new NoiseState(pattern, initiator, initiator ? k.is.theirs : k.rs.theirs);
  n.e = initiator ? k.ie.theirs : k.re.theirs;  // fixed ephemeral: send() uses it instead of a fresh one
  n.initialise(prologue, initiator && pattern === 'IK' ? k.rs.theirs.publicKey : undefined);
  return n;
}

function ours(pattern: NoisePattern, initiator: boolean, k: ReturnType<typeof keys>) {
  return new HandshakeState({
    pattern, initiator, prologue, hash: 'BLAKE2b', random: noRandom,
    staticKey: initiator ? k.is.ours : k.rs.ours, ephemeral: initiator ? k.ie.ours : k.re.ours,
    remoteStatic: initiator && pattern === 'IK' ? k.rs.ours.publicKey : undefined,
  });
}

const payloads = ['first payload', 'a reply with an identity proof in it', 'and the final'].map((s) => new TextEncoder().encode(s));

for (const pattern of ['XX', 'IK'] as const) {
  for (const oursIs of ['initiator', 'responder'] as const) {
    test(`${pattern}: our ${oursIs} and noise-handshake's ${oursIs === 'initiator' ? 'responder' : 'initiator'} complete, byte for byte`, () => {
      const k = keys(pattern === 'XX' ? 11 : 12);
      // A reference run of noise-handshake against itself gives the spec's bytes for these keys.
      const refI = theirs(pattern, true, k), refR = theirs(pattern, false, k);
      const reference: Buffer[] = [];
      const count = pattern === 'XX' ? 3 : 2;
      for (let n = 0; n < count; n++) {
        const [w, r] = n % 2 === 0 ? [refI, refR] : [refR, refI];
        const m = w.send(payloads[n]);
        reference.push(Buffer.from(m));
        assert.deepEqual(new Uint8Array(r.recv(m)), payloads[n]);
      }

      const weInitiate = oursIs === 'initiator';
      const us = ours(pattern, weInitiate, k);
      const them = theirs(pattern, !weInitiate, k);
      for (let n = 0; n < count; n++) {
        const ourTurn = (n % 2 === 0) === weInitiate;
        if (ourTurn) {
          const m = us.writeMessage(payloads[n]);
          assert.ok(m.ok);
          assert.equal(Buffer.from(m.value).toString('hex'), reference[n].toString('hex'), `message ${n} written by us`);
          assert.deepEqual(new Uint8Array(them.recv(m.value)), payloads[n]);
        } else {
          const m = them.send(payloads[n]);
          assert.equal(Buffer.from(m).toString('hex'), reference[n].toString('hex'), `message ${n} written by noise-handshake`);
          const got = us.readMessage(m);
          assert.ok(got.ok, `we read message ${n}`);
          assert.deepEqual(got.value, payloads[n]);
        }
      }
      assert.ok(us.isComplete && them.complete);
      assert.deepEqual(Buffer.from(us.handshakeHash), them.hash);
      // noise-handshake: tx is what it sends with, rx what it receives with.
      const split = us.split();
      const msg = new TextEncoder().encode('transport');
      assert.deepEqual(split.send.seal(0n, msg), new TransportKey(new Uint8Array(them.rx!)).seal(0n, msg));
      assert.deepEqual(split.receive.seal(0n, msg), new TransportKey(new Uint8Array(them.tx!)).seal(0n, msg));
    });
  }
}

test('the protocol names agree: noise-handshake says BLAKE2b, the network says SHA256', () => {
  assert.equal(new NoiseState('XX', true).protocol.toString(), 'Noise_XX_25519_ChaChaPoly_BLAKE2b');
});
