import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rpc, type RpcEvent } from '../../src/session/rpc.ts';
import { VirtualNet } from '../../src/sim/virtual-net.ts';
import { udpPath } from '../../src/session/paths.ts';
import { encodeMessage, decodeObjectList } from '../../src/wire/object-list.ts';

const field1 = (body: Uint8Array) => { const l = decodeObjectList(body); return l.ok ? l.value.get(1) : l.error; };
import { testIdentity, endpointConfig, testCertificate } from '../helpers/identities.ts';
import { prng } from '../helpers/prng.ts';

const A = { host: '203.0.113.1', port: 1000 };
const B = { host: '203.0.113.2', port: 2000 };

/** Two nodes on a virtual network; B answers every request with command 2 echoing the body. */
function pair(opts: { lossRate?: number; seed?: number; bKnownToA?: boolean; bEvents?: RpcEvent[] } = {}) {
  const net = new VirtualNet({ lossRate: opts.lossRate, seed: opts.seed ?? 3 });
  const ia = testIdentity(1), ib = testIdentity(2);
  const a = new Rpc(endpointConfig(ia, net.random));
  const b = new Rpc(endpointConfig(ib, net.random));
  const events = opts.bEvents ?? [];
  net.add(A, a, () => { for (let e = a.pollEvent(); e; e = a.pollEvent()) { /* A only makes requests */ } });
  net.add(B, b, () => {
    for (let e = b.pollEvent(); e; e = b.pollEvent()) {
      events.push(e);
      if (e.type === 'request') b.respond(e.path, e.id, encodeMessage(2, e.message.body), net.now);
    }
  });
  return { net, a, b, ia, ib, events };
}

function ask(p: ReturnType<typeof pair>, body = new Map<number, any>([[1, 'ping']]), connect?: { remoteStatic?: Uint8Array }) {
  let reply: any;
  p.net.mutate(A, (now) => p.a.request(udpPath(B), encodeMessage(1, body), now, (r) => { reply = r; }, { connect }));
  return () => reply;
}

test('XX handshake, then a request is answered', () => {
  const p = pair();
  const reply = ask(p);
  assert.ok(p.net.runUntil(() => reply() !== undefined, 10_000));
  assert.ok(reply().ok, JSON.stringify(reply()));
  assert.equal(reply().value.message.command, 2);
  assert.equal(decodeObjectList(reply().value.message.body).ok && (decodeObjectList(reply().value.message.body) as any).value.get(1), 'ping');
  assert.deepEqual(reply().value.peer.signingKey, p.ib.signing.publicKey);
});

test('IK handshake to a known static key', () => {
  const p = pair();
  const reply = ask(p, undefined, { remoteStatic: p.ib.static.publicKey });
  assert.ok(p.net.runUntil(() => reply() !== undefined, 10_000));
  assert.ok(reply().ok);
});

test('IK to the wrong static key fails instead of talking to an impostor', () => {
  const p = pair();
  const reply = ask(p, undefined, { remoteStatic: testIdentity(99).static.publicKey });
  assert.ok(p.net.runUntil(() => reply() !== undefined, 20_000));
  assert.equal(reply().ok, false);
  assert.equal(p.events.filter((e) => e.type === 'request').length, 0);
});

test('requests complete through 30 % loss, and each is handled exactly once', () => {
  const p = pair({ lossRate: 0.3, seed: 11 });
  const replies: any[] = [];
  for (let i = 0; i < 20; i++) {
    p.net.mutate(A, (now) => p.a.request(udpPath(B), encodeMessage(1, new Map([[1, i]])), now, (r) => replies.push(r), { timeoutMs: 30_000 }));
  }
  assert.ok(p.net.runUntil(() => replies.length === 20, 60_000), `only ${replies.length} replies`);
  assert.ok(replies.every((r) => r.ok), 'every request answered');
  const handled = p.events.filter((e) => e.type === 'request');
  assert.equal(handled.length, 20, 'repeats of a request are not handled twice');
});

