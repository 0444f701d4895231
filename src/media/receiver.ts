// The receiving half of a call's media, sans-IO: an adaptive jitter buffer in front of the Opus
// decoder (docs/media.md).
//
// Theory of operation. Frames arrive in any order, late, or not at all. The first is played
// half a frame after it arrives; from then the buffer plays one frame per frame duration of
// `now`. For the frame due:
//   - here: decode it;
//   - missing but a later one is here: it is lost — rebuild it from the next frame's in-band
//     FEC if that one is here, else conceal it (libopus PLC) — and move on;
//   - missing and nothing later is here: the network is late (or the sender is silent, DTX) —
//     "expand": conceal one frame and wait for it, which adds one frame of delay.
// Expanding grows the delay as far as the network needs. The target delay follows the jitter
// measured on every arrival (95th percentile of the relative transit time over the last 2 s,
// less its minimum); when the buffer holds more than the target plus one frame for a while,
// it drains by decoding a quiet frame and dropping its audio (the decoder's state stays
// continuous, so the cut is inaudible in a pause and brief in speech).
//
//   inputs:  handleFrame(bytes, now), handleTimeout(now)
//   command: stop()
//   outputs: pollAudio() → one frame of PCM, in playout order; pollTimeout() → next playout time
// Invariant: audio produced never runs ahead of the time elapsed since playout began.
import { OpusDecoder, opusPacketSamples, sampleRateHz, type FrameMs } from './opus.ts';
import { decodeMediaFrame } from './frame.ts';
import { unwrapSeq, unwrapTimestamp } from './seq.ts';

export interface MediaReceiverOptions {
  frameMs?: FrameMs;       // until packets say otherwise; default 20
  fec?: boolean;           // use in-band FEC of the next frame; default on
  plc?: boolean;           // conceal lost frames (else play silence); default on
  minDelayMs?: number;     // floor for the target delay; default 0
}

export interface ReceiverStats {
  received: number; decoded: number; concealed: number; recoveredFec: number;
  expanded: number;       // frames played while waiting for a late frame
  comfortNoise: number;   // frames played while the sender was silent (DTX)
  late: number; duplicates: number; malformed: number; dropped: number;
  jitterMs: number; targetDelayMs: number; expected: number; lost: number;
  playoutDelayMs: number;   // how long the last frame played waited beyond the fastest transit
  stalls: number;           // playout ticks that came so late our own process must have stalled
}

// Implementation limits.
const aheadFramesMax = 150;         // 3 s of frames beyond the playout point are kept
// After this many conceals in a row, play silence. Past the 400 ms between DTX updates, so
// comfort noise (libopus conceals after a DTX update with noise of its level) runs unbroken.
const concealFramesMax = 50;
const transitWindowMs = 2000;       // jitter is judged over this much recent history
const transitPercentile = 0.95;
const targetFramesMax = 20;
const drainPatienceTicks = 10;      // the excess must last this long before draining
const drainForceTicks = 50;         // drain even in speech after this long
const quietRms = 600;               // about -35 dBFS: a frame this quiet is dropped unheard
const stallMs = 60;                 // a playout tick this late means our process stalled

const msPerSample = 1000 / sampleRateHz;

export class MediaReceiver {
  private readonly decoder: OpusDecoder;
  private readonly fec: boolean;
  private readonly plc: boolean;
  private readonly minDelayMs: number;
  private readonly buffer = new Map<number, { payload: Uint8Array; ts: number }>();
  private readonly out: Int16Array[] = [];
  private frameSamples: number;
  private nextSeq: number | undefined;   // extended sequence number due next
  private lastExt = 0;
  private firstExt = 0;
  private lastTs = 0;                    // extended timestamp of the newest arrival
  private nextPlayMs: number | undefined;
  private lossRun = 0;
  private excessTicks = 0;
  private waitedTicks = 0;               // expansions spent waiting for the frame due
  private waitedSinceDecode = 0;
  private endOfLastTs: number | undefined; // timestamp just after the last frame decoded
  private started = false;
  private stopped = false;
  private yielded = false;
  private lastArrival: { ms: number; ts: number } | undefined;
  private transits: { ms: number; transit: number }[] = [];
  readonly stats: ReceiverStats = {
    received: 0, decoded: 0, concealed: 0, recoveredFec: 0, expanded: 0, comfortNoise: 0, late: 0, duplicates: 0,
    malformed: 0, dropped: 0, jitterMs: 0, targetDelayMs: 0, expected: 0, lost: 0, playoutDelayMs: 0, stalls: 0,
  };

