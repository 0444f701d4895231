// The relay data plane: channels pair up and forward without touching the end-to-end packet;
// hostile datagrams never crash it or get forwarded; per-user quotas hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayTable } from '../../src/relay/relay-table.ts';
import { RelayPlane, type RelayQuotas } from '../../src/relay/relay-plane.ts';
import { RelayClient } from '../../src/relay/relay-client.ts';
import { ChannelMask, channelHeaderBytes } from '../../src/relay/channel-header.ts';
import { prng } from '../helpers/prng.ts';

const A = 'udp:203.0.113.1:4000', B = 'udp:203.0.113.2:5000', SN = 'udp:203.0.113.10:7000';

function setup(quotas?: RelayQuotas, seed = 1) {
  const r = prng(seed);
  const tokens = new RelayTable(r.bytes);
  const slow: { target: string; from: number; packet: Uint8Array }[] = [];
  const plane = new RelayPlane(r.bytes, tokens, (target, from, packet) => slow.push({ target, from, packet }), quotas);
  const tA = tokens.tokenFor(A), tB = tokens.tokenFor(B);
  // Each node's side: a RelayClient holding what the supernode answered.
  const bind = (path: string, user: string, to: number, client: RelayClient, peerPath: string, now = 0) => {
    const b = plane.bind(path, user, to, now);
    assert.ok(b.ok, JSON.stringify(b));
    client.bound(SN, peerPath, b.value.channel, b.value.check, b.value.key, now);
    return b.value;
  };
  return { r, tokens, plane, slow, tA, tB, bind };
}

const packet = (r: ReturnType<typeof prng>, n = 160) => r.bytes(n);

test('paired channels forward the end-to-end packet unchanged, behind the receiver\'s own header', () => {
  const { r, plane, slow, tA, tB, bind } = setup();
  const alice = new RelayClient(), bob = new RelayClient();
  bind(A, 'alice', tB, alice, `relay:SN#${tB}`);
  // Bob has no channel back yet: the packet reaches him inside his session (the slow path).
  const p1 = packet(r);
  const w1 = alice.wrap(`relay:SN#${tB}`, p1, 1)!;
  assert.equal(w1.path, SN);
  assert.equal(plane.handle(A, w1.bytes, 1), true);
  assert.equal(slow.length, 1);
  assert.deepEqual([slow[0].target, slow[0].from], [B, tA]);
  assert.deepEqual(slow[0].packet, p1);

  bind(B, 'bob', tA, bob, `relay:SN#${tA}`);
  const p2 = packet(r);
  assert.equal(plane.handle(A, alice.wrap(`relay:SN#${tB}`, p2, 2)!.bytes, 2), true);
  const out = plane.pollTransmit()!;
  assert.equal(out.path, B);
  const got = bob.unwrap(SN, out.bytes, 2)!;
  assert.deepEqual(got, { path: `relay:SN#${tA}`, inner: p2 });
  // And back.
  const p3 = packet(r, 90);
  plane.handle(B, bob.wrap(`relay:SN#${tA}`, p3, 3)!.bytes, 3);
  assert.deepEqual(alice.unwrap(SN, plane.pollTransmit()!.bytes, 3), { path: `relay:SN#${tB}`, inner: p3 });
  assert.equal(plane.stats.forwarded, 2);
  assert.equal(plane.stats.forwardedSlow, 1);
});

test('no fixed bytes on the wire: channel headers of one channel differ from packet to packet', () => {
  const mask = new ChannelMask(prng(3).bytes(16));
  const r = prng(4);
  const firstBytes = new Set<number>();
  // Uniform bytes show all 256 values in 2560 draws but for about 0.01 of them.
  for (let i = 0; i < 2560; i++) firstBytes.add(mask.wrap(0x01020304, 0x05060708, packet(r, 40))[0]);
  assert.ok(firstBytes.size >= 250, `${firstBytes.size} values of the first byte in 2560 packets`);
});

test('hostile datagrams: random, truncated, flipped or from an unbound address are never forwarded and never throw', () => {
  const { r, plane, slow, tA, tB, bind } = setup(undefined, 7);
  const alice = new RelayClient(), bob = new RelayClient();
  bind(A, 'alice', tB, alice, 'to-bob');
  bind(B, 'bob', tA, bob, 'to-alice');
  const good = alice.wrap('to-bob', packet(r), 0)!.bytes;
  let consumed = 0;
  // Random datagrams from a holder and from strangers go back to the session layer (which counts them).
  for (let i = 0; i < 5000; i++) {
    const from = i % 2 ? A : `udp:198.51.100.${i % 250}:${1000 + i}`;
    if (plane.handle(from, r.bytes(r.int(300)), 0)) consumed++;
  }
  // Every truncation and every single-bit flip of the header of a valid packet.
  for (let n = 0; n < good.length; n++) if (plane.handle(A, good.subarray(0, n), 0)) consumed++;
  for (let bit = 0; bit < channelHeaderBytes * 8; bit++) {
    const bad = good.slice(); bad[bit >> 3] ^= 1 << (bit & 7);
    if (plane.handle(A, bad, 0)) consumed++;
  }
  // A captured valid packet replayed from another address: the source is not bound to that channel.
  assert.equal(plane.handle('udp:198.51.100.66:4000', good, 0), false);
  assert.equal(plane.handle(B, good, 0), false, 'not even from the far end');
  assert.equal(consumed, 0);
  assert.equal(plane.pollTransmit(), undefined);
  assert.equal(slow.length, 0);
  assert.equal(plane.stats.forwarded, 0);
  // The real one still goes through.
  assert.equal(plane.handle(A, good, 0), true);
  assert.equal(plane.stats.forwarded, 1);
  // Bit flips inside the end-to-end packet are forwarded as they are: the far end's AEAD refuses them
  // (test/session/relay-tamper.test.ts).
});

