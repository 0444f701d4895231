// Hole punching through modelled NATs in virtual time: a cone NAT (one public port per inside
// socket, filtering by remote address and port) and a symmetric one (a fresh random public port
// per inside socket and destination). The same PunchAttempt code runs in the node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PunchAttempt, type BirthdayRole } from '../../src/nat/punch.ts';
import { parseSocketPath, addressOfUdpPath, udpPath, socketPath } from '../../src/session/paths.ts';
import { prng } from '../helpers/prng.ts';
import type { Address } from '../../src/wire/address.ts';

type Kind = 'cone' | 'symmetric';
interface Nat { ip: string; kind: Kind; out: Map<string, number>; inbound: Map<number, { socket: number; allowed: Set<string> }> }

function nat(ip: string, kind: Kind): Nat { return { ip, kind, out: new Map(), inbound: new Map() }; }

/** Sends from inside socket `socket` to `to`; returns the public source address. */
function outbound(n: Nat, socket: number, to: Address, rnd: ReturnType<typeof prng>): Address {
  const key = n.kind === 'cone' ? `${socket}` : `${socket}>${to.host}:${to.port}`;
  let port = n.out.get(key);
  if (port === undefined) {
    do { port = n.kind === 'cone' ? 5000 + socket : 1024 + rnd.int(64512); } while (n.inbound.has(port) && n.inbound.get(port)!.socket !== socket);
    n.out.set(key, port);
  }
  if (!n.inbound.has(port)) n.inbound.set(port, { socket, allowed: new Set() });
  n.inbound.get(port)!.allowed.add(`${to.host}:${to.port}`);
  return { host: n.ip, port };
}

function inbound(n: Nat, from: Address, port: number): number | undefined {
  const m = n.inbound.get(port);
  return m && m.allowed.has(`${from.host}:${from.port}`) ? m.socket : undefined;
}

function run(kindA: Kind, kindB: Kind, roleA: BirthdayRole, roleB: BirthdayRole, seed: number) {
  const rnd = prng(seed);
  const key = new Uint8Array(16).fill(7);
  const na = nat('203.0.113.21', kindA), nb = nat('203.0.113.22', kindB);
  // What the supernode saw: each side's mapping towards the server.
  const server = { host: '203.0.113.10', port: 7001 };
  const aSeen = outbound(na, 0, server, rnd), bSeen = outbound(nb, 0, server, rnd);
  const a = new PunchAttempt({ key, candidates: [bSeen], random: rnd.bytes, now: 0, birthday: roleA, windowMs: 4000, lingerMs: 0 });
  const b = new PunchAttempt({ key, candidates: [aSeen], random: rnd.bytes, now: 0, birthday: roleB, windowMs: 4000, lingerMs: 0 });
  const sides = [{ p: a, n: na }, { p: b, n: nb }];
  let now = 0;
  for (; now <= 4000 && !(a.result && b.result); now += 5) {
    for (const [i, s] of sides.entries()) {
      s.p.handleTimeout(now);
      const other = sides[1 - i];
      for (let t = s.p.pollTransmit(); t; t = s.p.pollTransmit()) {
        const sp = parseSocketPath(t.path);
        const to = sp?.address ?? addressOfUdpPath(t.path)!;
        const socket = sp ? sp.socket + 1 : 0;     // socket 0 is the main one
        const from = outbound(s.n, socket, to, rnd);
        if (to.host !== other.n.ip) continue;
        const into = inbound(other.n, from, to.port);
        if (into === undefined) continue;
        const path = into === 0 ? udpPath(from) : socketPath(into - 1, from);
        assert.ok(other.p.handlePacket(path, from, t.bytes, now));
      }
    }
  }
  return { a, b, now };
}

test('cone ↔ cone: both sides find the path in a couple of rounds', () => {
  const { a, b, now } = run('cone', 'cone', undefined, undefined, 1);
  assert.ok(a.result && b.result);
  assert.ok(now <= 100, `took ${now} ms of virtual time`);
});

test('symmetric ↔ cone without birthday fails; peer-reflexive learning alone cannot open a port-restricted NAT', () => {
  const { a } = run('symmetric', 'cone', undefined, undefined, 2);
  assert.equal(a.result, undefined);
});

test('symmetric ↔ cone with birthday punching succeeds within the bounds, in 20 of 20 seeds', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { a, b } = run('symmetric', 'cone', 'open', 'probe', seed * 7919);
    assert.ok(a.result?.startsWith('s'), `seed ${seed}: the symmetric side found a path on one of its sockets (${a.result})`);
    assert.ok(b.result, `seed ${seed}: the cone side got an ack`);
    assert.ok(b.stats.randomProbes <= 3072, 'probes stay bounded');
  }
});

test('packets of another attempt (another key) are not consumed', () => {
  const rnd = prng(3);
  const a = new PunchAttempt({ key: new Uint8Array(16).fill(1), candidates: [{ host: '203.0.113.5', port: 1 }], random: rnd.bytes, now: 0 });
  const b = new PunchAttempt({ key: new Uint8Array(16).fill(2), candidates: [{ host: '203.0.113.6', port: 1 }], random: rnd.bytes, now: 0 });
  a.handleTimeout(0);
  const t = a.pollTransmit()!;
  assert.equal(b.handlePacket('udp:203.0.113.5:1', { host: '203.0.113.5', port: 1 }, t.bytes, 0), false);
  assert.equal(b.handlePacket('udp:203.0.113.5:1', { host: '203.0.113.5', port: 1 }, new Uint8Array(32), 0), false);
});

test('an attempt ends at its window and stops sending', () => {
  const rnd = prng(4);
  const a = new PunchAttempt({ key: new Uint8Array(16), candidates: [{ host: '203.0.113.5', port: 1 }], random: rnd.bytes, now: 0, windowMs: 100 });
  for (let t = 0; t <= 200; t += 10) a.handleTimeout(t);
  const sent = a.stats.probesSent;
  a.handleTimeout(300);
  assert.equal(a.stats.probesSent, sent);
  assert.equal(a.done, true);
  assert.equal(a.pollTimeout(), undefined);
});
