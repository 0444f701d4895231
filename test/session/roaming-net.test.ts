// Roaming on the whole network: a user whose address changes mid-conversation keeps its
// end-to-end session — the peer follows the first authenticated packet from the new address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet } from '../../src/sim/testnet.ts';

test('a node that changes address keeps its session with its peer: no new handshake, replies follow it', async () => {
  const t = createTestnet({ seed: 52 });
  await t.meshed();
  const alice = t.addUser(1, { supernode: 0 });
  const bob = t.addUser(2, { supernode: 1 });
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  const first = await t.settle(alice, (now, cb) => alice.node.chat('bob', 'from home', now, cb));
  assert.ok(first.ok, JSON.stringify(first));
  const bobEndpoint = bob.node.rpc.endpoint;
  const handshakes = bobEndpoint.stats.handshakesCompleted;

  const moved = { host: '198.51.100.23', port: 40_001 };
  t.net.move(alice.address, moved);
  alice.address = moved;
  const second = await t.settle(alice, (now, cb) => alice.node.chat('bob', 'from the train', now, cb));
  assert.ok(second.ok, `the chat and its receipt crossed after the move: ${JSON.stringify(second)}`);
  assert.ok(bob.events.some((e) => e.type === 'chat' && e.message.text === 'from the train'));
  assert.ok(bobEndpoint.stats.roamed >= 1, 'bob followed alice to her new address');
  assert.equal(bobEndpoint.stats.handshakesCompleted, handshakes, 'without a new handshake');
});
