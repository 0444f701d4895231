import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortMapper } from '../../src/nat/port-mapper.ts';
import type { UpnpRequest } from '../../src/nat/upnp-igd.ts';

const gw = 'udp:100.64.2.1:5351';
let seed = 3;
const random = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256);
const mapper = (protocols?: ('pcp' | 'nat-pmp' | 'upnp-igd')[]) =>
  new PortMapper({ gateway: { host: '100.64.2.1', port: 0 }, internalHost: '100.64.2.10', internalPort: 5000, random, protocols, lifetimeS: 600 });
function sent(m: PortMapper) { const out = []; for (let t = m.pollTransmit(); t; t = m.pollTransmit()) out.push(t); return out; }
function requests(m: PortMapper) { const out: UpnpRequest[] = []; for (let r = m.pollRequest(); r; r = m.pollRequest()) out.push(r); return out; }
function runOut(m: PortMapper) { for (let i = 0; i < 50 && m.pollTimeout() !== undefined; i++) { m.handleTimeout(m.pollTimeout()!); sent(m); requests(m); } }

function pcpAnswer(request: Uint8Array, ext = 5000): Uint8Array {
  const b = new Uint8Array(60);
  const v = new DataView(b.buffer);
  b[0] = 2; b[1] = 0x81;
  v.setUint32(4, 600); v.setUint32(8, 50);
  b.set(request.subarray(24, 44), 24);   // nonce, protocol, internal port
  v.setUint16(42, ext);
  b[54] = 0xff; b[55] = 0xff; b.set([203, 0, 113, 22], 56);
  return b;
}

test('PCP first (UPnP-IGD alongside); a PCP grant is kept and UPnP-IGD stood down', () => {
  const m = mapper();
  m.start(0);
  const out = sent(m);
  assert.deepEqual(out.map((t) => [t.path, t.bytes[0]]), [[gw, 2]], 'only PCP on port 5351 at first');
  assert.ok(requests(m).some((r) => r.kind === 'ssdp'));
  assert.ok(m.handleDatagram(gw, pcpAnswer(out[0].bytes), 10));
  const r = m.result();
  assert.deepEqual([r.state, r.protocol, r.publicAddress, r.externalPort], ['mapped', 'pcp', '203.0.113.22', 5000]);
  assert.deepEqual(r.attempts.map((a) => [a.protocol, a.state]), [['pcp', 'mapped'], ['upnp-igd', 'not needed']]);
  m.release(20);
  assert.deepEqual([...sent(m)[0].bytes.subarray(4, 8)], [0, 0, 0, 0], 'deleted with lifetime 0');
});

test('a NAT-PMP-only gateway: PCP hears "unsupported version", NAT-PMP gets the mapping', () => {
  const m = mapper(['pcp', 'nat-pmp']);
  m.start(0);
  sent(m);
  m.handleDatagram(gw, Uint8Array.of(0, 129, 0, 1, 0, 0, 0, 9), 5);
  const pmp = sent(m);
  assert.deepEqual(pmp.map((t) => t.bytes[0]), [0, 0], 'NAT-PMP: public address and mapping requests');
  const v = (b: number[]) => Uint8Array.from(b);
  m.handleDatagram(gw, v([0, 128, 0, 0, 0, 0, 0, 9, 203, 0, 113, 22]), 6);
  m.handleDatagram(gw, v([0, 129, 0, 0, 0, 0, 0, 9, 0x13, 0x88, 0x9c, 0x40, 0, 0, 2, 0x58]), 7);
  const r = m.result();
  assert.deepEqual([r.state, r.protocol, r.publicAddress, r.externalPort], ['mapped', 'nat-pmp', '203.0.113.22', 40000]);
});

test('no gateway answers: each protocol says so, within bounded time', () => {
  const m = mapper();
  m.start(0);
  sent(m); requests(m);
  runOut(m);
  const r = m.result();
  assert.equal(r.state, 'no-answer');
  assert.deepEqual(r.attempts.map((a) => [a.protocol, a.state]), [['pcp', 'no-answer'], ['nat-pmp', 'no-answer'], ['upnp-igd', 'no-answer']]);
  assert.equal(m.pollTimeout(), undefined, 'nothing left to do');
});

test('once PCP holds the mapping, a UPnP-IGD reply still in flight is ignored', () => {
  const m = mapper(['pcp', 'upnp-igd']);
  m.start(0);
  const [pcpReq] = sent(m);
  requests(m);
  m.handleSsdp({ host: '100.64.2.1', port: 1900 }, new TextEncoder().encode('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:service:WANIPConnection:1\r\nLOCATION: http://100.64.2.1:2869/d.xml\r\n\r\n'), 1);
  const [get] = requests(m) as Extract<UpnpRequest, { kind: 'http' }>[];
  m.handleDatagram(gw, pcpAnswer(pcpReq.bytes, 5000), 2);
  assert.equal(m.result().protocol, 'pcp');
  m.handleHttp(get.id, { status: 200, body: '' }, 3);   // stood down: ignored
  assert.equal(requests(m).length, 0);
  assert.equal(m.result().state, 'mapped');
});

test('hostile datagrams to the mapper never throw and never map', () => {
  const m = mapper();
  m.start(0);
  sent(m);
  for (let i = 0; i < 3000; i++) {
    const b = random(random(1)[0] % 80);
    if (i % 3 === 0 && b.length > 1) b[0] = i % 2 ? 2 : 0;
    m.handleDatagram(gw, b, i);
    m.handleSsdp({ host: '100.64.2.1', port: 1900 }, b, i);
    m.handleHttp(i, { status: 200, body: new TextDecoder().decode(b) }, i);
  }
  assert.notEqual(m.result().state, 'mapped');
});
