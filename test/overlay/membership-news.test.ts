// Membership news (docs/decisions/0030): a death or a join is kept and passed on only by the
// subject's neighbourhood — the supernodes that hold it in their tables — and the tables are
// the dedup. These tests run a small multi-block network with a lossless, instant driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayCore } from '../../src/overlay/overlay-core.ts';
import { Membership } from '../../src/overlay/membership.ts';
import { OvEvents, OvMembers } from '../../src/overlay/messages.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { verifySimRecord } from '../../src/sim/sim-record.ts';
import { Rng } from '../../src/sim/rng.ts';

const params = { slotBits: 8, replicas: 10 }; // 32 blocks
const t0 = 1_700_000_000_000;

function network(n: number, seed = 11) {
  const rng = new Rng(seed);
  const ids = Array.from({ length: n }, () => rng.u32() || 1);
  const cores = new Map<number, OverlayCore>();
  const make = (id: number) => new OverlayCore({ id, inc: 1, params, rand: rng.u32, verifyRecord: verifySimRecord });
  for (const id of ids) cores.set(id, make(id));
  for (const c of cores.values()) { c.seedMembers(ids, ids.map(() => 1), t0); c.start(t0, []); }
  /** Who received membership news about whom: subject → receivers. */
  const heard = new Map<number, Set<number>>();
  let now = t0;
  const pump = () => {
    for (let round = 0; round < 100; round++) {
      let moved = 0;
      for (const [from, c] of cores) {
        for (let s = c.pollSend(); s; s = c.pollSend()) {
          moved++;
          const m = decodeMessage(s.bytes);
          if (m.ok && m.value.command === Cmd.OvEvents) {
            const e = OvEvents.decode(m.value.body);
            if (e.ok) for (const x of e.value.ids) { let h = heard.get(x); if (!h) heard.set(x, h = new Set()); h.add(s.to); }
          }
          cores.get(s.to)?.handlePeer(from, s.bytes, now);
        }
        while (c.pollAnswer());
      }
      if (!moved) return;
    }
  };
  const run = (ms: number) => { for (const end = now + ms; now < end;) { now += 250; for (const c of cores.values()) c.handleTimeout(now); pump(); } };
  pump();
  return { ids, cores, heard, run, make, pump, now: () => now };
}

const neighbours = (subject: number, cores: Map<number, OverlayCore>) =>
  [...cores.values()].filter((c) => c.id !== subject && c.members.inNeighbourhood(subject));

test('a death is learned by every member of the dead one\'s neighbourhood, and news of it goes nowhere else', () => {
  const { ids, cores, heard, run } = network(640);
  const dead = ids[17];
  cores.delete(dead);
  run(60_000);
  const near = neighbours(dead, cores);
  assert.ok(near.length > 40 && near.length < 100, `${near.length}`);
  for (const c of near) assert.equal(c.members.local.includes(dead), false, `${c.id} still lists the dead member`);
  const told = heard.get(dead) ?? new Set();
  const outside = [...told].filter((id) => cores.has(id) && !cores.get(id)!.members.inNeighbourhood(dead));
  assert.deepEqual(outside, [], 'news of the death reached supernodes that do not hold it in their tables');
  // Everyone else may still hold it as a contact: it is dropped when it fails to answer.
  const far = [...cores.values()].find((c) => !c.members.inNeighbourhood(dead))!;
  far.members.dropContact(dead);
  assert.equal([...far.members.contacts].includes(dead), false);
});

test('a joiner introduced by a supernode far from its block is learned by its whole neighbourhood', () => {
  const { ids, cores, heard, run, make, pump } = network(640, 12);
  const rng = new Rng(99);
  const joiner = rng.u32();
  const far = cores.get(ids.find((id) => !new Membership(joiner, 1, params).inNeighbourhood(id))!)!;
  const j = make(joiner);
  cores.set(joiner, j);
  j.start(t0, [far.id]);
  pump();
  run(30_000);
  for (const c of neighbours(joiner, cores)) assert.equal(c.members.incOf(joiner), 1, `${c.id} does not know the joiner`);
  assert.ok(j.members.local.length > 40, 'the joiner has its neighbourhood');
  const outside = [...(heard.get(joiner) ?? [])].filter((id) => id !== joiner && !cores.get(id)!.members.inNeighbourhood(joiner));
  assert.deepEqual(outside, [], 'join news went outside the neighbourhood');
});

test('a member list that still holds a dead member is answered with its death', () => {
  const { ids, cores, run } = network(200, 13);
  const dead = ids[3];
  cores.delete(dead);
  run(10_000);
  const a = [...cores.values()].find((c) => c.members.isDead(dead))!;
  const stale = ids.filter((id) => a.members.inNeighbourhood(id));
  a.handlePeer(ids[5], OvMembers.toBytes({ ids: stale, incs: stale.map(() => 1) }), t0 + 10_000);
  const out: number[] = [];
  for (let s = a.pollSend(); s; s = a.pollSend()) {
    const m = decodeMessage(s.bytes);
    if (s.to === ids[5] && m.ok && m.value.command === Cmd.OvEvents) { const e = OvEvents.decode(m.value.body); if (e.ok && !e.value.alive[0]) out.push(...e.value.ids); }
  }
  assert.deepEqual(out, [dead]);
  assert.equal(a.members.local.includes(dead), false, 'the stale list did not bring it back');
});

test('membership tables: inserts, incarnations and removals keep ring order', () => {
  const p = { slotBits: 11, replicas: 10 };
  const rng = new Rng(5);
  const ids = Array.from({ length: 5000 }, () => rng.u32() || 1);
  const m = new Membership(ids[0], 1, p);
  for (const id of ids) m.alive(id, 1, t0);
  const local = m.local;
  const base = ((m.block - 1 + m.blocks) % m.blocks) * 2 ** (32 - Math.log2(m.blocks));
  const offs = local.map((id) => (id - base) >>> 0);
  assert.deepEqual(offs, [...offs].sort((x, y) => x - y));
  assert.deepEqual([...local].sort(), ids.filter((id) => m.inNeighbourhood(id)).sort());
  const x = local[5];
  assert.equal(m.alive(x, 3, t0), 'new');
  assert.equal(m.incOf(x), 3);
  assert.equal(m.died(x, 2, t0), false, 'an older death loses to a newer life');
  assert.equal(m.died(x, 3, t0), true);
  assert.equal(m.local.includes(x), false);
  assert.equal(m.alive(x, 3, t0), 'known', 'a dead member does not come back in the same incarnation');
  assert.equal(m.alive(x, 4, t0), 'new');
  m.forgetOldDeaths(t0 + 11 * 60_000);
  assert.equal(m.isDead(x), false);
});

test('a live member its whole neighbourhood holds dead, without ever telling it, comes back with a newer incarnation', () => {
  const { ids, cores, run, now } = network(640, 13);
  const x = ids[20];
  // A false suspicion (x was cut off for a while, say) that reached every neighbour but x itself.
  const near = neighbours(x, cores);
  for (const c of near) c.members.died(x, 1, now());
  for (const c of near) assert.equal(c.members.local.includes(x), false);
  run(60_000);
  for (const c of near) assert.ok(c.members.local.includes(x) && c.members.incOf(x) >= 2, `${c.id} still holds ${x} dead`);
  assert.ok(cores.get(x)!.members.selfInc >= 2);
});
