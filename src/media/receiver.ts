// The receiving half of a call's media, sans-IO: a jitter buffer in front of the Opus decoder.
//
// Theory of operation. Frames arrive in any order (or not at all). Playout starts
// `targetDelayMs` after the first frame arrives and then takes one frame per frame interval
// of `now`: the frame due is decoded if it is here; if it is missing but the next one is,
// the missing one is rebuilt from the next one's in-band FEC; otherwise libopus conceals it
// (PLC). A frame that arrives after its turn is late and dropped. When the network calms down
// and the buffer holds much more than the target, one frame is skipped to cut the delay.
//
//   inputs:  handleFrame(bytes, now), handleTimeout(now)
//   command: stop()
//   outputs: pollAudio() → 20 ms of PCM, in playout order; pollTimeout() → next playout time
// Invariant: the number of frames produced never runs ahead of elapsed time since playout began.
import { OpusDecoder } from './opus.ts';
import { decodeMediaFrame } from './frame.ts';
import { unwrapSeq } from './seq.ts';

export interface MediaReceiverOptions {
  targetDelayMs?: number;   // default 60
  frameMs?: 10 | 20 | 40 | 60;
}

export interface ReceiverStats {
  received: number; decoded: number; concealed: number; recoveredFec: number;
  late: number; duplicates: number; malformed: number; skipped: number; jitterMs: number;
}

// Implementation limits.
const aheadFramesMax = 100;          // 2 s of frames beyond the playout point are kept
const concealFramesMax = 10;         // after this many losses in a row, play silence
const drainSlackFrames = 3;          // skip a frame when the buffer exceeds target by this much

export class MediaReceiver {
  private readonly decoder: OpusDecoder;
  private readonly frameMs: number;
  private readonly targetFrames: number;
  private readonly buffer = new Map<number, Uint8Array>();
  private readonly out: Int16Array[] = [];
  private nextSeq: number | undefined;      // extended sequence number due next
  private lastExt = 0;
  private nextPlayMs: number | undefined;
  private lossRun = 0;
  private stopped = false;
  private lastArrival: { ms: number; ts: number } | undefined;
  readonly stats: ReceiverStats = {
    received: 0, decoded: 0, concealed: 0, recoveredFec: 0, late: 0, duplicates: 0, malformed: 0, skipped: 0, jitterMs: 0,
  };

  constructor(o: MediaReceiverOptions = {}) {
    this.frameMs = o.frameMs ?? 20;
    this.decoder = new OpusDecoder(this.frameMs as 10 | 20 | 40 | 60);
    this.targetFrames = Math.max(1, Math.round((o.targetDelayMs ?? 60) / this.frameMs));
  }

  handleFrame(bytes: Uint8Array, now: number) {
    if (this.stopped) return;
    const f = decodeMediaFrame(bytes);
    if (!f.ok) { this.stats.malformed++; return; }
    this.stats.received++;
    const ext = this.nextSeq === undefined ? f.value.seq : unwrapSeq(this.lastExt, f.value.seq);
    this.trackJitter(now, f.value.timestampSamples);
    if (this.nextSeq === undefined) {
      this.nextSeq = ext;
      this.nextPlayMs = now + this.targetFrames * this.frameMs;
    }
    if (ext > this.lastExt || this.buffer.size === 0) this.lastExt = Math.max(this.lastExt, ext);
    if (ext < this.nextSeq) { this.stats.late++; return; }
    if (ext >= this.nextSeq + aheadFramesMax) { this.stats.late++; return; }
    if (this.buffer.has(ext)) { this.stats.duplicates++; return; }
    this.buffer.set(ext, f.value.payload);
  }

  handleTimeout(now: number) {
    while (!this.stopped && this.nextPlayMs !== undefined && now >= this.nextPlayMs) {
      this.playOne();
      this.nextPlayMs += this.frameMs;
    }
  }

  pollTimeout(): number | undefined { return this.stopped ? undefined : this.nextPlayMs; }
  pollAudio(): Int16Array | undefined { return this.out.shift(); }
  stop() { this.stopped = true; this.buffer.clear(); }

  private playOne(): void {
    const seq = this.nextSeq!;
    // Too much buffered for too long: skip the oldest frame to bring the delay back down.
    if (this.buffer.size > this.targetFrames + drainSlackFrames && this.buffer.has(seq) && this.buffer.has(seq + 1)) {
      this.buffer.delete(seq);
      this.stats.skipped++;
      this.nextSeq = seq + 1;
      return this.playOne();
    }
    const here = this.buffer.get(seq);
    const next = this.buffer.get(seq + 1);
    this.buffer.delete(seq);
    this.nextSeq = seq + 1;
    if (here) {
      const pcm = this.decoder.decode(here);
      if (pcm.ok) { this.stats.decoded++; this.lossRun = 0; this.out.push(pcm.value); return; }
      this.stats.malformed++;
    }
    if (next) {
      const fec = this.decoder.decodeFec(next);
      if (fec.ok) { this.stats.recoveredFec++; this.lossRun = 0; this.out.push(fec.value); return; }
    }
    this.lossRun++;
    if (this.lossRun > concealFramesMax) { this.out.push(new Int16Array(this.decoder.frameSamples)); return; }
    this.stats.concealed++;
    this.out.push(this.decoder.conceal());
  }

  // RFC 3550 §6.4.1 interarrival jitter, in milliseconds.
  private trackJitter(now: number, ts: number) {
    if (this.lastArrival) {
      const d = (now - this.lastArrival.ms) - ((ts - this.lastArrival.ts) | 0) / 48;
      this.stats.jitterMs += (Math.abs(d) - this.stats.jitterMs) / 16;
    }
    this.lastArrival = { ms: now, ts };
  }
}
