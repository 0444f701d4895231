// Handshake messages are padded to a random total size (256–448 bytes on the wire), so their
// lengths tell an observer nothing about which message of which pattern they are.
//   padded payload = varint(length) identity-proof random-padding   (inside the Noise encryption)
// The first XX message is sent before any key exists: its payload is random padding only.
import type { RandomBytes } from '../crypto/keys.ts';

export type HandshakeMessage = 'init-xx' | 'init-ik' | 'response-xx' | 'response-ik' | 'final-xx';

// Specification: packet sizes on the wire are drawn uniformly from this range.
export const handshakeBytesMin = 256;
export const handshakeBytesMax = 448;

// Bytes of each packet that are not payload: header, Noise keys and tags.
const overhead: Record<HandshakeMessage, number> = {
  'init-xx': 5 + 32,
  'init-ik': 5 + 32 + 48 + 8 + 16,  // the 8-byte timestamp before the padded proof
  'response-xx': 9 + 32 + 48 + 16,
  'response-ik': 9 + 32 + 16,
  'final-xx': 9 + 48 + 16,
};

function targetPayloadBytes(kind: HandshakeMessage, random: RandomBytes): number {
  const r = random(2);
  const span = handshakeBytesMax - handshakeBytesMin + 1;
  return handshakeBytesMin + (((r[0] << 8) | r[1]) % span) - overhead[kind];
}

export function randomPadding(kind: HandshakeMessage, random: RandomBytes): Uint8Array {
  return random(Math.max(0, targetPayloadBytes(kind, random)));
}

export function padHandshakePayload(kind: HandshakeMessage, proof: Uint8Array, random: RandomBytes): Uint8Array {
  const head: number[] = [];
  for (let n = proof.length; ; n >>>= 7) { if (n < 0x80) { head.push(n); break; } head.push((n & 0x7f) | 0x80); }
  const padBytes = Math.max(0, targetPayloadBytes(kind, random) - head.length - proof.length);
  const out = new Uint8Array(head.length + proof.length + padBytes);
  out.set(head); out.set(proof, head.length); out.set(random(padBytes), head.length + proof.length);
  return out;
}

/** The identity proof inside a padded payload, or undefined if the framing is broken. */
export function openHandshakePayload(payload: Uint8Array): Uint8Array | undefined {
  let n = 0, i = 0;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= payload.length || shift > 14) return undefined;
    n += (payload[i] & 0x7f) * 2 ** shift;
    if (payload[i] < 0x80) { i++; break; }
  }
  return n <= payload.length - i ? payload.subarray(i, i + n) : undefined;
}
