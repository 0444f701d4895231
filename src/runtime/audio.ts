// Audio files for calls: a WAV played into a call in real time, and the far end recorded.
import fs from 'node:fs';
import { decodeWav, encodeWav } from '../media/wav.ts';
import { toMono48k } from '../media/resample.ts';

export const sampleRateHz = 48_000;
export const frameSamples = 960; // 20 ms

export function readWavMono48k(file: string): Int16Array {
  let bytes: Uint8Array;
  try { bytes = fs.readFileSync(file); } catch (e) { throw new Error(`cannot read ${file}: ${(e as Error).message}`); }
  const wav = decodeWav(bytes);
  if (!wav.ok) throw new Error(`${file} is not a usable WAV file: ${wav.error.message}`);
  return toMono48k(wav.value);
}

/**
 * Feeds PCM to `push` at real-time pace. Frames are due by elapsed time, not by counting timer
 * ticks, so a late timer sends the frames it owes instead of drifting.
 */
export class WavPlayer {
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private readonly startMs = performance.now();

  constructor(private readonly pcm: Int16Array, private readonly push: (frame: Int16Array) => void,
    private readonly onEnd: () => void = () => {}) {
    this.tick();
  }

  private tick() {
    const due = Math.min(this.pcm.length, Math.floor(((performance.now() - this.startMs) / 1000) * sampleRateHz / frameSamples + 1) * frameSamples);
    while (this.sent + frameSamples <= due) {
      this.push(this.pcm.subarray(this.sent, this.sent + frameSamples));
      this.sent += frameSamples;
    }
    if (this.sent + frameSamples > this.pcm.length) { this.onEnd(); return; }
    this.timer = setTimeout(() => this.tick(), 10);
  }

  stop() { if (this.timer) clearTimeout(this.timer); this.timer = undefined; }
}

export class WavRecorder {
  private chunks: Int16Array[] = [];
  private samples = 0;
  constructor(readonly file: string) {}
  push(pcm: Int16Array) { this.chunks.push(pcm.slice()); this.samples += pcm.length; }
  /** Writes the whole recording (synchronously, so the file is complete when the call ends). */
  finish() {
    const all = new Int16Array(this.samples);
    let at = 0;
    for (const c of this.chunks) { all.set(c, at); at += c.length; }
    fs.writeFileSync(this.file, encodeWav(all, sampleRateHz));
  }
}
