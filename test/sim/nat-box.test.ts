// The simulator's NAT against RFC 4787's definitions: which outgoing flows share a binding
// (mapping, §4.1), which outside sources get in through one (filtering, §5), and how long an
// idle binding lives (REQ-5/REQ-6: refreshed by outbound traffic only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatBox, natPresets, type NatMapping, type NatFiltering } from '../../src/sim/nat-box.ts';
import { classifyNat } from '../../src/nat/classify.ts';
import type { Address } from '../../src/wire/address.ts';

const inside: Address = { host: '100.64.1.10', port: 5000 };
const x1: Address = { host: '203.0.113.20', port: 7001 };
const x1b: Address = { host: '203.0.113.20', port: 7002 };   // same IP, another port
const x2: Address = { host: '203.0.113.21', port: 7001 };    // another IP
const pub = '198.51.100.200';
const t0 = 1_000_000;

const box = (mapping: NatMapping, filtering: NatFiltering = 'endpoint-independent', bindingTimeoutMs = 120_000) =>
  new NatBox(pub, { mapping, filtering, bindingTimeoutMs }, 7);

test('endpoint-independent mapping: one public address for every destination', () => {
  const n = box('endpoint-independent');
  const a = n.outbound(inside, x1, t0), b = n.outbound(inside, x1b, t0), c = n.outbound(inside, x2, t0);
  assert.equal(a?.host, pub);
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
  assert.equal(n.stats.bindings, 1);
});

test('address-dependent mapping: one public address per destination IP, whatever its port', () => {
  const n = box('address-dependent');
  const a = n.outbound(inside, x1, t0), b = n.outbound(inside, x1b, t0), c = n.outbound(inside, x2, t0);
  assert.deepEqual(b, a);
  assert.notDeepEqual(c, a);
});

test('address-and-port-dependent mapping: a new public address per destination IP and port', () => {
  const n = box('address-and-port-dependent');
  const a = n.outbound(inside, x1, t0), b = n.outbound(inside, x1b, t0), c = n.outbound(inside, x2, t0);
  assert.notDeepEqual(b, a);
  assert.notDeepEqual(c, a);
  assert.notDeepEqual(c, b);
  assert.deepEqual(n.outbound(inside, x1, t0 + 5), a, 'the same destination again reuses its binding');
});

test('two inside hosts never share a binding; ports are not preserved', () => {
  const n = box('endpoint-independent');
  const a = n.outbound(inside, x1, t0)!, b = n.outbound({ host: '100.64.1.11', port: 5000 }, x1, t0)!;
  assert.notEqual(a.port, b.port);
  assert.deepEqual(n.inbound(a, x1, t0), inside);
  assert.deepEqual(n.inbound(b, x1, t0), { host: '100.64.1.11', port: 5000 });
});

test('endpoint-independent filtering: anyone reaches an existing binding, nobody reaches a port without one', () => {
  const n = box('endpoint-independent', 'endpoint-independent');
  const p = n.outbound(inside, x1, t0)!;
  assert.deepEqual(n.inbound(p, x1, t0), inside);
  assert.deepEqual(n.inbound(p, x2, t0), inside);
  assert.equal(n.inbound({ host: pub, port: p.port === 65535 ? 1024 : p.port + 1 }, x1, t0), undefined);
  assert.equal(n.lastDrop, 'no-binding');
});

test('address-dependent filtering: only IPs the inside host sent to, from any of their ports', () => {
  const n = box('endpoint-independent', 'address-dependent');
  const p = n.outbound(inside, x1, t0)!;
  assert.deepEqual(n.inbound(p, x1b, t0), inside);
  assert.equal(n.inbound(p, x2, t0), undefined);
  assert.equal(n.lastDrop, 'filtered');
  n.outbound(inside, x2, t0 + 1);
  assert.deepEqual(n.inbound(p, x2, t0 + 2), inside, 'after sending to it, the other IP gets in');
});

test('address-and-port-dependent filtering: only the exact IP:port pairs the inside host sent to', () => {
  const n = box('endpoint-independent', 'address-and-port-dependent');
  const p = n.outbound(inside, x1, t0)!;
  assert.deepEqual(n.inbound(p, x1, t0), inside);
  assert.equal(n.inbound(p, x1b, t0), undefined);
  assert.equal(n.inbound(p, x2, t0), undefined);
  assert.equal(n.stats.filtered, 2);
});

test('a binding expires after bindingTimeoutMs without outbound traffic; inbound traffic does not refresh it', () => {
  const n = box('endpoint-independent', 'endpoint-independent', 30_000);
  const p = n.outbound(inside, x1, t0)!;
  for (let t = t0 + 10_000; t < t0 + 30_000; t += 10_000) assert.deepEqual(n.inbound(p, x1, t), inside);
  assert.equal(n.inbound(p, x1, t0 + 30_000), undefined);
  assert.equal(n.lastDrop, 'expired');
  const again = n.outbound(inside, x1, t0 + 31_000)!;
  assert.notEqual(again.port, p.port, 'a new binding, on a new port');
});

test('outbound traffic refreshes the binding and the permission it sent to', () => {
  const n = box('endpoint-independent', 'address-and-port-dependent', 30_000);
  const p = n.outbound(inside, x1, t0)!;
  n.outbound(inside, x2, t0);
  for (let t = t0 + 20_000; t <= t0 + 100_000; t += 20_000) assert.deepEqual(n.outbound(inside, x1, t), p);
  assert.deepEqual(n.inbound(p, x1, t0 + 120_000), inside, 'kept alive by the refreshes');
  assert.equal(n.inbound(p, x2, t0 + 120_000), undefined, 'the permission for the other endpoint lapsed on its own');
});

test('no hairpinning: a datagram to the NAT\'s own public address is dropped', () => {
  const n = box('endpoint-independent');
  assert.equal(n.outbound(inside, { host: pub, port: 4000 }, t0), undefined);
  assert.equal(n.stats.hairpinDropped, 1);
});

test('the presets are the NAT lab\'s types, as classify.ts names them from what a node observes', () => {
  const servers = [x1, x2, { host: '203.0.113.21', port: 7002 }];
  for (const [name, behaviour] of Object.entries(natPresets)) {
    const n = new NatBox(pub, behaviour, 3);
    const samples = servers.map((server) => ({ server, observed: n.outbound(inside, server, t0)! }));
    // Filtering as RFC 5780 tests it: answers from another IP, and from the same IP's other port.
    const probe = (from: Address) => n.inbound(samples[0].observed, from, t0) !== undefined;
    const filtering = [
      { fromOtherIp: true, fromOtherPort: true, received: probe({ host: '203.0.113.99', port: 7001 }) },
      { fromOtherIp: false, fromOtherPort: true, received: probe(x1b) },
    ];
    assert.equal(classifyNat(inside, samples, filtering).kind, name, name);
  }
});

test('the same seed allocates the same ports; random allocation spreads them', () => {
  const ports = (seed: number) => {
    const n = new NatBox(pub, 'symmetric', seed);
    return Array.from({ length: 256 }, (_, i) => n.outbound(inside, { host: '203.0.113.30', port: 2000 + i }, t0)!.port);
  };
  assert.deepEqual(ports(5), ports(5));
  assert.notDeepEqual(ports(5), ports(6));
  const p = ports(5);
  assert.equal(new Set(p).size, 256);
  assert.ok(Math.max(...p) - Math.min(...p) > 30_000, 'spread over the port range');
});
