// Call signaling on the virtual network: the real node cores, a login server, three
// supernodes, users on one or more devices, in virtual time. Every scenario names its seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, type Testnet, type TestUser } from '../../src/sim/testnet.ts';
import type { CallManager } from '../../src/calls/call-manager.ts';
import type { CallInfo } from '../../src/node/types.ts';
import { udpPath } from '../../src/session/paths.ts';
import { CallInvite, CallAnswer, CallHangup, CallHold, Media } from '../../src/calls/protocol.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { command, f } from '../../src/wire/schema.ts';
import { speechLikeSignal } from '../helpers/signals.ts';

const password = 'a good password';

interface World extends Testnet { seed: number }

async function world(seed: number, latencyMs = 15): Promise<World> {
  const t = createTestnet({ seed, latencyMs });
  await t.meshed();
  return { ...t, seed };
}

let nextHost = 1;
/** A user on `devices` devices (each its own node, keys and address), all logged in. */
async function person(w: World, name: string, devices = 1, opts: { autoAnswer?: boolean } = {}): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < devices; i++) {
    const u = w.addUser(nextHost++ % 250 + 1, { supernode: (nextHost + i) % 3, autoAnswer: opts.autoAnswer });
    if (i === 0) await w.signUp(u, name, password);
    else {
      const r = await w.settle(u, (now, cb) => u.node.login(name, password, now, cb));
      assert.ok(r.ok, `seed ${w.seed}: login ${name} on device ${i + 1}`);
    }
    out.push(u);
  }
  return out;
}

function dial(w: World, from: TestUser, to: string): () => string {
  let id: string | undefined;
  w.net.mutate(from.address, (now) => { id = from.node.call(to, now, () => {}); });
  return () => { assert.ok(id, 'call placed'); return id; };
}

function act(w: World, u: TestUser, fn: (c: CallManager, now: number) => unknown) {
  w.net.mutate(u.address, (now) => u.node.withCalls(now, (c) => fn(c, now)));
}

const state = (u: TestUser, id: string) => u.node.calls.get(id)?.state;
const info = (u: TestUser, id: string): CallInfo => { const c = u.node.calls.get(id); assert.ok(c, `call ${id}`); return c; };
const live = (u: TestUser) => u.node.calls.list().filter((c) => c.state !== 'ended');

async function until(w: World, what: string, done: () => boolean, limitMs = 30_000) {
  const reached = await w.net.runUntilAsync(done, limitMs);
  assert.ok(reached, `seed ${w.seed}: ${what} within ${limitMs} ms of virtual time`);
}

test('reject: the callee declines; both sides end "rejected"', async () => {
  const w = await world(11);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob');
  const id = dial(w, alice, 'bob')();
  await until(w, 'bob rings and alice hears it', () => state(bob, id) === 'incoming' && state(alice, id) === 'ringing');
  act(w, bob, (c, now) => c.reject(id, now));
  await until(w, 'alice sees the rejection', () => state(alice, id) === 'ended');
  assert.equal(info(alice, id).endReason, 'rejected');
  assert.equal(info(bob, id).endReason, 'rejected');
});

test('busy: a user in a call is busy for a third caller, whose call ends "busy"; the first call goes on', async () => {
  const w = await world(12);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob', 1, { autoAnswer: true });
  const [carol] = await person(w, 'carol');
  const first = dial(w, carol, 'bob')();
  await until(w, 'carol and bob in call', () => state(carol, first) === 'active' && state(bob, first) === 'active');
  const second = dial(w, alice, 'bob')();
  await until(w, 'alice is told busy', () => state(alice, second) === 'ended');
  assert.equal(info(alice, second).endReason, 'busy');
  assert.equal(bob.node.calls.get(second), undefined, 'bob never rang for alice');
  assert.equal(state(bob, first), 'active');
  assert.equal(state(carol, first), 'active');
});

test('no answer: ringing unanswered for the ring timeout ends "no-answer" on both sides', async () => {
  const w = await world(13);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob');
  const id = dial(w, alice, 'bob')();
  await until(w, 'bob rings', () => state(bob, id) === 'incoming');
  const ringingAt = info(bob, id).startedAtMs;
  await until(w, 'both give up', () => state(alice, id) === 'ended' && state(bob, id) === 'ended', 70_000);
  assert.equal(info(alice, id).endReason, 'no-answer');
  assert.equal(info(bob, id).endReason, 'no-answer');
  const rangMs = info(bob, id).endedAtMs! - ringingAt;
  assert.ok(rangMs >= 59_000 && rangMs <= 61_000, `rang for ${rangMs} ms`);
});

