// IPv6 preference (src/nat/happy-eyeballs.ts): the decision alone, then two real PunchAttempts
// through modelled stateful filters (a port-restricted IPv4 NAT, a home router's IPv6
// firewall: inbound only from where we have sent) in virtual time, with IPv4 made faster, IPv6
// broken, or the peer without IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FamilyPreference, familyOfPath, familyReason } from '../../src/nat/happy-eyeballs.ts';
import { PunchAttempt } from '../../src/nat/punch.ts';
import { Reachability } from '../../src/nat/reachability.ts';
import { addressOfUdpPath, udpPath, socketPath } from '../../src/session/paths.ts';
import { formatAddress, type Address } from '../../src/wire/address.ts';
import { prng } from '../helpers/prng.ts';

const v4 = 'udp:203.0.113.22:5000', v6 = 'udp:[2001:db8:2::10]:5000';

test('familyOfPath: udp and birthday-socket paths by family; relays have none', () => {
  assert.equal(familyOfPath(v4), 4);
  assert.equal(familyOfPath(v6), 6);
  assert.equal(familyOfPath(socketPath(3, { host: '203.0.113.22', port: 7 })), 4);
  assert.equal(familyOfPath('relay:203.0.113.11:7001#5'), undefined);
});

test('IPv6 answering first is taken at once', () => {
  const p = new FamilyPreference({ v6: true });
  p.working(v6, 100);
  assert.deepEqual([p.chosen?.path, p.chosen?.family], [v6, 6]);
  assert.match(p.chosen!.why, /IPv6, preferred/);
  p.working(v4, 101);
  assert.equal(p.chosen?.path, v6, 'a later IPv4 answer changes nothing');
});

test('IPv4 answering first waits for IPv6, and IPv6 within the wait wins', () => {
  const p = new FamilyPreference({ v6: true, v6WaitMs: 150 });
  p.working(v4, 100);
  assert.equal(p.chosen, undefined);
  assert.equal(p.pollTimeout(), 250);
  p.handleTimeout(249);
  assert.equal(p.chosen, undefined);
  p.working(v6, 180);
  const chosen = p.chosen as { path: string; why: string } | undefined;
  assert.equal(chosen?.path, v6);
  assert.match(chosen!.why, /IPv4 answered too, 80 ms earlier/);
  assert.equal(p.pollTimeout(), undefined);
});

test('IPv4 is kept when IPv6 stays silent for the wait', () => {
  const p = new FamilyPreference({ v6: true, v6WaitMs: 150 });
  p.working(v4, 100);
  p.working('udp:100.64.2.10:5000', 120);
  p.handleTimeout(250);
  assert.deepEqual([p.chosen?.path, p.chosen?.family], [v4, 4], 'the first IPv4 path that answered');
  assert.match(p.chosen!.why, /IPv6 did not answer within 150 ms/);
});

test('without IPv6 on both sides the first path is taken at once', () => {
  const p = new FamilyPreference({ v6: false });
  p.working(v4, 100);
  assert.deepEqual([p.chosen?.path, p.chosen?.why], [v4, '']);
});

test('familyReason says why a path has its family', () => {
  assert.equal(familyReason(4, false, false), '', 'nothing to say when IPv6 was nowhere');
  assert.equal(familyReason(4, true, false), 'over IPv4: the peer has no IPv6');
  assert.equal(familyReason(4, false, true), 'over IPv4: no working IPv6 here');
  assert.equal(familyReason(6, true, true), 'over IPv6');
  assert.equal(familyReason(6, true, true, 'over IPv6, preferred: both sides have it'), 'over IPv6, preferred: both sides have it');
});

// ---- two attempts through modelled filters ----

interface Side { v4: Address; v6: Address | undefined; sentTo: Set<string>; attempt?: PunchAttempt }
interface Net { lat4: number; lat6: number; v6Broken?: boolean }

function punch(net: Net, opts: { bV6?: boolean; aSymmetric?: boolean } = {}) {
  const rnd = prng(11);
  const key = new Uint8Array(16).fill(3);
  const a: Side = { v4: { host: '203.0.113.21', port: 5000 }, v6: { host: '2001:db8:1::10', port: 5000 }, sentTo: new Set() };
  const b: Side = { v4: { host: '203.0.113.22', port: 5000 }, v6: opts.bV6 === false ? undefined : { host: '2001:db8:2::10', port: 5000 }, sentTo: new Set() };
  const cands = (s: Side) => [s.v4, ...(s.v6 ? [s.v6] : [])];
  const both = !!(a.v6 && b.v6);
  a.attempt = new PunchAttempt({ key, candidates: cands(b), random: rnd.bytes, now: 0, windowMs: 1500, lingerMs: 0, preferV6: both });
  b.attempt = new PunchAttempt({ key, candidates: cands(a), random: rnd.bytes, now: 0, windowMs: 1500, lingerMs: 0, preferV6: both });
  const queue: { at: number; to: Side; path: string; from: Address; bytes: Uint8Array }[] = [];
  const send = (s: Side, o: Side, path: string, bytes: Uint8Array, now: number) => {
    const to = addressOfUdpPath(path)!;
    const six = to.host.includes(':');
    const from = six ? s.v6 : s.v4;
    if (!from) return;
    s.sentTo.add(formatAddress(to));   // the sender's own filter opens towards where it sent
    if (six && net.v6Broken) return;
    if (formatAddress(to) !== formatAddress((six ? o.v6 : o.v4) ?? { host: '', port: 0 })) return;
    queue.push({ at: now + (six ? net.lat6 : net.lat4), to: o, path: udpPath(from), from, bytes });
  };
  for (let now = 0; now <= 1600 && !(a.attempt.result && b.attempt.result); now++) {
    for (const q of queue.filter((x) => x.at <= now)) {
      queue.splice(queue.indexOf(q), 1);
      // Stateful filter on the receiving side: only from where it has sent.
      if (q.to.sentTo.has(formatAddress(q.from))) q.to.attempt!.handlePacket(q.path, q.from, q.bytes, now);
    }
    for (const [s, o] of [[a, b], [b, a]] as const) {
      s.attempt!.handleTimeout(now);
      for (let t = s.attempt!.pollTransmit(); t; t = s.attempt!.pollTransmit()) send(s, o, t.path, t.bytes, now);
    }
  }
  return { a: a.attempt, b: b.attempt };
}

