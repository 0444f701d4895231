// Deterministic speech-like test audio: a glottal pulse train (rich in harmonics) whose pitch
// glides between 100 and 250 Hz, shaped by three formant resonances, modulated at syllable
// rate, with short pauses — close enough to voice for a voice codec, and the same every run.
import fs from 'node:fs';
import { prng } from './prng.ts';
import { decodeWav } from '../../src/media/wav.ts';
import { toMono48k } from '../../src/media/resample.ts';

/** `voice` sets a talker apart (pitch centre, vocal tract length) for tests with several. */
export function speechLikeSignal(seconds: number, sampleRate = 48_000, seed = 1, voice: { pitchHz?: number; formantScale?: number } = {}): Int16Array {
  const rng = prng(seed);
  const n = Math.round(seconds * sampleRate);
  const out = new Int16Array(n);
  const fs = voice.formantScale ?? 1;
  const formants = [{ f: 700 * fs, bw: 130 }, { f: 1220 * fs, bw: 70 }, { f: 2600 * fs, bw: 160 }];
  // Two-pole resonators per formant, driven by the pulse train.
  const state = formants.map(() => ({ y1: 0, y2: 0 }));
  const coef = formants.map(({ f, bw }) => {
    const r = Math.exp(-Math.PI * bw / sampleRate);
    return { a1: 2 * r * Math.cos(2 * Math.PI * f / sampleRate), a2: -r * r, g: 1 - r };
  });
  const syllableHz = 3 + (rng.int(1000) / 1000) * 2;
  const pitchPhase = rng.int(1000) / 159;
  let phase = 0;
  let peak = 0;
  const raw = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const pitch = voice.pitchHz ?? 175;
    const f0 = pitch + (pitch * 75 / 175) * Math.sin(2 * Math.PI * 0.7 * t + pitchPhase);
    phase += f0 / sampleRate;
    let pulse = 0;
    if (phase >= 1) { phase -= 1; pulse = 1; }
    const excitation = pulse + 0.02 * ((rng.int(2001) - 1000) / 1000);
    let y = 0;
    for (let k = 0; k < formants.length; k++) {
      const s = state[k], c = coef[k];
      const v = c.g * excitation + c.a1 * s.y1 + c.a2 * s.y2;
      s.y2 = s.y1; s.y1 = v;
      y += v / (k + 1);
    }
    const syllable = Math.max(0, Math.sin(Math.PI * syllableHz * t)) ** 0.6;
    const pause = (Math.floor(t * 1.5) % 4 === 3) ? 0.05 : 1;
    raw[i] = y * syllable * pause;
    peak = Math.max(peak, Math.abs(raw[i]));
  }
  const gain = peak > 0 ? (0.5 * 32767) / peak : 0; // peak at -6 dBFS
  for (let i = 0; i < n; i++) out[i] = Math.round(raw[i] * gain);
  return out;
}

/**
 * The first `seconds` of real (synthesised) speech from test/fixtures/speech.wav, 48 kHz mono.
 * Unlike speechLikeSignal, one stretch of it does not resemble another (half-second windows
 * of unrelated stretches correlate at ~0.26), so matching it proves the audio really arrived.
 */
export function speechFixture(seconds: number): Int16Array {
  const wav = decodeWav(fs.readFileSync(new URL('../fixtures/speech.wav', import.meta.url)));
  if (!wav.ok) throw new Error(`test/fixtures/speech.wav: ${wav.error.message}`);
  return toMono48k(wav.value).slice(0, Math.round(seconds * 48_000));
}
