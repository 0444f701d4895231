// The envelope of every wire message: one form byte, then the message raw or compressed.
//   form 0x00: varint(command) object-list
//   form 0x01: varint(rawLength) range-coded(raw), with the shared model primed by priming.ts (v1)
// Compression is tried per message and kept only when it pays off.
import { type Result, ok, err } from './result.ts';
import { messageBytesMax } from './object-list.ts';
import { compressBytes, decompressBytes, primeModel } from './compress.ts';
import { primingMessages } from './priming.ts';

export const enum Form { Raw = 0, CompressedV1 = 1 }

// Specification: priming rounds of the v1 model.
const primingRounds = 2;
let primed = false;
function ensurePrimed() {
  if (primed) return;
  primeModel(primingMessages(), primingRounds);
  primed = true;
}

// Implementation: messages shorter than this are not worth a compression attempt.
const compressBytesMin = 24;

export function packMessage(raw: Uint8Array, compress = true): Uint8Array {
  if (compress && raw.length >= compressBytesMin) {
    ensurePrimed();
    const coded = compressBytes(raw);
    const head = varintBytes(raw.length);
    if (1 + head.length + coded.length < 1 + raw.length) {
      const out = new Uint8Array(1 + head.length + coded.length);
      out[0] = Form.CompressedV1; out.set(head, 1); out.set(coded, 1 + head.length);
      return out;
    }
  }
  const out = new Uint8Array(1 + raw.length);
  out[0] = Form.Raw; out.set(raw, 1);
  return out;
}

export function unpackMessage(bytes: Uint8Array): Result<Uint8Array> {
  if (bytes.length === 0) return err('truncated', 'empty message');
  if (bytes[0] === Form.Raw) return ok(bytes.subarray(1));
  if (bytes[0] !== Form.CompressedV1) return err('bad-form', `unknown message form ${bytes[0]}`);
  let n = 0, i = 1;
  for (let shift = 0; ; shift += 7, i++) {
    if (i >= bytes.length || shift > 21) return err('truncated', 'compressed length missing');
    n += (bytes[i] & 0x7f) * 2 ** shift;
    if (bytes[i] < 0x80) { i++; break; }
  }
  if (n > messageBytesMax) return err('too-large', `compressed message claims ${n} bytes`);
  // A range coder cannot expand a byte's worth of input into more than a few hundred bytes of
  // output here; a tiny input claiming a huge length is refused before any work.
  if (n > (bytes.length - i + 8) * 512) return err('bad-length', 'compressed length implausible for its input');
  ensurePrimed();
  return decompressBytes(bytes.subarray(i), n);
}

function varintBytes(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Uint8Array.from(out);
}
