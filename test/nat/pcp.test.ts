import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PcpClient, encodeMapRequest, decodeMapResponse } from '../../src/nat/pcp.ts';

const gw = 'udp:100.64.2.1:5351';
const nonce = Uint8Array.from({ length: 12 }, (_, i) => i + 1);

/** A MAP response as RFC 6887 §7.2 / §11.1 lay it out. */
function answer(o: { result?: number; lifetimeS?: number; epochS?: number; nonce?: Uint8Array; internalPort?: number; externalPort?: number; ip?: number[] }): Uint8Array {
  const b = new Uint8Array(60);
  const v = new DataView(b.buffer);
  b[0] = 2; b[1] = 0x81; b[3] = o.result ?? 0;
  v.setUint32(4, o.lifetimeS ?? 3600);
  v.setUint32(8, o.epochS ?? 100);
  b.set(o.nonce ?? nonce, 24);
  b[36] = 17;
  v.setUint16(40, o.internalPort ?? 5000);
  v.setUint16(42, o.externalPort ?? 5000);
  b[54] = 0xff; b[55] = 0xff;
  b.set(o.ip ?? [203, 0, 113, 22], 56);
  return b;
}

function drain(c: PcpClient) { const out = []; for (let t = c.pollTransmit(); t; t = c.pollTransmit()) out.push(t); return out; }
const client = () => new PcpClient({ gateway: { host: '100.64.2.1', port: 0 }, internalHost: '100.64.2.10', internalPort: 5000, nonce, lifetimeS: 600 });

test('a MAP request in RFC 6887 bytes: version 2, opcode 1, lifetime, our address IPv4-mapped, nonce, UDP, ports', () => {
  const b = encodeMapRequest({ internalHost: '100.64.2.10', internalPort: 5000, externalPort: 5000, lifetimeS: 600, nonce });
  assert.equal(b.length, 60);
  assert.deepEqual([...b.subarray(0, 8)], [2, 1, 0, 0, 0, 0, 0x02, 0x58]);
  assert.deepEqual([...b.subarray(8, 24)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 100, 64, 2, 10]);
  assert.deepEqual([...b.subarray(24, 36)], [...nonce]);
  assert.deepEqual([...b.subarray(36, 44)], [17, 0, 0, 0, 0x13, 0x88, 0x13, 0x88]);
  assert.deepEqual([...b.subarray(44, 60)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]);
});

test('maps, renews at half the lifetime with the same nonce, and deletes with lifetime 0', () => {
  const c = client();
  c.start(0);
  const [req] = drain(c);
  assert.equal(req.path, gw);
  assert.ok(c.handleDatagram(gw, answer({ lifetimeS: 600 }), 5));
  assert.deepEqual(c.result(), { state: 'mapped', gateway: '100.64.2.1', publicAddress: '203.0.113.22', externalPort: 5000, lifetimeS: 600, error: undefined });
  assert.equal(c.pollTimeout(), 5 + 300_000);
  c.handleTimeout(5 + 300_000);
  const [renew] = drain(c);
  assert.deepEqual([...renew.bytes.subarray(24, 36)], [...nonce]);
  c.handleDatagram(gw, answer({ lifetimeS: 600, epochS: 400 }), 300_010);
  c.release(300_020);
  const [del] = drain(c);
  assert.deepEqual([...del.bytes.subarray(4, 8)], [0, 0, 0, 0]);
  assert.equal(c.pollTimeout(), undefined);
});

test('an answer with another nonce, port or sender is not taken for ours', () => {
  const c = client();
  c.start(0);
  drain(c);
  assert.equal(c.handleDatagram('udp:203.0.113.10:5351', answer({}), 1), false);
  c.handleDatagram(gw, answer({ nonce: new Uint8Array(12) }), 1);
  c.handleDatagram(gw, answer({ internalPort: 5001 }), 1);
  assert.equal(c.result().state, 'trying');
});

test('refusals in the gateway\'s words; a NAT-PMP-only gateway ends PCP at once', () => {
  const c = client();
  c.start(0);
  c.handleDatagram(gw, answer({ result: 2, lifetimeS: 30 }), 1);
  assert.deepEqual([c.result().state, c.result().error], ['refused', 'not authorized']);
  const d = client();
  d.start(0);
  assert.ok(d.handleDatagram(gw, Uint8Array.of(0, 129, 0, 1, 0, 0, 0, 9), 1));
  assert.deepEqual([d.result().state, d.unsupported], ['refused', true]);
});

test('silence: four tries, then no answer', () => {
  const c = client();
  c.start(0);
  let sent = drain(c).length;
  for (let i = 0; i < 10 && c.pollTimeout() !== undefined; i++) { c.handleTimeout(c.pollTimeout()!); sent += drain(c).length; }
  assert.equal(sent, 4);
  assert.equal(c.result().state, 'no-answer');
});

test('hostile answers never throw: truncated, oversized, random bytes', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  const c = client();
  c.start(0);
  for (let i = 0; i < 2000; i++) {
    const len = rnd() % 4 === 0 ? 60 : rnd();
    const b = Uint8Array.from({ length: len }, rnd);
    if (len >= 2 && i % 2) { b[0] = 2; b[1] = 0x81; }
    c.handleDatagram(gw, b, i);
    decodeMapResponse(b);
  }
  assert.equal(decodeMapResponse(new Uint8Array(2000)), undefined);
  assert.ok(['trying', 'refused', 'mapped', 'no-answer'].includes(c.result().state));
});
