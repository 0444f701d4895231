// Any WAV to what calls carry: mono, 48 kHz, 16-bit. Resampling uses a windowed-sinc
// interpolator (Blackman window, 32 taps a side) whose cut-off follows the lower of the two
// rates, so downsampling does not alias and upsampling does not image.
import type { DecodedAudio } from './wav.ts';

export const targetRateHz = 48_000;
const halfTaps = 32;

export function toMono48k(a: DecodedAudio): Int16Array {
  const n = a.channels[0]?.length ?? 0;
  const mono = new Float32Array(n);
  for (const ch of a.channels) for (let i = 0; i < n; i++) mono[i] += ch[i] / a.channels.length;
  const resampled = a.sampleRate === targetRateHz ? mono : resample(mono, a.sampleRate, targetRateHz);
  const out = new Int16Array(resampled.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(resampled[i] * 32767)));
  return out;
}

export function resample(input: Float32Array, fromHz: number, toHz: number): Float32Array {
  const ratio = toHz / fromHz;
  const outLength = Math.floor(input.length * ratio);
  const out = new Float32Array(outLength);
  const cutoff = Math.min(1, ratio); // relative to the input's Nyquist
  for (let i = 0; i < outLength; i++) {
    const t = i / ratio;
    const centre = Math.floor(t);
    let acc = 0, norm = 0;
    for (let k = centre - halfTaps + 1; k <= centre + halfTaps; k++) {
      const x = t - k;
      const w = blackman(x / halfTaps);
      const s = sinc(x * cutoff) * cutoff * w;
      norm += s;
      if (k >= 0 && k < input.length) acc += input[k] * s;
    }
    out[i] = norm > 0 ? acc / norm : 0;
  }
  return out;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
function blackman(x: number): number {
  if (x <= -1 || x >= 1) return 0;
  const p = Math.PI * (x + 1); // x in (-1, 1) maps onto one full window
  return 0.42 - 0.5 * Math.cos(p) + 0.08 * Math.cos(2 * p);
}
