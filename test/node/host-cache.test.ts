// The host cache: ranking, bounds, and snapshots read back from files that may be hostile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostCache } from '../../src/node/host-cache.ts';
import { formatAddress, type Address } from '../../src/wire/address.ts';

const sn = (i: number): Address => ({ host: `203.0.113.${1 + (i % 250)}`, port: 7000 + Math.floor(i / 250) });
const names = (l: Address[]) => l.map(formatAddress);
const hour = 3600_000;

test('host cache: untried supernodes keep the order they were learned in', () => {
  const c = new HostCache();
  c.learn([sn(1), sn(2), sn(3)], 0);
  c.learn([sn(2), sn(0)], 0);
  assert.deepEqual(names(c.ranked(0)), names([sn(1), sn(2), sn(3), sn(0)]));
});

test('host cache: a success promotes, a lower RTT wins among successes, failures demote', () => {
  const c = new HostCache();
  c.learn([sn(1), sn(2), sn(3)], 0);
  c.success(sn(3), 80, 1000);
  c.success(sn(2), 10, 1000);
  assert.deepEqual(names(c.ranked(1000)), names([sn(2), sn(3), sn(1)]));
  c.failure(sn(2), 2000);
  assert.deepEqual(names(c.ranked(2000)).slice(0, 1), names([sn(3)]), 'one failure puts the fast one behind the slower working one');
  c.failure(sn(2), 2001);
  assert.equal(formatAddress(c.ranked(2001).at(-1)!), formatAddress(sn(2)), 'two failures: below an untried supernode');
  assert.deepEqual(names(c.ranked(2001, sn(3))), names([sn(1), sn(2)]), 'exclude leaves one out');
});

test('host cache: old successes fade, so a recently good supernode beats a long-ago one', () => {
  const c = new HostCache({ successHalfLifeMs: hour });
  c.learn([sn(1), sn(2)], 0);
  for (let i = 0; i < 5; i++) c.success(sn(1), 30, i);
  c.success(sn(2), 30, 10 * hour);
  assert.deepEqual(names(c.ranked(10 * hour)), names([sn(2), sn(1)]));
  assert.deepEqual(names(c.ranked(0)).slice(0, 1), names([sn(1)]), 'at the time, five successes ranked first');
});

test('host cache: failures are forgiven with time', () => {
  const c = new HostCache({ failureHalfLifeMs: hour });
  c.learn([sn(1), sn(2)], 0);
  c.success(sn(1), 30, 0);
  c.failure(sn(1), 0);
  c.failure(sn(1), 0);
  assert.equal(formatAddress(c.ranked(0)[0]), formatAddress(sn(2)));
  assert.equal(formatAddress(c.ranked(24 * hour)[0]), formatAddress(sn(1)), 'a day later it is worth trying first again');
});

test('host cache: never more than max entries, and the worst go first', () => {
  const c = new HostCache();
  c.learn(Array.from({ length: 150 }, (_, i) => sn(i)), 0);
  c.success(sn(149), 20, 1);
  c.learn(Array.from({ length: 150 }, (_, i) => sn(150 + i)), 2);
  assert.equal(c.size, 200);
  assert.ok(c.get(sn(149)), 'the one that worked is kept');
  for (let i = 0; i < 1000; i++) c.failure(sn(1000 + i), 3);
  assert.equal(c.size, 200);
  assert.ok(c.get(sn(149)));
  const small = new HostCache({ max: 3 });
  small.learn([sn(1), sn(2), sn(3), sn(4)], 0);
  assert.equal(small.size, 3);
});

test('host cache: a snapshot round-trips through JSON with its ranking', () => {
  const c = new HostCache();
  c.learn([sn(1), sn(2), sn(3), { host: '2001:db8::1', port: 7001 }], 0);
  c.success(sn(3), 25, 100);
  c.success({ host: '2001:db8::1', port: 7001 }, 12, 100);
  c.failure(sn(1), 200);
  const back = HostCache.restore(JSON.parse(JSON.stringify(c.snapshot())), 300);
  assert.ok(back.ok);
  assert.equal(back.value.skipped, 0);
  assert.deepEqual(names(back.value.cache.ranked(300)), names(c.ranked(300)));
  assert.deepEqual(back.value.cache.snapshot(), c.snapshot());
});

