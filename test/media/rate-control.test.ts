// Receiver reports, RTT, rate control and the E-model estimate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateController } from '../../src/media/rate-control.ts';
import { estimateMos, rFactor } from '../../src/media/e-model.ts';
import { decodeMediaPacket, encodeMediaReport, type MediaReport } from '../../src/media/frame.ts';
import { timestampDiff, unwrapTimestamp, clock32Diff } from '../../src/media/seq.ts';
import { runCall } from '../helpers/media-call.ts';
import { speechLikeSignal } from '../helpers/signals.ts';

const report = (lostFraction: number): MediaReport => ({ sentAtMs: 1, echoMs: 0, holdMs: 0, lostFraction, jitterMs: 3, lostTotal: 0 });

test('timestamps and report clocks wrap in one place', () => {
  assert.equal(timestampDiff(2 ** 32 - 960, 0), 960);
  assert.equal(unwrapTimestamp(2 ** 32 - 960, 960), 2 ** 32 + 960);
  assert.equal(clock32Diff(2 ** 32 - 5, 5), 10);
  const r = decodeMediaPacket(encodeMediaReport({ sentAtMs: 2 ** 32 - 1, echoMs: 7, holdMs: 250, lostFraction: 0.1, jitterMs: 12.5, lostTotal: 9 }));
  assert.ok(r.ok && r.value.kind === 'report');
  assert.deepEqual(r.value.report, { sentAtMs: 2 ** 32 - 1, echoMs: 7, holdMs: 250, lostFraction: 26 / 256, jitterMs: 12.5, lostTotal: 9 });
  for (const bad of [new Uint8Array([1, 2, 3]), new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array(0)]) assert.equal(decodeMediaPacket(bad).ok, false);
});

test('FEC comes on when the peer reports loss and goes off after a clean spell', () => {
  const rc = new RateController();
  assert.equal(rc.settings.fec, false);
  rc.handleReport(report(0.05), 50);
  assert.equal(rc.settings.fec, true);
  assert.ok(rc.settings.expectedLossPct >= 5);
  for (let i = 0; i < 9; i++) rc.handleReport(report(0), 50);
  assert.equal(rc.settings.fec, true, 'still on: the spell is not long enough yet');
  rc.handleReport(report(0), 50);
  assert.equal(rc.settings.fec, false);
});

test('bitrate falls under heavy loss (to longer frames at the floor) and climbs back on a clean path', () => {
  const rc = new RateController({ startBitrateBps: 32_000 });
  for (let i = 0; i < 20; i++) rc.handleReport(report(0.3), 50);
  assert.equal(rc.settings.bitrateBps, 20_000, 'floored at what FEC needs');
  assert.equal(rc.settings.frameMs, 40);
  for (let i = 0; i < 40; i++) rc.handleReport(report(0), 50);
  assert.equal(rc.settings.frameMs, 20);
  assert.equal(rc.settings.bitrateBps, 64_000);
  const rtt = new RateController();
  rtt.handleReport(report(0), 40);
  rtt.handleReport(report(0), 400); // queues building up: back off although nothing is lost yet
  assert.ok(rtt.settings.bitrateBps < 32_000);
});

test('E-model: MOS falls with loss and delay, and concealment softens loss', () => {
  const clean = estimateMos({ oneWayDelayMs: 60, lossPct: 0, bitrateBps: 32_000 });
  assert.ok(clean > 4.3 && clean <= 4.5, `clean ${clean}`);
  const lossy = estimateMos({ oneWayDelayMs: 60, lossPct: 5, bitrateBps: 32_000 });
  const far = estimateMos({ oneWayDelayMs: 400, lossPct: 0, bitrateBps: 32_000 });
  assert.ok(lossy < clean && far < clean);
  assert.ok(rFactor({ oneWayDelayMs: 60, lossPct: 5, bitrateBps: 32_000, plc: true }) > rFactor({ oneWayDelayMs: 60, lossPct: 5, bitrateBps: 32_000, plc: false }));
  assert.equal(estimateMos({ oneWayDelayMs: 2000, lossPct: 60, bitrateBps: 8000 }), 1);
});

test('a call measures RTT from the reports, publishes quality each second, and turns FEC on under loss', () => {
  const speech = speechLikeSignal(6, 48_000, 4);
  const r = runCall(speech, { lossPct: 8, jitterMs: 0, delayMs: 40, seed: 2 });
  assert.ok(r.qualityB.length >= 5, `${r.qualityB.length} quality snapshots`);
  const q = r.qualityA.at(-1)!;
  assert.ok(q.rttMs !== undefined && Math.abs(q.rttMs - 80) < 5, `rtt ${q.rttMs}`);
  assert.equal(q.encoder.fec, true, 'the sender heard of the loss and protects its stream');
  assert.ok(r.qualityB.some((x) => x.lossPct > 0), 'the receiver measured the loss');
  assert.ok(r.qualityB.every((x) => x.mos >= 1 && x.mos <= 4.5));
  const clean = runCall(speech, { lossPct: 0, jitterMs: 0, delayMs: 40, seed: 2 });
  assert.equal(clean.qualityA.at(-1)!.encoder.fec, false);
});

test('hostile packets to a media session or a conference party are counted and never throw', async () => {
  const { MediaSession } = await import('../../src/media/media-session.ts');
  const { ConferenceParty } = await import('../../src/media/conference.ts');
  const { prng } = await import('../helpers/prng.ts');
  const rng = prng(9);
  const m = new MediaSession({ seqStart: 1, timestampStart: 1 });
  const roster = ['a', 'b'].map((id) => ({ id, capacity: { cpuFramesPerMs: id === 'a' ? 2 : 1, uplinkKbps: 100 } }));
  const host = new ConferenceParty('a', roster), member = new ConferenceParty('b', roster);
  for (let i = 0; i < 3000; i++) {
    const b = rng.bytes(rng.int(64));
    if (b.length > 0 && i % 3 === 0) b[0] = i % 2; // well-formed kinds with garbage inside
    m.handlePacket(b, i * 7);
    host.handlePacket('b', b, i * 7);
    member.handlePacket(i % 5 === 0 ? 'nobody' : 'a', b, i * 7);
    for (const c of [m, host, member]) { const t = c.pollTimeout(); if (t !== undefined && t <= i * 7) c.handleTimeout(i * 7); }
  }
  assert.ok(m.stats.malformed + m.receiver.stats.malformed > 0);
  for (const q of [m.quality]) assert.ok(Number.isFinite(q.mos) && (q.rttMs === undefined || q.rttMs >= 0));
});
