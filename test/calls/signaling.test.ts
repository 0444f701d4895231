// The signaling machine alone, with signals delivered in every order a seeded shuffle picks:
// glare, first-answer-wins and hostile input, checked as properties over many orderings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallSignaling, type PeerDevice, type Signal, type SignalReply } from '../../src/calls/signaling.ts';
import { prng } from '../helpers/prng.ts';

type Prng = ReturnType<typeof prng>;

interface Device { id: PeerDevice; sig: CallSignaling }

type Delivery =
  | { kind: 'request'; from: Device; to: string; signal: Signal }
  | { kind: 'reply'; to: Device; device: string; callId: string; signalKind: Signal['kind']; reply: SignalReply }
  | { kind: 'reached'; to: Device; callId: string; device: string };

/** Devices exchanging signals; each step delivers one pending message chosen by the seed. */
class Harness {
  readonly devices = new Map<string, Device>();
  private readonly pending: Delivery[] = [];
  now = 1_000;
  constructor(readonly rng: Prng) {}

  add(user: string, device: string, o: { autoAnswer?: boolean } = {}): Device {
    const d: Device = { id: { user, device }, sig: new CallSignaling({ random: (n) => this.rng.bytes(n), autoAnswer: o.autoAnswer }) };
    this.devices.set(device, d);
    return d;
  }

  devicesOf(user: string) { return [...this.devices.values()].filter((d) => d.id.user === user); }

  pump(d: Device) {
    for (let o = d.sig.pollOutput(); o; o = d.sig.pollOutput()) {
      if (o.type === 'reach') {
        const targets = this.devicesOf(o.user).map((x) => x.id.device);
        d.sig.handleDevices(o.callId, { ok: true, value: targets }, this.now);
        for (const t of targets) this.pending.push({ kind: 'reached', to: d, callId: o.callId, device: t });
      } else if (o.type === 'send') {
        this.pending.push({ kind: 'request', from: d, to: o.device, signal: o.signal });
      }
    }
  }

  run(stepsMax = 10_000) {
    for (const d of this.devices.values()) this.pump(d);
    for (let i = 0; i < stepsMax && this.pending.length; i++) {
      const m = this.pending.splice(this.rng.int(this.pending.length), 1)[0];
      this.now += 1;
      if (m.kind === 'reached') { m.to.sig.handleDeviceReached(m.callId, m.device, this.now); this.pump(m.to); continue; }
      if (m.kind === 'reply') { m.to.sig.handleReply(m.callId, m.device, m.signalKind, m.reply, this.now); this.pump(m.to); continue; }
      const to = this.devices.get(m.to)!;
      const reply = to.sig.handleSignal(m.from.id, m.signal, this.now);
      this.pump(to);
      this.pending.push({ kind: 'reply', to: m.from, device: m.to, callId: m.signal.callId, signalKind: m.signal.kind, reply });
    }
    assert.equal(this.pending.length, 0, 'signaling settles');
  }
}

const live = (d: Device) => d.sig.live();

test('glare over 300 delivery orders: both sides end in exactly one active call, the one with the smaller id', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const h = new Harness(prng(seed));
    const alice = h.add('alice', 'A');
    const bob = h.add('bob', 'B');
    const a = alice.sig.place('bob', h.now);
    const b = bob.sig.place('alice', h.now);
    assert.ok(a.ok && b.ok);
    h.run();
    const why = `seed ${seed}`;
    assert.equal(live(alice).length, 1, why);
    assert.equal(live(bob).length, 1, why);
    assert.equal(live(alice)[0].id, live(bob)[0].id, why);
    assert.equal(live(alice)[0].id, [a.value, b.value].sort()[0], why);
    assert.equal(live(alice)[0].state, 'active', why);
    assert.equal(live(bob)[0].state, 'active', why);
    const loser = a.value < b.value ? bob : alice;
    assert.equal(loser.sig.get(a.value < b.value ? b.value : a.value)?.endReason, 'merged', why);
  }
});

test('glare with the callee on three devices, over 200 orders: one call, between the two calling devices', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const h = new Harness(prng(1000 + seed));
    const alice = h.add('alice', 'A');
    const bobs = [h.add('bob', 'B1'), h.add('bob', 'B2'), h.add('bob', 'B3')];
    const a = alice.sig.place('bob', h.now);
    const b = bobs[1].sig.place('alice', h.now);
    assert.ok(a.ok && b.ok);
    h.run();
    const why = `seed ${1000 + seed}`;
    const winner = [a.value, b.value].sort()[0];
    assert.deepEqual(live(alice).map((c) => [c.id, c.state]), [[winner, 'active']], why);
    assert.deepEqual(live(bobs[1]).map((c) => [c.id, c.state]), [[winner, 'active']], why);
    assert.equal(live(bobs[0]).length + live(bobs[2]).length, 0, `${why}: the other devices stopped ringing`);
  }
});

