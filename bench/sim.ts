// `npm run bench -- sim [--supernodes N --users M --minutes T --threads K]`: the standard
// simulator scenarios — the overlay and the Kademlia baseline under the same seeded network,
// churn and workload, then the overlay losing 30 % of its supernodes at once. The overlay's
// figures are printed next to Kademlia's (the reference) as ratios; then the simulator's speed
// on K threads (default as `tincan sim`: the machine's cores from 2,000 supernodes) and on one, beside the engine alone; one JSON
// line last. The figures of a run do not depend on its threads (decision 0033), only its speed.
import { runScenario, defaultThreads, type ScenarioOptions } from '../src/sim/scenario.ts';
import { overlayProtocol, kademliaProtocol } from '../src/sim/protocols.ts';
import { slotBitsFor } from '../src/overlay/ring.ts';
import { printTable, ratio } from './harness.ts';
import { Agenda } from '../src/sim/agenda.ts';
import { Rng } from '../src/sim/rng.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(v > 0)) { process.stderr.write(`bench sim: --${name} needs a positive number, got ${process.argv[i + 1] ?? 'nothing'}\n`); process.exit(2); }
  return v;
};
const supernodes = arg('supernodes', 5000);
const users = arg('users', 50_000);
const minutes = arg('minutes', 5);
const seed = arg('seed', 1);
const threads = arg('threads', defaultThreads(supernodes));

const base: Omit<ScenarioOptions, 'protocol'> = { supernodes, users, minutes, seed, churn: 'skype', threads };
const overlay = () => overlayProtocol({ slotBits: slotBitsFor(supernodes), replicas: 10 });
const run = (o: ScenarioOptions) => { const m = runScenario(o); return m.report; };

const ours = run({ ...base, protocol: overlay() });
const kad = run({ ...base, protocol: kademliaProtocol(), mail: false });
const kill = run({ ...base, churn: 'none', protocol: overlay(), killFraction: 0.3, killAtMin: minutes / 2 });
const oneThread = threads > 1 ? run({ ...base, threads: 1, protocol: overlay() }) : ours;

/**
 * The engine's ceiling: the same agenda scheduling and taking events with the run's shape —
 * ~one new event per event taken, 5–300 ms ahead, about as many in flight as the run keeps —
 * and nothing else. What the simulator loses against it is the protocol cores' work on real
 * bytes, and the workload's.
 */
function engineCeiling(inFlight: number, events: number): number {
  const a = new Agenda(0);
  const rng = new Rng(seed, 9);
  for (let i = 0; i < inFlight; i++) a.push(5 + rng.int(300), 0, i, 0, i, 0);
  const t0 = performance.now();
  let n = 0;
  for (let s = a.pop(); s >= 0 && n < events; s = a.pop(), n++) {
    const t = a.t[s], x = a.a[s], q = a.seq[s];
    a.release(s);
    a.push(t + 5 + rng.int(300), 0, x, 0, x, q + 1);
  }
  return Math.round(n / ((performance.now() - t0) / 1000));
}
const ceiling = engineCeiling(supernodes * 4, 5_000_000);
/** What differs between two runs of one scenario on different threads: only these. */
const timings = { wallS: 0, eventsPerS: 0, eventsPerCpuS: 0, peakRssMiB: 0, heapPerSupernodeKiB: 0, threadWait: 0 };

const figures = [
  ['look-up success %', ours.lookupSuccess * 100, kad.lookupSuccess * 100],
  ['hops p50', ours.hopsP50, kad.hopsP50],
  ['hops p99', ours.hopsP99, kad.hopsP99],
  ['look-up latency p50 ms', ours.latencyP50Ms, kad.latencyP50Ms],
  ['look-up latency p99 ms', ours.latencyP99Ms, kad.latencyP99Ms],
  ['upkeep B/s per supernode', ours.upkeepBytesPerSupernodeS, kad.upkeepBytesPerSupernodeS],
  ['simulator events/s', ours.eventsPerS, kad.eventsPerS],
  ['simulator events/CPU s', ours.eventsPerCpuS, kad.eventsPerCpuS],
] as const;
printTable(`simulator: ${supernodes} supernodes, ${users} users, churn skype, ${minutes} min, seed ${seed} (reference: Kademlia, k=20, α=3)`,
  figures.map(([name, o, k]) => ({ name, overlay: o, kademlia: k, ratio: ratio(o, k) })));
printTable('kill 30 % of supernodes at once (overlay, no other churn)', [
  { name: 'look-up success %', value: kill.lookupSuccess * 100 },
  { name: 'worst 10 s window %', value: kill.worstWindowSuccess * 100 },
  { name: 'back to ≥ 99.9 % after s', value: kill.recoveredAfterS ?? 'never' },
  { name: 'offline messages accepted', value: kill.mailsAccepted },
  { name: 'offline messages lost', value: kill.mailsLost },
  { name: 'offline messages delivered twice', value: kill.mailsDuplicated },
]);
printTable(`simulator speed against the engine alone (same agenda, no cores, no workload, one thread)`, [
  { name: `overlay, ${threads} thread(s)`, 'events/s': ours.eventsPerS, 'engine alone': ceiling, ratio: ratio(ours.eventsPerS, ceiling) },
  ...(threads > 1 ? [{ name: 'overlay, 1 thread', 'events/s': oneThread.eventsPerS, 'engine alone': ceiling, ratio: ratio(oneThread.eventsPerS, ceiling) }] : []),
  { name: `kademlia, ${threads} thread(s)`, 'events/s': kad.eventsPerS, 'engine alone': ceiling, ratio: ratio(kad.eventsPerS, ceiling) },
]);
if (threads > 1) process.stdout.write(`\n${threads} threads against 1: ${ratio(ours.eventsPerS, oneThread.eventsPerS)}x the events/s, waiting for each other ${Math.round(ours.threadWait * 100)} % of the time; same figures: ${JSON.stringify({ ...ours, ...timings }) === JSON.stringify({ ...oneThread, ...timings })}\n`);
process.stdout.write(`\nmemory: peak RSS ${ours.peakRssMiB} MiB, ${ours.heapPerSupernodeKiB} KiB of heap per supernode after setup\n`);
process.stdout.write(JSON.stringify({ bench: 'sim', supernodes, users, minutes, seed, threads, overlay: ours, overlayOneThread: oneThread, kademlia: kad, kill, engineAloneEventsPerS: ceiling }) + '\n');
