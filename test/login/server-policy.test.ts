// Login server abuse controls on the virtual network: rate limits with retry-after, and the
// registration policies (open, invite code, closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet } from '../../src/sim/testnet.ts';
import { RateLimiter } from '../../src/session/rate-limiter.ts';

test('token buckets: a burst, then one token per refill interval, and the time to wait', () => {
  const r = new RateLimiter();
  const spec = { burst: 3, perMinute: 6 };
  assert.equal(r.take('k', spec, 0), 0);
  assert.equal(r.take('k', spec, 0), 0);
  assert.equal(r.take('k', spec, 0), 0);
  assert.equal(r.take('k', spec, 0), 10_000, 'the next token comes in 10 s');
  assert.equal(r.take('k', spec, 10_000), 0);
  assert.equal(r.take('other', spec, 10_000), 0, 'per key');
});

test('guessing one account\'s password is slowed down, with a retry-after, and lifts with time', async () => {
  const t = createTestnet({ seed: 8 });
  await t.meshed();
  const owner = t.addUser(1);
  await t.signUp(owner, 'victim');
  const attacker = t.addUser(2);
  const codes: string[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await t.settle(attacker, (now, cb) => attacker.node.login('victim', `guess number ${i}`, now, cb));
    assert.equal(r.ok, false);
    if (!r.ok) codes.push(r.error.code);
  }
  assert.deepEqual(codes.slice(0, 5), Array(5).fill('bad-credentials'));
  assert.equal(codes[6], 'rate-limited');
  const limited = await t.settle(owner, (now, cb) => owner.node.login('victim', 'a good password', now, cb));
  assert.ok(!limited.ok && limited.error.code === 'rate-limited' && /retry in \d+ s/.test(limited.error.message), 'the account is protected from everyone for a while');
  await t.net.runUntilAsync(() => false, 60_000);
  const later = await t.settle(owner, (now, cb) => owner.node.login('victim', 'a good password', now, cb));
  assert.ok(later.ok, JSON.stringify(later));
});

test('registration policies: closed refuses, invite needs the code', async () => {
  const closed = createTestnet({ seed: 9, login: { registration: { mode: 'closed' } } });
  const a = closed.addUser(1);
  const r1 = await closed.settle<void>(a, (now, cb) => a.node.register('alice', 'a good password', now, cb));
  assert.ok(!r1.ok && r1.error.code === 'registration-closed');

  const invite = createTestnet({ seed: 10, login: { registration: { mode: 'invite', codes: new Set(['friends-2026']) } } });
  const b = invite.addUser(1);
  const r2 = await invite.settle<void>(b, (now, cb) => b.node.register('bob', 'a good password', now, cb));
  assert.ok(!r2.ok && r2.error.code === 'invite-required');
  const r3 = await invite.settle<void>(b, (now, cb) => b.node.register('bob', 'a good password', now, cb, 'friends-2026'));
  assert.ok(r3.ok, JSON.stringify(r3));
});
