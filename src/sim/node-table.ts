// The simulated supernodes as columns (docs/decisions/0028): the run loop reads a node's
// liveness, region and timer from small typed arrays instead of loading one object per node
// — at 10⁴–10⁵ nodes each of those loads was a cache miss — and finds a node by its overlay
// id in an open-addressing table instead of a Map (ids are random 32-bit numbers).
import type { SimCore } from './sim-core.ts';
import type { Rng } from './rng.ts';

export class NodeTable {
  count = 0;
  cores: (SimCore | undefined)[] = [];
  /** Each node's own random stream (its core's choices, its datagrams' fates, its lifetime). */
  rngs: Rng[] = [];
  id = new Uint32Array(1024);
  region = new Uint8Array(1024);
  alive = new Uint8Array(1024);
  /** The time of the timer event scheduled for the node's core, -1 for none. */
  timerAt = new Float64Array(1024);
  /** Events the node has scheduled: the second part of their key (agenda.ts). */
  seq = new Float64Array(1024);

  // id → index + 1 (0: empty), linear probing, at most half full. Ids are never removed:
  // datagrams still find a dead node's index, and are dropped there.
  private keys = new Uint32Array(4096);
  private vals = new Int32Array(4096);

  /** Adds a node with a fresh nonzero id; its index. */
  add(id: number, region: number, core: SimCore, rng: Rng): number {
    if (id === 0 || this.indexOf(id) >= 0) throw new Error(`node id ${id} is zero or taken`);
    const i = this.count++;
    if (i === this.id.length) this.grow();
    this.cores.push(core); this.rngs.push(rng);
    this.id[i] = id; this.region[i] = region; this.alive[i] = 1; this.timerAt[i] = -1;
    if (2 * this.count > this.keys.length) this.rehash();
    this.insert(id, i);
    return i;
  }

  /** The index of the node with this id, or -1. */
  indexOf(id: number): number {
    const { keys } = this;
    const mask = keys.length - 1;
    for (let h = Math.imul(id, 0x9e3779b1) >>> 0 & mask; ; h = (h + 1) & mask) {
      const k = keys[h];
      if (k === id) return this.vals[h] - 1;
      if (k === 0) return -1;
    }
  }

  private insert(id: number, i: number) {
    const { keys } = this;
    const mask = keys.length - 1;
    let h = Math.imul(id, 0x9e3779b1) >>> 0 & mask;
    while (keys[h] !== 0) h = (h + 1) & mask;
    keys[h] = id; this.vals[h] = i + 1;
  }

  private rehash() {
    const keys = this.keys, vals = this.vals;
    this.keys = new Uint32Array(keys.length * 2);
    this.vals = new Int32Array(keys.length * 2);
    for (let h = 0; h < keys.length; h++) if (keys[h] !== 0) this.insert(keys[h], vals[h] - 1);
  }

  private grow() {
    const n = this.id.length * 2;
    const id = new Uint32Array(n); id.set(this.id); this.id = id;
    const region = new Uint8Array(n); region.set(this.region); this.region = region;
    const alive = new Uint8Array(n); alive.set(this.alive); this.alive = alive;
    const timerAt = new Float64Array(n); timerAt.set(this.timerAt); this.timerAt = timerAt;
    const seq = new Float64Array(n); seq.set(this.seq); this.seq = seq;
  }
}
