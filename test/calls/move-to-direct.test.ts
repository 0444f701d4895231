// A call that starts on a relay moves to a direct session when one comes up, and never back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallManager } from '../../src/calls/call-manager.ts';
import { CallRinging, CallAnswer } from '../../src/calls/protocol.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { ok } from '../../src/wire/result.ts';
import type { ReplyHandler } from '../../src/session/rpc.ts';
import { prng } from '../helpers/prng.ts';

const relay = 'relay:203.0.113.11:7001#42';
const direct = 'udp:203.0.113.22:5000';
const device = 'bob-laptop-key';

/** A manager whose callee rings at once on one device, reached through the relay. */
function manager() {
  const rnd = prng(9);
  const sent: string[] = [];
  let now = 0;
  const m = new CallManager({
    now: () => now,
    findDevices: (_u, _now, cb) => cb(ok([device])),
    connectToDevice: (_u, _d, _now, cb) => cb(ok(relay)),
    request: (path, bytes, t, cb: ReplyHandler) => {
      sent.push(path);
      now = t;
      const invite = decodeMessage(bytes);
      if (!invite.ok) return;
      const callId = [...m.list()].at(-1)?.id ?? '';
      const ringing = decodeMessage(CallRinging.toBytes({ callId }));
      if (ringing.ok) cb(ok({ path, peer: undefined as never, message: ringing.value }));
    },
    sendDatagram: (path) => { sent.push(path); },
    random: rnd.bytes,
  });
  return { m, sent };
}

/** Bob's device answers over the relay: the call is in call, pinned to that device. */
function answered(m: CallManager): string {
  const id = m.call('bob', 0, () => {})!;
  const answer = decodeMessage(CallAnswer.toBytes({ callId: id }));
  assert.ok(answer.ok);
  m.consumeRequest(relay, { user: 'bob', device }, answer.value, 5, () => {});
  assert.equal(m.get(id)!.state, 'active');
  return id;
}

test('a relayed call moves to the direct path, and later signalling follows it', () => {
  const { m, sent } = manager();
  const id = answered(m);
  assert.equal(m.get(id)!.via, relay);
  assert.equal(m.get(id)!.path, 'relay');
  assert.equal(m.get(id)!.movedToDirectAtMs, undefined);
  m.moveToDirect(device, direct, 10);
  assert.equal(m.get(id)!.via, direct);
  assert.equal(m.get(id)!.path, 'direct');
  assert.equal(m.get(id)!.movedToDirectAtMs, 10, 'the call says when it moved');
  m.hangup(id, 20);
  assert.equal(sent.at(-1), direct, 'the hangup goes on the direct path');
});

test('a direct call never moves to a relay, and other devices’ calls do not move', () => {
  const { m } = manager();
  const id = answered(m);
  m.moveToDirect('carol-phone-key', direct, 5);
  assert.equal(m.get(id)!.via, relay);
  m.moveToDirect(device, direct, 10);
  m.moveToDirect(device, 'relay:203.0.113.10:7001#7', 20);
  assert.equal(m.get(id)!.via, direct);
});
