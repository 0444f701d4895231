// Relay choice with real cores on the virtual network, one supernode made slow by a test-only
// wrapper that holds every datagram it receives for 150 ms: Bob is attached to the slow one,
// yet his presence record offers relays at the two fast supernodes with the RTTs he measured,
// and Alice's call goes through a fast one, saying why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet } from '../../src/sim/testnet.ts';
import type { DatagramCore } from '../../src/node/core.ts';
import { formatAddress } from '../../src/wire/address.ts';
import { parseRelayPath } from '../../src/session/paths.ts';
import type { Presence } from '../../src/overlay/presence.ts';

/** Delays every datagram into a core by `delayMs` (a slow supernode: queueing, a long link). */
class SlowCore implements DatagramCore {
  private readonly held: { at: number; path: string; bytes: Uint8Array }[] = [];
  constructor(private readonly inner: DatagramCore, private readonly delayMs: number) {}
  handleDatagram(path: string, bytes: Uint8Array, now: number) { this.held.push({ at: now + this.delayMs, path, bytes: bytes.slice() }); }
  handleTimeout(now: number) {
    while (this.held.length && this.held[0].at <= now) { const d = this.held.shift()!; this.inner.handleDatagram(d.path, d.bytes, now); }
    const t = this.inner.pollTimeout();
    if (t !== undefined && t <= now) this.inner.handleTimeout(now);
  }
  pollTransmit() { return this.inner.pollTransmit(); }
  pollTimeout(): number | undefined {
    const t = this.inner.pollTimeout();
    const h = this.held[0]?.at;
    return t === undefined ? h : h === undefined ? t : Math.min(t, h);
  }
}

test('relay choice on the virtual network: the callee\'s own supernode is slow, the call is relayed by a fast one', async () => {
  const t = createTestnet({ seed: 5, supernodes: 3, latencyMs: 15 });
  await t.meshed();
  const slow = t.addresses[1];
  t.net.add(slow, new SlowCore(t.supernodes[1], 150), () => { while (t.supernodes[1].pollLog()); });
  const alice = t.addUser(1, { supernode: 0 });
  const bob = t.addUser(2, { supernode: 1, direct: false, autoAnswer: true });
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  assert.equal(bob.node.status().supernode, formatAddress(slow), 'bob is attached to the slow supernode');
  // The relay sets measure (a Hello to open each session, one more to time it), the link's first
  // probe times Bob's own supernode (after 5 s), and Bob re-publishes.
  t.net.run(8000);
  const held = bob.node.relaySet.held();
  assert.equal(held.length, 2, 'bob holds tokens at both other supernodes');
  for (const h of held) assert.ok(h.rttMs !== undefined && h.rttMs < 100, `bob measured a fast supernode at ${h.rttMs} ms`);
  const lookedUp = await t.settle<{ presence: Presence }>(alice, (now, cb) => alice.node.lookup('bob', now, cb));
  assert.ok(lookedUp.ok);
  const p = lookedUp.value.presence;
  assert.equal(p.relays?.length, 3, 'the record offers three relays, its own supernode first');
  assert.equal(formatAddress(p.relays![0]), formatAddress(slow));
  assert.ok(p.relayRttMs![0] >= 150, `bob's own (slow) supernode published with its RTT: ${p.relayRttMs![0]} ms`);

  const placed = await t.settle<unknown>(alice, (now, cb) => { alice.node.call('bob', now, cb); });
  assert.ok(placed.ok, 'the call is placed');
  const ok = await t.net.runUntilAsync(() => alice.node.callList().some((c) => c.state === 'active'), 20_000);
  assert.ok(ok, 'the call is answered');
  const c = alice.node.callList().find((x) => x.state === 'active')!;
  console.log(`route: ${c.route}; ${c.routeReason}`);
  const via = parseRelayPath(c.via ?? '');
  assert.ok(via, `relayed (bob publishes no direct address): ${c.via}`);
  assert.notEqual(formatAddress(via.supernode), formatAddress(slow), 'not through the slow supernode');
  assert.match(c.routeReason ?? '', new RegExp(`relay ${formatAddress(via.supernode).replace(/\./g, '\\.')}: RTT \\d+ ms from us \\+ \\d+ ms from the callee = \\d+ ms, the lowest of 3 relays`));
  assert.match(c.routeReason ?? '', new RegExp(`${formatAddress(slow).replace(/\./g, '\\.')} \\d+ ms`), 'the slow one is named with its figure');
});
