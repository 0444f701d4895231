// Membership news (docs/decisions/0030): a death or a join is kept and passed on only by the
// subject's neighbourhood — the supernodes that hold it in their tables — and the tables are
// the dedup. These tests run a small multi-block network with a lossless, instant driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayCore } from '../../src/overlay/overlay-core.ts';
import { Membership } from '../../src/overlay/membership.ts';
import { OvEvents, OvMembers, ClRequest, Op } from '../../src/overlay/messages.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { verifySimRecord, simRecord } from '../../src/sim/sim-record.ts';
import { Rng } from '../../src/sim/rng.ts';
import { mix32, slotOfUser } from '../../src/overlay/ring.ts';

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
  /** Datagrams between these two are dropped (a partition). */
  const links = { cut: (_from: number, _to: number) => false };
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
          if (!links.cut(from, s.to)) cores.get(s.to)?.handlePeer(from, s.bytes, now);
        }
        while (c.pollAnswer());
      }
      if (!moved) return;
    }
  };
  const run = (ms: number) => { for (const end = now + ms; now < end;) { now += 250; for (const c of cores.values()) c.handleTimeout(now); pump(); } };
  pump();
  return { ids, cores, heard, links, run, make, pump, now: () => now };
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

/** Deaths (subject ids) that `core` sends, by receiver, until `untilMs`, with no one answering. */
function deathsSent(core: OverlayCore, from: number, untilMs: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let t = from; ; t += 250) {
    if (t > from) core.handleTimeout(t);
    for (let s = core.pollSend(); s; s = core.pollSend()) {
      const m = decodeMessage(s.bytes);
      if (!m.ok || m.value.command !== Cmd.OvEvents) continue;
      const e = OvEvents.decode(m.value.body);
      if (e.ok) e.value.ids.forEach((x, i) => { if (!e.value.alive[i]) { let l = out.get(s.to); if (!l) out.set(s.to, l = []); l.push(x); } });
    }
    if (t >= untilMs) return out;
  }
}

test('a joiner whose request to join was lost asks again, and its neighbourhood learns of it', () => {
  const { ids, cores, links, run, make, pump } = network(640, 15);
  const joiner = new Rng(98).u32();
  const j = make(joiner);
  cores.set(joiner, j);
  let sent = 0;
  links.cut = (from) => from === joiner && sent++ === 0; // its first datagram: the join request
  j.start(t0, [ids[0]]);
  pump();
  assert.equal(j.members.size, 1, 'the request was lost, and nothing came back');
  run(30_000);
  assert.ok(j.members.size > 40, `the joiner knows ${j.members.size} members`);
  for (const c of neighbours(joiner, cores)) assert.ok(c.members.local.includes(joiner), `${c.id} does not know the joiner`);
});

test('a member list that still holds a dead member is answered with its death, once the dead one failed to refute it', () => {
  const { ids, cores, run, now } = network(200, 13);
  const dead = ids[3];
  cores.delete(dead);
  run(10_000);
  const a = [...cores.values()].find((c) => c.members.isDead(dead))!;
  const stale = ids.filter((id) => a.members.inNeighbourhood(id));
  a.handlePeer(ids[5], OvMembers.toBytes({ ids: stale, incs: stale.map(() => 1) }), now());
  const asked = deathsSent(a, now(), now());
  assert.deepEqual(asked.get(dead), [dead], 'the subject itself is asked first');
  assert.equal(asked.get(ids[5]), undefined, 'the lister is not told before the subject could refute');
  const later = deathsSent(a, now(), now() + 3000);
  assert.deepEqual(later.get(ids[5]), [dead]);
  assert.equal(a.members.local.includes(dead), false, 'the stale list did not bring it back');
});

