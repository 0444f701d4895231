// Conference signaling machines talking to one another through a shuffling in-memory
// network: rosters agree whatever order signals arrive in (seeded), leaves and notices of
// silence spread, and hostile signals are dropped and counted without moving anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConferenceSignaling, conferenceMembersMax, type ConfSignal, type SignalingConference } from '../../src/calls/conference-signaling.ts';
import { electHost, type Capacity } from '../../src/media/conference.ts';
import { ConfRoster } from '../../src/calls/conference-protocol.ts';
import { prng } from '../helpers/prng.ts';

const caps: Record<string, Capacity> = {
  alice: { cpuFramesPerMs: 2, uplinkKbps: 400 }, bob: { cpuFramesPerMs: 3, uplinkKbps: 800 }, carol: { cpuFramesPerMs: 6, uplinkKbps: 2000 },
  dave: { cpuFramesPerMs: 4, uplinkKbps: 1000 }, erin: { cpuFramesPerMs: 1, uplinkKbps: 300 },
};
const names = Object.keys(caps);

function world(seed: number, autoAnswer: (u: string) => boolean = (u) => u !== 'alice') {
  const rng = prng(seed);
  let counter = 0;
  const nodes: Map<string, ConferenceSignaling> = new Map(names.map((u) => [u, new ConferenceSignaling({
    self: () => u, capacity: () => caps[u], autoAnswer: autoAnswer(u),
    random: (n) => Uint8Array.from({ length: n }, () => (counter++ * 37 + seed) & 0xff),
  })]));
  const queue: { from: string; to: string; signal: ConfSignal }[] = [];
  const collect = () => {
    for (const [u, m] of nodes) for (let o = m.pollOutput(); o; o = m.pollOutput()) if (o.type === 'send') queue.push({ from: u, to: o.user, signal: o.signal });
  };
  /** Delivers every signal in flight, in a seeded random order, until none is left. */
  const settle = (now = 0) => {
    collect();
    for (let steps = 0; queue.length > 0; steps++) {
      assert.ok(steps < 10_000, 'the gossip stops');
      const [m] = queue.splice(rng.int(queue.length), 1);
      nodes.get(m.to)!.handleSignal(m.from, m.signal, now);
      collect();
    }
  };
  return { nodes, settle, queue, collect };
}

const hostOf = (s: ConferenceSignaling, id: string) => electHost(s.get(id)!.members.map((m) => ({ id: m.user, capacity: m.capacity })));

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`seed ${seed}: five parties agree on the roster and the host whatever the order; a leave and a silence spread`, () => {
    const w = world(seed);
    const alice = w.nodes.get('alice')!;
    const c = alice.create(['bob', 'carol', 'dave', 'erin', 'alice'], 0);
    assert.ok(c.ok);
    assert.deepEqual(c.value.invited.sort(), ['bob', 'carol', 'dave', 'erin'], 'nobody invites themselves');
    w.settle();
    for (const u of names) {
      const v: SignalingConference = w.nodes.get(u)!.get(c.value.id)!;
      assert.equal(v.state, 'joined', `${u} joined`);
      assert.deepEqual(v.members.map((m) => m.user).sort(), [...names].sort(), `${u} sees everyone`);
      assert.deepEqual(v.members.find((m) => m.user === 'dave')!.capacity, caps.dave, `${u} has dave's own figures`);
      assert.equal(hostOf(w.nodes.get(u)!, c.value.id), 'carol', `${u} elects the strongest`);
    }
    assert.deepEqual(alice.get(c.value.id)!.invited, [], 'invitees who joined are no longer pending');
    // The host leaves; then dave notices erin's silence.
    assert.ok(w.nodes.get('carol')!.leave(c.value.id).ok);
    w.settle();
    w.nodes.get('dave')!.markGone(c.value.id, 'erin');
    w.settle();
    for (const u of ['alice', 'bob', 'dave']) {
      const v: SignalingConference = w.nodes.get(u)!.get(c.value.id)!;
      assert.deepEqual(v.members.map((m) => m.user).sort(), ['alice', 'bob', 'dave']);
      assert.deepEqual(v.gone.sort(), ['carol', 'erin']);
      assert.equal(hostOf(w.nodes.get(u)!, c.value.id), 'dave');
    }
    assert.equal(w.nodes.get('carol')!.get(c.value.id)!.endReason, 'left');
    // Erin was alive after all: told she is gone, she is out (and says so), not half in.
    assert.equal(w.nodes.get('erin')!.get(c.value.id)!.state, 'left');
    assert.equal(w.nodes.get('erin')!.get(c.value.id)!.endReason, 'dropped');
    for (const u of names) assert.equal(w.nodes.get(u)!.stats.signalsDropped, 0, `${u} dropped nothing`);
  });
}

