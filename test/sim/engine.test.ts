import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agenda } from '../../src/sim/agenda.ts';
import { NodeTable } from '../../src/sim/node-table.ts';
import { Rng } from '../../src/sim/rng.ts';
import type { SimCore } from '../../src/sim/sim-core.ts';

test('the agenda takes events in time order, ties by (source, sequence), near and far alike', () => {
  const rng = new Rng(11);
  const start = 1_700_000_000_000;
  const a = new Agenda(start, 64);
  // Reference: every event with its (time, source, sequence); events scheduled while running too,
  // some for the millisecond being taken.
  const scheduled: { t: number; src: number; q: number }[] = [];
  let q = 0;
  const schedule = (t: number) => {
    const src = rng.int(5) * 2 ** 31;
    a.push(t, q % 251, q, 2 ** 32 - 1 - q, src, q); scheduled.push({ t, src, q }); q++;
  };
  for (let i = 0; i < 500; i++) schedule(start + rng.int(i % 3 === 0 ? 1000 : 40));
  const taken: { t: number; src: number; q: number }[] = [];
  for (let s = a.pop(); s >= 0; s = a.pop()) {
    const t = a.t[s], id = a.a[s];
    assert.equal(a.kind[s], id % 251);
    assert.equal(a.b[s], 2 ** 32 - 1 - id);
    taken.push({ t, src: a.src[s], q: a.seq[s] });
    a.release(s);
    if (q < 3000) for (let k = rng.int(3); k > 0; k--) schedule(t + (rng.chance(0.2) ? rng.int(500) : rng.int(5)));
  }
  // Events scheduled for the millisecond being taken come after the ones already there.
  assert.equal(taken.length, scheduled.length);
  for (let i = 1; i < taken.length; i++) {
    const x = taken[i - 1], y = taken[i];
    assert.ok(x.t <= y.t, 'time order');
  }
  const byTime = (list: typeof taken) => { const m = new Map<number, string[]>(); for (const e of list) m.set(e.t, [...(m.get(e.t) ?? []), `${e.src}/${e.q}`]); return m; };
  const got = byTime(taken), want = byTime([...scheduled].sort((x, y) => x.t - y.t || x.src - y.src || x.q - y.q));
  for (const [t, list] of want) assert.deepEqual([...got.get(t)!].sort(), [...list].sort(), `the events of ${t}`);
  assert.equal(a.size, 0);
});

test('a millisecond is taken in key order whatever order its events were scheduled in', () => {
  const rng = new Rng(12);
  const keys = Array.from({ length: 300 }, (_, i) => ({ src: rng.int(7), q: i }));
  for (const order of [keys, [...keys].reverse(), [...keys].sort(() => rng.float() - 0.5)]) {
    const a = new Agenda(0, 64);
    for (const k of order) a.push(10, 0, 0, 0, k.src, k.q);
    const taken: string[] = [];
    for (let s = a.pop(); s >= 0; s = a.pop()) { taken.push(`${a.src[s]}/${a.seq[s]}`); a.release(s); }
    assert.deepEqual(taken, [...keys].sort((x, y) => x.src - y.src || x.q - y.q).map((k) => `${k.src}/${k.q}`));
  }
});

test('the agenda stops at a limit, and events scheduled later for the current millisecond still come', () => {
  const a = new Agenda(0, 64);
  a.push(5, 0, 1, 0, 0, 0);
  a.push(30, 0, 2, 0, 0, 1);
  a.push(500, 0, 3, 0, 0, 2);
  const first = a.pop(25);
  assert.equal(a.a[first], 1);
  a.push(5, 0, 4, 0, 0, 3); // same millisecond, scheduled while it runs
  a.release(first);
  const second = a.pop(25);
  assert.equal(a.a[second], 4);
  a.release(second);
  assert.equal(a.pop(25), -1);
  a.push(25, 0, 5, 0, 0, 4); // the limit was reached: the next window starts there
  assert.equal(a.a[a.pop(50)], 5);
  assert.equal(a.a[a.pop(50)], 2);
  assert.equal(a.pop(50), -1);
  assert.equal(a.a[a.pop()], 3);
});

test('the agenda refuses a time before the present or between milliseconds', () => {
  const a = new Agenda(1000);
  a.push(1005, 0, 0, 0, 0, 0);
  a.release(a.pop());
  assert.throws(() => a.push(1004, 0, 0, 0, 0, 1), RangeError);
  assert.throws(() => a.push(1006.5, 0, 0, 0, 0, 2), RangeError);
});

test('the agenda hands each payload back intact, and never rewrites one a receiver kept', () => {
  const rng = new Rng(13);
  const a = new Agenda(0, 1024);
  const sent = new Map<number, Uint8Array>();
  let q = 0;
  const send = (t: number) => {
    // Sizes up to past a quarter of a chunk (those get a chunk of their own).
    const len = rng.chance(0.001) ? 300_000 : rng.int(2000);
    const bytes = Uint8Array.from({ length: len }, () => rng.u32() & 0xff);
    a.push(t, 0, q, 0, 0, q, bytes);
    sent.set(q++, bytes);
  };
  for (let i = 0; i < 200; i++) send(rng.int(300));
  const kept: [Uint8Array, Uint8Array][] = [];
  for (let s = a.pop(); s >= 0; s = a.pop()) {
    const id = a.a[s], got = a.payload(s)!;
    assert.deepEqual(got, sent.get(id), `payload ${id}`);
    if (rng.chance(0.01)) kept.push([got, sent.get(id)!]);
    a.release(s);
    sent.delete(id);
    if (q < 20_000) for (let k = rng.int(3); k > 0; k--) send(a.t[s] + 1 + rng.int(300));
  }
  assert.equal(sent.size, 0);
  for (const [got, want] of kept) assert.deepEqual(got, want, 'a payload kept by its receiver is not overwritten by later ones');
  const none = a.push(a.t.length ? 10 ** 6 : 0, 0, 0, 0, 0, 0);
  assert.equal(a.payload(a.pop()), undefined, `event ${none} has no payload`);
});

test('the node table finds nodes by id as it grows, and refuses a taken id', () => {
  const t = new NodeTable();
  const rng = new Rng(3);
  const ids: number[] = [];
  const core = {} as SimCore;
  for (let i = 0; i < 5000; i++) { let id = 0; while (!id || t.indexOf(id) >= 0) id = rng.u32(); ids.push(id); assert.equal(t.add(id, i % 5, core, rng), i); }
  ids.forEach((id, i) => { assert.equal(t.indexOf(id), i); assert.equal(t.region[i], i % 5); assert.equal(t.alive[i], 1); });
  assert.equal(t.indexOf(12345), ids.includes(12345) ? ids.indexOf(12345) : -1);
  assert.throws(() => t.add(ids[7], 0, core, rng));
  assert.throws(() => t.add(0, 0, core, rng));
});
