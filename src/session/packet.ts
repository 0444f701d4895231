// Datagram framing of the secure session layer (see docs/handshake.md).
//
//   init-xx  = 0x01 sender:u32 noise-msg1           init-ik = 0x02 sender:u32 noise-msg1
//   response = 0x03 sender:u32 receiver:u32 noise-msg2
//   final    = 0x04 sender:u32 receiver:u32 noise-msg3   (XX only)
//   data     = 0x05..0x08 receiver:u32 counter:u64 aead(payload, ad = the 13 header bytes)
//              0x05 signaling key phase 0, 0x06 signaling phase 1, 0x07 media phase 0, 0x08 media phase 1
//
// Indices are chosen at random by each side, as WireGuard does, so a session survives a change
// of address. Every header is masked on the wire (header-mask.ts), so none of this shows.
import { type Result, ok, err } from '../wire/result.ts';

export const enum PacketType { InitXX = 1, InitIK = 2, Response = 3, Final = 4, Data = 5 }

/** Traffic classes of a session, each with its own keys, counters and replay window. */
export const enum Channel { Signaling = 0, Media = 1 }

const dataTypeFirst = 5;
const dataTypeLast = 8;

export type Packet =
  | { type: PacketType.InitXX | PacketType.InitIK; sender: number; noise: Uint8Array }
  | { type: PacketType.Response | PacketType.Final; sender: number; receiver: number; noise: Uint8Array }
  | { type: PacketType.Data; channel: Channel; phase: 0 | 1; receiver: number; counter: bigint; header: Uint8Array; ciphertext: Uint8Array };

// Specification: a Noise message is at most 65535 bytes; datagrams never get near that.
export const datagramBytesMax = 65507;
export const dataHeaderBytes = 13;
const aeadTagBytes = 16;

export function encodeInit(type: PacketType.InitXX | PacketType.InitIK, sender: number, noise: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + noise.length);
  const v = new DataView(out.buffer);
  out[0] = type; v.setUint32(1, sender); out.set(noise, 5);
  return out;
}

export function encodeReply(type: PacketType.Response | PacketType.Final, sender: number, receiver: number, noise: Uint8Array): Uint8Array {
  const out = new Uint8Array(9 + noise.length);
  const v = new DataView(out.buffer);
  out[0] = type; v.setUint32(1, sender); v.setUint32(5, receiver); out.set(noise, 9);
  return out;
}

/** Writes a data header at the start of `out` (the hot path: no allocation). */
export function writeDataHeader(out: Uint8Array, channel: Channel, phase: 0 | 1, receiver: number, counter: bigint) {
  out[0] = dataTypeFirst + channel * 2 + phase;
  out[1] = receiver >>> 24; out[2] = receiver >>> 16; out[3] = receiver >>> 8; out[4] = receiver;
  const hi = Number(counter >> 32n), lo = Number(counter & 0xffffffffn);
  out[5] = hi >>> 24; out[6] = hi >>> 16; out[7] = hi >>> 8; out[8] = hi;
  out[9] = lo >>> 24; out[10] = lo >>> 16; out[11] = lo >>> 8; out[12] = lo;
}

export function decodePacket(bytes: Uint8Array): Result<Packet> {
  if (bytes.length > datagramBytesMax) return err('too-large', `datagram of ${bytes.length} bytes`);
  if (bytes.length < 1) return err('truncated', 'empty datagram');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = bytes[0];
  switch (type) {
    case PacketType.InitXX:
    case PacketType.InitIK:
      if (bytes.length < 5 + 32) return err('truncated', 'handshake initiation too short');
      return ok({ type, sender: v.getUint32(1), noise: bytes.subarray(5) });
    case PacketType.Response:
    case PacketType.Final:
      if (bytes.length < 9 + 32) return err('truncated', 'handshake reply too short');
      return ok({ type, sender: v.getUint32(1), receiver: v.getUint32(5), noise: bytes.subarray(9) });
    default:
      if (type < dataTypeFirst || type > dataTypeLast) return err('bad-type', `unknown packet type ${type}`);
      if (bytes.length < dataHeaderBytes + aeadTagBytes) return err('truncated', 'data packet too short');
      return ok({
        type: PacketType.Data, channel: (type - dataTypeFirst) >> 1, phase: ((type - dataTypeFirst) & 1) as 0 | 1,
        receiver: v.getUint32(1), counter: v.getBigUint64(5),
        header: bytes.subarray(0, dataHeaderBytes), ciphertext: bytes.subarray(dataHeaderBytes),
      });
  }
}
