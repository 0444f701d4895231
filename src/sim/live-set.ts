// Which supernodes are alive, as every thread of a run sees it: a sorted id list that changes
// only between windows, by the joins and deaths of the window before, applied in one order
// (time, id) everywhere. Users attach to a random member of it (the login server's list), a
// joiner bootstraps from one, and faults pick their victims from it — the same picks whatever
// the number of threads (docs/decisions/0033).
import type { Rng } from './rng.ts';
import { lowerBound } from '../overlay/ring.ts';

/** A join (alive 1) or a death (alive 0) of supernode `id` at time `t`. */
export interface LiveChange { t: number; id: number; alive: number }

export const byTimeThenId = (x: LiveChange, y: LiveChange) => x.t - y.t || x.id - y.id || x.alive - y.alive;

export class LiveSet {
  private ids: Uint32Array;
  private n: number;

  constructor(sorted: Uint32Array) { this.ids = sorted.slice(); this.n = sorted.length; }

  get size() { return this.n; }
  pick(rng: Rng): number { return this.ids[rng.int(this.n)]; }
  has(id: number): boolean { const i = lowerBound(this.ids, id, this.n); return i < this.n && this.ids[i] === id; }

  /** Applies changes already sorted by `byTimeThenId`. */
  apply(changes: LiveChange[]) {
    if (changes.length === 0) return;
    const dead = new Set<number>(), born = new Set<number>();
    for (const c of changes) {
      if (c.alive) { born.add(c.id); dead.delete(c.id); } else { dead.add(c.id); born.delete(c.id); }
    }
    const out = new Uint32Array(this.n + born.size);
    let k = 0;
    const add = [...born].filter((id) => !this.has(id)).sort((a, b) => a - b);
    let j = 0;
    for (let i = 0; i < this.n; i++) {
      const id = this.ids[i];
      while (j < add.length && add[j] < id) out[k++] = add[j++];
      if (!dead.has(id)) out[k++] = id;
    }
    while (j < add.length) out[k++] = add[j++];
    this.ids = out;
    this.n = k;
  }
}
