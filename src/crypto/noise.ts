// The Noise Protocol Framework (revision 34), patterns XX and IK, suite 25519_ChaChaPoly_SHA256
// (BLAKE2b too, only to prove interoperability with implementations that use it), on node:crypto's
// synchronous primitives. Sections cited are of the Noise specification. The cacophony and snow
// test vectors and an interop test against noise-handshake (test/crypto/) pin it to the spec.
//
// A HandshakeState runs one handshake: writeMessage / readMessage alternate per the pattern;
// after the last message split() gives the two transport keys. readMessage is transactional:
// a message that fails to decrypt or parse leaves the state as it was, so a forged or damaged
// packet cannot wedge a handshake that a genuine retransmission would complete.
import crypto from 'node:crypto';
import { type Result, ok, err } from '../wire/result.ts';
import { type KeyPair, type RandomBytes, generateX25519, x25519 } from './keys.ts';
import { concatBytes } from './bytes.ts';

export type NoisePattern = 'XX' | 'IK';
export type NoiseHash = 'SHA256' | 'BLAKE2b';

const dhLen = 32;
const keyLen = 32;
const tagLen = 16;
export const noiseMessageBytesMax = 65535;

type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';
// §7.5: XX and IK message patterns, from the initiator's first message on.
const patterns: Record<NoisePattern, { preResponderStatic: boolean; messages: Token[][] }> = {
  XX: { preResponderStatic: false, messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']] },
  IK: { preResponderStatic: true, messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']] },
};

/** §4.3 hash functions: node:crypto's names and HASHLEN. */
const hashes: Record<NoiseHash, { alg: string; len: number }> = {
  SHA256: { alg: 'sha256', len: 32 },
  BLAKE2b: { alg: 'blake2b512', len: 64 },
};

const digest = (alg: string, ...parts: Uint8Array[]) => {
  const h = crypto.createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const hmac = (alg: string, key: Uint8Array, ...parts: Uint8Array[]) => {
  const h = crypto.createHmac(alg, key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** §4.3 HKDF with two outputs. */
function hkdf2(alg: string, ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const temp = hmac(alg, ck, ikm);
  const o1 = hmac(alg, temp, Uint8Array.of(1));
  const o2 = hmac(alg, temp, o1, Uint8Array.of(2));
  return [o1, o2];
}

/** §5.2: with a 64-byte hash, cipher keys are the first 32 bytes of an HKDF output. */
const cipherKey = (k: Uint8Array) => (k.length === keyLen ? k : k.slice(0, keyLen));

/** §5.1 nonce: 32 bits of zeros followed by the 64-bit little-endian counter. */
const nonceScratch = Buffer.alloc(12);
function nonceOf(n: bigint): Buffer {
  // One buffer for every call: createCipheriv copies the nonce before this returns again.
  nonceScratch.writeBigUInt64LE(n, 4);
  return nonceScratch;
}

function aeadSeal(key: Uint8Array, n: bigint, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + tagLen);
  aeadSealInto(key, n, ad, plaintext, out, 0);
  return out;
}

/** Seals straight into `out` at `at` (ciphertext then tag): the transport hot path copies once. */
function aeadSealInto(key: Uint8Array, n: bigint, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array, at: number) {
  const c = crypto.createCipheriv('chacha20-poly1305', key, nonceOf(n), { authTagLength: tagLen });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  out.set(body, at);
  out.set(c.getAuthTag(), at + body.length);
}

function aeadOpen(key: Uint8Array, n: bigint, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  if (ciphertext.length < tagLen) return undefined;
  try {
    const d = crypto.createDecipheriv('chacha20-poly1305', key, nonceOf(n), { authTagLength: tagLen });
    d.setAAD(ad, { plaintextLength: ciphertext.length - tagLen });
    d.setAuthTag(ciphertext.subarray(ciphertext.length - tagLen));
    const body = d.update(ciphertext.subarray(0, ciphertext.length - tagLen));
    d.final();
    return new Uint8Array(body.buffer, body.byteOffset, body.length);  // a plain view, no copy
  } catch {
    return undefined;
  }
}

const zeros32 = new Uint8Array(32);
const emptyBytes = new Uint8Array(0);
const maxNonce = 2n ** 64n - 1n;

/** A transport key for datagrams: the counter travels in each packet, so nonces are explicit. */
export class TransportKey {
  constructor(private readonly key: Uint8Array) {}
  /** §11.3 REKEY(k): the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes). */
  rekeyed(): TransportKey {
    return new TransportKey(aeadSeal(this.key, maxNonce, emptyBytes, zeros32).slice(0, keyLen));
  }
  seal(counter: bigint, plaintext: Uint8Array, ad: Uint8Array = emptyBytes): Uint8Array {
    return aeadSeal(this.key, counter, ad, plaintext);
  }
  /** Writes ciphertext and tag (plaintext.length + 16 bytes) into `out` at `at`. */
  sealInto(counter: bigint, plaintext: Uint8Array, ad: Uint8Array, out: Uint8Array, at: number) {
    aeadSealInto(this.key, counter, ad, plaintext, out, at);
  }
  open(counter: bigint, ciphertext: Uint8Array, ad: Uint8Array = emptyBytes): Result<Uint8Array> {
    if (counter < 0n || counter >= maxNonce) return err('bad-counter', 'counter out of range');
    const p = aeadOpen(this.key, counter, ad, ciphertext);
    return p ? ok(p) : err('decrypt-failed', 'packet does not authenticate');
  }
}

interface Symmetric { ck: Uint8Array; h: Uint8Array; k: Uint8Array | undefined; n: bigint }

export interface HandshakeOptions {
  pattern: NoisePattern;
  initiator: boolean;
  prologue: Uint8Array;
  staticKey: KeyPair;
  remoteStatic?: Uint8Array;
  random: RandomBytes;
  /** Fixed ephemeral key, for test vectors only. */
  ephemeral?: KeyPair;
  /** Default SHA256, the only one Tincan's network uses. */
  hash?: NoiseHash;
}

export interface TransportKeys { send: TransportKey; receive: TransportKey }

export class HandshakeState {
  private sym: Symmetric;
  private e: KeyPair | undefined;
  private re: Uint8Array | undefined;
  private rs: Uint8Array | undefined;
  private turn = 0;
  private failed = false;
  private readonly messages: Token[][];
  private readonly alg: string;

  constructor(private readonly o: HandshakeOptions) {
    const hash = hashes[o.hash ?? 'SHA256'];
    this.alg = hash.alg;
    // §5.2 InitializeSymmetric: a name of at most HASHLEN bytes is zero-padded and used as h.
    const name = new TextEncoder().encode(`Noise_${o.pattern}_25519_ChaChaPoly_${o.hash ?? 'SHA256'}`);
    const h = name.length <= hash.len ? padTo(name, hash.len) : digest(hash.alg, name);
    this.sym = { ck: h, h, k: undefined, n: 0n };
    this.e = o.ephemeral;
    this.rs = o.remoteStatic;
    this.messages = patterns[o.pattern].messages;
    this.mixHash(o.prologue);
    if (patterns[o.pattern].preResponderStatic) {
      if (o.initiator && !o.remoteStatic) throw new Error('IK initiator needs the responder static key');
      this.mixHash(o.initiator ? o.remoteStatic! : o.staticKey.publicKey);
    }
  }

  get isComplete(): boolean { return this.turn >= this.messages.length; }
  get remoteStatic(): Uint8Array | undefined { return this.rs; }
  get handshakeHash(): Uint8Array { return this.sym.h; }

  private myTurn(): boolean { return (this.turn % 2 === 0) === this.o.initiator; }

  writeMessage(payload: Uint8Array): Result<Uint8Array> {
    if (this.failed) return err('handshake-failed', 'handshake already failed');
    if (this.isComplete || !this.myTurn()) return err('wrong-turn', 'not our turn to write');
    const out: Uint8Array[] = [];
    for (const t of this.messages[this.turn]) {
      switch (t) {
        case 'e':
          this.e ??= generateX25519(this.o.random);
          out.push(this.e.publicKey);
          this.mixHash(this.e.publicKey);
          break;
        case 's':
          out.push(this.encryptAndHash(this.o.staticKey.publicKey));
          break;
        default: {
          const r = this.mixDh(t);
          if (!r.ok) { this.failed = true; return r; }
        }
      }
    }
    out.push(this.encryptAndHash(payload));
    this.turn++;
    const msg = concatBytes(...out);
    if (msg.length > noiseMessageBytesMax) return err('too-large', 'handshake message too large');
    return ok(msg);
  }

  readMessage(message: Uint8Array): Result<Uint8Array> {
    if (this.failed) return err('handshake-failed', 'handshake already failed');
    if (this.isComplete || this.myTurn()) return err('wrong-turn', 'not our turn to read');
    if (message.length > noiseMessageBytesMax) return err('too-large', 'handshake message too large');
    const saved = { sym: { ...this.sym }, re: this.re, rs: this.rs };
    const r = this.readTokens(message);
    if (!r.ok) { this.sym = saved.sym; this.re = saved.re; this.rs = saved.rs; return r; }
    this.turn++;
    return r;
  }

  private readTokens(message: Uint8Array): Result<Uint8Array> {
    let at = 0;
    for (const t of this.messages[this.turn]) {
      switch (t) {
        case 'e':
          if (message.length - at < dhLen) return err('truncated', 'handshake message too short');
          this.re = new Uint8Array(message.subarray(at, at + dhLen));  // a copy, even of a Buffer
          at += dhLen;
          this.mixHash(this.re);
          break;
        case 's': {
          const len = this.sym.k ? dhLen + tagLen : dhLen;
          if (message.length - at < len) return err('truncated', 'handshake message too short');
          const s = this.decryptAndHash(message.subarray(at, at + len));
          if (!s) return err('decrypt-failed', 'static key does not authenticate');
          this.rs = s;
          at += len;
          break;
        }
        default: {
          const r = this.mixDh(t);
          if (!r.ok) return r;
        }
      }
    }
    const payload = this.decryptAndHash(message.subarray(at));
    if (!payload) return err('decrypt-failed', 'handshake payload does not authenticate');
    return ok(payload);
  }

  /** §5.2 Split(): k1 carries initiator-to-responder traffic, k2 the other way. */
  split(): TransportKeys {
    if (!this.isComplete) throw new Error('split before the handshake completed');
    return this.keyPair(emptyBytes);
  }

  /**
   * A second, independent key pair for media, in the manner of Split() but with its own input:
   * HKDF(ck, "tincan media keys v1" || h). It comes from the chaining key, which is secret, not
   * from h alone, which anyone who saw the handshake and knows the responder's key can compute.
   */
  splitMedia(): TransportKeys {
    if (!this.isComplete) throw new Error('split before the handshake completed');
    return this.keyPair(concatBytes(mediaLabel, this.sym.h));
  }

  private keyPair(ikm: Uint8Array): TransportKeys {
    const [k1, k2] = hkdf2(this.alg, this.sym.ck, ikm).map(cipherKey);
    return this.o.initiator
      ? { send: new TransportKey(k1), receive: new TransportKey(k2) }
      : { send: new TransportKey(k2), receive: new TransportKey(k1) };
  }

  // §5.3 token processing: which DH each of ee, es, se, ss means depends on our role.
  private mixDh(t: Exclude<Token, 'e' | 's'>): Result<void> {
    const init = this.o.initiator;
    const s = this.o.staticKey;
    const [mine, theirs] =
      t === 'ee' ? [this.e, this.re]
      : t === 'ss' ? [s, this.rs]
      : t === 'es' ? (init ? [this.e, this.rs] : [s, this.re])
      : (init ? [s, this.re] : [this.e, this.rs]);
    if (!mine || !theirs) return err('missing-key', `no key for ${t}`);
    const dh = x25519(mine.privateKey, theirs);
    if (!dh.ok) return dh;
    this.mixKey(dh.value);
    return ok(undefined);
  }

  private mixHash(data: Uint8Array) { this.sym.h = digest(this.alg, this.sym.h, data); }

  private mixKey(ikm: Uint8Array) {
    const [ck, k] = hkdf2(this.alg, this.sym.ck, ikm);
    this.sym.ck = ck;
    this.sym.k = cipherKey(k);
    this.sym.n = 0n;
  }

  private encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const out = this.sym.k ? aeadSeal(this.sym.k, this.sym.n++, this.sym.h, plaintext) : new Uint8Array(plaintext);
    this.mixHash(out);
    return out;
  }

  private decryptAndHash(ciphertext: Uint8Array): Uint8Array | undefined {
    let plain: Uint8Array | undefined;
    if (this.sym.k) {
      plain = aeadOpen(this.sym.k, this.sym.n, this.sym.h, ciphertext);
      if (!plain) return undefined;
      this.sym.n++;
    } else {
      plain = new Uint8Array(ciphertext);
    }
    this.mixHash(ciphertext);
    return plain;
  }
}

const mediaLabel = new TextEncoder().encode('tincan media keys v1');

function padTo(b: Uint8Array, n: number): Uint8Array { const out = new Uint8Array(n); out.set(b); return out; }