  constructor(o: MediaReceiverOptions = {}) {
    this.frameSamples = (o.frameMs ?? 20) * sampleRateHz / 1000;
    this.decoder = new OpusDecoder(o.frameMs ?? 20);
    this.fec = o.fec ?? true;
    this.plc = o.plc ?? true;
    this.minDelayMs = o.minDelayMs ?? 0;
  }

  handleFrame(bytes: Uint8Array, now: number) {
    if (this.stopped) return;
    const f = decodeMediaFrame(bytes);
    if (!f.ok || opusPacketSamples(f.value.payload) === 0) { this.stats.malformed++; return; }
    this.stats.received++;
    const first = this.nextSeq === undefined;
    const ext = first ? f.value.seq : unwrapSeq(this.lastExt, f.value.seq);
    const ts = first ? f.value.timestampSamples : unwrapTimestamp(this.lastTs, f.value.timestampSamples);
    if (first) {
      this.nextSeq = this.firstExt = this.lastExt = ext;
      this.lastTs = ts;
      this.nextPlayMs = now + (this.frameSamples * msPerSample) / 2 + this.minDelayMs;
    }
    this.trackTransit(now, ts);
    if (ext > this.lastExt) { this.lastExt = ext; this.lastTs = ts; }
    this.stats.expected = this.lastExt - this.firstExt + 1;
    this.stats.lost = Math.max(0, this.stats.expected - this.stats.received);
    // Before playout starts, an earlier frame that overtook nobody is still in time.
    if (!this.started && ext < this.nextSeq! && ext > this.nextSeq! - aheadFramesMax) this.nextSeq = ext;
    if (ext < this.nextSeq! || ext >= this.nextSeq! + aheadFramesMax) { this.stats.late++; return; }
    if (this.buffer.has(ext)) { this.stats.duplicates++; return; }
    this.buffer.set(ext, { payload: f.value.payload, ts });
  }

  handleTimeout(now: number) {
    // Called this late, it is our own process that stalled (a busy machine), not the network:
    // frames that arrived meanwhile are likely still unread. If the frame due is not here, play
    // one frame and come back at once, after the driver has read them, rather than conceal the
    // whole stall and then have to drain the backlog by cutting frames.
    if (!this.yielded && this.nextPlayMs !== undefined && now - this.nextPlayMs > stallMs
      && this.nextSeq !== undefined && !this.buffer.has(this.nextSeq)) {
      this.yielded = true;
      this.stats.stalls++;
      return this.playDue(now, 1);
    }
    this.yielded = false;
    this.playDue(now, Infinity);
  }

  private playDue(now: number, framesMax: number) {
    for (let n = 0; n < framesMax && !this.stopped && this.nextPlayMs !== undefined && now >= this.nextPlayMs; n++) {
      const pcm = this.playOne(now);
      this.out.push(pcm);
      this.nextPlayMs += pcm.length * msPerSample;
    }
  }

  pollTimeout(): number | undefined { return this.stopped ? undefined : this.nextPlayMs; }
  pollAudio(): Int16Array | undefined { return this.out.shift(); }
  stop() { this.stopped = true; this.buffer.clear(); }

