// Promotion: the policy's decisions, and verified reachability on the virtual network — a node
// is reachable only if another supernode reaches it unsolicited; the login server's switch
// reaches nodes through the supernodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromotionPolicy } from '../../src/node/promotion.ts';
import { createTestnet } from '../../src/sim/testnet.ts';
import type { ReachVerdict } from '../../src/node/promotion.ts';

const good: ReachVerdict = { reachable: true, bitsPerSecond: 5_000_000, promotion: true, by: 'x' };

test('policy: promoted only after enough uptime, when verified reachable and fast; demoted after repeated failures or at once when switched off', () => {
  const p = new PromotionPolicy({ optedOut: false, minUptimeMs: 1000, recheckMs: 100, retryMs: 500 }, 0);
  assert.equal(p.tick(500), undefined, 'not up long enough');
  assert.equal(p.tick(1000), 'candidate');
  assert.equal(p.tick(1001), undefined, 'one candidacy at a time');
  assert.equal(p.verdict(1002, { ...good, reachable: false }), 'reject');
  assert.equal(p.state, 'ordinary');
  assert.equal(p.tick(1100), undefined, 'waits before trying again');
  assert.equal(p.tick(1502), 'candidate');
  assert.equal(p.verdict(1503, { ...good, bitsPerSecond: 10_000 }), 'reject', 'too slow');
  assert.equal(p.tick(2003), 'candidate');
  assert.equal(p.verdict(2004, good), 'promote');
  assert.equal(p.state, 'supernode');
  assert.equal(p.tick(2104), 'recheck');
  assert.equal(p.verdict(2105, { ...good, reachable: false }), 'stay', 'one failure is forgiven');
  assert.equal(p.tick(2205), 'recheck');
  assert.equal(p.verdict(2206, { ...good, reachable: false }), 'demote');
  assert.match(p.reason, /demoted: other supernodes cannot reach us/);
  assert.equal(p.tick(2706), 'candidate');
  assert.equal(p.verdict(2707, good), 'promote');
  assert.equal(p.tick(2807), 'recheck');
  assert.equal(p.verdict(2808, { ...good, promotion: false }), 'demote', 'the network switch acts at once');
  p.postpone(2900, 50, 'waiting');
  assert.equal(p.state, 'ordinary');
  assert.equal(p.tick(2920), undefined);
  assert.equal(p.tick(2950), 'candidate', 'a postponed candidacy comes back soon');
  const opted = new PromotionPolicy({ optedOut: true, minUptimeMs: 0 }, 0);
  assert.equal(opted.tick(10_000_000), undefined);
  assert.match(opted.reason, /opted out/);
});

test('virtual network: a node is reachable only if another supernode reaches it unsolicited; the switch comes from the login server', async () => {
  for (const promotion of [true, false]) {
    const w = createTestnet({ seed: 61, login: { promotion } });
    await w.meshed();
    // Let the supernodes hear the login server's answer to their announcement.
    await w.net.runUntilAsync(() => false, 2_000);
    const open = w.addUser(1, { supernode: 0 });
    const walled = w.addUser(2, { supernode: 0 });
    await w.signUp(open, 'alice');
    await w.signUp(walled, 'bob');
    // bob's "NAT": nobody but his own supernode gets through to him.
    for (const sn of w.addresses.slice(1)) w.net.block(walled.address, sn);
    const a = await w.settle<ReachVerdict>(open, (now, cb) => open.node.checkReach(undefined, now, cb));
    const b = await w.settle<ReachVerdict>(walled, (now, cb) => walled.node.checkReach(undefined, now, cb));
    assert.ok(a.ok && b.ok);
    assert.equal(a.value.promotion, promotion);
    assert.equal(b.value.promotion, promotion);
    assert.equal(a.value.reachable, promotion, 'probed (only when promotion is on) and reached');
    assert.equal(b.value.reachable, false, 'never reachable through a wall');
    if (promotion) {
      assert.ok(a.value.by && a.value.by !== `${w.addresses[0].host}:${w.addresses[0].port}`, 'probed by another supernode');
      assert.ok((a.value.bitsPerSecond ?? 0) > 0);
    }
  }
});