test('first answer wins over 300 orders: one device in the call, the others "answered-elsewhere"', () => {
  let stoppedRinging = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const h = new Harness(prng(2000 + seed));
    const alice = h.add('alice', 'A');
    const bobs = [1, 2, 3, 4].map((i) => h.add('bob', `B${i}`, { autoAnswer: true }));
    const a = alice.sig.place('bob', h.now);
    assert.ok(a.ok);
    h.run();
    const why = `seed ${2000 + seed}`;
    const call = alice.sig.get(a.value)!;
    assert.equal(call.state, 'active', why);
    const inCall = bobs.filter((b) => b.sig.get(a.value)?.state === 'active');
    assert.equal(inCall.length, 1, why);
    assert.equal(inCall[0].id.device, call.device, why);
    // The others stopped ringing — or never rang, when reached only after the answer.
    for (const b of bobs) if (b !== inCall[0]) assert.ok([undefined, 'answered-elsewhere'].includes(b.sig.get(a.value)?.endReason), why);
    stoppedRinging += bobs.filter((b) => b.sig.get(a.value)?.endReason === 'answered-elsewhere').length;
  }
  assert.ok(stoppedRinging > 300, `${stoppedRinging} devices were told answered-elsewhere`);
});

test('timers: nothing rings within the setup timeout → failed; ringing unanswered → no-answer on both sides', () => {
  const h = new Harness(prng(7));
  const alice = h.add('alice', 'A');
  const bob = h.add('bob', 'B');
  const lost = alice.sig.place('carol', h.now);   // carol has no devices reached yet: stays calling
  assert.ok(lost.ok);
  alice.sig.pollOutput();
  alice.sig.handleTimeout(h.now + 19_999);
  assert.equal(alice.sig.get(lost.value)!.state, 'calling');
  alice.sig.handleTimeout(alice.sig.pollTimeout()!);
  assert.equal(alice.sig.get(lost.value)!.endReason, 'failed');

  const id = alice.sig.place('bob', h.now);
  assert.ok(id.ok);
  h.run();
  assert.equal(alice.sig.get(id.value)!.state, 'ringing');
  assert.equal(bob.sig.get(id.value)!.state, 'incoming');
  h.now = bob.sig.pollTimeout()!;
  bob.sig.handleTimeout(h.now);
  h.run();
  assert.equal(bob.sig.get(id.value)!.endReason, 'no-answer');
  assert.equal(alice.sig.get(id.value)!.endReason, 'no-answer');
});

test('hostile signals from every angle never throw, never touch a call they do not belong to, and are counted', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const rng = prng(3000 + seed);
    const h = new Harness(rng);
    const alice = h.add('alice', 'A');
    const bob = h.add('bob', 'B');
    const id = alice.sig.place('bob', h.now);
    assert.ok(id.ok);
    h.run();
    bob.sig.answer(id.value, h.now);
    h.run();
    assert.equal(bob.sig.get(id.value)!.state, 'active');
    const strangers: PeerDevice[] = [{ user: 'mallory', device: 'M' }, { user: 'bob', device: 'B-other' }, { user: 'alice', device: 'A-other' }];
    const ids = [id.value, 'ffffffffffffffff', '', 'x'.repeat(64)];
    const reasons = ['hung-up', 'rejected', 'answered-elsewhere', 'no-answer', 'failed', 'merged', '???'];
    for (const target of [alice, bob]) {
      const before = target.sig.stats.signalsDropped;
      let sent = 0;
      for (let i = 0; i < 40; i++) {
        const from = strangers[rng.int(strangers.length)];
        const callId = ids[rng.int(ids.length)];
        const kinds: Signal[] = [
          { kind: 'answer', callId }, { kind: 'hangup', callId, reason: reasons[rng.int(reasons.length)] },
          { kind: 'hold', callId, held: rng.int(2) === 1 },
        ];
        const reply = target.sig.handleSignal(from, kinds[rng.int(kinds.length)], h.now);
        assert.ok(reply !== 'ok' && reply !== 'ringing', `seed ${3000 + seed}: a stranger got ${reply}`);
        sent++;
      }
      assert.equal(target.sig.stats.signalsDropped - before, sent, `seed ${3000 + seed}`);
      assert.equal(target.sig.get(id.value)!.state, 'active', `seed ${3000 + seed}`);
    }
    // The real peer, out of order: an answer and an invite for a call already in progress.
    const dropped = alice.sig.stats.signalsDropped;
    assert.equal(alice.sig.handleSignal(bob.id, { kind: 'answer', callId: id.value }, h.now), 'ok', 'a repeated answer is idempotent');
    assert.equal(alice.sig.handleSignal(bob.id, { kind: 'hold', callId: id.value, held: false }, h.now), 'out-of-order');
    assert.equal(alice.sig.stats.signalsDropped - dropped, 1);
    assert.equal(alice.sig.get(id.value)!.state, 'active');
  }
});

test('a hold that overtakes the caller\'s confirmation of our answer is taken as the confirmation', () => {
  const bob = new CallSignaling({ random: prng(9).bytes });
  const alice: PeerDevice = { user: 'alice', device: 'A' };
  assert.equal(bob.handleSignal(alice, { kind: 'invite', callId: '01' }, 1), 'ringing');
  assert.ok(bob.answer('01', 2).ok);
  assert.equal(bob.get('01')!.state, 'answering');
  assert.equal(bob.handleSignal(alice, { kind: 'hold', callId: '01', held: true }, 3), 'ok');
  assert.equal(bob.get('01')!.state, 'remote-hold');
  bob.handleReply('01', 'A', 'answer', 'ok', 4);
  assert.equal(bob.get('01')!.state, 'remote-hold');
  assert.equal(bob.handleSignal(alice, { kind: 'hold', callId: '01', held: false }, 5), 'ok');
  assert.equal(bob.get('01')!.state, 'active');
  assert.equal(bob.get('01')!.answeredAtMs, 3);
});
