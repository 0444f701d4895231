// Two MediaSessions joined by an impairing link the test controls (seeded random loss,
// uniform jitter on top of a fixed one-way delay; reordering falls out of the jitter), run on
// virtual time: the real media cores, no sockets, no clocks. A plays `input` in 20 ms chunks
// as a microphone would; B's playout is recorded with the time each frame started playing.
// A shadow receiver gets every audio packet A sends the moment it is sent — no loss, no
// jitter — and records the loss-free decode of the very same packets, the reference.
import { MediaSession, type MediaSessionOptions, type MediaQuality } from '../../src/media/media-session.ts';
import { MediaReceiver } from '../../src/media/receiver.ts';
import { prng } from './prng.ts';

export interface LinkOptions { lossPct: number; jitterMs: number; delayMs: number; seed: number }
export interface CallRun {
  recorded: Int16Array;
  lossFree: Int16Array;
  frameStartsMs: { sample: number; ms: number }[];  // recorded[sample] began playing at ms
  qualityA: MediaQuality[]; qualityB: MediaQuality[];
  a: MediaSession; b: MediaSession;
}

const chunkMs = 20;

export function runCall(input: Int16Array, link: LinkOptions, media: Partial<MediaSessionOptions> = {}): CallRun {
  const rng = prng(link.seed);
  const a = new MediaSession({ seqStart: 65_000, timestampStart: 4_294_000_000, ...media });
  const b = new MediaSession({ seqStart: 100, timestampStart: 7, ...media });
  const flights: { at: number; order: number; to: MediaSession; bytes: Uint8Array }[] = [];
  let order = 0;
  const shadow = new MediaReceiver({ frameMs: media.frameMs });
  const shadowOut: Int16Array[] = [];
  const send = (from: MediaSession, to: MediaSession, now: number) => {
    for (let p = from.pollPacket(); p; p = from.pollPacket()) {
      if (from === a && p[0] === 0) shadow.handleFrame(p, now);
      if (rng.int(1_000_000) < link.lossPct * 10_000) continue;
      const at = now + link.delayMs + (link.jitterMs > 0 ? (rng.int(1_000_001) / 1_000_000) * link.jitterMs : 0);
      flights.push({ at, order: order++, to, bytes: p });
    }
  };
  const out: Int16Array[] = [];
  const frameStartsMs: CallRun['frameStartsMs'] = [];
  let recordedSamples = 0;
  const qualityA: MediaQuality[] = [], qualityB: MediaQuality[] = [];
  const drain = (now: number) => {
    for (let pcm = b.pollAudio(); pcm; pcm = b.pollAudio()) {
      frameStartsMs.push({ sample: recordedSamples, ms: now });
      out.push(pcm);
      recordedSamples += pcm.length;
    }
    a.pollAudio(); // A hears B's silence; not recorded
    for (let pcm = shadow.pollAudio(); pcm; pcm = shadow.pollAudio()) shadowOut.push(pcm);
    for (let q = a.pollQuality(); q; q = a.pollQuality()) qualityA.push(q);
    for (let q = b.pollQuality(); q; q = b.pollQuality()) qualityB.push(q);
  };
  const chunk = 48 * chunkMs;
  const chunks = Math.ceil(input.length / chunk);
  const endMs = chunks * chunkMs + link.delayMs + link.jitterMs + 400;
  let nextChunk = 0;
  for (let now = 0; now <= endMs;) {
    // Everything due at `now`, in a fixed order: microphone, deliveries, timers.
    if (nextChunk < chunks && (nextChunk + 1) * chunkMs <= now) {
      const pcm = new Int16Array(chunk);
      pcm.set(input.subarray(nextChunk * chunk, (nextChunk + 1) * chunk));
      a.pushPcm(pcm, now);
      b.pushPcm(new Int16Array(chunk), now);
      nextChunk++;
    }
    flights.sort((x, y) => x.at - y.at || x.order - y.order);
    while (flights.length > 0 && flights[0].at <= now) { const f = flights.shift()!; f.to.handlePacket(f.bytes, now); }
    for (const s of [a, b, shadow]) { const t = s.pollTimeout(); if (t !== undefined && t <= now) s.handleTimeout(now); }
    send(a, b, now); send(b, a, now);
    drain(now);
    const candidates = [nextChunk < chunks ? (nextChunk + 1) * chunkMs : Infinity, flights[0]?.at ?? Infinity, a.pollTimeout() ?? Infinity, b.pollTimeout() ?? Infinity, shadow.pollTimeout() ?? Infinity];
    const next = Math.min(...candidates);
    now = next > now ? next : now + 0.001;
    if (!Number.isFinite(now)) break;
  }
  return { recorded: concat(out), lossFree: concat(shadowOut), frameStartsMs, qualityA, qualityB, a, b };
}

/**
 * Segmental SNR (dB) of `recorded` against `reference`, over 20 ms segments where the
 * reference is not silent, each clamped to [-10, 35] dB (the usual segSNR convention). The
 * jitter buffer shifts the recording by whole frames when it expands or drains, so the
 * alignment is a base lag (found once) plus a whole number of frames, followed from one
 * clearly matching segment to the next.
 */
export function segmentalSnr(reference: Int16Array, recorded: Int16Array, baseLag: number, frameSamples = 960): number {
  const seg = 960;
  let peak = 0;
  for (let i = 0; i < reference.length; i++) peak = Math.max(peak, Math.abs(reference[i]));
  const silence = (peak * 0.03) ** 2; // segments below -30 dB of the peak are pauses
  let k = 0, sum = 0, n = 0;
  for (let s = 0; s + seg <= reference.length; s += seg) {
    let e = 0;
    for (let i = s; i < s + seg; i++) e += reference[i] * reference[i];
    if (e / seg < silence) continue;
    let best = { snr: -Infinity, k };
    for (let dk = -3; dk <= 3; dk++) {
      const lag = baseLag + (k + dk) * frameSamples;
      if (s + lag < 0 || s + lag + seg > recorded.length) continue;
      let noise = 0;
      for (let i = s; i < s + seg; i++) { const d = reference[i] - recorded[i + lag]; noise += d * d; }
      const snr = 10 * Math.log10(e / Math.max(1, noise));
      if (snr > best.snr) best = { snr, k: k + dk };
    }
    if (best.snr === -Infinity) continue;
    // Follow the alignment only on segments that clearly match: a garbled one proves nothing.
    if (best.snr >= 10) k = best.k;
    sum += Math.max(-10, Math.min(35, best.snr));
    n++;
  }
  return n > 0 ? sum / n : -10;
}

export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
