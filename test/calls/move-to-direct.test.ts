// A call that starts on a relay moves to a direct session when one comes up, and never back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallManager } from '../../src/calls/call-manager.ts';
import { ok } from '../../src/wire/result.ts';
import { prng } from '../helpers/prng.ts';

const relay = 'relay:203.0.113.11:7001#42';
const direct = 'udp:203.0.113.22:5000';

function manager() {
  const rnd = prng(9);
  const sent: string[] = [];
  const m = new CallManager({
    connectToUser: (_u, _now, cb) => cb(ok(relay)),
    request: (path) => { sent.push(path); },
    sendDatagram: (path) => { sent.push(path); },
    random: rnd.bytes,
  });
  return { m, sent };
}

test('a relayed call moves to the direct path, and later signalling follows it', () => {
  const { m, sent } = manager();
  let id = '';
  id = m.call('bob', 0, () => {});
  assert.equal(m.get(id)!.via, relay);
  assert.equal(m.get(id)!.path, 'relay');
  m.moveToDirect('bob', direct, 10);
  assert.equal(m.get(id)!.via, direct);
  assert.equal(m.get(id)!.path, 'direct');
  m.hangup(id, 20);
  assert.equal(sent.at(-1), direct, 'the hangup goes on the direct path');
});

test('a direct call never moves to a relay, and other users’ calls do not move', () => {
  const { m } = manager();
  const id = m.call('bob', 0, () => {});
  m.moveToDirect('carol', direct, 5);
  assert.equal(m.get(id)!.via, relay);
  m.moveToDirect('bob', direct, 10);
  m.moveToDirect('bob', 'relay:203.0.113.10:7001#7', 20);
  assert.equal(m.get(id)!.via, direct);
});