test('cancel: the caller hangs up while it rings; both sides end "cancelled"', async () => {
  const w = await world(14);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob');
  const id = dial(w, alice, 'bob')();
  await until(w, 'bob rings', () => state(bob, id) === 'incoming');
  act(w, alice, (c, now) => c.hangup(id, now));
  await until(w, 'bob stops ringing', () => state(bob, id) === 'ended');
  assert.equal(info(alice, id).endReason, 'cancelled');
  assert.equal(info(bob, id).endReason, 'cancelled');
});

test('a callee device that vanished (its record still published) ends the call "failed" within the setup timeout', async () => {
  const w = await world(15);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob');
  // Bob's device vanishes after publishing presence: his record stays until it expires.
  for (const sn of w.addresses) w.net.block(bob.address, sn);
  w.net.block(alice.address, bob.address);
  const id = dial(w, alice, 'bob')();
  await until(w, 'alice gives up', () => state(alice, id) === 'ended', 40_000);
  assert.equal(info(alice, id).endReason, 'failed');
});

test('calling a user who is not online fails at once with the look-up\'s reason', async () => {
  const w = await world(19);
  const [alice] = await person(w, 'alice');
  const r = await w.settle<CallInfo>(alice, (now, cb) => alice.node.call('nobody', now, cb));
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.error.code === 'not-found', JSON.stringify(r));
  const [c] = alice.node.calls.list();
  assert.equal(c.state, 'ended');
  assert.equal(c.endReason, 'failed');
});

test('hold and resume from either side; no audio flows while held', async () => {
  const w = await world(16);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob', 1, { autoAnswer: true });
  const id = dial(w, alice, 'bob')();
  await until(w, 'in call', () => state(alice, id) === 'active' && state(bob, id) === 'active');
  const speech = speechLikeSignal(1, 48_000, 5);
  const talk = async (ms: number) => {
    for (let i = 0; i < ms / 20; i++) {
      const at = (i * 960) % (speech.length - 960);
      act(w, alice, (c, now) => c.pushAudio(id, speech.subarray(at, at + 960), now));
      w.net.run(20);
    }
    w.net.run(200);
  };
  const both = async (a: string, b: string) => until(w, `alice ${a}, bob ${b}`, () => state(alice, id) === a && state(bob, id) === b);

  await talk(200);
  const heard = info(bob, id).stats.framesReceived;
  assert.ok(heard >= 8, `bob heard ${heard} frames before the hold`);
  act(w, alice, (c, now) => c.hold(id, now));
  await both('on-hold', 'remote-hold');
  await talk(200);
  assert.equal(info(bob, id).stats.framesReceived, heard, 'nothing sent on hold');
  act(w, bob, (c, now) => c.hold(id, now));
  await both('both-hold', 'both-hold');
  // Only the side that held may resume it.
  let wrong: any;
  act(w, bob, (c, now) => { wrong = c.resume(id, now); });
  assert.equal(wrong.ok, true, 'bob resumes his own hold');
  await both('on-hold', 'remote-hold');
  act(w, bob, (c, now) => { wrong = c.resume(id, now); });
  assert.equal(wrong.ok, false, 'bob cannot take off alice\'s hold');
  act(w, alice, (c, now) => c.resume(id, now));
  await both('active', 'active');
  await talk(200);
  assert.ok(info(bob, id).stats.framesReceived >= heard + 8, 'audio flows again after resume');
  act(w, bob, (c, now) => c.hangup(id, now));
  await until(w, 'ended', () => state(alice, id) === 'ended');
  assert.equal(info(alice, id).endReason, 'remote-hung-up');
  assert.equal(info(bob, id).endReason, 'hung-up');
});

test('multi-device: the call rings on every device of the callee; the first to answer wins, the others stop "answered-elsewhere"', async () => {
  const w = await world(17);
  const [alice] = await person(w, 'alice');
  const bobs = await person(w, 'bob', 3);
  const id = dial(w, alice, 'bob')();
  await until(w, 'all three of bob\'s devices ring', () => bobs.every((b) => state(b, id) === 'incoming'));
  // Two devices answer in the same instant; the caller decides.
  act(w, bobs[2], (c, now) => c.answer(id, now));
  act(w, bobs[0], (c, now) => c.answer(id, now));
  await until(w, 'settled', () => state(alice, id) === 'active' && bobs.every((b) => state(b, id) !== 'incoming' && state(b, id) !== 'answering'));
  const winners = bobs.filter((b) => state(b, id) === 'active');
  assert.equal(winners.length, 1, 'exactly one device is in the call');
  for (const b of bobs) if (b !== winners[0]) assert.equal(info(b, id).endReason, 'answered-elsewhere');

  // Media goes to the winning device only.
  const tone = speechLikeSignal(0.4, 48_000, 2);
  for (let i = 0; i + 960 <= tone.length; i += 960) {
    act(w, alice, (c, now) => c.pushAudio(id, tone.subarray(i, i + 960), now));
    w.net.run(20);
  }
  w.net.run(300);
  assert.ok(info(winners[0], id).stats.framesReceived >= 15);
  for (const b of bobs) if (b !== winners[0]) assert.equal(info(b, id).stats.framesReceived, 0);
  act(w, alice, (c, now) => c.hangup(id, now));
  await until(w, 'the winner sees the hang-up', () => state(winners[0], id) === 'ended');
  assert.equal(info(winners[0], id).endReason, 'remote-hung-up');
});

