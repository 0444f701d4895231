// The whole network's cores on the virtual network: login server (SQLite in memory),
// three supernodes and user nodes, in virtual time. Same code as the real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, loginAddress as L, supernodeAddress, type Testnet, type TestUser } from '../../src/sim/testnet.ts';
import { UserNode, type UserNodeEvent } from '../../src/node/user-node.ts';
import { testIdentity } from '../helpers/identities.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';

const SN = [0, 1, 2].map(supernodeAddress);

function build(seed: number) {
  const t = createTestnet({ seed });
  return { ...t, sns: t.supernodes };
}

function user(w: Testnet, n: number, opts: { direct?: boolean; autoAnswer?: boolean; sn?: number } = {}): TestUser {
  return w.addUser(n, { direct: opts.direct, autoAnswer: opts.autoAnswer, supernode: opts.sn });
}

async function signUp(w: Testnet, u: TestUser, name: string) {
  await assert.doesNotReject(w.signUp(u, name));
}

for (const direct of [true, false]) {
  test(`virtual network: look-up, chat receipt and a call (${direct ? 'direct' : 'relayed'})`, async () => {
    const w = build(direct ? 1 : 2);
    await w.net.runUntilAsync(() => w.sns.every((s) => s.peers.size === 2), 30_000);
    const alice = user(w, 1, { direct, sn: 0 });
    const bob = user(w, 2, { direct, sn: 1, autoAnswer: true });
    await signUp(w, alice, 'Alice');
    await signUp(w, bob, 'bob');
    assert.equal(alice.node.status().user, 'alice', 'names are normalised');

    let found: any;
    w.net.mutate(alice.address, (now) => alice.node.lookup('bob', now, (r) => { found = r; }));
    await w.net.runUntilAsync(() => found !== undefined);
    assert.ok(found.ok, JSON.stringify(found));
    assert.equal(found.value.addresses.length, direct ? 1 : 0);

    let sent: any;
    w.net.mutate(alice.address, (now) => alice.node.chat('bob', 'hi', now, (r) => { sent = r; }));
    await w.net.runUntilAsync(() => sent !== undefined);
    assert.ok(sent.ok && sent.value.deliveredAtMs > 0, JSON.stringify(sent));
    assert.ok(bob.events.some((e) => e.type === 'chat' && e.message.text === 'hi' && e.message.peer === 'alice'));

    let ringing: any;
    let callId = '';
    w.net.mutate(alice.address, (now) => { callId = alice.node.call('bob', now, (r) => { ringing = r; })!; });
    await w.net.runUntilAsync(() => alice.node.calls.get(callId)?.state === 'active', 20_000);
    assert.ok(ringing?.ok);
    assert.equal(alice.node.calls.get(callId)!.path, direct ? 'direct' : 'relay');

    // One second of speech, pushed in real-time 20 ms frames.
    const speech = speechLikeSignal(1, 48_000, 3);
    for (let i = 0; i + 960 <= speech.length; i += 960) {
      w.net.mutate(alice.address, (now) => alice.node.withCalls(now, (c) => c.pushAudio(callId, speech.subarray(i, i + 960), now)));
      w.net.run(20);
    }
    w.net.run(500);
    w.net.mutate(alice.address, (now) => alice.node.withCalls(now, (c) => c.hangup(callId, now)));
    await w.net.runUntilAsync(() => bob.node.calls.get(callId)?.state === 'ended', 10_000);
    assert.equal(bob.node.calls.get(callId)!.endReason, 'remote-hung-up');
    const audio = bob.events.filter((e): e is Extract<UserNodeEvent, { type: 'audio' }> => e.type === 'audio');
    const pcm = new Int16Array(audio.reduce((n, e) => n + e.pcm.length, 0));
    let at = 0;
    for (const e of audio) { pcm.set(e.pcm, at); at += e.pcm.length; }
    const { correlation } = alignedCorrelation(speech, pcm, 48_000);
    assert.ok(correlation >= 0.9, `correlation ${correlation}`);
    // The call's media rides relay channels once both ends have bound them (the first packets go inside the sessions).
    if (!direct) assert.ok(w.sns.some((s) => s.plane.stats.forwarded > 40), `the relay channels carried the media: ${JSON.stringify(w.sns.map((s) => s.plane.stats))}`);
  });
}

test('virtual network: a wrong password and a taken name get clear errors', async () => {
  const w = build(3);
  await w.net.runUntilAsync(() => w.sns.every((s) => s.peers.size === 2), 30_000);
  const a = user(w, 1);
  await signUp(w, a, 'carol');
  const b = user(w, 2);
  let reg: any, log: any;
  w.net.mutate(b.address, (now) => b.node.register('CAROL', 'another password', now, (r) => { reg = r; }));
  await w.net.runUntilAsync(() => reg !== undefined);
  assert.ok(!reg.ok && reg.error.code === 'name-taken');
  w.net.mutate(b.address, (now) => b.node.login('carol', 'wrong password!', now, (r) => { log = r; }));
  await w.net.runUntilAsync(() => log !== undefined);
  assert.ok(!log.ok && log.error.code === 'bad-credentials');
});

test('virtual network: a node refuses a login server whose key differs from the pinned one, loudly', async () => {
  const w = build(4);
  const id = testIdentity(9100);
  const address = { host: '198.51.100.50', port: 5000 };
  const node = new UserNode({
    staticKey: id.static, signingKey: id.signing, random: w.net.random, deviceId: 'd', login: L,
    loginKey: testIdentity(4242).signing.publicKey, bootstrap: [SN[0]], listen: address, directAllowed: true, autoAnswer: false,
  });
  const events: UserNodeEvent[] = [];
  w.net.add(address, node, () => { for (let e = node.pollEvent(); e; e = node.pollEvent()) events.push(e); });
  let reg: any;
  w.net.mutate(address, (now) => node.register('mallory', 'a good password', now, (r) => { reg = r; }));
  await w.net.runUntilAsync(() => reg !== undefined, 20_000);
  assert.equal(reg.ok, false);
  assert.match(reg.error.message, /pinned key/);
  assert.ok(events.some((e) => e.type === 'log' && e.line.level === 'error' && /LOGIN SERVER KEY CHANGED/.test(e.line.message)));
});

test('virtual network: when only its own supernode is reachable, a node forwards through it to the callee', async () => {
  const w = build(5);
  await w.net.runUntilAsync(() => w.sns.every((s) => s.peers.size === 2), 30_000);
  const alice = user(w, 1, { sn: 0 });
  const bob = user(w, 2, { sn: 1 });
  // Alice's network lets her reach her own supernode only (and the login server).
  w.net.block(alice.address, bob.address);
  w.net.block(alice.address, SN[1]);
  w.net.block(alice.address, SN[2]);
  await signUp(w, alice, 'alice');
  await signUp(w, bob, 'bob');
  let sent: any;
  w.net.mutate(alice.address, (now) => alice.node.chat('bob', 'through two supernodes', now, (r) => { sent = r; }));
  await w.net.runUntilAsync(() => sent !== undefined, 30_000);
  assert.ok(sent.ok, JSON.stringify(sent));
  assert.ok(bob.events.some((e) => e.type === 'chat' && e.message.text === 'through two supernodes'));
  assert.ok(w.sns[0].relay.stats.forwarded > 0, 'alice\'s supernode forwarded');
  assert.ok(w.sns[1].relay.stats.relayed > 0, 'bob\'s supernode delivered');
});
