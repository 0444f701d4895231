// Datagram framing of the secure session layer (see docs/handshake.md).
//
//   init-xx  = 0x01 sender:u32 noise-msg1           init-ik = 0x02 sender:u32 noise-msg1
//   response = 0x03 sender:u32 receiver:u32 noise-msg2
//   final    = 0x04 sender:u32 receiver:u32 noise-msg3   (XX only)
//   data     = 0x05 receiver:u32 counter:u64 aead(ciphertext, ad = the 13 header bytes)
//
// Indices are chosen at random by each side, as WireGuard does, so a session survives a change
// of address. The type byte and indices are still visible here; hiding them is the job of the
// obfuscation layer (issue "nothing in clear").
import { type Result, ok, err } from '../wire/result.ts';

export const enum PacketType { InitXX = 1, InitIK = 2, Response = 3, Final = 4, Data = 5 }

export type Packet =
  | { type: PacketType.InitXX | PacketType.InitIK; sender: number; noise: Uint8Array }
  | { type: PacketType.Response | PacketType.Final; sender: number; receiver: number; noise: Uint8Array }
  | { type: PacketType.Data; receiver: number; counter: bigint; header: Uint8Array; ciphertext: Uint8Array };

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

export function encodeDataHeader(receiver: number, counter: bigint): Uint8Array {
  const out = new Uint8Array(dataHeaderBytes);
  const v = new DataView(out.buffer);
  out[0] = PacketType.Data; v.setUint32(1, receiver); v.setBigUint64(5, counter);
  return out;
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
    case PacketType.Data:
      if (bytes.length < dataHeaderBytes + aeadTagBytes) return err('truncated', 'data packet too short');
      return ok({
        type, receiver: v.getUint32(1), counter: v.getBigUint64(5),
        header: bytes.subarray(0, dataHeaderBytes), ciphertext: bytes.subarray(dataHeaderBytes),
      });
    default:
      return err('bad-type', `unknown packet type ${type}`);
  }
}
