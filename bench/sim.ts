// `npm run bench -- sim [--supernodes N --users M --minutes T]`: the standard simulator
// scenarios — the overlay and the Kademlia baseline under the same seeded network, churn and
// workload, then the overlay losing 30 % of its supernodes at once. The overlay's figures are
// printed next to Kademlia's (the reference) as ratios; one JSON line last.
import { runScenario, type ScenarioOptions } from '../src/sim/scenario.ts';
import { overlayProtocol, kademliaProtocol } from '../src/sim/protocols.ts';
import { slotBitsFor } from '../src/overlay/ring.ts';
import { printTable, ratio } from './harness.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const supernodes = arg('supernodes', 5000);
const users = arg('users', 50_000);
const minutes = arg('minutes', 5);
const seed = arg('seed', 1);

const base: Omit<ScenarioOptions, 'protocol'> = { supernodes, users, minutes, seed, churn: 'skype' };
const overlay = () => overlayProtocol({ slotBits: slotBitsFor(supernodes), replicas: 10 });
const run = (o: ScenarioOptions) => { const m = runScenario(o); return m.report; };

const ours = run({ ...base, protocol: overlay() });
const kad = run({ ...base, protocol: kademliaProtocol(), mail: false });
const kill = run({ ...base, churn: 'none', protocol: overlay(), killFraction: 0.3, killAtMin: minutes / 2 });

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
process.stdout.write(`\nmemory: peak RSS ${ours.peakRssMiB} MiB, ${ours.heapPerSupernodeKiB} KiB of heap per supernode after setup\n`);
process.stdout.write(JSON.stringify({ bench: 'sim', supernodes, users, minutes, seed, overlay: ours, kademlia: kad, kill }) + '\n');