test('host cache: hostile or corrupt snapshots are refused or trimmed, never thrown', () => {
  for (const bad of [null, 7, 'x', [], {}, { version: 2, entries: [] }, { version: 1 }, { version: 1, entries: {} }]) {
    const r = HostCache.restore(bad, 0);
    assert.equal(r.ok, false, JSON.stringify(bad));
  }
  const good = { address: '203.0.113.9:7000', weight: 1, failures: 0, lastSuccessMs: 5, rttMs: 20 };
  const entries: unknown[] = [
    good,
    { ...good },                                    // duplicate
    { ...good, address: '203.0.113.10:0' },         // port 0
    { ...good, address: 'example.com:7000' },       // not an address
    { ...good, address: '203.0.113.011:7000' },     // two spellings of one address
    { ...good, address: 'x'.repeat(10_000) },
    { ...good, address: '203.0.113.12:7000', weight: -1 },
    { ...good, address: '203.0.113.13:7000', weight: Infinity },
    { ...good, address: '203.0.113.14:7000', failures: 'many' },
    { ...good, address: '203.0.113.15:7000', rttMs: 1e12 },
    { ...good, address: '203.0.113.16:7000', lastSuccessMs: -5 },
    null, 3, 'string', [],
    { ...good, address: '203.0.113.17:7000', lastSuccessMs: 1e15 }, // from the future: clamped, kept
  ];
  const r = HostCache.restore({ version: 1, entries }, 1000);
  assert.ok(r.ok);
  assert.deepEqual(names(r.value.cache.ranked(1000)).sort(), ['203.0.113.17:7000', '203.0.113.9:7000']);
  assert.equal(r.value.skipped, entries.length - 2);
  assert.equal(r.value.cache.get({ host: '203.0.113.17', port: 7000 })!.lastSuccessMs, 1000);

  const huge = { version: 1, entries: Array.from({ length: 100_000 }, (_, i) => ({ ...good, address: formatAddress(sn(i)) })) };
  const h = HostCache.restore(huge, 1000);
  assert.ok(h.ok);
  assert.equal(h.value.cache.size, 200);
});

test('host cache: advertised TCP listeners are kept, saved and checked when read back', () => {
  const c = new HostCache();
  const a = { host: '203.0.113.10', port: 7001 }, b = { host: '203.0.113.11', port: 7001 };
  c.learn([a, b], 0);
  c.learnTcp({ tcpOf: [a, a, { host: '203.0.113.99', port: 1 }], tcpAt: [{ host: '203.0.113.12', port: 443 }, { host: '0.0.0.0', port: 443 }, { host: '203.0.113.98', port: 443 }] });
  assert.deepEqual(c.tcpListeners(a).map(formatAddress), ['203.0.113.12:443'], 'an unspecified host is useless to others');
  assert.deepEqual(c.tcpListeners(b), []);
  assert.equal(c.size, 2, 'listeners of unknown supernodes add nobody');
  c.learnTcp({ tcpOf: [b], tcpAt: [] });
  assert.deepEqual(c.tcpListeners(a).map(formatAddress), ['203.0.113.12:443'], 'mismatched lists are ignored');
  const back = HostCache.restore(JSON.parse(JSON.stringify(c.snapshot())), 10);
  assert.ok(back.ok);
  assert.deepEqual(back.value.cache.tcpListeners(a).map(formatAddress), ['203.0.113.12:443']);
  const hostile = { version: 1, entries: [
    { address: '203.0.113.10:7001', weight: 0, failures: 0, tcp: ['203.0.113.12:443', 'nonsense'] },
    { address: '203.0.113.11:7001', weight: 0, failures: 0, tcp: Array(9).fill('203.0.113.12:443') },
    { address: '203.0.113.12:7001', weight: 0, failures: 0, tcp: 'x' },
  ] };
  const h = HostCache.restore(hostile, 10);
  assert.ok(h.ok);
  assert.equal(h.value.cache.size, 0);
  assert.equal(h.value.skipped, 3);
});
