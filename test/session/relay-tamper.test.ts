// A supernode is not trusted with what it relays: one that alters the packets it carries
// between two users — inside its sessions with them (Relayed) or on relay channels — gets them refused by the end-to-end session (and counted), never delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet } from '../../src/sim/testnet.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { Relayed } from '../../src/overlay/protocol.ts';

test('a relaying supernode that alters a forwarded message: the end-to-end session rejects it and counts it', async () => {
  const t = createTestnet({ seed: 41 });
  await t.meshed();
  const alice = t.addUser(1, { supernode: 0, direct: false });
  const bob = t.addUser(2, { supernode: 1, direct: false });
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  const first = await t.settle(alice, (now, cb) => alice.node.chat('bob', 'first, untouched', now, cb));
  assert.ok(first.ok, JSON.stringify(first));

  // Every supernode now flips one bit inside each end-to-end packet it hands to a user.
  let tampered = 0;
  let tamper = true;
  for (const sn of t.supernodes) {
    const send = sn.rpc.sendDatagram.bind(sn.rpc);
    sn.rpc.sendDatagram = (path, message, now, opts) => {
      const m = decodeMessage(message);
      const r = m.ok ? Relayed.decode(m.value.body) : undefined;
      if (tamper && r?.ok && r.value.packet.length > 40) {
        const packet = r.value.packet.slice();
        packet[20] ^= 0x10;  // inside the ciphertext, clear of the header and its sample
        tampered++;
        return send(path, Relayed.toBytes({ ...r.value, packet }), now, opts);
      }
      return send(path, message, now, opts);
    };
  }
  // The same on relay channels (packets outside any supernode session: an 8-byte header, then the packet).
  for (const sn of t.supernodes) {
    const poll = sn.plane.pollTransmit.bind(sn.plane);
    sn.plane.pollTransmit = () => {
      const o = poll();
      if (o && tamper && o.bytes.length > 48) {
        const bytes = o.bytes.slice();
        bytes[8 + 20] ^= 0x10;
        tampered++;
        return { path: o.path, bytes };
      }
      return o;
    };
  }
  const stats = bob.node.rpc.endpoint.stats;
  const failedBefore = stats.decryptFailed;
  const second = await t.settle<{ offline?: boolean }>(alice, (now, cb) => alice.node.chat('bob', 'second, altered on the way', now, cb));
  assert.ok(tampered > 0, 'the supernode relayed (and altered) the chat');
  // Not accepted over the session: the sender falls back to bob's offline mailbox (sealed end to end, docs/decisions/0018).
  assert.ok(!second.ok || second.value.offline === true, `the altered chat was not accepted: ${JSON.stringify(second)}`);
  assert.ok(!bob.events.some((e) => e.type === 'chat' && e.message.text.startsWith('second') && !e.message.offline), 'nor shown to bob');
  assert.ok(stats.decryptFailed - failedBefore >= 1, `bob counted ${stats.decryptFailed - failedBefore} forgeries`);

  // An honest relay again: the same session carries on.
  tamper = false;
  const third = await t.settle(alice, (now, cb) => alice.node.chat('bob', 'third, untouched', now, cb));
  assert.ok(third.ok, JSON.stringify(third));
  assert.ok(bob.events.some((e) => e.type === 'chat' && e.message.text === 'third, untouched'));
});
