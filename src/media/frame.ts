// A media frame on the wire: seq:u16 timestamp:u32 (48 kHz samples) opus-payload.
import { type Result, ok, err } from '../wire/result.ts';
import { packetBytesMax } from './opus.ts';

export interface MediaFrame { seq: number; timestampSamples: number; payload: Uint8Array }
const headerBytes = 6;

export function encodeMediaFrame(f: MediaFrame): Uint8Array {
  const out = new Uint8Array(headerBytes + f.payload.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, f.seq & 0xffff);
  v.setUint32(2, f.timestampSamples >>> 0);
  out.set(f.payload, headerBytes);
  return out;
}

export function decodeMediaFrame(bytes: Uint8Array): Result<MediaFrame> {
  if (bytes.length <= headerBytes) return err('truncated', 'media frame too short');
  if (bytes.length > headerBytes + packetBytesMax) return err('too-large', `media frame of ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return ok({ seq: v.getUint16(0), timestampSamples: v.getUint32(2), payload: bytes.slice(headerBytes) });
}
