// Who a supernode knows: every member of its neighbourhood (its own block and the blocks on
// either side — enough to compute the replica group of any slot in its block or the one
// before, whose groups spill into its own) and `contactsPerBlock` members of every other
// block. A look-up therefore needs one hop into the target block and at most one more to a
// replica: ≤ 2 overlay hops at any size, with tables of ~3·80 + 2·blocks ids (docs/overlay.md).
// In networks of ≤ 3 blocks the neighbourhood is the whole ring.
import { type RingParams, blockCount, blockOfId, blockOfSlot, slotPoint, lowerBound, mix32 } from './ring.ts';

export type Rand = () => number; // uniform u32

const deadMemoryMs = 10 * 60_000;

export class Membership {
  readonly blocks: number;
  readonly block: number;
  private readonly base: number;
  private readonly whole: boolean;
  /** Neighbourhood ids, sorted by ring offset from `base` (so the wrap at 2^32 is no edge). */
  local: number[] = [];
  private offsets: number[] = [];
  readonly incs = new Map<number, number>();
  readonly contacts: Uint32Array;
  private readonly dead = new Map<number, { inc: number; atMs: number }>();
  readonly addrs = new Map<number, string>();

  constructor(readonly self: number, public selfInc: number, readonly p: RingParams, readonly contactsPerBlock = 2) {
    this.blocks = blockCount(p);
    this.block = blockOfId(self, p);
    this.whole = this.blocks <= 3;
    this.base = this.whole ? 0 : (((this.block - 1 + this.blocks) % this.blocks) * 2 ** (32 - Math.log2(this.blocks))) >>> 0;
    this.contacts = new Uint32Array(this.whole ? 0 : this.blocks * contactsPerBlock);
    this.insertLocal(self, selfInc);
  }

  inNeighbourhood(id: number): boolean {
    if (this.whole) return true;
    const d = (blockOfId(id, this.p) - this.block + this.blocks) % this.blocks;
    return d <= 1 || d === this.blocks - 1;
  }

  /** Can we name the replica group of this slot from what we know? */
  knowsGroupOf(slot: number): boolean {
    if (this.whole) return true;
    const d = (blockOfSlot(slot, this.p) - this.block + this.blocks) % this.blocks;
    return d === 0 || d === this.blocks - 1;
  }

  /** The slot's replica group as we see it (empty when we cannot tell). */
  group(slot: number): number[] {
    if (!this.knowsGroupOf(slot)) return [];
    const n = this.local.length;
    const start = lowerBound(this.offsets, (slotPoint(slot, this.p) - this.base) >>> 0);
    const out: number[] = [];
    for (let k = 0; k < this.p.replicas && k < n; k++) {
      const i = start + k;
      if (i >= n && !this.whole) break;
      out.push(this.local[i % n]);
    }
    return out;
  }