test('multi-device: one busy device does not stop the others ringing; one declining declines on all', async () => {
  const w = await world(18);
  const [alice] = await person(w, 'alice');
  const [carol] = await person(w, 'carol');
  const bobs = await person(w, 'bob', 2);
  const first = dial(w, carol, 'bob')();
  await until(w, 'both bob devices ring for carol', () => bobs.every((b) => state(b, first) === 'incoming'));
  act(w, bobs[0], (c, now) => c.answer(first, now));
  await until(w, 'carol with bob on device 1', () => state(carol, first) === 'active' && state(bobs[1], first) === 'ended');

  const second = dial(w, alice, 'bob')();
  await until(w, 'device 2 rings for alice', () => state(bobs[1], second) === 'incoming' && state(alice, second) === 'ringing');
  assert.equal(bobs[0].node.calls.get(second), undefined, 'the busy device did not ring');
  act(w, bobs[1], (c, now) => c.reject(second, now));
  await until(w, 'alice sees the rejection', () => state(alice, second) === 'ended');
  assert.equal(info(alice, second).endReason, 'rejected');
  assert.equal(state(bobs[0], first), 'active');
});

for (const [seed, skewMs, latencyMs] of [[21, 0, 15], [22, 3, 15], [23, 12, 40], [24, 30, 15], [25, 0, 80], [26, 7, 5]] as const) {
  test(`glare: both call each other at once (seed ${seed}, second call ${skewMs} ms later, ${latencyMs} ms latency) — exactly one call, on both sides`, async () => {
    const w = await world(seed, latencyMs);
    const [alice] = await person(w, 'alice');
    const [bob] = await person(w, 'bob');
    // Warm both paths so the invites cross on the wire rather than in a look-up.
    let chatted: any;
    w.net.mutate(alice.address, (now) => alice.node.chat('bob', 'hi', now, (r) => { chatted = r; }));
    await until(w, 'chat', () => chatted !== undefined);
    const a = dial(w, alice, 'bob');
    w.net.run(skewMs);
    const b = dial(w, bob, 'alice');
    await until(w, 'one call up on both sides', () => live(alice).length === 1 && live(bob).length === 1
      && live(alice)[0].state === 'active' && live(bob)[0].state === 'active', 30_000);
    w.net.run(3000);
    assert.equal(live(alice).length, 1);
    assert.equal(live(bob).length, 1);
    const [ca, cb] = [live(alice)[0], live(bob)[0]];
    assert.equal(ca.id, cb.id, 'the same call on both sides');
    assert.equal(ca.id, [a(), b()].sort()[0], 'the smaller call id wins');
    const loser = ca.id === a() ? bob : alice;
    const loserId = ca.id === a() ? b() : a();
    assert.equal(info(loser, loserId).endReason, 'merged');
  });
}

test('glare with multiple devices: the loser\'s other devices stop ringing and still one call results', async () => {
  const w = await world(27);
  const [alice] = await person(w, 'alice');
  const bobs = await person(w, 'bob', 2);
  const a = dial(w, alice, 'bob');
  const b = dial(w, bobs[0], 'alice');
  await until(w, 'alice and one bob device in call', () => live(alice).length === 1 && live(alice)[0].state === 'active'
    && bobs.filter((x) => live(x).some((c) => c.state === 'active')).length === 1, 30_000);
  w.net.run(3000);
  const id = live(alice)[0].id;
  assert.equal(id, [a(), b()].sort()[0]);
  assert.equal(live(bobs[0]).length, 1, 'bob\'s calling device is the one in the call');
  assert.equal(live(bobs[0])[0].id, id);
  assert.equal(live(bobs[1]).length, 0, 'bob\'s other device is not ringing');
});