test('a user over the byte quota is dropped and counted until the bucket refills; other users go on', () => {
  const { r, plane, tA, tB, bind, tokens } = setup({ userBytesPerSecond: 1000, userChannelsMax: 4 });
  const alice = new RelayClient(), bob = new RelayClient(), carol = new RelayClient();
  const C = 'udp:203.0.113.3:6000';
  const tC = tokens.tokenFor(C);
  bind(A, 'alice', tB, alice, 'b'); bind(B, 'bob', tA, bob, 'a');
  bind(C, 'carol', tB, carol, 'b'); bind(B, 'bob', tC, bob, 'c');
  let passed = 0;
  for (let i = 0; i < 10; i++) if (plane.handle(A, alice.wrap('b', packet(r, 200), 0)!.bytes, 0) && plane.pollTransmit()) passed++;
  assert.equal(passed, 5, '1000 bytes of burst: five 200-byte packets');
  assert.equal(plane.stats.overQuota, 5);
  plane.handle(C, carol.wrap('b', packet(r, 200), 0)!.bytes, 0);
  assert.ok(plane.pollTransmit(), 'carol has her own bucket');
  plane.handle(A, alice.wrap('b', packet(r, 200), 100)!.bytes, 100);
  assert.equal(plane.pollTransmit(), undefined, '100 ms refills 100 bytes: not enough');
  plane.handle(A, alice.wrap('b', packet(r, 200), 200)!.bytes, 200);
  assert.ok(plane.pollTransmit(), '200 ms refills 200 bytes');
});

test('a user may hold only so many channels at once; a repeated bind returns the same channel; 0 means no limit', () => {
  const { plane, tokens } = setup({ userBytesPerSecond: 0, userChannelsMax: 2 });
  const peers = [1, 2, 3].map((i) => tokens.tokenFor(`udp:198.51.100.${i}:1`));
  const first = plane.bind(A, 'alice', peers[0], 0);
  assert.ok(first.ok);
  assert.deepEqual(plane.bind(A, 'alice', peers[0], 0), first, 'the same channel again');
  assert.ok(plane.bind('udp:203.0.113.9:9', 'alice', peers[1], 0).ok, 'another device of the same user');
  const third = plane.bind(A, 'alice', peers[2], 0);
  assert.equal(third.ok, false);
  assert.equal(!third.ok && third.error.code, 'over-quota');
  assert.ok(plane.bind(B, 'bob', peers[2], 0).ok, 'quotas are per user');
  assert.equal(plane.bind(B, 'bob', 12345, 0).ok, false, 'no channel to a token nobody holds');
  assert.equal(plane.stats.refusedBinds, 2);
  // Forgetting the path (its session closed) frees the user's channels.
  plane.forget(A);
  assert.ok(plane.bind(A, 'alice', peers[2], 0).ok);
  const free = setup({ userBytesPerSecond: 0, userChannelsMax: 0 });
  for (let i = 0; i < 50; i++) assert.ok(free.plane.bind(A, 'alice', free.tokens.tokenFor(`udp:198.51.100.7:${i + 1}`), 0).ok);
});

test('a channel whose partner left falls back to the slow path; a vanished peer is counted; idle channels expire', () => {
  const { r, plane, slow, tA, tB, bind, tokens } = setup();
  const alice = new RelayClient(), bob = new RelayClient();
  bind(A, 'alice', tB, alice, 'b'); bind(B, 'bob', tA, bob, 'a');
  plane.forget(B);   // bob's session with the supernode closed…
  plane.handle(A, alice.wrap('b', packet(r), 0)!.bytes, 0);
  assert.equal(slow.length, 1, '…so his packets go inside his session again, if he comes back on it');
  tokens.forget(B);  // …and he is gone for good
  plane.handle(A, alice.wrap('b', packet(r), 0)!.bytes, 0);
  assert.equal(plane.stats.peerGone, 1);
  assert.equal(plane.channelCount(), 1);
  plane.sweep(200_000);
  assert.equal(plane.channelCount(), 0);
  assert.equal(plane.stats.expired, 1);
  assert.equal(plane.handle(A, alice.wrap('b', packet(r), 200_001)?.bytes ?? packet(r), 200_001), false, 'an expired channel is unknown');
});

test('the node side binds once per peer, retries after a refusal, and forgets idle channels', () => {
  const c = new RelayClient();
  assert.equal(c.wantsBind('relay:x#1', 0), true);
  assert.equal(c.wantsBind('relay:x#1', 10), false, 'one bind in flight');
  c.refused('relay:x#1', 10);
  assert.equal(c.wantsBind('relay:x#1', 1000), false);
  assert.equal(c.wantsBind('relay:x#1', 40_000), true, 'tried again later');
  c.bound(SN, 'relay:x#1', 5, 6, new Uint8Array(16), 40_000);
  assert.equal(c.wantsBind('relay:x#1', 40_001), false);
  assert.ok(c.wrap('relay:x#1', new Uint8Array(40), 40_002));
  assert.equal(c.wrap('relay:x#1', new Uint8Array(8), 40_003), undefined, 'too short for a sample: the slow path takes it');
  assert.equal(c.wrap('relay:x#1', new Uint8Array(40), 200_000), undefined, 'idle for a minute: bind again');
  assert.equal(c.wantsBind('relay:x#1', 200_000), true);
});
