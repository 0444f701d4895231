// Media packets on the wire, one per datagram, inside the users' end-to-end session (which
// seals each one with its AEAD and replay window — docs/decisions/0011-media-pipeline.md).
//   audio:  kind=0 seq:u16 timestamp:u32 (48 kHz samples) opus-payload
//   report: kind=1 sentAt:u32 echo:u32 hold:u16 lostFraction:u8 jitterQ4:u16 lostTotal:u32
// A report is the receiver's view of the stream it gets (RTCP RR-like) plus the two clock
// fields that give the peer a round-trip time: `echo` is the `sentAt` of the last report this
// side received and `hold` how long it held it, both in ms modulo 2^32.
import { type Result, ok, err } from '../wire/result.ts';
import { packetBytesMax } from './opus.ts';

export interface MediaFrame { seq: number; timestampSamples: number; payload: Uint8Array }
export interface MediaReport {
  sentAtMs: number; echoMs: number; holdMs: number;
  lostFraction: number;  // 0..1, since the previous report
  jitterMs: number; lostTotal: number;
}
export type MediaPacket = { kind: 'audio'; frame: MediaFrame } | { kind: 'report'; report: MediaReport };

const kindAudio = 0, kindReport = 1;
const audioHeaderBytes = 7;
const reportBytes = 18;

export function encodeMediaFrame(f: MediaFrame): Uint8Array {
  const out = new Uint8Array(audioHeaderBytes + f.payload.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, kindAudio);
  v.setUint16(1, f.seq & 0xffff);
  v.setUint32(3, f.timestampSamples >>> 0);
  out.set(f.payload, audioHeaderBytes);
  return out;
}

export function encodeMediaReport(r: MediaReport): Uint8Array {
  const out = new Uint8Array(reportBytes);
  const v = new DataView(out.buffer);
  v.setUint8(0, kindReport);
  v.setUint32(1, r.sentAtMs >>> 0);
  v.setUint32(5, r.echoMs >>> 0);
  v.setUint16(9, Math.max(0, Math.min(0xffff, Math.round(r.holdMs))));
  v.setUint8(11, Math.max(0, Math.min(255, Math.round(r.lostFraction * 256))));
  v.setUint16(12, Math.max(0, Math.min(0xffff, Math.round(r.jitterMs * 16))));
  v.setUint32(14, Math.max(0, Math.min(0xffffffff, r.lostTotal)));
  return out;
}

export const isAudioPacket = (bytes: Uint8Array) => bytes.length > 0 && bytes[0] === kindAudio;

export function decodeMediaPacket(bytes: Uint8Array): Result<MediaPacket> {
  if (bytes.length === 0) return err('truncated', 'empty media packet');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === kindReport) {
    if (bytes.length !== reportBytes) return err('bad-report', `media report of ${bytes.length} bytes`);
    return ok({ kind: 'report', report: {
      sentAtMs: v.getUint32(1), echoMs: v.getUint32(5), holdMs: v.getUint16(9),
      lostFraction: v.getUint8(11) / 256, jitterMs: v.getUint16(12) / 16, lostTotal: v.getUint32(14),
    } });
  }
  if (bytes[0] !== kindAudio) return err('bad-kind', `media packet kind ${bytes[0]}`);
  if (bytes.length <= audioHeaderBytes) return err('truncated', 'media frame too short');
  if (bytes.length > audioHeaderBytes + packetBytesMax) return err('too-large', `media frame of ${bytes.length} bytes`);
  return ok({ kind: 'audio', frame: { seq: v.getUint16(1), timestampSamples: v.getUint32(3), payload: bytes.slice(audioHeaderBytes) } });
}

export function decodeMediaFrame(bytes: Uint8Array): Result<MediaFrame> {
  const p = decodeMediaPacket(bytes);
  if (!p.ok) return p;
  return p.value.kind === 'audio' ? ok(p.value.frame) : err('not-audio', 'a report, not an audio frame');
}
