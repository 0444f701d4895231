// Done-when of issue 7: a speech WAV through a call on an impairing link, compared with the
// loss-free decode of the same packets; FEC+PLC against the same call with both off; and
// mouth-to-ear latency with a click track.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { decodeWav } from '../../src/media/wav.ts';
import { toMono48k } from '../../src/media/resample.ts';
import { runCall, segmentalSnr } from '../helpers/media-call.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';

const wav = decodeWav(fs.readFileSync(new URL('../fixtures/speech.wav', import.meta.url)));
if (!wav.ok) throw new Error(wav.error.message);
const speech = toMono48k(wav.value); // already 48 kHz mono: no resampling cost

const jitterMs = 30, delayMs = 40;

function snrOf(lossPct: number, on: boolean) {
  const r = runCall(speech, { lossPct, jitterMs, delayMs, seed: 7 + lossPct }, { fec: on, plc: on });
  // The base alignment from the first 3 s; segmentalSnr follows the jitter buffer from there.
  const lag = alignedCorrelation(r.lossFree.subarray(0, 48 * 3000), r.recorded, 48 * 500).lagSamples;
  return { snr: segmentalSnr(r.lossFree, r.recorded, lag), stats: r.b.receiver.stats, quality: r.qualityB.at(-1)! };
}

test('speech through 0/5/10 % loss and 30 ms jitter: FEC+PLC beats the same call without them', (t) => {
  const rows: string[] = [];
  for (const loss of [0, 5, 10]) {
    const on = snrOf(loss, true), off = snrOf(loss, false);
    rows.push(`loss ${loss}%: segSNR FEC+PLC ${on.snr.toFixed(1)} dB (FEC ${on.stats.recoveredFec}, PLC ${on.stats.concealed}, MOS ${on.quality.mos.toFixed(2)}) · off ${off.snr.toFixed(1)} dB (MOS ${off.quality.mos.toFixed(2)})`);
    if (loss === 0) {
      // Nothing to recover: the two calls must be the same but for concealment of late frames.
      assert.ok(on.snr > 30 && Math.abs(on.snr - off.snr) < 1, rows.at(-1));
    } else {
      assert.ok(on.snr > off.snr + 1, rows.at(-1));
      assert.ok(on.stats.recoveredFec > on.stats.concealed, 'most losses recovered by FEC');
    }
  }
  for (const r of rows) t.diagnostic(r);
});

test('mouth-to-ear latency with a click track is at most one-way delay + 60 ms at 0 % loss', (t) => {
  const oneWayMs = 50;
  const clickEvery = 48 * 400, clickLen = 48 * 5;
  const track = new Int16Array(48 * 6000);
  const clicks: number[] = [];
  for (let c = 48 * 200; c + clickLen < track.length; c += clickEvery) {
    clicks.push(c);
    for (let i = 0; i < clickLen; i++) track[c + i] = Math.round(16000 * Math.sin((2 * Math.PI * 1000 * i) / 48_000));
  }
  for (const jitter of [0, 30]) {
    const r = runCall(track, { lossPct: 0, jitterMs: jitter, delayMs: oneWayMs, seed: 3 });
    const playedAtMs = (sample: number) => {
      let f = r.frameStartsMs[0];
      for (const s of r.frameStartsMs) { if (s.sample > sample) break; f = s; }
      return f.ms + (sample - f.sample) / 48;
    };
    const latencies: number[] = [];
    let from = 0;
    for (const c of clicks) {
      let at = from;
      while (at < r.recorded.length && Math.abs(r.recorded[at]) < 4000) at++;
      if (at >= r.recorded.length) break;
      latencies.push(playedAtMs(at) - c / 48);
      from = at + clickEvery / 2;
    }
    assert.equal(latencies.length, clicks.length, 'every click heard');
    const worst = Math.max(...latencies);
    t.diagnostic(`one-way ${oneWayMs} ms, jitter ${jitter} ms: mouth-to-ear ${Math.min(...latencies).toFixed(1)}–${worst.toFixed(1)} ms over ${latencies.length} clicks`);
    if (jitter === 0) assert.ok(worst <= oneWayMs + 60, `worst ${worst} ms`);
    else assert.ok(worst <= oneWayMs + jitter + 60 + 20, `worst ${worst} ms with jitter`);
  }
});