  /** Learns that a member is alive; 'new' when this changes what we know. */
  alive(id: number, inc: number, now: number, addr?: string): 'new' | 'known' {
    if (id === this.self || id === 0) return 'known';
    const d = this.dead.get(id);
    if (d && d.inc >= inc) return 'known';
    if (d) this.dead.delete(id);
    if (addr) this.addrs.set(id, addr);
    if (this.inNeighbourhood(id)) {
      const have = this.incs.get(id);
      if (have !== undefined && have >= inc) return 'known';
      if (have === undefined) this.insertLocal(id, inc); else this.incs.set(id, inc);
      this.digestCache = undefined;
      return 'new';
    }
    const at = blockOfId(id, this.p) * this.contactsPerBlock;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === id) return 'known';
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === 0) { this.contacts[at + k] = id; break; }
    // Remote joins are news even when our table is full: others' tables may need them.
    void now;
    return 'new';
  }

  /** Fills an empty contact entry with a member that just talked to us. */
  heardFrom(id: number) {
    // Runs for every message received: the common case (a known contact) is settled before the map look-up.
    if (this.whole || id === 0 || this.inNeighbourhood(id)) return;
    const at = blockOfId(id, this.p) * this.contactsPerBlock;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === id) return;
    if (this.dead.has(id)) return;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === 0) { this.contacts[at + k] = id; return; }
  }

  /** Learns that a member left or failed; true when this is news. */
  died(id: number, inc: number, now: number): boolean {
    if (id === this.self) return false;
    const d = this.dead.get(id);
    if (d && d.inc >= inc) return false;
    const have = this.incs.get(id);
    if (have !== undefined && have > inc) return false;
    this.dead.set(id, { inc, atMs: now });
    if (have !== undefined) this.removeLocal(id);
    this.dropContact(id);
    this.addrs.delete(id);
    return true;
  }

  /** Stops using a contact that did not answer (it may be alive: no event is spread). */
  dropContact(id: number) {
    const i = this.contacts.indexOf(id);
    if (i >= 0) this.contacts[i] = 0;
  }

  forgetOldDeaths(now: number) {
    for (const [id, d] of this.dead) if (now - d.atMs > deadMemoryMs) this.dead.delete(id);
  }

  isDead(id: number) { return this.dead.has(id); }

  /** A member able to route into `block` (one of its members), or 0. */
  memberIn(block: number, rand: Rand): number {
    if (this.whole || this.inNeighbourhoodBlock(block)) {
      const lo = (block * 2 ** (32 - Math.log2(this.blocks)) - this.base) >>> 0;
      const a = lowerBound(this.offsets, lo);
      const hi = this.whole ? 2 ** 32 : lo + 2 ** (32 - Math.log2(this.blocks));
      const b = lowerBound(this.offsets, hi);
      if (b > a) { const id = this.local[a + (rand() % (b - a))]; if (id !== this.self) return id; }
      if (!this.whole) return 0;
    }
    const at = block * this.contactsPerBlock;
    const k = rand() % this.contactsPerBlock;
    for (let j = 0; j < this.contactsPerBlock; j++) {
      const id = this.contacts[at + ((k + j) % this.contactsPerBlock)];
      if (id) return id;
    }
    return 0;
  }

  /** Any member we know, for gossip fan-out. */
  randomMember(rand: Rand): number {
    const n = this.contacts.length;
    if (n > 0 && rand() % 4 !== 0) {
      for (let tries = 0; tries < 4; tries++) { const id = this.contacts[rand() % n]; if (id) return id; }
    }
    if (this.local.length <= 1) return 0;
    const id = this.local[rand() % this.local.length];
    return id === this.self ? 0 : id;
  }

  /** The next member clockwise: the one we watch for failure. */
  successor(): number {
    const i = lowerBound(this.offsets, (this.self - this.base) >>> 0);
    const n = this.local.length;
    return n > 1 && (this.whole || i + 1 < n) ? this.local[(i + 1) % n] : 0;
  }

  private digestCache: number | undefined;

  /** A newer incarnation of ourselves (refuting news of our death). */
  bumpInc(inc: number) { this.selfInc = inc; this.digestCache = undefined; }

  localDigest(): number {
    if (this.digestCache !== undefined) return this.digestCache;
    let h = 0;
    for (const id of this.local) h = (h ^ mix32(id ^ (this.incs.get(id) ?? this.selfInc))) >>> 0;
    return this.digestCache = h;
  }

  incOf(id: number): number { return id === this.self ? this.selfInc : this.incs.get(id) ?? 0; }

  /** Every id we know: neighbourhood and contacts (for a joiner's first table). */
  knownIds(): number[] {
    const out = [...this.local];
    for (const id of this.contacts) if (id) out.push(id);
    return out;
  }

  private inNeighbourhoodBlock(block: number): boolean {
    const d = (block - this.block + this.blocks) % this.blocks;
    return d <= 1 || d === this.blocks - 1;
  }

  private insertLocal(id: number, inc: number) {
    this.digestCache = undefined;
    const off = (id - this.base) >>> 0;
    const i = lowerBound(this.offsets, off);
    this.offsets.splice(i, 0, off);
    this.local.splice(i, 0, id);
    if (id !== this.self) this.incs.set(id, inc);
  }

  private removeLocal(id: number) {
    this.digestCache = undefined;
    const i = lowerBound(this.offsets, (id - this.base) >>> 0);
    if (this.local[i] !== id) return;
    this.offsets.splice(i, 1);
    this.local.splice(i, 1);
    this.incs.delete(id);
  }
}
