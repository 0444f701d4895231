// Nothing on the wire in clear (DESIGN.md rule 4): every datagram of a whole session —
// handshakes, log-in, look-up, chat, a call, through direct and relayed paths — captured as an
// observer would, and Pearson's chi-squared test on each nibble of the first 16 bytes (the test
// Bonfiglio et al. 2007 used to spot Skype) finds nothing that departs from uniform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet } from '../../src/sim/testnet.ts';

// Critical value of chi-squared with 15 degrees of freedom at p = 0.0001.
const chiSquaredCritical = 44.26;

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
  const wire: Uint8Array[] = [];
  t.net.onWire = (_from, _to, bytes) => wire.push(bytes.slice());
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
  const stats = nibbleChiSquared(wire, 16);
  const worst = Math.max(...stats);
  assert.ok(stats.every((x) => x < chiSquaredCritical),
    `nibble ${stats.indexOf(worst)} deviates from uniform: chi² = ${worst.toFixed(1)} ≥ ${chiSquaredCritical} over ${wire.length} datagrams`);
});

test('the check itself catches a fixed header byte (Skype-style)', () => {
  const packets = Array.from({ length: 500 }, (_, i) => Uint8Array.from({ length: 20 }, (_, j) => (j === 2 ? 0x02 : (i * 7919 + j * 104_729) % 251)));
  assert.ok(Math.max(...nibbleChiSquared(packets, 16)) > chiSquaredCritical);
});
