// One call's media, sans-IO: the glue between the signaling state and the media cores
// (src/media). Audio flows only while the call is in call (the manager decides when): on hold the receiver is stopped
// (no endless concealment) and a fresh one starts on resume, re-syncing on the first frame.
//
//   commands: setActive(active, now), pushAudio(pcm) → frames to send, stop()
//   inputs:   handleFrame(frame, now), handleTimeout(now)
//   outputs:  pollAudio(), pollTimeout(), stats
import type { CallStats } from '../node/types.ts';
import { MediaSender } from '../media/sender.ts';
import { MediaReceiver } from '../media/receiver.ts';

export interface CallMediaConfig { bitrateBps: number; random: (n: number) => Uint8Array }

export class CallMedia {
  readonly stats: CallStats = emptyStats();
  private sender: MediaSender | undefined;
  private receiver: MediaReceiver | undefined;
  /** Receiver figures of receivers already retired (by hold). */
  private readonly retired = { concealed: 0, recoveredFec: 0, late: 0 };

  constructor(private readonly cfg: CallMediaConfig) {}

  get active(): boolean { return this.receiver !== undefined; }

  setActive(active: boolean) {
    if (active && !this.receiver) {
      if (!this.sender) {
        const r = this.cfg.random(6);
        this.sender = new MediaSender({
          bitrateBps: this.cfg.bitrateBps, fec: true,
          seqStart: (r[0] << 8) | r[1], timestampStart: ((r[2] << 24) | (r[3] << 16) | (r[4] << 8) | r[5]) >>> 0,
        });
      }
      this.receiver = new MediaReceiver({});
    } else if (!active && this.receiver) {
      this.receiver.stop();
      this.syncStats();
      const s = this.receiver.stats;
      this.retired.concealed += s.concealed; this.retired.recoveredFec += s.recoveredFec; this.retired.late += s.late;
      this.receiver = undefined;
    }
  }

  /** Encodes audio (48 kHz mono, any length) into the frames to send now. */
  pushAudio(pcm: Int16Array): Uint8Array[] {
    if (!this.sender || !this.receiver) return [];
    this.sender.pushPcm(pcm);
    const out: Uint8Array[] = [];
    for (let f = this.sender.pollFrame(); f; f = this.sender.pollFrame()) {
      this.stats.framesSent++;
      this.stats.bytesSent += f.length;
      out.push(f);
    }
    return out;
  }

  handleFrame(frame: Uint8Array, now: number) {
    if (!this.receiver) return;
    this.stats.framesReceived++;
    this.stats.bytesReceived += frame.length;
    this.receiver.handleFrame(frame, now);
  }

  handleTimeout(now: number) { this.receiver?.handleTimeout(now); }
  pollTimeout(): number | undefined { return this.receiver?.pollTimeout(); }

  pollAudio(): Int16Array | undefined {
    const pcm = this.receiver?.pollAudio();
    if (this.receiver) this.syncStats();
    return pcm;
  }

  stop() { this.setActive(false); this.sender = undefined; }

  private syncStats() {
    const s = this.receiver!.stats;
    this.stats.framesConcealed = this.retired.concealed + s.concealed;
    this.stats.framesRecoveredFec = this.retired.recoveredFec + s.recoveredFec;
    this.stats.framesLate = this.retired.late + s.late;
  }
}

export function emptyStats(): CallStats {
  return { framesSent: 0, framesReceived: 0, framesConcealed: 0, framesRecoveredFec: 0, framesLate: 0, bytesSent: 0, bytesReceived: 0 };
}