for (const seed of [41, 42, 43, 44]) {
  test(`10 % packet loss (seed ${seed}): glare between a user and one of the other's two devices still ends in one call`, async () => {
    const t = createTestnet({ seed, lossRate: 0.1 });
    await t.meshed();
    const w: World = { ...t, seed };
    await until(w, 'every supernode knows the login server', () => t.supernodes.every((sn) => sn.loginKey !== undefined));
    const [alice] = await person(w, 'alice');
    const bobs = await person(w, 'bob', 2);
    const a = dial(w, alice, 'bob');
    const b = dial(w, bobs[0], 'alice');
    await until(w, 'one call', () => live(alice).length === 1 && live(alice)[0].state === 'active'
      && live(bobs[0]).length === 1 && live(bobs[0])[0].state === 'active' && live(bobs[1]).length === 0, 60_000);
    assert.equal(live(alice)[0].id, [a(), b()].sort()[0]);
    assert.equal(live(bobs[0])[0].id, live(alice)[0].id);
  });
}

// An answer with the wrong fields: a malformed signal.
const Bogus = command(Cmd.CallAnswer, { callId: f.bytes(7, 8) });

test('hostile and out-of-order signals are refused and counted; calls and nodes carry on', async () => {
  const w = await world(31);
  const [alice] = await person(w, 'alice');
  const [bob] = await person(w, 'bob');
  const [mallory] = await person(w, 'mallory');
  const id = dial(w, alice, 'bob')();
  await until(w, 'bob rings', () => state(bob, id) === 'incoming');
  let chatted: any;
  w.net.mutate(mallory.address, (now) => mallory.node.chat('bob', 'hello', now, (r) => { chatted = r; }));
  await until(w, 'mallory has a session with bob', () => chatted !== undefined);
  assert.ok(chatted.ok);
  const path = udpPath(bob.address);
  assert.ok(mallory.node.rpc.endpoint.isEstablished(path));

  const replies: string[] = [];
  const send = (bytes: Uint8Array) => w.net.mutate(mallory.address, (now) => mallory.node.rpc.request(path, bytes, now, (r) => {
    replies.push(r.ok ? String(r.value.message.command) : `failed:${r.error.code}`);
  }));
  const before = bob.node.status().callSignalsDropped ?? 0;
  const hostile = [
    Bogus.toBytes({ callId: new Uint8Array(8) }),                 // malformed answer
    CallAnswer.toBytes({ callId: id }),                           // someone else's call
    CallHangup.toBytes({ callId: id, reason: 'hung-up' }),        // someone else's call
    CallHold.toBytes({ callId: id, held: true }),                 // someone else's call, and not in call
    CallInvite.toBytes({ callId: id, codec: 'opus', frameMs: 20 }), // reusing a live call's id
    CallAnswer.toBytes({ callId: 'no-such-call' }),               // unknown call
    CallHangup.toBytes({ callId: 'ffffffffffffffff', reason: 'x'.repeat(32) }),
  ];
  for (const h of hostile) send(h);
  // Media for alice's call, from mallory: dropped without a reply.
  w.net.mutate(mallory.address, (now) => mallory.node.rpc.sendDatagram(path, Media.toBytes({ callId: id, frame: new Uint8Array(40) }), now));
  await until(w, 'every hostile request answered', () => replies.length === hostile.length);
  assert.ok(replies.every((r) => r === String(Cmd.Error)), replies.join(','));
  assert.equal((bob.node.status().callSignalsDropped ?? 0) - before, hostile.length);
  assert.equal(state(bob, id), 'incoming', 'alice\'s call is untouched');
  assert.equal(info(bob, id).stats.framesReceived, 0);

  // Out of order from the real peer: a hold before the call is answered, and a second answer.
  act(w, bob, (c, now) => c.answer(id, now));
  await until(w, 'in call', () => state(alice, id) === 'active' && state(bob, id) === 'active');
  act(w, bob, (c, now) => c.hangup(id, now));
  await until(w, 'ended', () => state(alice, id) === 'ended');
  const late = alice.node.status().callSignalsDropped ?? 0;
  // The hangup again (as after a lost reply), from bob's session: ignored, counted, no revival.
  let r2: any;
  const bobPath = udpPath(alice.address);
  w.net.mutate(bob.address, (now) => bob.node.rpc.request(bobPath, CallHold.toBytes({ callId: id, held: true }), now, (r) => { r2 = r; }));
  await until(w, 'late hold answered', () => r2 !== undefined);
  assert.equal(state(alice, id), 'ended');
  assert.equal((alice.node.status().callSignalsDropped ?? 0) - late, 1);
});
