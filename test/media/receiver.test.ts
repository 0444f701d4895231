import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaSender } from '../../src/media/sender.ts';
import { MediaReceiver } from '../../src/media/receiver.ts';
import { decodeMediaFrame, encodeMediaFrame } from '../../src/media/frame.ts';
import { seqDiff, unwrapSeq } from '../../src/media/seq.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';
import { prng } from '../helpers/prng.ts';

function encodeAll(seconds: number, seqStart = 65_500) {
  const speech = speechLikeSignal(seconds, 48_000, 5);
  const s = new MediaSender({ seqStart, timestampStart: 4_294_900_000, bitrateBps: 32_000, fec: true, expectedLossPct: 10 });
  s.pushPcm(speech);
  const frames: Uint8Array[] = [];
  for (let f = s.pollFrame(); f; f = s.pollFrame()) frames.push(f);
  return { speech, frames };
}

/** Plays frames into a receiver on a schedule: arrival time per frame index (undefined = lost). */
function play(frames: Uint8Array[], arrivalMs: (i: number) => number | undefined, r = new MediaReceiver({})) {
  const events = frames.map((f, i) => ({ f, at: arrivalMs(i) })).filter((e) => e.at !== undefined) as { f: Uint8Array; at: number }[];
  events.sort((a, b) => a.at - b.at);
  const out: Int16Array[] = [];
  // Stop once the last frame has had its turn, as a call's end would.
  const endMs = Math.max(...events.map((e) => e.at)) + 100;
  let now = 0;
  for (const e of events) {
    for (let t = r.pollTimeout(); t !== undefined && t <= e.at; t = r.pollTimeout()) { now = t; r.handleTimeout(now); }
    now = e.at;
    r.handleFrame(e.f, now);
    for (let a = r.pollAudio(); a; a = r.pollAudio()) out.push(a);
  }
  for (let t = r.pollTimeout(); t !== undefined && t <= endMs; t = r.pollTimeout()) r.handleTimeout(t);
  r.stop();
  for (let a = r.pollAudio(); a; a = r.pollAudio()) out.push(a);
  const pcm = new Int16Array(out.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of out) { pcm.set(a, at); at += a.length; }
  return { r, pcm, frames: out.length };
}

test('sequence numbers wrap in one place', () => {
  assert.equal(seqDiff(65_535, 0), 1);
  assert.equal(seqDiff(0, 65_535), -1);
  assert.equal(unwrapSeq(65_535, 2), 65_538);
  const f = decodeMediaFrame(encodeMediaFrame({ seq: 70_000, timestampSamples: 2 ** 32 + 5, payload: new Uint8Array([1]) }));
  assert.ok(f.ok && f.value.seq === 70_000 - 65_536 && f.value.timestampSamples === 5);
});

test('a clean stream survives encode, jitter buffer and decode (across a sequence wrap)', () => {
  const { speech, frames } = encodeAll(2);
  const { pcm, r } = play(frames, (i) => i * 20 + 5);
  assert.equal(r.stats.decoded, frames.length);
  assert.ok(alignedCorrelation(speech, pcm, 9600).correlation >= 0.9);
});

test('reordering and duplicates within the buffer are absorbed', () => {
  const { speech, frames } = encodeAll(2);
  const dup = [...frames, ...frames.filter((_, i) => i % 10 === 0)];
  const { r, pcm } = play(dup, (i) => (i < frames.length ? i * 20 + (i % 3 === 0 ? 30 : 0) : (i - frames.length) * 200 + 10));
  assert.ok(r.stats.duplicates > 0 || r.stats.late > 0);
  assert.equal(r.stats.decoded, frames.length, 'every frame was played, none concealed in its place');
  assert.ok(alignedCorrelation(speech, pcm, 9600).correlation >= 0.9);
});

test('10 % loss: one frame per 20 ms regardless, lost frames recovered by FEC or concealed', () => {
  const { frames } = encodeAll(3);
  const rng = prng(10);
  const lost = new Set(frames.map((_, i) => i).filter(() => rng.int(10) === 0));
  const { r, frames: played } = play(frames, (i) => (lost.has(i) ? undefined : i * 20));
  assert.ok(played >= frames.length - 1 && played <= frames.length + 30, `played ${played} for ${frames.length}`);
  assert.ok(r.stats.lost >= lost.size - 3 && r.stats.recoveredFec + r.stats.concealed >= r.stats.lost, JSON.stringify(r.stats));
  assert.ok(r.stats.recoveredFec > 0, 'FEC recovered some frames');
});

test('paced by time: never more frames than elapsed time allows', () => {
  const { frames } = encodeAll(1);
  const r = new MediaReceiver({ minDelayMs: 60 });
  frames.forEach((f) => r.handleFrame(f, 0)); // everything at once
  r.handleTimeout(200);
  let n = 0;
  for (let a = r.pollAudio(); a; a = r.pollAudio()) n++;
  assert.ok(n <= Math.floor((200 - 60) / 20) + 1, `${n} frames after 200 ms`);
});

test('hostile frames are counted and never throw', () => {
  const r = new MediaReceiver({});
  const rng = prng(4);
  for (let i = 0; i < 2000; i++) r.handleFrame(rng.bytes(rng.int(1500)), i);
  for (let t = r.pollTimeout(); t !== undefined && t < 3000; t = r.pollTimeout()) r.handleTimeout(t);
  assert.ok(r.stats.malformed > 0);
});
