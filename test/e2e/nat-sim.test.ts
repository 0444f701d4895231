// The NAT lab's reachability matrix (test/system/natlab/matrix.nat.ts) in the simulator: the
// real node cores behind simulated RFC 4787 NATs (src/sim/nat-box.ts), in virtual time. Each
// user sits behind a NAT of its own; they sign up, look each other up, call, talk for a few
// seconds, and the path the call settles on must be the one the real lab takes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, type Testnet, type TestUser } from '../../src/sim/testnet.ts';
import { natPresets, type NatPreset, type NatBehaviour } from '../../src/sim/nat-box.ts';
import type { CallInfo } from '../../src/node/types.ts';

/** The lab's label for a route (matrix.nat.ts's short()): direct, direct-bday, relay-udp. */
function label(caller: CallInfo, callee: CallInfo | undefined): string {
  const route = caller.route ?? '';
  if (route.startsWith('direct')) return route.includes('birthday') || callee?.route?.includes('birthday') ? 'direct-bday' : 'direct';
  return 'relay-udp';
}

async function world(seed: number, aNat: NatPreset | undefined, bNat: NatPreset | NatBehaviour) {
  const t = createTestnet({ seed, supernodeIps: 'distinct' });
  assert.ok(await t.meshed(), 'supernodes meshed');
  const alice = t.addUser(1, { nat: aNat, supernode: 0 });
  const bob = t.addUser(2, { nat: bNat, supernode: 1, autoAnswer: true });
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  // Each node has heard from a second supernode (another IP) where it sees it: its NAT's kind is known.
  const known = (u: TestUser) => u.node.nat.report().mapping !== 'unknown';
  assert.ok(await t.net.runUntilAsync(() => known(alice) && known(bob), 10_000), 'both nodes classified their NATs');
  return { t, alice, bob };
}

/** Alice looks Bob up, calls him and talks for `seconds`; both sides' call as it stands then. */
async function call(t: Testnet, alice: TestUser, bob: TestUser, seconds = 6) {
  const found = await t.settle(alice, (now, cb) => alice.node.lookup('bob', now, cb));
  assert.ok(found.ok, 'alice finds bob');
  let id = '';
  t.net.mutate(alice.address, (now) => { id = alice.node.call('bob', now, () => {})!; });
  assert.ok(await t.net.runUntilAsync(() => alice.node.calls.get(id)?.state === 'active' && bob.node.calls.get(id)?.state === 'active', 20_000), 'the call is answered');
  const tone = Int16Array.from({ length: 960 }, (_, k) => Math.round(6000 * Math.sin(k / 5)));
  for (let f = 0; f < seconds * 50; f++) {
    t.net.mutate(alice.address, (now) => alice.node.withCalls(now, (c) => c.pushAudio(id, tone, now)));
    t.net.run(20);
  }
  const a = alice.node.callList().find((c) => c.id === id)!;
  const b = bob.node.callList().find((c) => c.id === id);
  assert.ok((b?.stats.framesReceived ?? 0) > seconds * 25, `bob hears alice (${b?.stats.framesReceived} frames)`);
  return { a, b, path: label(a, b) };
}

const natKinds: NatPreset[] = ['full-cone', 'address-restricted', 'port-restricted', 'symmetric'];

/** What the real lab's matrix finds: cone × anything direct, symmetric ↔ port-restricted direct by birthday punching, symmetric ↔ symmetric relayed. */
function expected(x: NatPreset | undefined, y: NatPreset): string {
  if (x === 'symmetric' && y === 'symmetric') return 'relay-udp';
  if ((x === 'symmetric' && y === 'port-restricted') || (x === 'port-restricted' && y === 'symmetric')) return 'direct-bday';
  return 'direct';
}

test('each node classifies its simulated NAT as the NAT lab names it', async () => {
  const { alice, bob } = await world(101, 'port-restricted', 'symmetric');
  // A live node measures mapping only (classify.ts): an endpoint-independent mapping reads 'cone'.
  assert.equal(alice.node.nat.report().mapping, 'endpoint-independent');
  assert.equal(alice.node.nat.report().kind, 'cone');
  assert.equal(alice.node.nat.symmetric, false);
  assert.equal(bob.node.nat.report().kind, 'symmetric');
  assert.equal(bob.node.nat.symmetric, true);
  assert.ok(alice.nat && bob.nat && alice.address.host.startsWith('100.64.') && bob.address.host.startsWith('100.64.'), 'both on private addresses behind NATs');
});

let seed = 200;
for (const x of [undefined, ...natKinds] as const) {
  for (const y of natKinds) {
    const s = seed++;
    test(`${x ?? 'public'} calls ${y}: ${expected(x, y)} (seed ${s})`, async () => {
      const { t, alice, bob } = await world(s, x, y);
      const { a, b, path } = await call(t, alice, bob);
      if (process.env.TINCAN_PRINT) process.stdout.write(`# ${x ?? 'public'}→${y}: ${path}; alice ${a.route}: ${a.routeReason}; bob ${b?.route}; NAT drops ${t.net.stats.filtered}\n`);
      assert.equal(path, expected(x, y), `${x ?? 'public'}→${y}: route ${a.route}; ${a.routeReason}`);
    });
  }
}

test('a NAT that forgets idle bindings after 30 s: the node measures it, keeps its binding alive, and is still callable after five idle minutes', async () => {
  const { t, alice, bob } = await world(301, 'port-restricted', { ...natPresets.symmetric, bindingTimeoutMs: 30_000 });
  const binding = () => bob.node.status().nat?.binding;
  assert.ok(await t.net.runUntilAsync(() => binding()?.state === 'done', 300_000), `the measurement ends: ${JSON.stringify(binding())}`);
  const b = binding()!;
  assert.ok(b.aliveMs !== undefined && b.aliveMs < 30_000, `an idle binding lived ${b.aliveMs} ms`);
  assert.ok(b.expiredMs !== undefined && b.expiredMs >= 30_000, `an idle binding was gone after ${b.expiredMs} ms`);
  assert.ok(b.keepaliveMs < 30_000, `keep-alives every ${b.keepaliveMs} ms`);
  assert.ok(bob.nat!.stats.expired > 0, 'the NAT dropped the echo that came too late');
  t.net.run(300_000);
  const { path } = await call(t, alice, bob, 3);
  assert.equal(path, 'direct-bday');
});

test('the same seed replays the same run through the NATs: same ports, same drops, same route', async () => {
  const once = async () => {
    const { t, alice, bob } = await world(401, 'symmetric', 'port-restricted');
    const { a } = await call(t, alice, bob, 2);
    return { route: a.route, net: { ...t.net.stats }, alice: { ...alice.nat!.stats }, bob: { ...bob.nat!.stats }, now: t.net.now };
  };
  assert.deepEqual(await once(), await once());
});
