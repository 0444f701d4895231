// The slot store's flat record rows (docs/decisions/0033) against a plain model of what it
// must keep: per user, the newest record of each device, at most keepMax devices (the oldest
// publication gives way), expired records dropped by sweep, the digest equal to a fresh
// store's holding the same records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotStore, type RecordMeta } from '../../src/overlay/slot-store.ts';
import { Rng } from '../../src/sim/rng.ts';

interface Kept { meta: RecordMeta; bytes: Uint8Array }

class Model {
  readonly byUser = new Map<string, Kept[]>();
  put(meta: RecordMeta, bytes: Uint8Array): boolean {
    const list = this.byUser.get(meta.user) ?? [];
    const at = list.findIndex((k) => k.meta.device === meta.device);
    const isNewer = (cur: RecordMeta) => meta.publishedAtMs > cur.publishedAtMs || (meta.publishedAtMs === cur.publishedAtMs && meta.expiresAtMs > cur.expiresAtMs);
    if (at >= 0) {
      if (!isNewer(list[at].meta)) return false;
      list[at] = { meta, bytes };
      return true;
    }
    if (list.length >= (meta.keepMax ?? 8)) {
      let oldest = 0;
      for (let i = 1; i < list.length; i++) if (list[i].meta.publishedAtMs < list[oldest].meta.publishedAtMs) oldest = i;
      if (list[oldest].meta.publishedAtMs >= meta.publishedAtMs) return false;
      list[oldest] = { meta, bytes };
      return true;
    }
    list.push({ meta, bytes });
    this.byUser.set(meta.user, list);
    return true;
  }
  sweep(now: number) {
    for (const [u, list] of this.byUser) {
      const keep = list.filter((k) => k.meta.expiresAtMs > now);
      if (keep.length) this.byUser.set(u, keep); else this.byUser.delete(u);
    }
  }
  get(user: string, now: number): Kept[] {
    return (this.byUser.get(user) ?? []).filter((k) => k.meta.expiresAtMs > now);
  }
  count(): number { let n = 0; for (const l of this.byUser.values()) n += l.length; return n; }
}

const recordBytes = (rng: Rng) => { const b = new Uint8Array(1 + rng.int(120)); for (let i = 0; i < b.length; i++) b[i] = rng.u32() & 0xff; return b; };

test('slot store rows keep what the model keeps, through updates, device limits, sweeps and arena moves', () => {
  for (let seed = 1; seed <= 6; seed++) {
    const rng = new Rng(seed, 77);
    const store = new SlotStore();
    const model = new Model();
    const users = Array.from({ length: 40 + rng.int(200) }, (_, i) => `user${i}-${seed}`);
    const devices = [undefined, 'd1', 'd2', 'd3'];
    let now = 1_000_000;
    for (let step = 0; step < 4000; step++) {
      now += rng.int(50);
      const user = users[rng.int(users.length)];
      const device = devices[rng.int(devices.length)];
      const meta: RecordMeta = { user, device, publishedAtMs: now - rng.int(3000), expiresAtMs: now + 1 + rng.int(20_000), keepMax: rng.chance(0.2) ? 2 : undefined };
      const bytes = recordBytes(rng);
      assert.equal(store.putRecord(meta, bytes), model.put(meta, bytes), `put ${user}/${device} at step ${step}, seed ${seed}`);
      if (step % 500 === 499) { store.sweep(now); model.sweep(now); }
      if (step % 97 === 0) {
        const u = users[rng.int(users.length)];
        const got = store.getRecords(u, now), want = model.get(u, now);
        assert.equal(got.length, want.length, `records of ${u}`);
        for (let i = 1; i < got.length; i++) assert.ok(got[i - 1].publishedAtMs >= got[i].publishedAtMs, 'newest first');
        const key = (x: { publishedAtMs: number; expiresAtMs: number; bytes: Uint8Array; device?: string }) => `${x.device}|${x.publishedAtMs}|${x.expiresAtMs}|${Buffer.from(x.bytes).toString('hex')}`;
        assert.deepEqual(got.map(key).sort(), want.map((k) => key({ ...k.meta, bytes: k.bytes })).sort());
      }
    }
    assert.equal(store.recordCount, model.count());
    // The digest depends only on what is held: a store fed the same records in another order agrees.
    const fresh = new SlotStore();
    const all = [...model.byUser.values()].flat().reverse();
    for (const k of all) fresh.putRecord({ ...k.meta, keepMax: undefined }, k.bytes);
    assert.deepEqual([...store.buckets], [...fresh.buckets]);
    assert.equal(store.allRecords().length, all.length);
    assert.equal(store.recordsIn(0xffff).length, all.length);
    store.sweep(now + 10 ** 9);
    assert.equal(store.recordCount, 0);
    assert.equal(store.count, 0);
    assert.ok(store.buckets.every((x) => x === 0), 'an empty store has an empty digest');
  }
});

test('users whose names share a hash slot are told apart, and leave the index cleanly', () => {
  const store = new SlotStore();
  const now = 1000;
  // Many users in a small store force long probe runs; removing some must not lose the rest.
  for (let i = 0; i < 300; i++) store.putRecord({ user: `u${i}`, publishedAtMs: now, expiresAtMs: i % 2 ? now + 10 : now + 1000 }, new Uint8Array([i & 0xff]));
  store.sweep(now + 100);
  for (let i = 0; i < 300; i++) {
    const got = store.getRecords(`u${i}`, now + 200);
    if (i % 2) assert.equal(got.length, 0, `u${i} expired`);
    else assert.deepEqual([...got[0].bytes], [i & 0xff], `u${i} kept`);
  }
  assert.equal(store.recordCount, 150);
});
