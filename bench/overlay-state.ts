// `npm run bench -- overlay-state [SUPERNODES]`: memory per simulated supernode core after a warm
// start (the simulator's setup), the overlay's beside the Kademlia baseline's in the same run,
// and memory per presence record held in a slot store beside the record's own bytes. JS heap
// and typed-array memory are counted together, after a forced GC (docs/decisions/0030).
import v8 from 'node:v8';
import vm from 'node:vm';
import { overlayProtocol, kademliaProtocol, type Protocol } from '../src/sim/protocols.ts';
import { slotBitsFor } from '../src/overlay/ring.ts';
import { SlotStore } from '../src/overlay/slot-store.ts';
import { simRecord, verifySimRecord } from '../src/sim/sim-record.ts';
import { Rng } from '../src/sim/rng.ts';
import { printTable, ratio } from './harness.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** Heap and typed-array bytes in use, once garbage (and the array buffers it held, freed a moment later) is gone. */
async function used(): Promise<number> {
  for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 50)); }
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const n = Number(process.argv[3] ?? 10_000);
if (!Number.isInteger(n) || n < 100 || n > 200_000) { process.stderr.write('overlay-state: SUPERNODES must be an integer from 100 to 200000\n'); process.exit(2); }
const now = 1_700_000_000_000;

async function perCore(p: Protocol): Promise<number> {
  const rng = new Rng(1, 2);
  const ids = new Set<number>();
  while (ids.size < n) ids.add(rng.u32() || 1);
  const sorted = Uint32Array.from(ids).sort();
  const before = await used();
  const cores = [...ids].map((id) => p.create(id, 1, rng));
  for (const c of cores) { p.warm(c, sorted, rng, now); c.start(now, []); while (c.out.take()); }
  const bytes = (await used() - before) / n;
  if (cores.length !== n) throw new Error('cores lost');
  return bytes;
}

async function perRecord(count: number): Promise<{ bytes: number; raw: number }> {
  const recs = Array.from({ length: count }, (_, i) => simRecord(`u${i}`, now, now + 600_000, 12345));
  const raw = recs.reduce((a, r) => a + r.length, 0) / count;
  const metas = recs.map((r) => verifySimRecord(r, now)!);
  const before = await used();
  const stores = Array.from({ length: count / 100 }, () => new SlotStore());
  for (let i = 0; i < count; i++) stores[i % stores.length].putRecord(metas[i], recs[i]);
  const bytes = (await used() - before) / count;
  // The inputs stay reachable until after the measurement, so only what the stores hold is counted.
  if (stores.reduce((a, s) => a + s.recordCount, 0) !== count || recs.length + metas.length !== 2 * count) throw new Error('records lost');
  return { bytes, raw };
}

const rec = await perRecord(100_000);
const overlay = await perCore(overlayProtocol({ slotBits: slotBitsFor(n), replicas: 10 }));
const kademlia = await perCore(kademliaProtocol());
printTable(`Memory per warm-started supernode core, ${n} supernodes (heap + typed arrays, after GC)`, [
  { name: 'overlay core', bytes: Math.round(overlay), 'vs Kademlia': ratio(overlay, kademlia) },
  { name: 'Kademlia core (reference, k = 20)', bytes: Math.round(kademlia), 'vs Kademlia': 1 },
]);
printTable('Memory per presence record in slot stores of 100 records (simulator records)', [
  { name: 'held record', bytes: Math.round(rec.bytes), 'vs its bytes': ratio(rec.bytes, rec.raw) },
  { name: 'record bytes (reference)', bytes: Math.round(rec.raw), 'vs its bytes': 1 },
]);
process.stdout.write(JSON.stringify({ bench: 'overlay-state', supernodes: n, overlayCoreBytes: Math.round(overlay), kademliaCoreBytes: Math.round(kademlia), recordBytes: Math.round(rec.bytes), recordRawBytes: Math.round(rec.raw) }) + '\n');
