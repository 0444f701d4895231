// Failover on the virtual network: a user's supernode dies, the node notices within a probe,
// moves to the next supernode of its host cache, re-publishes, and stays reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, supernodeAddress, loginAddress as L } from '../../src/sim/testnet.ts';
import { formatAddress } from '../../src/wire/address.ts';
import { HostCache } from '../../src/node/host-cache.ts';
import { UserNode, type UserNodeEvent } from '../../src/node/user-node.ts';
import { testIdentity } from '../helpers/identities.ts';

const SN = [0, 1, 2].map(supernodeAddress);

for (const direct of [true, false]) {
  test(`virtual network: a node whose supernode dies fails over and is still reachable (${direct ? 'direct' : 'relayed'})`, async () => {
    const w = createTestnet({ seed: direct ? 51 : 52 });
    await w.meshed();
    const a = w.addUser(11, { supernode: 0, direct });
    const b = w.addUser(12, { supernode: 1, direct });
    await w.signUp(a, 'alice');
    await w.signUp(b, 'bob');
    assert.equal(a.node.status().supernode, formatAddress(SN[0]));
    assert.equal(a.node.status().hostCacheSize, 3, 'learned the other supernodes from HelloOk');
    // A conversation before the failure: relayed, it runs through alice's supernode.
    const hello = await w.settle(b, (now, cb) => b.node.chat('alice', 'hello', now, cb));
    assert.ok(hello.ok, JSON.stringify(hello));

    // Supernode 0 dies: its host vanishes from the network.
    w.net.remove(SN[0]);
    const diedAt = w.net.now;
    const moved = await w.net.runUntilAsync(() => { const s = a.node.status().supernode; return s !== undefined && s !== formatAddress(SN[0]); }, 30_000);
    assert.ok(moved, 'alice re-attached');
    const tookMs = w.net.now - diedAt;
    assert.ok(tookMs <= 5000 + 3000 + 3000, `noticed and moved within one probe, its timeout and one Hello (took ${tookMs} ms)`);
    assert.ok(a.events.some((e) => e.type === 'log' && /lost/.test(e.line.message)), 'the loss is logged');

    // Alice writes first: her session to bob through her dead supernode is gone, so she looks
    // him up again through her new supernode instead of timing out on the old path.
    const back = await w.settle(a, (now, cb) => a.node.chat('bob', 'I moved', now, cb));
    assert.ok(back.ok, JSON.stringify(back));

    // Bob finds alice's new record (new supernode, new relay token) and reaches her.
    let found: any;
    await w.net.runUntilAsync(() => {
      if (found?.ok && found.value.supernode !== formatAddress(SN[0])) return true;
      if (found === null) return false;
      found = null;
      w.net.mutate(b.address, (now) => b.node.lookup('alice', now, (r) => { found = r; }));
      return false;
    }, 30_000);
    assert.ok(found?.ok, JSON.stringify(found));
    assert.equal(found.value.supernode, a.node.status().supernode);
    const sent = await w.settle(b, (now, cb) => b.node.chat('alice', 'still there?', now, cb));
    assert.ok(sent.ok, JSON.stringify(sent));
    assert.ok(a.events.some((e) => e.type === 'chat' && e.message.text === 'still there?'));

    // The dead supernode is ranked last in her host cache now; the snapshot says so too.
    const hosts = HostCache.restore(JSON.parse(JSON.stringify(a.node.link.hosts.snapshot())), w.net.now);
    assert.ok(hosts.ok);
    assert.equal(formatAddress(hosts.value.cache.ranked(w.net.now).at(-1)!), formatAddress(SN[0]));
  });
}

test('virtual network: a look-up made while the supernode is dead waits for the failover instead of failing', async () => {
  const w = createTestnet({ seed: 53 });
  await w.meshed();
  const a = w.addUser(21, { supernode: 0 });
  const b = w.addUser(22, { supernode: 1 });
  await w.signUp(a, 'carol');
  await w.signUp(b, 'dave');
  w.net.remove(SN[0]);
  const r = await w.settle(a, (now, cb) => a.node.lookup('dave', now, cb));
  assert.ok(r.ok, JSON.stringify(r));
  assert.notEqual(a.node.status().supernode, formatAddress(SN[0]));
});

test('virtual network: a node restored from a host cache snapshot tries the best known supernode first', async () => {
  const w = createTestnet({ seed: 54 });
  await w.meshed();
  const hosts = new HostCache();
  hosts.learn([SN[0], SN[2]], 0);
  hosts.success(SN[2], 10, w.net.now);
  hosts.failure(SN[0], w.net.now);
  const restored = HostCache.restore(JSON.parse(JSON.stringify(hosts.snapshot())), w.net.now);
  assert.ok(restored.ok);
  // Bootstrap says supernode 0, but the cache knows better.
  const id = testIdentity(5400);
  const address = { host: '198.51.100.31', port: 5000 };
  const node = new UserNode({
    staticKey: id.static, signingKey: id.signing, random: w.net.random, deviceId: 'd31', login: L, loginKey: w.loginKey,
    bootstrap: [SN[0]], listen: address, directAllowed: true, autoAnswer: false, hostCache: restored.value.cache,
  });
  const u = { node, address, events: [] as UserNodeEvent[] };
  w.net.add(address, node, () => { for (let e = node.pollEvent(); e; e = node.pollEvent()) u.events.push(e); });
  await w.signUp(u, 'erin');
  assert.equal(u.node.status().supernode, formatAddress(SN[2]));
});
