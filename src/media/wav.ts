// WAV (RIFF/WAVE) files: PCM 8/16/24/32-bit integer and 32-bit float, plain or
// WAVE_FORMAT_EXTENSIBLE. Decoding takes untrusted files: every chunk size is checked against
// the bytes present and the audio length is bounded before anything is allocated.
import { type Result, ok, err } from '../wire/result.ts';

export interface DecodedAudio { sampleRate: number; channels: Float32Array[] }

// Implementation limits.
export const wavSecondsMax = 3600;
export const wavChannelsMax = 8;

const formatPcm = 1, formatFloat = 3, formatExtensible = 0xfffe;

export function decodeWav(bytes: Uint8Array): Result<DecodedAudio> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return err('not-wav', 'not a RIFF/WAVE file');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let data: Uint8Array | undefined;
  for (let at = 12; at + 8 <= bytes.length;) {
    const id = tag(at);
    const size = v.getUint32(at + 4, true);
    const body = at + 8;
    if (size > bytes.length - body) {
      // Streaming writers leave the data size unknown (0xffffffff); take what is there.
      if (id === 'data') { data = bytes.subarray(body); break; }
      return err('truncated', `chunk "${id}" claims ${size} bytes, ${bytes.length - body} present`);
    }
    if (id === 'fmt ') {
      if (size < 16) return err('bad-format', 'fmt chunk too short');
      let format = v.getUint16(body, true);
      const bits = v.getUint16(body + 14, true);
      if (format === formatExtensible) {
        if (size < 40) return err('bad-format', 'extensible fmt chunk too short');
        format = v.getUint16(body + 24, true); // first two bytes of the sub-format GUID
      }
      fmt = { format, channels: v.getUint16(body + 2, true), rate: v.getUint32(body + 4, true), bits };
    } else if (id === 'data') {
      data = bytes.subarray(body, body + size);
    }
    at = body + size + (size & 1);
  }
  if (!fmt) return err('bad-format', 'no fmt chunk');
  if (!data) return err('no-data', 'no data chunk');
  const { format, channels, rate, bits } = fmt;
  if (channels < 1 || channels > wavChannelsMax) return err('bad-format', `${channels} channels`);
  if (rate < 1000 || rate > 384_000) return err('bad-format', `sample rate ${rate} Hz`);
  const okFormat = (format === formatPcm && [8, 16, 24, 32].includes(bits)) || (format === formatFloat && bits === 32);
  if (!okFormat) return err('unsupported-format', `format ${format} with ${bits}-bit samples`);
  const frameBytes = (bits / 8) * channels;
  const frames = Math.floor(data.length / frameBytes);
  if (frames > rate * wavSecondsMax) return err('too-long', `more than ${wavSecondsMax} s of audio`);
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) {
      const at = f * frameBytes + c * (bits / 8);
      let s: number;
      if (format === formatFloat) s = dv.getFloat32(at, true);
      else if (bits === 8) s = (dv.getUint8(at) - 128) / 128;
      else if (bits === 16) s = dv.getInt16(at, true) / 32768;
      else if (bits === 24) s = (((dv.getUint8(at + 2) << 24) | (dv.getUint8(at + 1) << 16) | (dv.getUint8(at) << 8)) >> 8) / 8388608;
      else s = dv.getInt32(at, true) / 2147483648;
      out[c][f] = Number.isFinite(s) ? Math.max(-1, Math.min(1, s)) : 0;
    }
  }
  return ok({ sampleRate: rate, channels: out });
}

/** Mono 16-bit PCM WAV. */
export function encodeWav(samples: Int16Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const v = new DataView(out.buffer);
  const put = (at: number, s: string) => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, 36 + samples.length * 2, true); put(8, 'WAVE');
  put(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, formatPcm, true); v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true); v.setUint32(28, sampleRate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  put(36, 'data'); v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + i * 2, samples[i], true);
  return out;
}
