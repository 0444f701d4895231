import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BindingTimeoutProbe, defaultKeepaliveMs } from '../../src/nat/binding-timeout.ts';
import { BindingEchoes } from '../../src/nat/binding-echo.ts';
import { BindingProbe, BindingEcho } from '../../src/nat/protocol.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { prng } from '../helpers/prng.ts';

/** Runs the probe against a simulated NAT that forgets idle bindings after lifetimeMs, with a real BindingEchoes. */
function measure(lifetimeMs: number, ladderMs?: number[], lose = new Set<number>()) {
  const rng = prng(7);
  const probe = new BindingTimeoutProbe({ random: (n) => Uint8Array.from({ length: n }, () => rng.int(256)), ladderMs });
  const sn = new BindingEchoes();
  let now = 0, probes = 0;
  let lastTraffic = 0;
  probe.start(now);
  for (let guard = 0; guard < 100; guard++) {
    const p = probe.pollProbe();
    if (p) {
      const m = decodeMessage(BindingProbe.toBytes(p));
      assert.ok(m.ok);
      const reply = decodeMessage(sn.consume('udp:198.51.100.7:4000', m.value, now));
      assert.ok(reply.ok);
      probe.sent(p.nonce, now);
      lastTraffic = now;
      probes++;
    }
    const t = [sn.pollTimeout(), probe.pollTimeout()].filter((x): x is number => x !== undefined);
    if (t.length === 0) break;
    now = Math.min(...t);
    for (const echo of sn.due(now)) {
      // The NAT lets the echo in only while the binding lives; a lost packet never arrives.
      if (now - lastTraffic >= lifetimeMs || lose.has(probes)) continue;
      const e = decodeMessage(echo.bytes);
      assert.ok(e.ok);
      const q = BindingEcho.decode(e.value.body);
      assert.ok(q.ok);
      lastTraffic = now;
      probe.handleEcho(q.value.nonce, now);
    }
    probe.handleTimeout(now);
  }
  return { ...probe.result(), probes };
}

test('a 30 s NAT: bindings live ≥ 20 s and < 40 s, keep-alives every 16 s', () => {
  const r = measure(30_000);
  assert.deepEqual([r.state, r.aliveMs, r.expiredMs, r.keepaliveMs], ['done', 20_000, 40_000, 16_000]);
  assert.equal(r.probes, 5, '5, 10, 20 s worked; 40 s failed twice');
});

test('a lost echo is tried again before it counts', () => {
  const r = measure(30_000, undefined, new Set([2]));
  assert.deepEqual([r.aliveMs, r.expiredMs], [20_000, 40_000]);
  assert.equal(r.probes, 6);
});

test('a NAT that keeps bindings for minutes: keep-alives at most every 60 s', () => {
  const r = measure(600_000);
  assert.deepEqual([r.state, r.aliveMs, r.expiredMs, r.keepaliveMs], ['done', 80_000, undefined, 60_000]);
});

test('a NAT that forgets within the shortest delay: keep-alives well inside it', () => {
  const r = measure(1500, [2000, 4000]);
  assert.deepEqual([r.aliveMs, r.expiredMs, r.keepaliveMs], [undefined, 2000, 1000]);
});

test('the default until measured, and when the supernode refuses', () => {
  const p = new BindingTimeoutProbe({ random: () => new Uint8Array(4) });
  assert.equal(p.result().keepaliveMs, defaultKeepaliveMs);
  p.start(0);
  p.failed();
  assert.deepEqual([p.result().state, p.result().keepaliveMs], ['failed', defaultKeepaliveMs]);
});

test('the supernode holds one echo per path and refuses absurd delays', () => {
  const sn = new BindingEchoes();
  const probe = (delayMs: number, nonce: number) => {
    const m = decodeMessage(BindingProbe.toBytes({ delayMs, nonce }));
    assert.ok(m.ok);
    return decodeMessage(sn.consume('udp:198.51.100.7:4000', m.value, 0));
  };
  const bad = probe(10 * 60_000, 1);
  assert.ok(bad.ok && bad.value.command !== BindingEcho.command);
  probe(1000, 2);
  probe(2000, 3);
  assert.equal(sn.pollTimeout(), 2000);
  assert.equal(sn.due(2000).length, 1);
  assert.equal(sn.pollTimeout(), undefined);
});
