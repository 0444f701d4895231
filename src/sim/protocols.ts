// The protocols the simulator can run: the Tincan overlay and the Kademlia baseline, each
// with a warm start that fills a new core's tables from the whole membership (what a long
// running network converges to) so large runs need not replay hours of joins.
import { OverlayCore } from '../overlay/overlay-core.ts';
import { type RingParams, blockCount, lowerBound } from '../overlay/ring.ts';
import { verifySimRecord } from './sim-record.ts';
import { KademliaCore } from './kademlia.ts';
import type { SimCore } from './sim-core.ts';
import type { Rng } from './rng.ts';

/** A protocol as data, so a worker thread can build the same one. */
export type ProtocolSpec = { name: 'overlay'; params: RingParams } | { name: 'kademlia' };

export interface Protocol {
  readonly name: 'overlay' | 'kademlia';
  readonly spec: ProtocolSpec;
  create(id: number, inc: number, rng: Rng): SimCore;
  warm(core: SimCore, sorted: Uint32Array, rng: Rng, now: number): void;
}

export function overlayProtocol(params: RingParams): Protocol {
  return {
    name: 'overlay',
    spec: { name: 'overlay', params },
    create: (id, inc, rng) => new OverlayCore({ id, inc, params, rand: rng.u32, verifyRecord: verifySimRecord, mailRetentionMs: 86_400_000 }),
    warm(core, sorted, rng, now) {
      const c = core as OverlayCore;
      const m = c.members;
      const ids: number[] = [];
      const blocks = blockCount(params);
      const span = 2 ** 32 / blocks;
      const rangeOf = (b: number) => { const lo = lowerBound(sorted, b * span); return [lo, lowerBound(sorted, (b + 1) * span)]; };
      for (let b = 0; b < blocks; b++) {
        const [lo, hi] = rangeOf(b);
        if (hi <= lo) continue;
        if (m.inNeighbourhood(sorted[lo])) { for (let i = lo; i < hi; i++) ids.push(sorted[i]); continue; }
        for (let k = 0; k < m.contactsPerBlock; k++) ids.push(sorted[lo + rng.int(hi - lo)]);
      }
      c.seedMembers(ids, ids.map(() => 1), now);
    },
  };
}

export function kademliaProtocol(): Protocol {
  return {
    name: 'kademlia',
    spec: { name: 'kademlia' },
    create: (id, _inc, rng) => new KademliaCore({ id, rand: rng.u32, verifyRecord: verifySimRecord }),
    warm(core, sorted, rng) { (core as KademliaCore).seedTables(sorted, rng.u32); },
  };
}

export function protocolOf(spec: ProtocolSpec): Protocol {
  return spec.name === 'overlay' ? overlayProtocol(spec.params) : kademliaProtocol();
}
