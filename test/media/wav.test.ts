import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWav, encodeWav } from '../../src/media/wav.ts';
import { toMono48k } from '../../src/media/resample.ts';
import { prng } from '../helpers/prng.ts';

function wav(rate: number, channels: number, bits: number, frames: number, sample: (f: number, c: number) => number, format = 1): Uint8Array {
  const bytesPer = bits / 8;
  const data = new Uint8Array(frames * channels * bytesPer);
  const dv = new DataView(data.buffer);
  for (let f = 0; f < frames; f++) for (let c = 0; c < channels; c++) {
    const at = (f * channels + c) * bytesPer, s = sample(f, c);
    if (format === 3) dv.setFloat32(at, s, true);
    else if (bits === 16) dv.setInt16(at, Math.round(s * 32767), true);
    else if (bits === 24) { const v = Math.round(s * 8388607); data[at] = v & 255; data[at + 1] = (v >> 8) & 255; data[at + 2] = (v >> 16) & 255; }
    else if (bits === 8) dv.setUint8(at, Math.round(s * 127) + 128);
  }
  const out = new Uint8Array(44 + data.length);
  const v = new DataView(out.buffer);
  const put = (at: number, s: string) => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  put(0, 'RIFF'); v.setUint32(4, 36 + data.length, true); put(8, 'WAVE'); put(12, 'fmt '); v.setUint32(16, 16, true);
  v.setUint16(20, format, true); v.setUint16(22, channels, true); v.setUint32(24, rate, true);
  v.setUint32(28, rate * channels * bytesPer, true); v.setUint16(32, channels * bytesPer, true); v.setUint16(34, bits, true);
  put(36, 'data'); v.setUint32(40, data.length, true); out.set(data, 44);
  return out;
}

test('16-bit mono round trip', () => {
  const pcm = new Int16Array([0, 1000, -1000, 32767, -32768]);
  const d = decodeWav(encodeWav(pcm, 48_000));
  assert.ok(d.ok);
  assert.equal(d.value.sampleRate, 48_000);
  assert.deepEqual([...toMono48k(d.value)].map((x) => Math.abs(x - pcm[[...toMono48k(d.value)].indexOf(x)]) <= 1), [true, true, true, true, true]);
});

test('8, 24-bit and float formats decode', () => {
  for (const [bits, format] of [[8, 1], [24, 1], [32, 3]]) {
    const d = decodeWav(wav(16_000, 1, bits, 100, (f) => (f % 2 ? 0.5 : -0.5), format));
    assert.ok(d.ok, `${bits}-bit`);
    assert.ok(Math.abs(d.value.channels[0][1] - 0.5) < 0.01, `${bits}-bit value`);
  }
});

test('44.1 kHz stereo sine becomes a 48 kHz mono sine of the same pitch and level', () => {
  const rate = 44_100, hz = 440;
  const d = decodeWav(wav(rate, 2, 16, rate, (f) => 0.5 * Math.sin(2 * Math.PI * hz * f / rate)));
  assert.ok(d.ok);
  const out = toMono48k(d.value);
  assert.ok(Math.abs(out.length - 48_000) <= 1);
  // Pitch: count zero crossings over the middle of the signal.
  let crossings = 0;
  for (let i = 4800; i < 43_200; i++) if ((out[i - 1] < 0) !== (out[i] < 0)) crossings++;
  const measured = crossings / 2 / 0.8;
  assert.ok(Math.abs(measured - hz) < 3, `measured ${measured} Hz`);
  let peak = 0;
  for (let i = 4800; i < 43_200; i++) peak = Math.max(peak, Math.abs(out[i]));
  assert.ok(Math.abs(peak / 32767 - 0.5) < 0.02, `peak ${peak / 32767}`);
});

test('hostile files: truncated, lying sizes, random bytes give typed errors, never throw', () => {
  const good = encodeWav(new Int16Array(1000), 48_000);
  for (let cut = 0; cut < 60; cut++) {
    const r = decodeWav(good.subarray(0, cut));
    assert.ok(!r.ok || r.value.channels[0].length < 1000);
  }
  const lying = good.slice();
  new DataView(lying.buffer).setUint32(16, 0xfffffff0, true); // fmt chunk claims 4 GB
  assert.equal(decodeWav(lying).ok, false);
  const rng = prng(3);
  for (let i = 0; i < 2000; i++) {
    const b = i % 2 ? rng.bytes(rng.int(200)) : good.map((x, j) => (j < 48 && rng.int(6) === 0 ? rng.u32() & 255 : x));
    const r = decodeWav(b);
    assert.ok(r.ok || typeof r.error.code === 'string');
  }
  assert.equal(decodeWav(wav(8000, 9, 16, 10, () => 0)).ok, false, 'too many channels');
});
