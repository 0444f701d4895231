import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reachability } from '../../src/nat/reachability.ts';
import { PunchAttempt } from '../../src/nat/punch.ts';
import { addressOfUdpPath } from '../../src/session/paths.ts';
import { prng } from '../helpers/prng.ts';

const bob = { host: '203.0.113.22', port: 5000 };
const alice = { host: '203.0.113.21', port: 5000 };

function setup() {
  const rnd = prng(11);
  const r = new Reachability({ random: rnd.bytes, local: { host: '100.64.1.10', port: 5000 } });
  const results: (string | undefined)[] = [];
  let slow = 0;
  const { key } = r.startOutgoing([bob], 0, (p) => results.push(p), { afterMs: 250, then: () => { slow++; } });
  const peer = new PunchAttempt({ key, candidates: [alice], random: rnd.bytes, now: 0 });
  return { r, peer, results, slow: () => slow };
}

test('a path found before the grace period means no relay is started', () => {
  const { r, peer, results, slow } = setup();
  for (let t = r.pollTransmit(); t; t = r.pollTransmit()) peer.handlePacket('udp:203.0.113.21:5000', alice, t.bytes, 5);
  for (let t = peer.pollTransmit(); t; t = peer.pollTransmit()) assert.ok(r.handleDatagram(`udp:${bob.host}:${bob.port}`, t.bytes, 10));
  assert.deepEqual(results, ['udp:203.0.113.22:5000']);
  r.handleTimeout(300);
  r.hurry(new Uint8Array(16));
  assert.equal(slow(), 0);
});

test('nothing found within the grace period: the slow callback runs once, the result later', () => {
  const { r, results, slow } = setup();
  r.handleTimeout(100);
  assert.equal(slow(), 0);
  r.handleTimeout(260);
  r.handleTimeout(400);
  assert.equal(slow(), 1);
  for (let t = 400; t <= 2000; t += 100) r.handleTimeout(t);
  assert.deepEqual(results, [undefined], 'the attempt ends without a path at its window');
  assert.equal(r.pollTimeout(), undefined);
});

test('datagrams that are not ours go on to the sessions', () => {
  const { r } = setup();
  assert.equal(r.handleDatagram('udp:203.0.113.22:5000', new Uint8Array(32), 1), false);
  assert.equal(r.handleDatagram('udp:203.0.113.22:5000', new Uint8Array(100), 1), false);
  assert.ok(addressOfUdpPath('udp:203.0.113.22:5000'));
});

test('a port mapping makes a symmetric NAT reachable without birthday punching; the classification stays truthful', () => {
  const r = new Reachability({ random: prng(5).bytes, local: { host: '100.64.2.10', port: 5000 } });
  r.addSample({ host: '203.0.113.10', port: 7001 }, { host: '203.0.113.22', port: 40001 });
  r.addSample({ host: '203.0.113.11', port: 7001 }, { host: '203.0.113.22', port: 40777 });
  assert.equal(r.report().needsBirthday, true);
  assert.equal(r.startOutgoing([alice], 0, () => {}).birthday, true);
  r.portMapped = true;
  assert.equal(r.startOutgoing([alice], 0, () => {}).birthday, false, 'peers reach our mapped port from their own socket');
  assert.equal(r.report().needsBirthday, true, 'netcheck still says what the NAT does');
});