test('replayed and tampered datagrams are dropped and counted, never delivered', () => {
  const p = pair();
  const reply = ask(p);
  p.net.runUntil(() => reply() !== undefined);
  const datagrams = () => p.events.filter((e) => e.type === 'datagram').length;
  // Intercept one sealed datagram from A and deliver it by hand, then again, then altered.
  p.a.sendDatagram(udpPath(B), encodeMessage(7, new Map()), p.net.now);
  const sealed = p.a.pollTransmit()!.bytes;
  const st = p.b.endpoint.stats;
  p.net.mutate(B, (now) => p.b.handleDatagram(udpPath(A), sealed, now));
  assert.equal(datagrams(), 1);
  p.net.mutate(B, (now) => p.b.handleDatagram(udpPath(A), sealed, now));
  assert.equal(datagrams(), 1, 'a replay is not delivered');
  assert.equal(st.replayed, 1);
  const altered = sealed.slice();
  altered[12] ^= 0x40; // the counter's low byte: a fresh counter, but the seal no longer matches
  p.net.mutate(B, (now) => p.b.handleDatagram(udpPath(A), altered, now));
  assert.equal(datagrams(), 1, 'a forgery is not delivered');
  assert.equal(st.decryptFailed, 1);
});

test('random and truncated datagrams never throw and are counted as malformed or unknown', () => {
  const p = pair();
  const reply = ask(p);
  p.net.runUntil(() => reply() !== undefined);
  const rng = prng(5);
  const st = p.b.endpoint.stats;
  const before = st.malformed + st.unknownIndex + st.handshakeRejected + st.decryptFailed + st.replayed;
  for (let i = 0; i < 3000; i++) {
    const bytes = rng.bytes(rng.int(200));
    if (i % 3 === 0 && bytes.length > 0) bytes[0] = 1 + rng.int(5);
    p.b.handleDatagram(udpPath(A), bytes, p.net.now);
  }
  const after = st.malformed + st.unknownIndex + st.handshakeRejected + st.decryptFailed + st.replayed;
  assert.ok(after - before >= 2500, `only ${after - before} of 3000 garbage datagrams were counted`);
  // And the real session still works afterwards.
  const again = ask(p);
  assert.ok(p.net.runUntil(() => again() !== undefined));
  assert.ok(again().ok);
});

test('a certificate signed by another key is rejected in the handshake', () => {
  const net = new VirtualNet();
  const login = testIdentity(50), rogue = testIdentity(51);
  const ia = testIdentity(1), ib = testIdentity(2);
  const forged = testCertificate(rogue.signing, 'alice', ia.signing, net.now);
  const a = new Rpc(endpointConfig(ia, net.random, 'node', { certificate: forged }));
  const b = new Rpc(endpointConfig(ib, net.random, 'node', { loginKey: login.signing.publicKey }));
  net.add(A, a, () => { while (a.pollEvent()); });
  let requests = 0;
  net.add(B, b, () => { for (let e = b.pollEvent(); e; e = b.pollEvent()) if (e.type === 'request') requests++; });
  let reply: any;
  net.mutate(A, (now) => a.request(udpPath(B), encodeMessage(1, new Map()), now, (r) => { reply = r; }, { connect: { remoteStatic: ib.static.publicKey } }));
  net.runUntil(() => reply !== undefined, 20_000);
  assert.equal(reply.ok, false);
  assert.equal(requests, 0);
  assert.ok(b.endpoint.stats.handshakeRejected > 0);
});

test('a 256 KiB request and its 256 KiB answer cross a network losing 10 % of datagrams', () => {
  const p = pair({ lossRate: 0.1, seed: 21 });
  const big = prng(6).bytes(256 * 1024);
  let reply: any;
  p.net.mutate(A, (now) => p.a.request(udpPath(B), encodeMessage(1, new Map([[1, big]])), now, (r) => { reply = r; }, { timeoutMs: 60_000 }));
  assert.ok(p.net.runUntil(() => reply !== undefined, 120_000));
  assert.ok(reply.ok, JSON.stringify(reply.ok ? '' : reply.error));
  assert.deepEqual(field1(reply.value.message.body), big);
  assert.ok(p.a.stats.fragmentsSent > 200);
  assert.equal(p.events.filter((e) => e.type === 'request').length, 1, 'handled once');
});