  private playOne(now: number): Int16Array {
    this.started = true;
    const seq = this.nextSeq!;
    const here = this.buffer.get(seq);
    const targetFrames = this.targetFrames();
    // Buffered frames from the one due on: more than target + 1 for a while means the
    // network has calmed down and the delay can come down by one frame.
    const level = here ? this.bufferedFrom(seq) : 0;
    this.excessTicks = level > targetFrames ? this.excessTicks + 1 : 0;
    // A talk spurt after silence (DTX) starts at the target delay, not at whatever delay its
    // first frame happened to arrive with: hold the comfort noise until the buffer is full.
    const spurtStart = here && this.waitedSinceDecode > 0 && this.endOfLastTs !== undefined && here.ts > this.endOfLastTs;
    if (spurtStart && level < targetFrames && this.waitedTicks < targetFrames) {
      this.waitedTicks++;
      this.waitedSinceDecode++;
      this.stats.expanded++;
      return this.conceal();
    }
    if (here) {
      this.buffer.delete(seq);
      this.nextSeq = seq + 1;
      this.waitedTicks = 0;
      const pcm = this.decoder.decode(here.payload);
      if (!pcm.ok) { this.stats.malformed++; return this.conceal(); }
      this.stats.decoded++;
      // A timestamp gap with no sequence gap: the sender was in DTX, so the waiting before
      // this frame was comfort noise, not the network being late.
      if (this.endOfLastTs !== undefined && here.ts > this.endOfLastTs && this.waitedSinceDecode > 0) {
        this.stats.expanded -= this.waitedSinceDecode;
        this.stats.comfortNoise += this.waitedSinceDecode;
      }
      this.waitedSinceDecode = 0;
      this.endOfLastTs = here.ts + pcm.value.length;
      this.stats.playoutDelayMs = now - here.ts * msPerSample - this.minTransit();
      this.lossRun = 0;
      this.frameSamples = pcm.value.length;
      if (this.excessTicks >= drainPatienceTicks && this.buffer.has(seq + 1)
        && (rms(pcm.value) < quietRms || this.excessTicks >= drainForceTicks)) {
        this.stats.dropped++;
        this.excessTicks = 0;
        return this.playOne(now);
      }
      return pcm.value;
    }
    // Missing. While fewer later frames are here than the target holds, it may still come
    // (reordered or late): wait for it, up to the target.
    const later = this.bufferedFrom(seq + 1);
    if (later === 0 || (later < targetFrames && this.waitedTicks < targetFrames)) {
      this.waitedTicks++;
      this.waitedSinceDecode++;
      this.stats.expanded++;
      return this.conceal();
    }
    // Lost.
    this.nextSeq = seq + 1;
    this.waitedTicks = 0;
    this.waitedSinceDecode = 0;
    this.endOfLastTs = undefined;
    const next = this.buffer.get(seq + 1);
    if (next && this.fec) {
      const fec = this.decoder.decodeFec(next.payload, this.frameSamples);
      if (fec.ok) { this.stats.recoveredFec++; this.lossRun = 0; return fec.value; }
    }
    this.stats.concealed++;
    return this.conceal();
  }

  private conceal(): Int16Array {
    this.lossRun++;
    if (!this.plc || this.lossRun > concealFramesMax) return new Int16Array(this.frameSamples);
    return this.decoder.conceal(this.frameSamples);
  }

  private bufferedFrom(seq: number): number {
    let n = 0;
    for (const k of this.buffer.keys()) if (k >= seq) n++;
    return n;
  }

  private targetFrames(): number {
    const frameMs = this.frameSamples * msPerSample;
    const ms = Math.max(this.minDelayMs, this.transitSpreadMs());
    this.stats.targetDelayMs = ms;
    return Math.min(targetFramesMax, Math.max(1, Math.ceil(ms / frameMs) + 1));
  }

  // Relative transit time (arrival less media time) of recent frames: its spread above the
  // fastest is how much delay the buffer must hold for most frames to be on time.
  private transitSpreadMs(): number {
    if (this.transits.length < 2) return 0;
    const sorted = this.transits.map((t) => t.transit).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * transitPercentile))] - sorted[0];
  }

  private minTransit(): number {
    let m = Infinity;
    for (const t of this.transits) m = Math.min(m, t.transit);
    return Number.isFinite(m) ? m : 0;
  }

  private trackTransit(now: number, ts: number) {
    const transit = now - ts * msPerSample;
    this.transits.push({ ms: now, transit });
    while (this.transits.length > 0 && this.transits[0].ms < now - transitWindowMs) this.transits.shift();
    // RFC 3550 §6.4.1 interarrival jitter, in milliseconds, for reports.
    if (this.lastArrival) {
      const d = (now - this.lastArrival.ms) - (ts - this.lastArrival.ts) * msPerSample;
      this.stats.jitterMs += (Math.abs(d) - this.stats.jitterMs) / 16;
    }
    this.lastArrival = { ms: now, ts };
  }
}

function rms(pcm: Int16Array): number {
  let e = 0;
  for (let i = 0; i < pcm.length; i++) e += pcm[i] * pcm[i];
  return Math.sqrt(e / Math.max(1, pcm.length));
}
