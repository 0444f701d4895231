// Raw 32-byte keys over node:crypto KeyObjects. The wire carries raw keys; node:crypto wants
// DER, so the fixed PKCS#8 / SPKI prefixes for Ed25519 and X25519 are prepended here, once.
import crypto from 'node:crypto';
import { type Result, ok, err } from '../wire/result.ts';

export type RandomBytes = (n: number) => Uint8Array;
export interface KeyPair { publicKey: Uint8Array; privateKey: Uint8Array }

const edPkcs8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const xPkcs8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

// KeyObject creation costs more than a signature check; peers reuse a handful of keys.
const cacheMax = 4096;
const cache = new Map<string, crypto.KeyObject>();
function keyObject(kind: string, raw: Uint8Array, make: () => crypto.KeyObject): crypto.KeyObject {
  const id = kind + b64(raw);
  let k = cache.get(id);
  if (!k) {
    k = make();
    if (cache.size >= cacheMax) cache.delete(cache.keys().next().value!);
    cache.set(id, k);
  }
  return k;
}

// Import through JWK: node:crypto parses it about ten times faster than DER, which matters for
// the handshake's fresh ephemeral keys. A private JWK must name `x`, but node derives the key
// from `d` alone (checked in test/crypto/keys.test.ts); should a future node insist that `x`
// match, the DER form is used instead.
const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64url');
const placeholderX = b64(new Uint8Array(32));
let jwkPrivateWorks = true;
function importPrivate(crv: 'Ed25519' | 'X25519', raw: Uint8Array, der: Buffer): crypto.KeyObject {
  if (jwkPrivateWorks) {
    try { return crypto.createPrivateKey({ key: { kty: 'OKP', crv, d: b64(raw), x: placeholderX }, format: 'jwk' }); } catch { jwkPrivateWorks = false; }
  }
  return crypto.createPrivateKey({ key: Buffer.concat([der, raw]), format: 'der', type: 'pkcs8' });
}
const importPublic = (crv: 'Ed25519' | 'X25519', raw: Uint8Array) =>
  crypto.createPublicKey({ key: { kty: 'OKP', crv, x: b64(raw) }, format: 'jwk' });

const edPrivate = (seed: Uint8Array) => keyObject('ed-priv', seed, () => importPrivate('Ed25519', seed, edPkcs8));
const edPublic = (pub: Uint8Array) => keyObject('ed-pub', pub, () => importPublic('Ed25519', pub));
const xPrivate = (priv: Uint8Array) => keyObject('x-priv', priv, () => importPrivate('X25519', priv, xPkcs8));
const xPublic = (pub: Uint8Array) => keyObject('x-pub', pub, () => importPublic('X25519', pub));

function rawPublic(k: crypto.KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url'));
}

export function ed25519FromSeed(seed: Uint8Array): KeyPair {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  return { publicKey: rawPublic(edPrivate(seed)), privateKey: seed.slice() };
}

export const generateEd25519 = (random: RandomBytes): KeyPair => ed25519FromSeed(random(32));

export function ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.sign(null, message, edPrivate(privateKey)));
}

/** False for a bad signature and for malformed keys or signatures alike; never throws. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try { return crypto.verify(null, message, edPublic(publicKey), signature); } catch { return false; }
}

export function x25519FromPrivate(privateKey: Uint8Array): KeyPair {
  if (privateKey.length !== 32) throw new RangeError('an X25519 private key is 32 bytes');
  return { publicKey: rawPublic(xPrivate(privateKey)), privateKey: privateKey.slice() };
}

export const generateX25519 = (random: RandomBytes): KeyPair => x25519FromPrivate(random(32));

/** Diffie-Hellman; a low-order peer key (all-zero result) is refused, as Noise permits. */
export function x25519(privateKey: Uint8Array, peerPublic: Uint8Array): Result<Uint8Array> {
  if (peerPublic.length !== 32) return err('bad-key', 'an X25519 public key is 32 bytes');
  let shared: Uint8Array;
  try {
    shared = new Uint8Array(crypto.diffieHellman({ privateKey: xPrivate(privateKey), publicKey: xPublic(peerPublic) }));
  } catch {
    return err('bad-key', 'X25519 failed on the peer key');
  }
  if (shared.every((b) => b === 0)) return err('low-order-key', 'peer key has low order');
  return ok(shared);
}
