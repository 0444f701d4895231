// Five-party conference on a virtual network with real media cores: everyone hears everyone
// else and not themselves (cross-correlation per talker), the strongest party hosts although
// another started the call, and hosting moves when the host leaves or vanishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConferenceParty, electHost, type RosterEntry } from '../../src/media/conference.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';
import { concat } from '../helpers/media-call.ts';
import { prng } from '../helpers/prng.ts';

const roster: RosterEntry[] = [
  { id: 'alice', capacity: { cpuFramesPerMs: 20, uplinkKbps: 400 } },   // starts the call
  { id: 'bob', capacity: { cpuFramesPerMs: 25, uplinkKbps: 800 } },
  { id: 'carol', capacity: { cpuFramesPerMs: 60, uplinkKbps: 20_000 } }, // strongest
  { id: 'dave', capacity: { cpuFramesPerMs: 40, uplinkKbps: 10_000 } },  // next
  { id: 'erin', capacity: { cpuFramesPerMs: 10, uplinkKbps: 2_000 } },
];
const seconds = 8;
// Five distinct talkers: pitch and vocal tract differ, so one voice barely correlates with another.
const talkers = [{ pitchHz: 110, formantScale: 0.85 }, { pitchHz: 150, formantScale: 1 }, { pitchHz: 200, formantScale: 1.15 },
  { pitchHz: 260, formantScale: 1.3 }, { pitchHz: 130, formantScale: 0.92 }];
const voices = new Map(roster.map((r, i) => [r.id, speechLikeSignal(seconds, 48_000, 21 + i * 17, talkers[i])]));
// Never played: how much any recording "hears" a voice that is not there (the talkers share
// a synthetic vocal tract, so unrelated voices correlate a little).
voices.set('stranger', speechLikeSignal(seconds, 48_000, 999, { pitchHz: 170, formantScale: 1.07 }));

/** Runs the conference; `at` hooks fire once when virtual time passes them. */
/** `lateTimerMs`: carol's timer fires only on multiples of it (a host on a busy machine). */
function run(hooks: { atMs: number; fn: (p: Map<string, ConferenceParty>, now: number, gone: Set<string>) => void }[], lateTimerMs = 0) {
  const due = (id: string, p: ConferenceParty) => {
    const t = p.pollTimeout();
    return t === undefined ? undefined : id === 'carol' && lateTimerMs ? Math.ceil(t / lateTimerMs) * lateTimerMs : t;
  };
  const rng = prng(5);
  const parties = new Map(roster.map((r, i) => [r.id, new ConferenceParty(r.id, roster, { seed: i + 1 })]));
  const gone = new Set<string>();
  const heard = new Map(roster.map((r) => [r.id, [] as Int16Array[]]));
  const flights: { at: number; n: number; from: string; to: string; bytes: Uint8Array }[] = [];
  let n = 0;
  const hostsSeen = new Map(roster.map((r) => [r.id, [] as (string | undefined)[]]));
  const endMs = seconds * 1000;
  let nextChunk = 0;
  for (let now = 0; now <= endMs;) {
    for (const h of hooks) if (h.atMs <= now && h.atMs >= 0) { h.fn(parties, now, gone); h.atMs = -1; }
    if ((nextChunk + 1) * 20 <= now && nextChunk * 960 < seconds * 48_000) {
      for (const [id, p] of parties) if (!gone.has(id)) p.pushPcm(voices.get(id)!.subarray(nextChunk * 960, (nextChunk + 1) * 960), now);
      nextChunk++;
    }
    flights.sort((a, b) => a.at - b.at || a.n - b.n);
    while (flights.length && flights[0].at <= now) {
      const f = flights.shift()!;
      if (!gone.has(f.to)) parties.get(f.to)!.handlePacket(f.from, f.bytes, now);
    }
    for (const [id, p] of parties) {
      if (gone.has(id)) continue;
      const t = due(id, p);
      if (t !== undefined && t <= now) p.handleTimeout(now);
      for (let a = p.pollAudio(); a; a = p.pollAudio()) heard.get(id)!.push(a);
      for (let e = p.pollEvent(); e; e = p.pollEvent()) if (e.type === 'host') hostsSeen.get(id)!.push(e.host);
      for (let q = p.pollPacket(); q; q = p.pollPacket()) flights.push({ at: now + 15 + rng.int(10), n: n++, from: id, to: q.to, bytes: q.bytes });
    }
    const next = Math.min((nextChunk + 1) * 20, flights[0]?.at ?? Infinity,
      ...[...parties].filter(([id]) => !gone.has(id)).map(([id, p]) => due(id, p) ?? Infinity));
    now = next > now ? next : now + 1;
  }
  return { parties, heard: new Map([...heard].map(([id, a]) => [id, concat(a)])), hostsSeen, gone };
}