test('both sides with IPv6 and IPv4: the IPv6 path is chosen, on both sides', () => {
  const { a, b } = punch({ lat4: 10, lat6: 10 });
  assert.equal(a.result, 'udp:[2001:db8:2::10]:5000');
  assert.equal(b.result, 'udp:[2001:db8:1::10]:5000');
  assert.match(a.familyWhy, /IPv6, preferred/);
});

test('IPv4 answering faster still loses to IPv6 within the wait', () => {
  const { a } = punch({ lat4: 5, lat6: 60 });
  assert.equal(a.result, 'udp:[2001:db8:2::10]:5000');
  assert.match(a.familyWhy, /IPv4 answered too/);
});

test('broken IPv6 (everything dropped): IPv4 after the wait', () => {
  const { a, b } = punch({ lat4: 10, lat6: 10, v6Broken: true });
  assert.equal(a.result, 'udp:203.0.113.22:5000');
  assert.equal(b.result, 'udp:203.0.113.21:5000');
  assert.match(a.familyWhy, /IPv6 did not answer within 150 ms/);
  assert.ok(a.resultAtMs! >= 150 && a.resultAtMs! < 400, `chosen at ${a.resultAtMs} ms`);
});

test('peer without IPv6: IPv4 at once, no waiting', () => {
  const { a } = punch({ lat4: 10, lat6: 10 }, { bV6: false });
  assert.equal(a.result, 'udp:203.0.113.22:5000');
  assert.equal(a.familyWhy, '');
  assert.ok(a.resultAtMs! < 60);
});

test('Reachability without a working IPv6 socket drops IPv6 candidates; with one, probes them first', () => {
  let v6 = false;
  const r = new Reachability({ random: prng(5).bytes, local: { host: '100.64.1.10', port: 5000 }, v6Ready: () => v6 });
  const cands = [{ host: '203.0.113.22', port: 5000 }, { host: '2001:db8:2::10', port: 5000 }];
  r.startOutgoing(cands, 0, () => {});
  const first: string[] = [];
  for (let t = r.pollTransmit(); t; t = r.pollTransmit()) first.push(t.path);
  assert.deepEqual(first, ['udp:203.0.113.22:5000']);
  v6 = true;
  r.startOutgoing(cands, 0, () => {});
  const second: string[] = [];
  for (let t = r.pollTransmit(); t; t = r.pollTransmit()) second.push(t.path);
  assert.deepEqual(second, ['udp:[2001:db8:2::10]:5000', 'udp:203.0.113.22:5000'], 'IPv6 first in the tick');
});

test('both NATs symmetric: with IPv6 in play the attempt is not abandoned', () => {
  const r = new Reachability({ random: prng(6).bytes, local: { host: '100.64.1.10', port: 5000 }, v6Ready: () => true });
  // Our NAT maps per destination: two supernodes saw two ports.
  r.addSample({ host: '203.0.113.10', port: 7001 }, { host: '203.0.113.21', port: 40000 });
  r.addSample({ host: '203.0.113.11', port: 7001 }, { host: '203.0.113.21', port: 40001 });
  assert.ok(r.symmetric);
  const results: (string | undefined)[] = [];
  const { key } = r.startOutgoing([{ host: '203.0.113.22', port: 5000 }, { host: '2001:db8:2::10', port: 5000 }], 0, (p) => results.push(p));
  r.peerIsSymmetric(key, 0);
  assert.deepEqual(results, [], 'still punching (IPv6 needs no guessing)');
  const r4 = new Reachability({ random: prng(6).bytes, local: { host: '100.64.1.10', port: 5000 }, v6Ready: () => false });
  r4.addSample({ host: '203.0.113.10', port: 7001 }, { host: '203.0.113.21', port: 40000 });
  r4.addSample({ host: '203.0.113.11', port: 7001 }, { host: '203.0.113.21', port: 40001 });
  const results4: (string | undefined)[] = [];
  const k4 = r4.startOutgoing([{ host: '203.0.113.22', port: 5000 }], 0, (p) => results4.push(p)).key;
  r4.peerIsSymmetric(k4, 0);
  assert.deepEqual(results4, [undefined], 'IPv4 only: given up, the relay carries it');
});
