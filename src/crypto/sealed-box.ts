// Sealed boxes: a message only the holders of some X25519 keys can open, made without any
// round trip to them (offline mail, docs/decisions/0018). Hybrid construction from node:crypto
// primitives: a random content key seals the message once (ChaCha20-Poly1305); for each
// recipient key R the content key is wrapped under HKDF-SHA256(X25519(e, R), salt e‖R) with one
// ephemeral key e per box. The sender stays anonymous at this layer: who wrote it is proved by
// a signature inside (src/chat/offline-mail.ts).
import crypto from 'node:crypto';
import { schema, f } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { x25519, generateX25519, type KeyPair, type RandomBytes } from './keys.ts';
import { concatBytes } from './bytes.ts';

// Specification: at most this many recipient keys per box (a user's devices).
export const sealedRecipientsMax = 8;
const tagLen = 16;
const wrapLen = 32 + tagLen;
const info = new TextEncoder().encode('tincan sealed box v1');
const zeroNonce = Buffer.alloc(12);

const SealedBox = schema({
  ephemeral: f.key(1),
  wraps: f.bytesList(2, sealedRecipientsMax, wrapLen),
  box: f.bytes(3, 65535, tagLen),
});

function aead(key: Uint8Array, ad: Uint8Array, data: Uint8Array, open: boolean): Uint8Array | undefined {
  try {
    if (!open) {
      const c = crypto.createCipheriv('chacha20-poly1305', key, zeroNonce, { authTagLength: tagLen });
      c.setAAD(ad, { plaintextLength: data.length });
      return new Uint8Array(Buffer.concat([c.update(data), c.final(), c.getAuthTag()]));
    }
    if (data.length < tagLen) return undefined;
    const d = crypto.createDecipheriv('chacha20-poly1305', key, zeroNonce, { authTagLength: tagLen });
    d.setAAD(ad, { plaintextLength: data.length - tagLen });
    d.setAuthTag(data.subarray(data.length - tagLen));
    return new Uint8Array(Buffer.concat([d.update(data.subarray(0, data.length - tagLen)), d.final()]));
  } catch {
    return undefined;
  }
}

function wrapKey(shared: Uint8Array, eph: Uint8Array, recipient: Uint8Array): Uint8Array {
  return new Uint8Array(crypto.hkdfSync('sha256', shared, concatBytes(eph, recipient), info, 32));
}

/** Seals `plaintext` for every key in `recipients`; `ad` is bound too (e.g. the mail's id and addressee). */
export function seal(recipients: Uint8Array[], plaintext: Uint8Array, ad: Uint8Array, random: RandomBytes): Result<Uint8Array> {
  if (recipients.length === 0 || recipients.length > sealedRecipientsMax) return err('bad-recipients', `a sealed box has 1 to ${sealedRecipientsMax} recipients`);
  const e = generateX25519(random);
  const content = random(32);
  const wraps: Uint8Array[] = [];
  for (const r of recipients) {
    const dh = x25519(e.privateKey, r);
    if (!dh.ok) return dh;
    // Each content key is used once, so the all-zero nonce is safe.
    wraps.push(aead(wrapKey(dh.value, e.publicKey, r), concatBytes(e.publicKey, r), content, false)!);
  }
  const box = aead(content, ad, plaintext, false)!;
  return ok(encodeObjectList(SealedBox.encode({ ephemeral: e.publicKey, wraps, box })));
}

/** Opens a box sealed for our static key; `ad` must match what the sender bound. */
export function open(bytes: Uint8Array, mine: KeyPair, ad: Uint8Array): Result<Uint8Array> {
  const l = decodeObjectList(bytes);
  if (!l.ok) return l;
  const s = SealedBox.decode(l.value);
  if (!s.ok) return s;
  const dh = x25519(mine.privateKey, s.value.ephemeral);
  if (!dh.ok) return dh;
  const k = wrapKey(dh.value, s.value.ephemeral, mine.publicKey);
  const wad = concatBytes(s.value.ephemeral, mine.publicKey);
  for (const w of s.value.wraps) {
    const content = aead(k, wad, w, true);
    if (!content) continue;
    const plain = aead(content, ad, s.value.box, true);
    return plain ? ok(plain) : err('bad-box', 'the sealed message does not authenticate');
  }
  return err('not-for-us', 'the message is not sealed for this device');
}
