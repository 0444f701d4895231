// The adaptive jitter buffer on synthetic and recorded arrival traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { MediaSender } from '../../src/media/sender.ts';
import { MediaReceiver, type ReceiverStats } from '../../src/media/receiver.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { prng } from '../helpers/prng.ts';

function encode(seconds: number, dtx = false, signal = speechLikeSignal(seconds, 48_000, 8)) {
  const s = new MediaSender({ seqStart: 65_000, timestampStart: 4_294_960_000, dtx, fec: true, expectedLossPct: 10 });
  s.pushPcm(signal);
  const frames: Uint8Array[] = [];
  for (let f = s.pollFrame(); f; f = s.pollFrame()) frames.push(f);
  return frames;
}

/** Frame i arrives at arrivals[i] ms (undefined: lost); `probe` samples the stats at given times. */
function play(frames: Uint8Array[], arrivals: (number | undefined)[], probeAtMs: number[] = []) {
  const r = new MediaReceiver({});
  const events = frames.map((f, i) => ({ f, at: arrivals[i] })).filter((e): e is { f: Uint8Array; at: number } => e.at !== undefined)
    .sort((a, b) => a.at - b.at);
  const probes: ReceiverStats[] = [];
  const probeQueue = [...probeAtMs];
  let played = 0;
  const advance = (to: number) => {
    for (let t = r.pollTimeout(); t !== undefined && t <= to; t = r.pollTimeout()) {
      while (probeQueue.length && probeQueue[0] <= t) { probeQueue.shift(); probes.push({ ...r.stats }); }
      r.handleTimeout(t);
      while (r.pollAudio()) played++;
    }
  };
  for (const e of events) { advance(e.at); r.handleFrame(e.f, e.at); }
  advance(Math.max(...events.map((e) => e.at)) + 200);
  while (probeQueue.length) { probeQueue.shift(); probes.push({ ...r.stats }); }
  return { r, probes, played };
}

test('target delay follows the jitter up, and the buffer drains once the network calms down', () => {
  const frames = encode(14);
  const rng = prng(3);
  // 0–3 s calm, 3–7 s up to 80 ms of jitter, then calm again.
  const arrivals = frames.map((_, i) => i * 20 + 30 + (i >= 150 && i < 350 ? rng.int(80) : 0));
  const { r, probes } = play(frames, arrivals, [2900, 6900, 13_900]);
  const [calm, rough, after] = probes;
  assert.ok(calm.targetDelayMs < 5, `calm target ${calm.targetDelayMs}`);
  assert.ok(rough.targetDelayMs >= 60, `rough target ${rough.targetDelayMs}`);
  assert.ok(rough.playoutDelayMs >= 40, `rough playout delay ${rough.playoutDelayMs}`);
  assert.ok(after.targetDelayMs < 5 && after.playoutDelayMs <= 25, `after: target ${after.targetDelayMs}, delay ${after.playoutDelayMs}`);
  assert.ok(r.stats.dropped >= 2, `drained by dropping ${r.stats.dropped} frames`);
  // Nothing was lost: a frame given up for lost can only be one that came too late.
  assert.ok(r.stats.concealed + r.stats.recoveredFec <= r.stats.late && r.stats.late <= 10, JSON.stringify(r.stats));
});

test('a lost frame is rebuilt from the next one by FEC; a burst falls back to concealment', () => {
  const frames = encode(3);
  const lost = new Set([40, 80, 81, 82]);
  const { r } = play(frames, frames.map((_, i) => (lost.has(i) ? undefined : i * 20 + 10)));
  // 40 and 82 have their next frame: FEC. 80 and 81 do not: PLC.
  assert.equal(r.stats.recoveredFec, 2);
  assert.equal(r.stats.concealed, 2);
  assert.equal(r.stats.lost, 4);
});

test('silence (DTX) plays comfort noise and counts as neither loss nor lateness', () => {
  const speech = speechLikeSignal(4, 48_000, 2);
  speech.fill(0, 48_000, 48_000 * 3); // two seconds of silence in the middle
  const frames = encode(4, true, speech);
  assert.ok(frames.length < 150, `DTX sent ${frames.length} of 200 frames`);
  // Arrival times follow each frame's timestamp, as a real sender's would.
  const ts = frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint32(3));
  const { r, played } = play(frames, ts.map((t) => (((t - ts[0]) >>> 0) / 48) + 10));
  assert.equal(r.stats.lost, 0);
  assert.equal(r.stats.concealed, 0);
  assert.ok(r.stats.comfortNoise >= 40, `comfort noise ${r.stats.comfortNoise}`);
  assert.ok(Math.abs(played - 200) <= 12, `played ${played} frames for 4 s`);
});

test('recorded loopback arrival trace: every frame plays, the spikes raise the delay, few arrive late', () => {
  const trace = JSON.parse(fs.readFileSync(new URL('../fixtures/arrivals-loopback.json', import.meta.url), 'utf8')) as { arrivalsMs: (number | null)[] };
  const arrivals = trace.arrivalsMs.map((a) => a ?? undefined);
  const frames = encode(arrivals.length / 50);
  const { r } = play(frames, arrivals);
  const spread = Math.max(...arrivals.map((a, i) => (a ?? 0) - i * 20));
  assert.ok(r.stats.late <= frames.length * 0.02, `late ${r.stats.late} of ${frames.length}`);
  assert.ok(r.stats.decoded >= frames.length * 0.97, `decoded ${r.stats.decoded} of ${frames.length}`);
  assert.ok(r.stats.targetDelayMs > 0 || spread < 20, 'jitter measured');
});

test('a stall of our own process (the playout tick comes 300 ms late) is waited out, not concealed and then cut', () => {
  const frames = encode(2);
  const r = new MediaReceiver({});
  let t = 1000;
  // Steady arrivals for half a second, playout on time.
  for (let i = 0; i < 25; i++, t += 20) {
    r.handleFrame(frames[i], t);
    for (let d = r.pollTimeout(); d !== undefined && d <= t; d = r.pollTimeout()) r.handleTimeout(d);
  }
  const before = { ...r.stats };
  // The process stalls for 300 ms: the timer fires late, before the 15 frames that arrived
  // meanwhile have been read from the socket.
  t += 300;
  r.handleTimeout(t);
  assert.equal(r.stats.stalls, 1);
  assert.ok(r.pollTimeout()! <= t, 'asks to be called again at once');
  for (let i = 25; i < 40; i++) r.handleFrame(frames[i], t);
  r.handleTimeout(t);
  // Then steady again until the end.
  for (let i = 40; i < frames.length; i++, t += 20) {
    r.handleFrame(frames[i], t);
    for (let d = r.pollTimeout(); d !== undefined && d <= t; d = r.pollTimeout()) r.handleTimeout(d);
  }
  assert.ok(r.stats.expanded - before.expanded <= 1, `expanded ${r.stats.expanded - before.expanded} frames over the stall`);
  assert.equal(r.stats.concealed, 0);
  assert.ok(r.stats.dropped <= 1, `dropped ${r.stats.dropped} frames: no backlog to cut`);
  assert.equal(r.stats.late, 0);
});
