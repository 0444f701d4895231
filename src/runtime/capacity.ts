// This node's capacity to host a conference, measured here and now (media/conference.ts
// elects the host from these figures): CPU as Opus frames encoded or decoded per millisecond
// of this machine's time, timed on real frames, and the uplink the user declares.
import { OpusEncoder, OpusDecoder } from '../media/opus.ts';
import type { Capacity } from '../media/conference.ts';

// Implementation constants: enough frames to time (≈ 10–40 ms of work), and a test tone rich
// enough that Opus does its usual work on it.
const framesTimed = 25;
const framesWarming = 40;
const frame = (() => {
  const f = new Int16Array(960);
  for (let i = 0; i < f.length; i++) f[i] = Math.round(6000 * Math.sin(i * 0.07) + 3000 * Math.sin(i * 0.31) + 1500 * Math.sin(i * 1.3));
  return f;
})();

/** Encodes and decodes framesTimed frames now; the load on the machine right now counts too. */
export function measureCpuFramesPerMs(): number {
  const enc = new OpusEncoder({ bitrateBps: 32_000, fec: true, dtx: false });
  const dec = new OpusDecoder();
  // The first frames pay for compiling the codec (tens of them, under load), not for coding.
  for (let i = 0; i < framesWarming; i++) dec.decode(enc.encode(frame));
  const t0 = performance.now();
  for (let i = 0; i < framesTimed; i++) dec.decode(enc.encode(frame));
  const ms = Math.max(0.001, performance.now() - t0);
  return (2 * framesTimed) / ms;
}

// Implementation constants: measurements remembered, and how often one is taken.
const measuresKept = 5;
const remeasureMs = 30_000;

/**
 * Measures at start and every remeasureMs in the background — never while a conference is
 * being joined, when stalling the event loop would hurt the first seconds of audio. The best
 * of the last few counts, since a busy moment only makes the machine look slower than it is.
 */
export function capacityMeter(uplinkKbps: number): { capacity: () => Capacity; stop: () => void } {
  const measures = [measureCpuFramesPerMs()];
  const timer = setInterval(() => {
    measures.push(measureCpuFramesPerMs());
    if (measures.length > measuresKept) measures.shift();
  }, remeasureMs);
  timer.unref();
  return { capacity: () => ({ cpuFramesPerMs: Math.max(...measures), uplinkKbps }), stop: () => clearInterval(timer) };
}
