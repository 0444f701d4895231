// One call's media, sans-IO: the glue between the signaling state and the media session
// (media/media-session.ts: sender, adaptive jitter buffer, rate control, receiver reports).
// Audio flows only while the call is in call (the manager decides when): on hold the session
// is stopped (no endless concealment, no reports into the void) and a fresh one starts on
// resume, re-syncing on the first packet; the figures of stopped sessions are kept.
//
//   commands: setActive(active, now), pushAudio(pcm, now), stop()
//   inputs:   handlePacket(bytes, now), handleTimeout(now)
//   outputs:  pollPacket() (audio and reports to send), pollAudio(), pollQuality(), pollTimeout(), stats
import type { CallStats } from '../node/types.ts';
import { MediaSession, type MediaQuality } from '../media/media-session.ts';
import { isAudioPacket } from '../media/frame.ts';

export interface CallMediaConfig { bitrateBps: number; random: (n: number) => Uint8Array }

export class CallMedia {
  readonly stats: CallStats = emptyStats();
  private session: MediaSession | undefined;
  /** Receiver figures of sessions already stopped (by hold). */
  private readonly retired = { concealed: 0, recoveredFec: 0, late: 0, expanded: 0, dropped: 0 };

  constructor(private readonly cfg: CallMediaConfig) {}

  get active(): boolean { return this.session !== undefined; }

  setActive(active: boolean) {
    if (active && !this.session) {
      const r = this.cfg.random(6);
      this.session = new MediaSession({
        bitrateBps: this.cfg.bitrateBps,
        seqStart: (r[0] << 8) | r[1], timestampStart: ((r[2] << 24) | (r[3] << 16) | (r[4] << 8) | r[5]) >>> 0,
      });
    } else if (!active && this.session) {
      this.session.stop();
      this.syncStats();
      const s = this.session.receiver.stats;
      const t = this.retired;
      t.concealed += s.concealed; t.recoveredFec += s.recoveredFec; t.late += s.late; t.expanded += s.expanded; t.dropped += s.dropped;
      this.session = undefined;
    }
  }

  /** Audio to send (48 kHz mono, any length); its packets come out of pollPacket. */
  pushAudio(pcm: Int16Array, now: number) { this.session?.pushPcm(pcm, now); }

  handlePacket(bytes: Uint8Array, now: number) {
    if (!this.session) return;
    if (isAudioPacket(bytes) && this.stats.framesReceived++ === 0) this.stats.firstFrameAtMs = now;
    this.stats.bytesReceived += bytes.length;
    this.session.handlePacket(bytes, now);
  }

  handleTimeout(now: number) { this.session?.handleTimeout(now); }
  pollTimeout(): number | undefined { return this.session?.pollTimeout(); }

  pollPacket(): Uint8Array | undefined {
    const p = this.session?.pollPacket();
    if (p) {
      if (isAudioPacket(p)) this.stats.framesSent++;
      this.stats.bytesSent += p.length;
    }
    return p;
  }

  pollAudio(): Int16Array | undefined {
    const pcm = this.session?.pollAudio();
    if (this.session) this.syncStats();
    return pcm;
  }

  /** Fresh call-quality figures, once a second while the call is in call. */
  pollQuality(): MediaQuality | undefined {
    const q = this.session?.pollQuality();
    if (q) {
      Object.assign(this.stats, {
        sendKbps: q.sendBitrateKbps, recvKbps: q.recvBitrateKbps, lossPct: q.lossPct, jitterMs: q.jitterMs,
        rttMs: q.rttMs, jitterBufferMs: q.jitterBufferMs, mos: q.mos,
      });
    }
    return q;
  }

  stop() { this.setActive(false); }

  private syncStats() {
    const s = this.session!.receiver.stats;
    const t = this.retired;
    this.stats.framesConcealed = t.concealed + s.concealed;
    this.stats.framesRecoveredFec = t.recoveredFec + s.recoveredFec;
    this.stats.framesLate = t.late + s.late;
    this.stats.framesExpanded = t.expanded + s.expanded;
    this.stats.framesDropped = t.dropped + s.dropped;
  }
}

export function emptyStats(): CallStats {
  return {
    framesSent: 0, framesReceived: 0, framesConcealed: 0, framesRecoveredFec: 0, framesLate: 0, bytesSent: 0, bytesReceived: 0,
    sendKbps: 0, recvKbps: 0, lossPct: 0, jitterMs: 0, rttMs: undefined, jitterBufferMs: 0, mos: undefined, framesExpanded: 0, framesDropped: 0,
  };
}
