// Sender-side adaptation, sans-IO: the peer's receiver reports (loss, jitter, RTT — one a
// second) in, encoder settings out.
//   - FEC: off while the path is clean; on as soon as the peer reports loss, with the
//     encoder told to expect a bit more loss than measured (redundancy is sized from it);
//     off again after 10 clean reports.
//   - Bitrate: loss-based, like GCC's loss controller: above 10 % loss cut it (congestion
//     is the likely cause), below 2 % with a steady RTT raise it by 5 % a report; never below
//     what FEC needs to carry a useful copy.
//   - Frame size: longer frames halve the per-packet overhead when the rate is pinned at its
//     floor under heavy loss; back to the configured size once the path recovers.
import type { FrameMs } from './opus.ts';
import type { MediaReport } from './frame.ts';

export interface RateSettings { bitrateBps: number; fec: boolean; expectedLossPct: number; frameMs: FrameMs }

export interface RateControlOptions {
  startBitrateBps?: number;   // default 32 kb/s
  minBitrateBps?: number;     // default 12 kb/s
  maxBitrateBps?: number;     // default 64 kb/s
  frameMs?: FrameMs;          // default 20
  adaptFec?: boolean;         // default on; off pins FEC off (for comparisons)
}

// Tuning.
const fecOnLoss = 0.005;
const fecOffAfterCleanReports = 10;
const fecFloorBps = 20_000;        // below this libopus drops the LBRR copy at wideband
const highLoss = 0.10, lowLoss = 0.02;
const rttRiseMs = 100;

export class RateController {
  private lossAvg = 0;
  private cleanReports = 0;
  private minRttMs: number | undefined;
  readonly settings: RateSettings;
  private readonly o: Required<RateControlOptions>;

  constructor(o: RateControlOptions = {}) {
    this.o = { startBitrateBps: 32_000, minBitrateBps: 12_000, maxBitrateBps: 64_000, frameMs: 20, adaptFec: true, ...o };
    this.settings = { bitrateBps: this.o.startBitrateBps, fec: false, expectedLossPct: 0, frameMs: this.o.frameMs };
  }

  /** One report about the stream this side sends; true when the settings changed. */
  handleReport(r: MediaReport, rttMs: number | undefined): boolean {
    const before = JSON.stringify(this.settings);
    const loss = r.lostFraction;
    this.lossAvg = this.lossAvg === 0 ? loss : 0.6 * this.lossAvg + 0.4 * loss;
    this.cleanReports = loss > 0 ? 0 : this.cleanReports + 1;
    if (rttMs !== undefined) this.minRttMs = Math.min(this.minRttMs ?? rttMs, rttMs);
    const rttRising = rttMs !== undefined && this.minRttMs !== undefined && rttMs > this.minRttMs + rttRiseMs;
    const s = this.settings;

    if (this.o.adaptFec) {
      if (loss >= fecOnLoss || (s.fec && this.cleanReports < fecOffAfterCleanReports)) {
        s.fec = true;
        s.expectedLossPct = Math.min(30, Math.max(5, Math.ceil(this.lossAvg * 150)));
      } else {
        s.fec = false;
        s.expectedLossPct = 0;
      }
    }

    if (this.lossAvg > highLoss) s.bitrateBps *= 1 - 0.5 * Math.min(0.5, this.lossAvg);
    else if (rttRising) s.bitrateBps *= 0.85;
    else if (this.lossAvg < lowLoss) s.bitrateBps *= 1.05;
    const floor = Math.max(this.o.minBitrateBps, s.fec ? fecFloorBps : 0);
    s.bitrateBps = Math.round(Math.max(floor, Math.min(this.o.maxBitrateBps, s.bitrateBps)));

    const pinned = s.bitrateBps <= floor && this.lossAvg > highLoss;
    s.frameMs = pinned ? (Math.max(40, this.o.frameMs) as FrameMs) : this.o.frameMs;
    return JSON.stringify(this.settings) !== before;
  }
}
