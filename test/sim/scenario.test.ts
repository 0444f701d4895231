import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario } from '../../src/sim/scenario.ts';
import { overlayProtocol, kademliaProtocol } from '../../src/sim/protocols.ts';
import { parseSimArgs, checkReport } from '../../src/sim/sim-command.ts';
import { UsageError } from '../../src/cli/args.ts';
import { slotBitsFor } from '../../src/overlay/ring.ts';
import { KademliaCore } from '../../src/sim/kademlia.ts';
import { Rng } from '../../src/sim/rng.ts';

const small = (seed: number) => ({
  supernodes: 120, users: 1200, minutes: 2, seed, churn: 'heavy' as const,
  protocol: overlayProtocol({ slotBits: slotBitsFor(120), replicas: 10 }),
});

test('the same seed replays the same run; another seed does not', () => {
  const a = runScenario(small(5)).report, b = runScenario(small(5)).report, c = runScenario(small(6)).report;
  const key = (r: typeof a) => [r.events, r.lookups, r.lookupSuccess, r.lookupsAbandoned, r.hopsP50, r.latencyP99Ms, r.upkeepBytesPerSupernodeS, r.mailsAccepted, r.churnDeaths];
  assert.deepEqual(key(a), key(b));
  assert.notDeepEqual(key(a), key(c));
});

test('a run split over threads gives the same figures as on one thread, faults and churn included', () => {
  // Everything but the timings: thread count is a speed setting, never an input (docs/decisions/0033).
  const figures = (o: Parameters<typeof runScenario>[0]) => {
    const { wallS: _w, eventsPerS: _e, eventsPerCpuS: _c, peakRssMiB: _p, heapPerSupernodeKiB: _h, threadWait: _t, ...rest } = runScenario(o).report;
    return rest;
  };
  for (const o of [
    { ...small(12), killFraction: 0.3, killAtMin: 1 },
    { ...small(13), clogFraction: 0.2, clogAtMin: 0.5, clogForS: 20 },
    { ...small(14), protocol: kademliaProtocol(), mail: false, partitionAtMin: 1, partitionForS: 20 },
  ]) {
    const one = figures({ ...o, threads: 1 });
    assert.ok(one.lookups > 30 && one.events > 50_000, `a run with work in it (${one.lookups} look-ups, ${one.events} events)`);
    assert.deepEqual(figures({ ...o, threads: 2 }), one);
    assert.deepEqual(figures({ ...o, threads: 3 }), one);
  }
});

test('with churn: every look-up of an online user succeeds and every offline mail is delivered once', () => {
  const o = small(7);
  const r = runScenario(o).report;
  assert.ok(r.lookups > 50, `${r.lookups} look-ups`);
  assert.ok(r.mailsAccepted > 20, `${r.mailsAccepted} mails`);
  assert.deepEqual(checkReport(r, o), []);
  assert.ok(r.hopsP99 <= 2, `hops p99 ${r.hopsP99}`);
});

test('killing 30 % of the supernodes at once loses no offline mail and look-ups recover', () => {
  const o = { ...small(8), churn: 'none' as const, killFraction: 0.3, killAtMin: 1 };
  const r = runScenario(o).report;
  assert.equal(r.killed, 36);
  assert.equal(r.mailsLost, 0);
  assert.equal(r.mailsDuplicated, 0);
  assert.notEqual(r.recoveredAfterS, null);
});

test('the Kademlia baseline runs under the same workload', () => {
  const r = runScenario({ ...small(9), protocol: kademliaProtocol(), mail: false }).report;
  assert.ok(r.lookups > 50);
  assert.ok(r.lookupSuccess > 0.99, `${r.lookupSuccess}`);
});

test('bad sim flags are usage errors', () => {
  assert.throws(() => parseSimArgs(['--users', '10']), UsageError);
  assert.throws(() => parseSimArgs(['--supernodes', 'many', '--users', '10']), UsageError);
  assert.throws(() => parseSimArgs(['--supernodes', '10', '--users', '10', '--churn', 'wild']), UsageError);
  assert.equal(parseSimArgs(['--supernodes', '10', '--users', '10', '--seed', '4']).seed, 4);
  assert.throws(() => parseSimArgs(['--supernodes', '10', '--users', '10', '--clog', '95']), UsageError);
  assert.throws(() => parseSimArgs(['--supernodes', '10', '--users', '10', '--clog', '20', '--clog-for', '0']), UsageError);
  assert.throws(() => parseSimArgs(['--supernodes', '10', '--users', '10', '--threads', '0']), UsageError);
  assert.equal(parseSimArgs(['--supernodes', '10', '--users', '10']).threads, 1, 'a small run stays on one thread');
  assert.equal(parseSimArgs(['--supernodes', '10', '--users', '10', '--threads', '3']).threads, 3);
  const c = parseSimArgs(['--supernodes', '10', '--users', '10', '--clog', '20', '--clog-at', '1', '--clog-for', '45']);
  assert.deepEqual([c.clogFraction, c.clogAtMin, c.clogForS], [0.2, 1, 45]);
});

