// Nothing on the wire in clear (DESIGN.md rule 4): every datagram of a whole session —
// handshakes, log-in, look-up, chat, a call, through direct and relayed paths — captured as an
// observer would, and Pearson's chi-squared test on each nibble of the first 16 bytes (the test
// Bonfiglio et al. 2007 used to spot Skype) finds nothing that departs from uniform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, loginAddress } from '../../src/sim/testnet.ts';
import { formatAddress } from '../../src/wire/address.ts';
import { headerKey, unmaskHeader } from '../../src/session/header-mask.ts';
import { decodePacket } from '../../src/session/packet.ts';

// The test makes many checks (32 nibbles over the whole capture, and again for each long
// flow), and a uniform source fails any one of them now and then: at p = 10⁻⁴ per check, a
// few hundred checks fail about one seed in fifty. So the 10⁻⁴ is the whole test's false-alarm
// rate, shared among at most `checksMax` checks (Bonferroni): the critical value of chi-squared
// with 15 degrees of freedom at p = 10⁻⁴ / 512 is 60.64. A fixed header byte scores in the
// thousands over a few hundred datagrams (last test), so this costs no sensitivity that matters.
const checksMax = 512;
const chiSquaredCritical = 60.64;

export function nibbleChiSquared(packets: Uint8Array[], bytePositions: number): number[] {
  const stats: number[] = [];
  for (let pos = 0; pos < bytePositions; pos++) {
    for (const high of [true, false]) {
      const counts = new Array<number>(16).fill(0);
      let n = 0;
      for (const p of packets) {
        if (p.length <= pos) continue;
        counts[high ? p[pos] >> 4 : p[pos] & 15]++;
        n++;
      }
      const expected = n / 16;
      stats.push(counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0));
    }
  }
  return stats;
}

test('every datagram of a full session looks uniformly random in its first 16 bytes', async () => {
  const t = createTestnet({ seed: 77 });
  const wire: { from: string; to: string; bytes: Uint8Array }[] = [];
  t.net.onWire = (from, to, bytes) => wire.push({ from, to, bytes: bytes.slice() });
  await t.meshed();
  const alice = t.addUser(1, { supernode: 0 });
  const bob = t.addUser(2, { supernode: 1, autoAnswer: true });
  const carol = t.addUser(3, { supernode: 2, direct: false, autoAnswer: true });
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  await t.signUp(carol, 'carol');
  for (const peer of ['bob', 'carol']) {
    const sent = await t.settle(alice, (now, cb) => alice.node.chat(peer, `hello ${peer}`, now, cb));
    assert.ok(sent.ok);
    let id = '';
    t.net.mutate(alice.address, (now) => { id = alice.node.call(peer, now, () => {})!; });
    await t.net.runUntilAsync(() => alice.node.calls.get(id)?.state === 'active', 20_000);
    const tone = Int16Array.from({ length: 960 }, (_, k) => Math.round(6000 * Math.sin(k / 5)));
    for (let f = 0; f < 150; f++) {
      t.net.mutate(alice.address, (now) => alice.node.withCalls(now, (c) => c.pushAudio(id, tone, now)));
      t.net.run(20);
    }
    t.net.mutate(alice.address, (now) => alice.node.withCalls(now, (c) => c.hangup(id, now)));
    await t.net.runUntilAsync(() => false, 500);
  }
  assert.ok(wire.length > 400, `captured ${wire.length} datagrams`);

  // What the capture holds, read as each receiver reads it (its own header key, then the public
  // one): every kind of message must be in it, so the test below covers all of them.
  // Static keys were handed out in this order: login server, supernodes, then users.
  const receivers = [loginAddress, ...t.addresses, alice.address, bob.address, carol.address].map(formatAddress);
  // A user node's extra sockets (the binding-timeout probe's) share its IP, not its port.
  const ipOf = (a: string) => a.slice(0, a.lastIndexOf(':'));
  const users = 1 + t.addresses.length;
  const receiverOf = (to: string) => { const i = receivers.indexOf(to); return i >= 0 ? i : receivers.findIndex((r, k) => k >= users && ipOf(r) === ipOf(to)); };
  const kinds = new Map<string, number>();
  for (const { to, bytes } of wire) {
    const i = receiverOf(to);
    assert.ok(i >= 0, `datagram to unknown ${to}`);
    let kind = 'unreadable';
    for (const key of [headerKey(t.staticKeys[i]), headerKey()]) {
      const plain = unmaskHeader(bytes, key);
      const p = plain && decodePacket(plain);
      if (p?.ok) { kind = p.value.type === 5 ? (p.value.channel === 1 ? 'media' : 'data') : ['', 'init-xx', 'init-ik', 'response', 'final'][p.value.type]; break; }
    }
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  for (const k of ['init-xx', 'init-ik', 'response', 'final', 'data', 'media']) {
    assert.ok((kinds.get(k) ?? 0) > 0, `no ${k} datagram captured: ${JSON.stringify([...kinds])}`);
  }
  // The direct call's frames travel as media packets; the relayed call's inside the relay hop's data packets.
  assert.ok((kinds.get('media') ?? 0) >= 100, `the direct call carried media: ${JSON.stringify([...kinds])}`);
  if (process.env.TINCAN_PRINT) process.stdout.write(`# captured ${wire.length}: ${JSON.stringify([...kinds])}\n`);

  const stats = nibbleChiSquared(wire.map((w) => w.bytes), 16);
  assert.equal(stats.length, 32, 'both nibbles of each of the first 16 bytes');
  const worst = Math.max(...stats);
  assert.ok(stats.every((x) => x < chiSquaredCritical),
    `nibble ${stats.indexOf(worst)} deviates from uniform: chi² = ${worst.toFixed(1)} ≥ ${chiSquaredCritical} over ${wire.length} datagrams (${JSON.stringify([...kinds])})`);

  // Bonfiglio et al. classify each flow on its own: a byte fixed within a flow (a session
  // index, say) but different across flows would hide in the total. Every flow long enough
  // for the test (at least 100 datagrams, about 6 per cell) must pass on its own too.
  const flows = new Map<string, Uint8Array[]>();
  for (const w of wire) flows.set(`${w.from}>${w.to}`, [...(flows.get(`${w.from}>${w.to}`) ?? []), w.bytes]);
  const tested = [...flows].filter(([, ps]) => ps.length >= 100);
  assert.ok(tested.length >= 2, 'the calls make long flows');
  assert.ok(32 * (1 + tested.length) <= checksMax, `${32 * (1 + tested.length)} checks: raise checksMax and the critical value with it`);
  for (const [flow, ps] of tested) {
    const st = nibbleChiSquared(ps, 16);
    const w = Math.max(...st);
    assert.ok(w < chiSquaredCritical, `flow ${flow}: nibble ${st.indexOf(w)} chi² = ${w.toFixed(1)} over ${ps.length} datagrams`);
  }
});

test('the check itself catches a fixed header byte (Skype-style)', () => {
  const packets = Array.from({ length: 500 }, (_, i) => Uint8Array.from({ length: 20 }, (_, j) => (j === 2 ? 0x02 : (i * 7919 + j * 104_729) % 251)));
  assert.ok(Math.max(...nibbleChiSquared(packets, 16)) > chiSquaredCritical);
});
