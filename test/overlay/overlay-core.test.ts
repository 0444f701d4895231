import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayCore } from '../../src/overlay/overlay-core.ts';
import { Membership } from '../../src/overlay/membership.ts';
import { slotOfUser, slotBitsFor, blockOfSlot } from '../../src/overlay/ring.ts';
import { SlotStore } from '../../src/overlay/slot-store.ts';
import { Op, Status, ClRequest, ClAnswer, OvRoute } from '../../src/overlay/messages.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { simRecord, verifySimRecord } from '../../src/sim/sim-record.ts';
import { Rng } from '../../src/sim/rng.ts';

const params = { slotBits: 8, replicas: 10 };
const now = 1_700_000_000_000;

/** A tiny lossless driver: every core, instant delivery in FIFO order. */
function mesh(n: number) {
  const rng = new Rng(7);
  const ids = Array.from({ length: n }, () => rng.u32() || 1);
  const cores = new Map(ids.map((id) => [id, new OverlayCore({ id, inc: 1, params, rand: rng.u32, verifyRecord: verifySimRecord })]));
  for (const c of cores.values()) c.seedMembers(ids, ids.map(() => 1), now);
  const answers: { client: string | number; bytes: Uint8Array }[] = [];
  let hopsSeen = 0;
  const pump = () => {
    for (let round = 0; round < 50; round++) {
      let moved = 0;
      for (const [id, c] of cores) {
        for (let s = c.pollSend(); s; s = c.pollSend()) { moved++; cores.get(s.to)?.handlePeer(id, s.bytes, now); }
        for (let a = c.pollAnswer(); a; a = c.pollAnswer()) { moved++; answers.push(a); }
      }
      if (!moved) return;
    }
  };
  const ask = (via: number, op: Op, user: string, item?: Uint8Array, ids2?: string[]) => {
    answers.length = 0;
    cores.get(via)!.handleClient('c', ClRequest.toBytes({ op, req: 1, user, item, ids: ids2 }), now);
    pump();
    const a = answers.find((x) => x.client === 'c');
    assert.ok(a, 'an answer');
    const m = decodeMessage(a.bytes);
    assert.ok(m.ok);
    const r = ClAnswer.decode(m.value.body);
    assert.ok(r.ok);
    hopsSeen = Math.max(hopsSeen, r.value.hops);
    return r.value;
  };
  return { ids, cores, pump, ask, hops: () => hopsSeen };
}

test('a published record is found from any supernode in at most two hops, and held by its whole replica group', () => {
  const { ids, cores, ask, hops } = mesh(300);
  const rec = simRecord('alice', now, now + 600_000, ids[0]);
  assert.equal(ask(ids[0], Op.Publish, 'alice', rec).status, Status.Ok);
  for (const via of ids.slice(0, 40)) {
    const r = ask(via, Op.Lookup, 'alice');
    assert.equal(r.status, Status.Ok);
    assert.deepEqual(r.items?.[0], rec);
  }
  assert.ok(hops() <= 2, `hops ${hops()}`);
  const slot = slotOfUser('alice', params);
  const holders = [...cores.values()].filter((c) => c.stores.get(slot)?.getRecords('alice', now).length);
  assert.equal(holders.length, 10);
  assert.equal(ask(ids[5], Op.Lookup, 'bob').status, Status.NotFound);
});

test('a record for another user, or a forged one, is refused', () => {
  const { ids, ask } = mesh(50);
  assert.equal(ask(ids[1], Op.Publish, 'alice', simRecord('mallory', now, now + 600_000, 1)).status, Status.Rejected);
  const forged = simRecord('alice', now, now + 600_000, 1);
  forged[forged.length - 1] ^= 1;
  assert.equal(ask(ids[1], Op.Publish, 'alice', forged).status, Status.Rejected);
});

test('offline mail: held by the slot, fetched, deleted on acknowledgement everywhere', async () => {
  const { ids, cores, ask } = mesh(120);
  const { MailItem } = await import('../../src/overlay/messages.ts');
  const { encodeObjectList } = await import('../../src/wire/object-list.ts');
  const item = encodeObjectList(MailItem.encode({ id: 'm1', to: 'bob', from: 'alice', body: new Uint8Array([1, 2]), expiresAtMs: now + 3_600_000 }));
  assert.equal(ask(ids[3], Op.MailPut, 'bob', item).status, Status.Ok);
  assert.equal(ask(ids[3], Op.MailPut, 'carol', item).status, Status.Rejected, 'a mail goes to its recipient only');
  const got = ask(ids[9], Op.MailFetch, 'bob');
  assert.equal(got.items?.length, 1);
  assert.equal(ask(ids[11], Op.MailAck, 'bob', undefined, ['m1']).status, Status.Ok);
  const slot = slotOfUser('bob', params);
  for (const c of cores.values()) assert.equal(c.stores.get(slot)?.mailsFor('bob', now).length ?? 0, 0);
  assert.equal(ask(ids[20], Op.MailFetch, 'bob').items, undefined);
});