test('Kademlia picks the same nearest contacts as sorting every contact by XOR distance', () => {
  const rng = new Rng(5, 1);
  const sorted = Uint32Array.from({ length: 3000 }, () => rng.u32() || 1).sort();
  for (let c = 0; c < 20; c++) {
    const core = new KademliaCore({ id: sorted[rng.int(sorted.length)], rand: rng.u32, verifyRecord: () => undefined });
    core.seedTables(sorted, rng.u32);
    const all = (core as unknown as { buckets: number[][] }).buckets.flat();
    const closest = (core as unknown as { closest(key: number, n: number): number[] }).closest.bind(core);
    for (let q = 0; q < 50; q++) {
      const key = q === 0 ? core.id : rng.u32();
      const want = [...all].sort((x, y) => ((x ^ key) >>> 0) - ((y ^ key) >>> 0)).slice(0, 20);
      assert.deepEqual(closest(key, 20), want);
    }
  }
});

test('clogging 20 % of the supernodes for 30 s loses no offline mail and look-ups recover after it', () => {
  const o = { ...small(10), churn: 'none' as const, clogFraction: 0.2, clogAtMin: 0.5, clogForS: 30 };
  const r = runScenario(o).report;
  assert.equal(r.clogged, 24);
  assert.equal(r.mailsLost, 0);
  assert.equal(r.mailsDuplicated, 0);
  assert.notEqual(r.recoveredAfterClogS, null);
  assert.deepEqual(checkReport(r, o), []);
});

test('a 30 s partition between the regions loses no offline mail and look-ups recover once it heals', () => {
  const o = { ...small(11), churn: 'none' as const, partitionAtMin: 0.5, partitionForS: 30 };
  const r = runScenario(o).report;
  assert.ok(r.mailsAccepted > 20, `${r.mailsAccepted} mails`);
  assert.equal(r.mailsLost, 0);
  assert.equal(r.mailsDuplicated, 0);
  assert.notEqual(r.recoveredAfterPartitionS, null);
  assert.deepEqual(checkReport(r, o), []);
});

test('partitions heal whatever the seed: each side held the other dead, and both come back', () => {
  // Seeds that, before the dead were told of their deaths, left two overlays (12), or lost mail
  // stored on one side and fetched from the other (22, 24, 36): docs/decisions/0034.
  for (const seed of [12, 15, 22, 24, 36]) {
    const o = { ...small(seed), churn: 'none' as const, partitionAtMin: 0.5, partitionForS: 30 };
    const r = runScenario(o).report;
    assert.deepEqual([r.mailsLost, r.mailsDuplicated], [0, 0], `seed ${seed}: mails lost, duplicated`);
    assert.notEqual(r.recoveredAfterPartitionS, null, `seed ${seed}: look-ups never recovered`);
    assert.deepEqual(checkReport(r, o), [], `seed ${seed}`);
  }
});

test('a user who logs out before its mail fetch is answered gets that mail once, at its next login', () => {
  // An hour of 3,000 users is ~5,000 log-ins; a handful of sessions end within the round trip
  // of the fetch sent at log-in. In seed 16, three mails came back to such ended sessions and
  // were counted as delivered, never acknowledged, fetched again at the next log-in and counted
  // twice. Another draw of the run may have no such session: the seed is what makes it a test.
  const o = { supernodes: 20, users: 3000, minutes: 60, seed: 16, churn: 'skype' as const, protocol: overlayProtocol({ slotBits: slotBitsFor(20), replicas: 10 }) };
  const r = runScenario(o).report;
  assert.ok(r.mailsAccepted > 3000, `${r.mailsAccepted} mails`);
  assert.deepEqual(checkReport(r, o), []);
});

test('a mailbox bigger than a fetch is collected chunk by chunk, each mail once', () => {
  // At 200 mails per user-hour among 100 users, mailboxes pass the 64 mails a fetch returns. A
  // user that asked for the next chunk while acknowledging the last (1,216 and 1,600 mails
  // counted twice in these seeds) had it served by replicas the tombstones had not reached yet.
  for (const seed of [1, 2]) {
    const o = { supernodes: 20, users: 100, minutes: 20, seed, churn: 'skype' as const, mailsPerUserHour: 200, protocol: overlayProtocol({ slotBits: slotBitsFor(20), replicas: 10 }) };
    const r = runScenario(o).report;
    assert.ok(r.mailsAccepted > 3000, `seed ${seed}: ${r.mailsAccepted} mails`);
    assert.deepEqual([r.mailsLost, r.mailsDuplicated], [0, 0], `seed ${seed}: mails lost, duplicated`);
  }
});