/** How clearly `talker`'s voice over [fromS, toS) is in `recording`. */
function hears(recording: Int16Array, talker: string, fromS: number, toS: number): number {
  const v = voices.get(talker)!.subarray(fromS * 48_000, toS * 48_000);
  // Mouth to ear through the host is well under 300 ms; a narrow search keeps chance matches low.
  const maxLag = 48 * 300;
  const rec = recording.subarray(fromS * 48_000, Math.min(recording.length, toS * 48_000 + maxLag));
  return alignedCorrelation(v, rec, maxLag).correlation;
}

test('the strongest party is elected host by everyone, whoever started the call', () => {
  assert.equal(electHost(roster), 'carol');
  assert.equal(electHost(roster.filter((r) => r.id !== 'carol')), 'dave');
  assert.equal(electHost([]), undefined);
});

test('five parties: everyone hears everyone else but not themselves; the host leaves and the call goes on', (t) => {
  const r = run([{ atMs: 4000, fn: (p, now) => p.get('carol')!.leave(now) }]);
  const ids = roster.map((x) => x.id);
  for (const listener of ids) {
    const others = ids.filter((x) => x !== listener);
    const c = Object.fromEntries(ids.map((talker) => [talker, hears(r.heard.get(listener)!, talker, 1, 3.5)]));
    const stranger = hears(r.heard.get(listener)!, 'stranger', 1, 3.5);
    t.diagnostic(`${listener} (host carol) hears ${others.map((x) => `${x} ${c[x].toFixed(2)}`).join(', ')}; own voice ${c[listener].toFixed(2)}, a voice not in the call ${stranger.toFixed(2)}`);
    for (const x of others) assert.ok(c[x] >= 0.3, `${listener} hears ${x}: ${c[x]}`);
    assert.ok(c[listener] < Math.min(...others.map((x) => c[x])) / 2 && c[listener] < stranger + 0.1, `${listener} does not hear itself: ${c[listener]}`);
  }
  for (const listener of ids.filter((x) => x !== 'carol')) {
    assert.deepEqual(r.hostsSeen.get(listener), ['carol', 'dave'], `${listener} followed the hand-over`);
    const others = ids.filter((x) => x !== listener && x !== 'carol');
    const c = Object.fromEntries(ids.map((talker) => [talker, hears(r.heard.get(listener)!, talker, 5, 7.5)]));
    t.diagnostic(`${listener} (host dave) hears ${others.map((x) => `${x} ${c[x].toFixed(2)}`).join(', ')}; own ${c[listener].toFixed(2)}, carol ${c.carol.toFixed(2)}`);
    for (const x of others) assert.ok(c[x] >= 0.3, `after hand-over ${listener} hears ${x}: ${c[x]}`);
    const stranger = hears(r.heard.get(listener)!, 'stranger', 5, 7.5);
    assert.ok(c[listener] < stranger + 0.1 && c.carol < stranger + 0.1, `no own voice, no carol: ${c[listener]}, ${c.carol}`);
  }
});

test('a host that vanishes without a word is replaced after its silence', () => {
  const r = run([{ atMs: 3000, fn: (_p, _now, gone) => gone.add('carol') }]);
  for (const listener of ['alice', 'bob', 'erin']) {
    assert.deepEqual(r.hostsSeen.get(listener), ['carol', 'dave']);
    assert.ok(hears(r.heard.get(listener)!, 'dave', 5.5, 7.5) >= 0.3, `${listener} hears dave again`);
  }
});

test('a host whose timer fires only every 100 ms still mixes everyone (no frames cut by a late round)', () => {
  const r = run([], 100);
  for (const listener of ['alice', 'bob', 'dave', 'erin']) {
    const others = roster.map((x) => x.id).filter((x) => x !== listener);
    for (const x of others) {
      const c = hears(r.heard.get(listener)!, x, 1, 7);
      assert.ok(c >= 0.3, `${listener} hears ${x} through a late host: ${c.toFixed(2)}`);
    }
  }
});
