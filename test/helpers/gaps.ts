// Gaps in a recording of a steady tone: what a listener hears as a drop-out. The envelope is
// taken over short windows; a gap is a run of windows below half the tone's level, between
// the first and the last window at full level (the call's start and end are not gaps).

export interface GapReport { longestMs: number; gaps: number; levelRms: number; atMs: number | undefined }

export function toneGaps(pcm: Int16Array, sampleRate = 48_000, windowMs = 5): GapReport {
  const w = Math.max(1, Math.round(sampleRate * windowMs / 1000));
  const rms: number[] = [];
  for (let i = 0; i + w <= pcm.length; i += w) {
    let e = 0;
    for (let j = i; j < i + w; j++) e += pcm[j] * pcm[j];
    rms.push(Math.sqrt(e / w));
  }
  const loud = rms.filter((r) => r > 0).sort((a, b) => a - b);
  const level = loud.length ? loud[Math.floor(loud.length * 0.75)] : 0;
  const on = (r: number) => r >= level / 2;
  const first = rms.findIndex(on);
  let last = rms.length - 1;
  while (last >= 0 && !on(rms[last])) last--;
  let longest = 0, run = 0, gaps = 0, at: number | undefined;
  for (let i = Math.max(0, first); i <= last; i++) {
    if (on(rms[i])) { run = 0; continue; }
    if (run++ === 0) gaps++;
    if (run > longest) { longest = run; at = (i - run + 1) * windowMs; }
  }
  return { longestMs: longest * windowMs, gaps, levelRms: level, atMs: at };
}

/** A steady sine tone (48 kHz mono). */
export function tone(seconds: number, hz = 440, amplitude = 8000, sampleRate = 48_000): Int16Array {
  const out = new Int16Array(Math.round(seconds * sampleRate));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin(2 * Math.PI * hz * i / sampleRate));
  return out;
}
