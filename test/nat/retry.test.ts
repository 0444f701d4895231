import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PunchRetry } from '../../src/nat/retry.ts';
import { tone, toneGaps } from '../helpers/gaps.ts';

test('retries back off from 2 s to at most 30 s, and each is due once', () => {
  const r = new PunchRetry();
  let now = 0;
  const waits: number[] = [];
  for (let i = 0; i < 7; i++) {
    r.schedule('bob', now);
    const at = r.pollTimeout()!;
    waits.push(at - now);
    assert.deepEqual(r.due(at - 1), []);
    assert.deepEqual(r.due(at), ['bob']);
    assert.deepEqual(r.due(at + 1), [], 'taken off once due');
    now = at + 1500;   // the attempt's window
  }
  assert.deepEqual(waits, [2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  assert.equal(r.tries('bob'), 7);
  r.cancel('bob');
  assert.equal(r.pollTimeout(), undefined);
  assert.equal(r.tries('bob'), 0);
});

test('the number of peers retried is bounded', () => {
  const r = new PunchRetry({ entriesMax: 2 });
  for (const u of ['a', 'b', 'c']) r.schedule(u, 0);
  assert.deepEqual(r.due(10_000).sort(), ['a', 'b']);
});

test('gap finder: a steady tone has none; a 60 ms drop-out is found where it is', () => {
  const t = tone(2);
  assert.equal(toneGaps(t).longestMs, 0);
  const cut = tone(2);
  cut.fill(0, 48_000, 48_000 + 48 * 60);
  const g = toneGaps(cut);
  assert.ok(g.longestMs >= 55 && g.longestMs <= 65, `found ${g.longestMs} ms`);
  assert.ok(Math.abs(g.atMs! - 1000) <= 5);
  // Silence before and after the tone is not a gap.
  const padded = new Int16Array(48_000 * 3);
  padded.set(tone(1), 48_000);
  assert.equal(toneGaps(padded).longestMs, 0);
});