test('an invite rings until answered, rejected or timed out', () => {
  const w = world(9, () => false);
  const alice = w.nodes.get('alice')!, bob = w.nodes.get('bob')!, carol = w.nodes.get('carol')!, dave = w.nodes.get('dave')!;
  const id = alice.create(['bob', 'carol', 'dave'], 1000);
  assert.ok(id.ok);
  w.settle(1000);
  assert.equal(bob.get(id.value.id)!.state, 'incoming');
  assert.equal(bob.get(id.value.id)!.inviter, 'alice');
  assert.equal(bob.pollTimeout(), 61_000);
  assert.ok(bob.join(id.value.id, 2000).ok);
  assert.ok(carol.reject(id.value.id).ok);
  w.settle(2000);
  dave.handleTimeout(61_000);
  assert.equal(dave.get(id.value.id)!.endReason, 'no-answer');
  assert.equal(carol.get(id.value.id)!.endReason, 'rejected');
  assert.deepEqual(alice.get(id.value.id)!.members.map((m) => m.user).sort(), ['alice', 'bob']);
  assert.equal(bob.join(id.value.id, 3000).ok, false, 'joining twice is refused');
  assert.ok(carol.leave(id.value.id).ok, 'leaving what one already left is no error');
  assert.equal(alice.invite(id.value.id, 'bob').ok, false, 'a member is not invited again');
});

test('hostile and stray signals are dropped and counted, and change nothing', () => {
  const w = world(10);
  const alice = w.nodes.get('alice')!;
  const c = alice.create(['bob', 'carol'], 0);
  assert.ok(c.ok);
  w.settle();
  const id = c.value.id;
  const before = JSON.stringify(alice.get(id));
  const m = (user: string) => ({ user, capacity: caps.alice });
  const cases: [string, ConfSignal, string][] = [
    ['mallory', { kind: 'roster', confId: 'conf-unknown', members: [m('mallory')], gone: [] }, 'no-such-conference'],
    // A roster from someone it does not name: a third party cannot speak for members.
    ['mallory', { kind: 'roster', confId: id, members: [m('bob')], gone: ['carol'] }, 'not-a-member'],
    // An invite from someone not in their own roster.
    ['mallory', { kind: 'invite', confId: 'conf-x', members: [m('alice')], gone: [] }, 'not-a-member'],
  ];
  for (const [from, s, reply] of cases) assert.equal(alice.handleSignal(from, s, 0), reply);
  assert.equal(alice.stats.signalsDropped, cases.length);
  assert.equal(JSON.stringify(alice.get(id)), before, 'nothing moved');
  // A member cannot inflate someone else's capacity to win the election.
  alice.handleSignal('bob', { kind: 'roster', confId: id, members: [m('bob'), { user: 'carol', capacity: { cpuFramesPerMs: 999, uplinkKbps: 99_999 } }], gone: [] }, 0);
  assert.deepEqual(alice.get(id)!.members.find((x) => x.user === 'carol')!.capacity, caps.carol);
  // Rosters are bounded: a flood of made-up members stops at the limit.
  const many = Array.from({ length: 40 }, (_, i) => m(`fake${i}`));
  alice.handleSignal('bob', { kind: 'roster', confId: id, members: [m('bob'), ...many], gone: [] }, 0);
  assert.ok(alice.get(id)!.members.length <= conferenceMembersMax);
  // Invites for new conferences are bounded too: live ones are never evicted for them.
  let refused = 0;
  for (let i = 0; i < 100; i++) if (alice.handleSignal(`u${i}`, { kind: 'invite', confId: `conf-${i}`, members: [m(`u${i}`)], gone: [] }, 0) === 'too-many') refused++;
  assert.ok(refused > 0 && alice.get(id)!.state === 'joined');
  // On the wire: lists of different lengths are caught by the manager (toSignal), a wrong type by the schema.
  assert.equal(ConfRoster.decode(new Uint8Array([0xff, 0xff, 0xff])).ok, false);
});