test('a member list that holds one we wrongly hold dead brings it back, and its lister is never told of the death', () => {
  const { ids, cores, pump, run, now } = network(200, 13);
  const a = cores.get(ids[0])!;
  const x = a.members.local.find((id) => id !== a.id)!;
  a.members.died(x, 1, now());
  const lister = a.members.local.find((id) => id !== a.id && id !== x)!;
  let toldLister = false;
  const list = cores.get(lister)!.members.local;
  a.handlePeer(lister, OvMembers.toBytes({ ids: list, incs: list.map((id) => cores.get(lister)!.members.incOf(id)) }), now());
  // Deliver everything (x's refutation included), watching what `a` sends the lister.
  const send = a.pollSend.bind(a);
  a.pollSend = () => {
    const s = send();
    const m = s && decodeMessage(s.bytes);
    if (s && s.to === lister && m && m.ok && m.value.command === Cmd.OvEvents) { const e = OvEvents.decode(m.value.body); if (e.ok && e.value.ids.includes(x) && !e.value.alive[e.value.ids.indexOf(x)]) toldLister = true; }
    return s;
  };
  pump();
  run(5000);
  assert.equal(toldLister, false);
  assert.ok(a.members.local.includes(x) && a.members.incOf(x) >= 2, 'x refuted and is back');
  assert.ok(cores.get(lister)!.members.local.includes(x), 'the lister still holds x');
});

test('after a partition long enough for each side to hold the other dead, the sides merge again', () => {
  const { ids, cores, links, run } = network(640, 14);
  // Three fifths on one side, as the simulator's {North America, Europe} against the rest.
  const side = (id: number) => (mix32(id ^ 0x5eed) % 5 < 3 ? 0 : 1);
  const across = () => { let n = 0; for (const c of cores.values()) for (const id of c.members.local) if (side(id) !== side(c.id)) n++; return n; };
  const before = across();
  links.cut = (a, b) => side(a) !== side(b);
  run(40_000);
  assert.ok(across() < before / 20, `the sides hold each other dead (${across()} of ${before} entries left across)`);
  links.cut = () => false;
  run(60_000);
  for (const c of cores.values()) {
    const want = ids.filter((id) => c.members.inNeighbourhood(id)).sort();
    assert.deepEqual([...c.members.local].sort(), want, `${c.id} (side ${side(c.id)}) has not got its whole neighbourhood back`);
  }
  // Every supernode that can name a slot's replica group names the same one.
  for (let slot = 0; slot < 2 ** params.slotBits; slot++) {
    const seen = new Set<string>();
    for (const c of cores.values()) if (c.members.knowsGroupOf(slot)) seen.add(c.members.group(slot).join());
    assert.equal(seen.size, 1, `slot ${slot} has ${seen.size} replica groups`);
  }
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

test('a run of neighbours that died together is found in one go, not two ticks apiece', () => {
  const { cores, run } = network(640, 13);
  const watcher = [...cores.values()][5];
  const run5 = watcher.members.successorsAfter(watcher.id, 5);
  assert.equal(run5.length, 5);
  for (const id of run5) cores.delete(id);
  // One by one (two missed pings each, a tick apart) this took ~11 s; pinging ahead, ~4 s.
  run(6_000);
  assert.deepEqual(run5.filter((id) => watcher.members.local.includes(id)), [], 'the watcher still lists members of the dead run');
  const next = watcher.members.successor();
  assert.ok(cores.has(next), 'its successor now is a live member');
});

test('replicas that join a slot when most of its group dies at once all catch up, though their first pulls may meet the dead', () => {
  for (const seed of [21, 22, 23, 24]) {
    const { ids, cores, run, pump, now } = network(640, seed);
    const users = Array.from({ length: 400 }, (_, i) => `v${i}`);
    const via = cores.get(ids[0])!;
    users.forEach((u, i) => via.handleClient('c', ClRequest.toBytes({ op: Op.Publish, req: i + 1, user: u, item: simRecord(u, t0, t0 + 3_600_000, ids[0]) }), now()));
    pump();
    const slot = slotOfUser(users[0], params);
    const inSlot = users.filter((u) => slotOfUser(u, params) === slot);
    const holder = [...cores.values()].find((c) => c.members.group(slot).includes(c.id))!;
    for (const id of holder.members.group(slot).slice(0, 6)) cores.delete(id);
    run(30_000);
    const group = [...cores.values()].filter((c) => c.members.group(slot).includes(c.id));
    assert.ok(group.length >= 8, `seed ${seed}: ${group.length} replicas`);
    for (const c of group) {
      const missing = inSlot.filter((u) => !c.stores.get(slot)?.getRecords(u, now()).length);
      assert.deepEqual(missing, [], `seed ${seed}: replica ${c.id} lacks records`);
    }
  }
});
