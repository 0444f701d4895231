import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyNat } from '../../src/nat/classify.ts';

const local = { host: '100.64.1.10', port: 5000 };
const s1 = { host: '203.0.113.10', port: 7001 };
const s1b = { host: '203.0.113.10', port: 7002 };
const s2 = { host: '203.0.113.11', port: 7001 };
const pub = (port: number) => ({ host: '203.0.113.21', port });

test('no answers at all: UDP is blocked', () => {
  assert.equal(classifyNat(local, []).kind, 'udp-blocked');
});

test('seen at our own address: no NAT', () => {
  const r = classifyNat(local, [{ server: s1, observed: local }, { server: s2, observed: local }]);
  assert.equal(r.kind, 'public');
  assert.equal(r.needsBirthday, false);
});

test('one public port for every server, filtering decides the cone type', () => {
  const m = [{ server: s1, observed: pub(5000) }, { server: s2, observed: pub(5000) }];
  assert.equal(classifyNat(local, m, [{ fromOtherIp: true, fromOtherPort: true, received: true }]).kind, 'full-cone');
  assert.equal(classifyNat(local, m, [
    { fromOtherIp: true, fromOtherPort: true, received: false }, { fromOtherIp: false, fromOtherPort: true, received: true },
  ]).kind, 'address-restricted');
  const pr = classifyNat(local, m, [
    { fromOtherIp: true, fromOtherPort: true, received: false }, { fromOtherIp: false, fromOtherPort: true, received: false },
  ]);
  assert.equal(pr.kind, 'port-restricted');
  assert.equal(pr.mapping, 'endpoint-independent');
  assert.equal(pr.needsBirthday, false);
  assert.equal(classifyNat(local, m).filtering, 'unknown', 'without filtering samples we do not guess');
  assert.equal(classifyNat(local, m).kind, 'cone');
});

test('a port per destination is symmetric and needs birthday punching', () => {
  const r = classifyNat(local, [{ server: s1, observed: pub(40001) }, { server: s2, observed: pub(51234) }]);
  assert.equal(r.kind, 'symmetric');
  assert.equal(r.mapping, 'address-and-port-dependent');
  assert.equal(r.needsBirthday, true);
  assert.deepEqual(r.publicAddresses, ['203.0.113.21:40001', '203.0.113.21:51234']);
});

test('same port per server IP but another per IP: address-dependent mapping', () => {
  const r = classifyNat(local, [
    { server: s1, observed: pub(4000) }, { server: s1b, observed: pub(4000) }, { server: s2, observed: pub(4100) },
  ]);
  assert.equal(r.mapping, 'address-dependent');
});

test('answers from a single server cannot tell the mapping', () => {
  assert.equal(classifyNat(local, [{ server: s1, observed: pub(4000) }]).mapping, 'unknown');
});
