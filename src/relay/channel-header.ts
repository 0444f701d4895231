// The relay data plane's only framing (docs/relay.md, docs/decisions/0016): an 8-byte header
// in front of an end-to-end session datagram, `channel:u32 check:u32`, XORed with a mask
// computed as the session layer masks its own headers — AES-128 of the packet's last 16 bytes,
// which are AEAD ciphertext — under the relay key the supernode gave this node. So no byte is
// fixed on the wire, and the supernode finds the allocation with one AES block and a map look-up
// instead of a Noise decryption, an object-list decode, an encode and a Noise encryption.
import crypto from 'node:crypto';

export const channelHeaderBytes = 8;
const sampleBytes = 16;
/** The shortest end-to-end datagram a channel carries: the mask needs a 16-byte sample. */
export const channelInnerMin = sampleBytes;

/** Masks and unmasks channel headers under one relay key (ECB keeps no state: one cipher serves all). */
export class ChannelMask {
  private readonly cipher: crypto.Cipher;

  constructor(readonly key: Uint8Array) {
    this.cipher = crypto.createCipheriv('aes-128-ecb', key, null);
    this.cipher.setAutoPadding(false);
  }

  /** `header ‖ inner` with the header masked; `inner` must be at least 16 bytes. */
  wrap(channel: number, check: number, inner: Uint8Array): Uint8Array {
    const out = new Uint8Array(channelHeaderBytes + inner.length);
    out.set(inner, channelHeaderBytes);
    const m = this.cipher.update(inner.subarray(inner.length - sampleBytes));
    const v = new DataView(out.buffer);
    v.setUint32(0, (channel ^ m.readUInt32BE(0)) >>> 0);
    v.setUint32(4, (check ^ m.readUInt32BE(4)) >>> 0);
    return out;
  }

  /** The channel and check a packet names under this key (garbage for packets of other keys). */
  read(packet: Uint8Array): { channel: number; check: number } | undefined {
    if (packet.length < channelHeaderBytes + sampleBytes) return undefined;
    const m = this.cipher.update(packet.subarray(packet.length - sampleBytes));
    const v = new DataView(packet.buffer, packet.byteOffset, channelHeaderBytes);
    return { channel: (v.getUint32(0) ^ m.readUInt32BE(0)) >>> 0, check: (v.getUint32(4) ^ m.readUInt32BE(4)) >>> 0 };
  }
}
