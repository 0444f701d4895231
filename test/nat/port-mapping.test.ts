import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatPmpClient } from '../../src/nat/port-mapping.ts';

const gw = 'udp:100.64.1.1:5351';

function answer(op: number, result: number, epochS: number, rest: number[]): Uint8Array {
  const b = new Uint8Array(op === 0 ? 12 : 16);
  const v = new DataView(b.buffer);
  b[1] = 128 + op;
  v.setUint16(2, result);
  v.setUint32(4, epochS);
  if (op === 0) b.set(rest, 8);
  else { v.setUint16(8, rest[0]); v.setUint16(10, rest[1]); v.setUint32(12, rest[2]); }
  return b;
}

function drain(c: NatPmpClient) { const out = []; for (let t = c.pollTransmit(); t; t = c.pollTransmit()) out.push(t); return out; }

test('asks for the public address and a UDP mapping of our port, in RFC 6886 bytes', () => {
  const c = new NatPmpClient({ gateway: { host: '100.64.1.1', port: 0 }, internalPort: 5000, lifetimeS: 600 });
  c.start(0);
  const out = drain(c);
  assert.deepEqual(out.map((t) => t.path), [gw, gw]);
  assert.deepEqual([...out[0].bytes], [0, 0]);
  assert.deepEqual([...out[1].bytes], [0, 1, 0, 0, 0x13, 0x88, 0x13, 0x88, 0, 0, 0x02, 0x58]);
  assert.ok(c.handleDatagram(gw, answer(0, 0, 100, [203, 0, 113, 21]), 10));
  assert.ok(c.handleDatagram(gw, answer(1, 0, 100, [5000, 40000, 600]), 12));
  assert.deepEqual(c.result(), { state: 'mapped', gateway: '100.64.1.1', publicAddress: '203.0.113.21', externalPort: 40000, lifetimeS: 600, error: undefined });
  // Renewed at half the lifetime.
  assert.equal(c.pollTimeout(), 12 + 300_000);
  c.handleTimeout(12 + 300_000);
  assert.deepEqual([...drain(c)[0].bytes].slice(0, 2), [0, 1]);
});

test('retries four times, then goes on without a mapping', () => {
  const c = new NatPmpClient({ gateway: { host: '100.64.1.1', port: 0 }, internalPort: 5000 });
  c.start(0);
  let sent = drain(c).length;
  for (let i = 0; i < 10 && c.pollTimeout() !== undefined; i++) { c.handleTimeout(c.pollTimeout()!); sent += drain(c).length; }
  assert.equal(sent, 8, 'two requests, four tries each');
  assert.equal(c.result().state, 'no-answer');
});

test('a refusal is reported in the gateway\'s words; other senders and junk are not ours', () => {
  const c = new NatPmpClient({ gateway: { host: '100.64.1.1', port: 0 }, internalPort: 5000 });
  c.start(0);
  assert.equal(c.handleDatagram('udp:203.0.113.10:5351', answer(1, 0, 1, [5000, 1, 60]), 1), false);
  assert.equal(c.handleDatagram(gw, Uint8Array.of(1, 2, 3), 1), false);
  assert.ok(c.handleDatagram(gw, answer(1, 2, 1, [5000, 0, 0]), 1));
  assert.deepEqual([c.result().state, c.result().error], ['refused', 'not authorized / refused']);
});

test('a gateway that restarted (epoch went back) is asked for the mapping again', () => {
  const c = new NatPmpClient({ gateway: { host: '100.64.1.1', port: 0 }, internalPort: 5000 });
  c.start(0);
  drain(c);
  c.handleDatagram(gw, answer(0, 0, 1000, [203, 0, 113, 21]), 0);
  c.handleDatagram(gw, answer(1, 0, 1000, [5000, 5000, 3600]), 0);
  c.handleDatagram(gw, answer(0, 0, 5, [203, 0, 113, 21]), 60_000);
  assert.deepEqual([...drain(c)[0].bytes].slice(0, 2), [0, 1]);
});
