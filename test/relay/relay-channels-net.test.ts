// Relay channels on the whole (virtual) network: two users who may not reach each other directly
// talk through bob's supernode, first inside their sessions with it, then on paired channels; a
// channel packet replayed from another address is not forwarded, and is counted as unreadable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, supernodeAddress } from '../../src/sim/testnet.ts';
import { udpPath } from '../../src/session/paths.ts';

test('relayed chat moves onto relay channels; a replayed channel packet from elsewhere is dropped and counted', async () => {
  const t = createTestnet({ seed: 61 });
  await t.meshed();
  const alice = t.addUser(1, { supernode: 0, direct: false });
  const bob = t.addUser(2, { supernode: 1, direct: false });
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  const relay = t.supernodes[1];
  // Capture what alice sends on her channel.
  let captured: Uint8Array | undefined;
  const handle = relay.plane.handle.bind(relay.plane);
  relay.plane.handle = (path, bytes, now) => {
    const taken = handle(path, bytes, now);
    if (taken && path === udpPath(alice.address)) captured = bytes.slice();
    return taken;
  };
  for (let i = 0; i < 4; i++) {
    const r = await t.settle(alice, (now, cb) => alice.node.chat('bob', `message ${i}`, now, cb));
    assert.ok(r.ok, JSON.stringify(r));
  }
  assert.equal(bob.events.filter((e) => e.type === 'chat').length, 4);
  assert.ok(relay.plane.stats.forwarded > 0, `channels carried the chats: ${JSON.stringify(relay.plane.stats)}`);
  assert.ok(alice.node.relayChannels.stats.wrapped > 0 && bob.node.relayChannels.stats.unwrapped > 0);
  assert.ok(captured, 'alice sent on her channel');

  const forwarded = relay.plane.stats.forwarded;
  const s = relay.rpc.endpoint.stats;
  const unreadable = () => s.malformed + s.unknownIndex + s.handshakeRejected;
  const before = unreadable();
  t.net.mutate(supernodeAddress(1), (now) => relay.handleDatagram('udp:198.51.100.66:5000', captured!, now));
  assert.equal(relay.plane.stats.forwarded, forwarded, 'not forwarded');
  assert.equal(unreadable() - before, 1, 'counted once by the session layer');
});
