import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agenda } from '../../src/sim/agenda.ts';
import { NodeTable } from '../../src/sim/node-table.ts';
import { Rng } from '../../src/sim/rng.ts';
import type { SimCore } from '../../src/sim/sim-core.ts';

test('the agenda takes events in time order, ties in scheduling order, near and far alike', () => {
  const rng = new Rng(11);
  const start = 1_700_000_000_000;
  const a = new Agenda(start, 64);
  // Reference: every event with its (time, order); events scheduled while running too.
  const scheduled: { t: number; q: number }[] = [];
  let q = 0;
  const schedule = (t: number) => { a.push(t, q % 251, q, 2 ** 32 - 1 - q); scheduled.push({ t, q }); q++; };
  for (let i = 0; i < 500; i++) schedule(start + rng.int(i % 3 === 0 ? 1000 : 40));
  const taken: { t: number; q: number }[] = [];
  for (let s = a.pop(); s >= 0; s = a.pop()) {
    const t = a.t[s], id = a.a[s];
    assert.equal(a.kind[s], id % 251);
    assert.equal(a.b[s], 2 ** 32 - 1 - id);
    a.release(s);
    taken.push({ t, q: id });
    if (q < 2000) for (let k = rng.int(3); k > 0; k--) schedule(t + (rng.chance(0.2) ? rng.int(500) : rng.int(5)));
  }
  const want = [...scheduled].sort((x, y) => x.t - y.t || x.q - y.q);
  assert.equal(taken.length, want.length);
  assert.deepEqual(taken, want);
  assert.equal(a.size, 0);
});

test('the agenda refuses a time before the present or between milliseconds', () => {
  const a = new Agenda(1000);
  a.push(1005, 0, 0, 0);
  a.release(a.pop());
  assert.throws(() => a.push(1004, 0, 0, 0), RangeError);
  assert.throws(() => a.push(1006.5, 0, 0, 0), RangeError);
});

test('the agenda keeps no payload alive after its event is taken', () => {
  const a = new Agenda(0);
  a.push(3, 0, 0, 0, new Uint8Array(8));
  const s = a.pop();
  assert.equal(a.payload[s]?.length, 8);
  a.release(s);
  assert.equal(a.payload[s], undefined);
});

test('the node table finds nodes by id as it grows, and refuses a taken id', () => {
  const t = new NodeTable();
  const rng = new Rng(3);
  const ids: number[] = [];
  const core = {} as SimCore;
  for (let i = 0; i < 5000; i++) { let id = 0; while (!id || t.indexOf(id) >= 0) id = rng.u32(); ids.push(id); assert.equal(t.add(id, i % 5, core), i); }
  ids.forEach((id, i) => { assert.equal(t.indexOf(id), i); assert.equal(t.region[i], i % 5); assert.equal(t.alive[i], 1); });
  assert.equal(t.indexOf(12345), ids.includes(12345) ? ids.indexOf(12345) : -1);
  assert.throws(() => t.add(ids[7], 0, core));
  assert.throws(() => t.add(0, 0, core));
});
