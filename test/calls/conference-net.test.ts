// Five-party conferences on the virtual network with the real node cores (login server,
// supernodes, sessions, relays): alice creates a conference and invites four users, each
// invite rings and is answered, the rosters agree, the strongest party hosts, everyone hears
// every other talker; then the host leaves (or vanishes) and the remaining four go on with a
// new host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, type TestUser } from '../../src/sim/testnet.ts';
import type { Capacity } from '../../src/media/conference.ts';
import type { ConferenceManager } from '../../src/calls/conference-manager.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';

const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
const capacities: Capacity[] = [
  { cpuFramesPerMs: 20, uplinkKbps: 400 }, { cpuFramesPerMs: 25, uplinkKbps: 800 }, { cpuFramesPerMs: 60, uplinkKbps: 20_000 },
  { cpuFramesPerMs: 40, uplinkKbps: 10_000 }, { cpuFramesPerMs: 10, uplinkKbps: 2_000 },
];
const talkers = [{ pitchHz: 110, formantScale: 0.85 }, { pitchHz: 150, formantScale: 1 }, { pitchHz: 200, formantScale: 1.15 },
  { pitchHz: 260, formantScale: 1.3 }, { pitchHz: 130, formantScale: 0.92 }];
const seconds = 9;
const voices = new Map(names.map((n, i) => [n, speechLikeSignal(seconds, 48_000, 21 + i * 17, talkers[i])]));
voices.set('stranger', speechLikeSignal(seconds, 48_000, 999, { pitchHz: 170, formantScale: 1.07 }));

/** What a user hears, placed on the virtual clock in 20 ms slots from the start of talking. */
class Ear {
  private pcm = new Int16Array(seconds * 48_000 + 48_000);
  private cursor = 0;
  put(chunk: Int16Array, msSinceStart: number) {
    const at = Math.max(this.cursor, Math.round(msSinceStart / 20) * 960);
    if (at + chunk.length > this.pcm.length) return;
    this.pcm.set(chunk, at);
    this.cursor = at + chunk.length;
  }
  hears(talker: string, fromS: number, toS: number): number {
    const maxLag = 48 * 400;
    const v = voices.get(talker)!.subarray(fromS * 48_000, toS * 48_000);
    return alignedCorrelation(v, this.pcm.subarray(fromS * 48_000, toS * 48_000 + maxLag), maxLag).correlation;
  }
}

async function conference(seed: number, byeAtS: number, how: 'leave' | 'vanish') {
  const w = createTestnet({ seed });
  await w.meshed();
  const users = new Map<string, TestUser>();
  for (const [i, n] of names.entries()) {
    const u = w.addUser(10 + i, { supernode: i % 3, autoAnswer: n !== 'alice' && n !== 'bob', capacity: capacities[i] });
    await w.signUp(u, n);
    users.set(n, u);
  }
  const act = <T>(n: string, fn: (c: ConferenceManager, now: number) => T): T => {
    let out: T | undefined;
    w.net.mutate(users.get(n)!.address, (now) => { out = users.get(n)!.node.withConferences(now, (c) => fn(c, now)); });
    return out as T;
  };
  const created = act('alice', (c, now) => c.create(['bob', 'carol', 'dave', 'erin'], now));
  assert.ok(created.ok);
  const id = created.value.id;
  const conf = (n: string) => users.get(n)!.node.conferences.get(id);
  // bob answers by hand: his invite rings first.
  assert.ok(await w.net.runUntilAsync(() => conf('bob')?.state === 'incoming', 30_000), `seed ${seed}: bob's invite rings`);
  assert.ok(act('bob', (c, now) => c.join(id, now)).ok);
  const agreed = (list: string[], host: string) => list.every((n) => {
    const c = conf(n);
    return c?.state === 'joined' && c.host === host && c.members.length === list.length;
  });
  assert.ok(await w.net.runUntilAsync(() => agreed(names, 'carol'), 30_000),
    `seed ${seed}: all five joined with carol hosting: ${names.map((n) => `${n} ${conf(n)?.state} host ${conf(n)?.host} ${conf(n)?.members.length}`).join('; ')}`);

  const ears = new Map(names.map((n) => [n, new Ear()]));
  const gone = new Set<string>();
  const start = w.net.now;
  for (let k = 0; k < seconds * 50; k++) {
    if (k === byeAtS * 50) {
      if (how === 'leave') assert.ok(act('carol', (c, now) => c.leave(id, now)).ok);
      else w.net.remove(users.get('carol')!.address);
      gone.add('carol');
    }
    for (const n of names) if (!gone.has(n)) act(n, (c, now) => c.pushAudio(id, voices.get(n)!.subarray(k * 960, (k + 1) * 960), now));
    await w.net.runUntilAsync(() => false, 20);
    for (const n of names) {
      const u = users.get(n)!;
      for (const e of u.events.splice(0)) if (e.type === 'conference-audio') ears.get(n)!.put(e.pcm, w.net.now - start);
    }
  }
  return { w, users, conf, ears, id };
}

function checkEveryoneHears(t: { diagnostic(s: string): void }, ears: Map<string, Ear>, listeners: string[], talking: string[], fromS: number, toS: number) {
  const figures: number[] = [];
  for (const l of listeners) {
    const ear = ears.get(l)!;
    const control = ear.hears('stranger', fromS, toS);
    const own = ear.hears(l, fromS, toS);
    const c = talking.filter((x) => x !== l).map((x) => [x, ear.hears(x, fromS, toS)] as const);
    t.diagnostic(`${l} hears ${c.map(([x, v]) => `${x} ${v.toFixed(2)}`).join(', ')}; own ${own.toFixed(2)}, control ${control.toFixed(2)}`);
    for (const [x, v] of c) { figures.push(v); assert.ok(v >= 0.3 && v > control + 0.15, `${l} hears ${x}: ${v.toFixed(2)} (control ${control.toFixed(2)})`); }
    assert.ok(own < control + 0.1, `${l} does not hear itself: ${own.toFixed(2)} (control ${control.toFixed(2)})`);
  }
  return figures;
}

test('five parties on the virtual network: invites ring, rosters agree, the strongest hosts, everyone hears everyone; the host leaves and the rest go on', async (t) => {
  const { ears, conf, users } = await conference(31, 4, 'leave');
  checkEveryoneHears(t, ears, names, names, 1, 3.5);
  const rest = names.filter((n) => n !== 'carol');
  for (const n of rest) {
    const c = conf(n)!;
    assert.equal(c.state, 'joined');
    assert.equal(c.host, 'dave', `${n} follows the hand-over to dave`);
    assert.deepEqual(c.gone, ['carol']);
    assert.equal(c.members.length, 4);
  }
  assert.equal(conf('carol')!.state, 'left');
  assert.equal(conf('carol')!.endReason, 'left');
  checkEveryoneHears(t, ears, rest, rest, 5.5, 8.5);
  for (const n of names) assert.equal(users.get(n)!.node.conferences.signalsDropped, 0, `${n} dropped no signals`);
});

test('the host vanishes without a word: its silence is noticed, the others agree it is gone and go on with a new host', async (t) => {
  const { ears, conf } = await conference(32, 3, 'vanish');
  const rest = names.filter((n) => n !== 'carol');
  for (const n of rest) {
    const c = conf(n)!;
    assert.equal(c.host, 'dave', `${n} follows the hand-over to dave`);
    assert.deepEqual(c.gone, ['carol']);
  }
  checkEveryoneHears(t, ears, rest, rest, 6, 8.5);
});
