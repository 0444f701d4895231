// One call's media in both directions, sans-IO: sender + adaptive jitter buffer + rate control,
// with receiver reports each second and call-quality figures (bitrate, loss, jitter, RTT, MOS).
//
// Theory of operation. Audio pushed in is encoded and sent as audio packets; packets received
// go to the jitter buffer, whose audio comes out paced by `now`. Every `reportIntervalMs` this
// side sends a report on the stream it receives (loss since the last one, jitter) with the two
// clock fields that let the peer measure RTT; the peer's reports drive our rate controller,
// which resets bitrate, FEC and frame size on the encoder. Each report tick also queues a
// quality snapshot for the API.
//
//   inputs:   handlePacket(bytes, now), handleTimeout(now)
//   commands: pushPcm(pcm, now), stop()
//   outputs:  pollPacket(), pollAudio(), pollQuality(), pollTimeout()
import { MediaSender } from './sender.ts';
import { MediaReceiver } from './receiver.ts';
import { RateController } from './rate-control.ts';
import { decodeMediaPacket, encodeMediaReport, type MediaReport } from './frame.ts';
import { clock32, clock32Diff } from './seq.ts';
import { estimateMos } from './e-model.ts';
import type { FrameMs } from './opus.ts';

export interface MediaSessionOptions {
  seqStart: number;
  timestampStart: number;
  bitrateBps?: number;         // starting bitrate; default 32 kb/s
  minBitrateBps?: number;      // default 12 kb/s
  maxBitrateBps?: number;      // default 64 kb/s
  frameMs?: FrameMs;           // default 20
  dtx?: boolean;               // default on
  fec?: boolean;               // adaptive in-band FEC; default on (off: never, for comparisons)
  plc?: boolean;               // default on
  reportIntervalMs?: number;   // default 1000
}

export interface MediaQuality {
  sendBitrateKbps: number;     // payload + media header, last interval
  recvBitrateKbps: number;
  lossPct: number;             // incoming stream, last interval, before FEC/PLC
  remoteLossPct: number;       // what the peer reports of our stream
  jitterMs: number;            // incoming interarrival jitter (RFC 3550)
  rttMs: number | undefined;
  jitterBufferMs: number;      // target delay of our jitter buffer
  mos: number;                 // estimated for the audio we hear (G.107)
  encoder: { bitrateBps: number; fec: boolean; frameMs: FrameMs };
}

const codecLookaheadMs = 6.5;

export class MediaSession {
  readonly sender: MediaSender;
  readonly receiver: MediaReceiver;
  private readonly rate: RateController;
  private readonly packets: Uint8Array[] = [];
  private readonly qualities: MediaQuality[] = [];
  private readonly intervalMs: number;
  private nextReportMs: number | undefined;
  private lastPeerReport: { sentAtMs: number; receivedAtMs: number } | undefined;
  private rttMs: number | undefined;
  private remoteLoss = 0;
  private bytesSent = 0;
  private bytesReceived = 0;
  private last = { expected: 0, received: 0, concealed: 0, bytesSent: 0, bytesReceived: 0, atMs: 0 };
  private stopped = false;
  readonly stats = { reportsSent: 0, reportsReceived: 0, malformed: 0 };
  quality: MediaQuality;

  constructor(o: MediaSessionOptions) {
    const frameMs = o.frameMs ?? 20;
    this.rate = new RateController({ startBitrateBps: o.bitrateBps ?? 32_000, minBitrateBps: o.minBitrateBps ?? 12_000, maxBitrateBps: o.maxBitrateBps ?? 64_000, frameMs, adaptFec: o.fec ?? true });
    const s = this.rate.settings;
    this.sender = new MediaSender({
      seqStart: o.seqStart, timestampStart: o.timestampStart, bitrateBps: s.bitrateBps,
      fec: s.fec, expectedLossPct: s.expectedLossPct, frameMs, dtx: o.dtx ?? true,
    });
    this.receiver = new MediaReceiver({ frameMs, fec: o.fec ?? true, plc: o.plc ?? true });
    this.intervalMs = o.reportIntervalMs ?? 1000;
    this.quality = {
      sendBitrateKbps: 0, recvBitrateKbps: 0, lossPct: 0, remoteLossPct: 0, jitterMs: 0, rttMs: undefined,
      jitterBufferMs: 0, mos: 0, encoder: { bitrateBps: s.bitrateBps, fec: s.fec, frameMs },
    };
  }

