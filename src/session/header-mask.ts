// Header protection: no session packet shows a fixed byte or a plaintext field on the wire
// (DESIGN.md rule 4). The type byte, indices and counter are XORed with a mask computed, as in
// QUIC (RFC 9001 §5.4), by encrypting a sample of the packet's own random-looking tail
// (AES-128 on its last 16 bytes) under a header key. The key belongs to the receiver: it is
// derived from the receiver's static public key, which every sender that knows whom it talks
// to holds. A sender that does not know the receiver's key yet (the first message of an XX
// handshake, and the XX responder's reply) uses the network-wide public key: such headers look
// just as random, but anyone with this code can unmask them — they carry only a random index.
import crypto from 'node:crypto';

export const sampleBytes = 16;

const headerLengthByType = [0, 5, 5, 9, 9, 13, 13, 13, 13];

export function headerLength(type: number): number | undefined {
  return type >= 1 && type <= 8 ? headerLengthByType[type] : undefined;
}

const keyCache = new Map<string, Uint8Array>();

/** The header key of a receiver, or the public one. */
export function headerKey(receiverStaticPublic?: Uint8Array): Uint8Array {
  const id = receiverStaticPublic ? Buffer.from(receiverStaticPublic).toString('base64') : '';
  let k = keyCache.get(id);
  if (!k) {
    const h = crypto.createHash('sha256').update('tincan header key v1\0');
    if (receiverStaticPublic) h.update(receiverStaticPublic);
    k = new Uint8Array(h.digest().subarray(0, 16));
    if (keyCache.size > 4096) keyCache.clear();
    keyCache.set(id, k);
  }
  return k;
}

// ECB without padding keeps no state between blocks, so one cipher object per key serves every
// packet: creating it is most of the cost of masking.
const ciphers = new Map<Uint8Array, crypto.Cipher>();

function maskOf(packet: Uint8Array, key: Uint8Array): Buffer {
  let c = ciphers.get(key);
  if (!c) {
    c = crypto.createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    if (ciphers.size > 4096) ciphers.clear();
    ciphers.set(key, c);
  }
  return c.update(packet.subarray(packet.length - sampleBytes));
}

/** Masks the header of a packet we built (in place). */
export function maskHeader(packet: Uint8Array, key: Uint8Array): Uint8Array {
  const len = headerLength(packet[0])!;
  const mask = maskOf(packet, key);
  for (let i = 0; i < len; i++) packet[i] ^= mask[i];
  return packet;
}

/** The mask a packet's header was XORed with under `key`, or undefined when it is too short. */
export function headerMask(packet: Uint8Array, key: Uint8Array): Uint8Array | undefined {
  return packet.length < 13 + sampleBytes ? undefined : maskOf(packet, key);
}

/** A copy with the header unmasked under `key`, or undefined when that cannot be a packet. */
export function unmaskHeader(packet: Uint8Array, key: Uint8Array): Uint8Array | undefined {
  if (packet.length < 13 + sampleBytes) return undefined;
  const mask = maskOf(packet, key);
  const type = packet[0] ^ mask[0];
  const len = headerLength(type);
  if (len === undefined || packet.length < len + sampleBytes) return undefined;
  const out = packet.slice();
  for (let i = 0; i < len; i++) out[i] ^= mask[i];
  return out;
}