test('garbage from a peer or a node is counted and dropped', () => {
  const { ids, cores } = mesh(20);
  const c = cores.get(ids[0])!;
  c.handlePeer(ids[1], new Uint8Array([106, 3, 0xff, 0xff]), now);
  c.handleClient('x', new Uint8Array([1, 2, 3]), now);
  c.handlePeer(ids[1], new Uint8Array(0), now);
  // A request claiming a slot that is not its user's, or beyond the ring, is refused too.
  c.handlePeer(ids[1], OvRoute.toBytes({ op: Op.Lookup, slot: 2 ** 20, origin: ids[1], req: 1, hops: 0, user: 'alice' }), now);
  c.handlePeer(ids[1], OvRoute.toBytes({ op: Op.Lookup, slot: (slotOfUser('alice', params) + 1) % 256, origin: ids[1], req: 1, hops: 0, user: 'alice' }), now);
  assert.equal(c.stats.malformed, 5);
});

test('slot store digests agree whatever order items arrive in, and tombstones stop resurrection', () => {
  const a = new SlotStore(), b = new SlotStore();
  const r1 = { user: 'u1', publishedAtMs: now, expiresAtMs: now + 1000 };
  const r2 = { user: 'u2', publishedAtMs: now, expiresAtMs: now + 1000 };
  a.putRecord(r1, new Uint8Array(1)); a.putRecord(r2, new Uint8Array(1));
  b.putRecord(r2, new Uint8Array(1)); b.putRecord(r1, new Uint8Array(1));
  assert.deepEqual(a.buckets, b.buckets);
  assert.equal(a.differingBuckets([...b.buckets]), 0);
  a.putMail('m', 'u1', now + 5000, new Uint8Array(1));
  a.ack(['m'], now + 5000);
  assert.equal(a.putMail('m', 'u1', now + 5000, new Uint8Array(1)), false);
});

test('membership: a neighbourhood holds its block and both neighbours; groups have `replicas` members', () => {
  const p = { slotBits: slotBitsFor(100_000), replicas: 10 };
  const rng = new Rng(3);
  const ids = Array.from({ length: 20_000 }, () => rng.u32() || 1);
  const m = new Membership(ids[0], 1, p);
  for (const id of ids) m.alive(id, 1, now);
  assert.ok(m.local.length > 3 * 8 && m.local.length < 200, `${m.local.length}`);
  const mySlot = m.block * 8 + 3;
  assert.equal(m.group(mySlot).length, 10);
  assert.equal(blockOfSlot(mySlot, p), m.block);
  assert.deepEqual(m.group(((m.block + 5) % m.blocks) * 8), [], 'a far block: we cannot name its group');
  assert.notEqual(m.memberIn((m.block + 5) % m.blocks, rng.u32), 0);
});

test('a retry reaches a far slot through a neighbour when every contact of ours towards it died unnoticed', () => {
  const rng = new Rng(11);
  const ids = Array.from({ length: 600 }, () => rng.u32() || 1);
  const cores = new Map(ids.map((id) => [id, new OverlayCore({ id, inc: 1, params, rand: rng.u32, verifyRecord: verifySimRecord })]));
  // Each core learns the members in its own order, so contacts differ from core to core, as they do on a network.
  for (const c of cores.values()) {
    const order = [...ids];
    for (let i = order.length - 1; i > 0; i--) { const j = rng.u32() % (i + 1); [order[i], order[j]] = [order[j], order[i]]; }
    c.seedMembers(order, order.map(() => 1), now);
  }
  const answers: Uint8Array[] = [];
  const pump = (t: number) => {
    for (let round = 0; round < 50; round++) {
      let moved = 0;
      for (const [id, c] of cores) {
        for (let s = c.pollSend(); s; s = c.pollSend()) { moved++; cores.get(s.to)?.handlePeer(id, s.bytes, t); }
        for (let a = c.pollAnswer(); a; a = c.pollAnswer()) { moved++; answers.push(a.bytes); }
      }
      if (!moved) return;
    }
  };
  const via = cores.get(ids[0])!;
  let user = '';
  for (let i = 0; !user; i++) if (!via.members.knowsGroupOf(slotOfUser(`u${i}`, params))) user = `u${i}`;
  cores.get(ids[1])!.handleClient('p', ClRequest.toBytes({ op: Op.Publish, req: 1, user, item: simRecord(user, now, now + 600_000, ids[1]) }), now);
  pump(now);
  // Every contact `via` has in the slot's block and in the block after (the first hops it may choose) dies.
  const block = blockOfSlot(slotOfUser(user, params), params), per = via.members.contactsPerBlock, blocks = via.members.blocks;
  const contacts = [block, (block + 1) % blocks].flatMap((b) => [...via.members.contacts.subarray(b * per, b * per + per)]).filter(Boolean);
  assert.ok(contacts.length >= 2);
  for (const id of contacts) cores.delete(id);
  via.start(now, []);
  answers.length = 0;
  via.handleClient('c', ClRequest.toBytes({ op: Op.Lookup, req: 2, user }), now);
  pump(now);
  assert.equal(answers.length, 0, 'the first try met the dead');
  via.handleTimeout(now + 1000);
  pump(now + 1000);
  const m = decodeMessage(answers[0] ?? new Uint8Array());
  assert.ok(m.ok, 'answered after one retry');
  const r = ClAnswer.decode(m.value.body);
  assert.ok(r.ok);
  assert.equal(r.value.status, Status.Ok);
});