  pushPcm(pcm: Int16Array, now: number) {
    if (this.stopped) return;
    this.start(now);
    this.sender.pushPcm(pcm);
    for (let f = this.sender.pollFrame(); f; f = this.sender.pollFrame()) { this.bytesSent += f.length; this.packets.push(f); }
  }

  handlePacket(bytes: Uint8Array, now: number) {
    if (this.stopped) return;
    this.start(now);
    const p = decodeMediaPacket(bytes);
    if (!p.ok) { this.stats.malformed++; return; }
    this.bytesReceived += bytes.length;
    if (p.value.kind === 'audio') { this.receiver.handleFrame(bytes, now); return; }
    this.handleReport(p.value.report, now);
  }

  handleTimeout(now: number) {
    if (this.stopped) return;
    this.receiver.handleTimeout(now);
    if (this.nextReportMs !== undefined && now >= this.nextReportMs) {
      this.report(now);
      this.nextReportMs = now + this.intervalMs;
    }
  }

  pollPacket(): Uint8Array | undefined { return this.packets.shift(); }
  pollAudio(): Int16Array | undefined { return this.receiver.pollAudio(); }
  pollQuality(): MediaQuality | undefined { return this.qualities.shift(); }

  pollTimeout(): number | undefined {
    if (this.stopped) return undefined;
    const a = this.receiver.pollTimeout(), b = this.nextReportMs;
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  }

  stop() { this.stopped = true; this.receiver.stop(); }

  private start(now: number) {
    if (this.nextReportMs === undefined) { this.nextReportMs = now + this.intervalMs; this.last.atMs = now; }
  }

  private handleReport(r: MediaReport, now: number) {
    this.stats.reportsReceived++;
    this.lastPeerReport = { sentAtMs: r.sentAtMs, receivedAtMs: now };
    // echo = 0 means the peer had not heard from us yet.
    if (r.echoMs !== 0) {
      const rtt = clock32Diff(r.echoMs, clock32(now)) - r.holdMs;
      if (rtt >= 0 && rtt < 60_000) this.rttMs = this.rttMs === undefined ? rtt : 0.7 * this.rttMs + 0.3 * rtt;
    }
    this.remoteLoss = r.lostFraction;
    if (this.rate.handleReport(r, this.rttMs)) {
      const s = this.rate.settings, enc = this.sender.encoderControl;
      enc.setBitrate(s.bitrateBps);
      enc.setFec(s.fec, s.expectedLossPct);
      enc.setFrameMs(s.frameMs);
    }
  }

  private report(now: number) {
    const rs = this.receiver.stats;
    const expected = rs.expected - this.last.expected;
    const received = rs.received - rs.duplicates - (this.last.received);
    const lostFraction = expected > 0 ? Math.max(0, Math.min(1, (expected - received) / expected)) : 0;
    const heardLoss = expected > 0 ? Math.min(1, (rs.concealed - this.last.concealed) / expected) : 0;
    const seconds = Math.max(1, now - this.last.atMs) / 1000;
    const s = this.rate.settings;
    const frameMs = this.sender.frameMs;
    this.quality = {
      sendBitrateKbps: ((this.bytesSent - this.last.bytesSent) * 8) / 1000 / seconds,
      recvBitrateKbps: ((this.bytesReceived - this.last.bytesReceived) * 8) / 1000 / seconds,
      lossPct: lostFraction * 100,
      remoteLossPct: this.remoteLoss * 100,
      jitterMs: rs.jitterMs,
      rttMs: this.rttMs,
      jitterBufferMs: rs.targetDelayMs + frameMs / 2,
      mos: estimateMos({
        oneWayDelayMs: (this.rttMs ?? 0) / 2 + rs.targetDelayMs + frameMs + codecLookaheadMs,
        lossPct: heardLoss * 100, bitrateBps: s.bitrateBps,
      }),
      encoder: { bitrateBps: s.bitrateBps, fec: s.fec, frameMs: s.frameMs },
    };
    this.qualities.push(this.quality);
    this.last = { expected: rs.expected, received: rs.received - rs.duplicates, concealed: rs.concealed, bytesSent: this.bytesSent, bytesReceived: this.bytesReceived, atMs: now };
    const peer = this.lastPeerReport;
    const echo = peer ? peer.sentAtMs : 0;
    this.packets.push(encodeMediaReport({
      sentAtMs: clock32(now) || 1, echoMs: echo, holdMs: peer ? now - peer.receivedAtMs : 0,
      lostFraction, jitterMs: rs.jitterMs, lostTotal: rs.lost,
    }));
    this.stats.reportsSent++;
  }
}
