// Who a supernode knows: every member of its neighbourhood (its own block and the blocks on
// either side — enough to compute the replica group of any slot in its block or the one
// before, whose groups spill into its own) and `contactsPerBlock` members of every other
// block. A look-up therefore needs one hop into the target block and at most one more to a
// replica: ≤ 2 overlay hops at any size, with tables of ~3·80 + 2·blocks ids (docs/overlay.md).
// In networks of ≤ 3 blocks the neighbourhood is the whole ring.
//
// The tables are flat typed arrays (ids are 32-bit): a simulator holds 10^5 of them, and a
// Map entry per known id cost more than the ids themselves (docs/decisions/0030).
import { type RingParams, blockCount, blockOfId, blockOfSlot, slotPoint, mix32 } from './ring.ts';

export type Rand = () => number; // uniform u32

/** How long a death is remembered, so stale lists and late events cannot bring the member back. */
const deadMemoryMs = 10 * 60_000;

export class Membership {
  readonly blocks: number;
  readonly block: number;
  private readonly base: number;
  private readonly whole: boolean;
  private readonly blockSpan: number;
  /**
   * The neighbourhood: (id, incarnation) pairs sorted by the id's ring offset from `base` (so the
   * wrap at 2^32 is no edge); `n` pairs used. One small array per supernode, not a Map entry per id.
   */
  private tab = new Uint32Array(32);
  private n = 0;
  readonly contacts: Uint32Array;
  /** Dead neighbourhood members: id → incarnation, and [id, inc, time] in the order they died (to forget them). Made on first use. */
  private dead: Map<number, number> | undefined;
  private deadQ: number[] = [];
  private deadQHead = 0;
  private addrMap: Map<number, string> | undefined;
  private digestCache: number | undefined;

  constructor(readonly self: number, public selfInc: number, readonly p: RingParams, readonly contactsPerBlock = 2) {
    this.blocks = blockCount(p);
    this.block = blockOfId(self, p);
    this.whole = this.blocks <= 3;
    this.blockSpan = 2 ** (32 - Math.log2(this.blocks));
    this.base = this.whole ? 0 : (((this.block - 1 + this.blocks) % this.blocks) * this.blockSpan) >>> 0;
    this.contacts = new Uint32Array(this.whole ? 0 : this.blocks * contactsPerBlock);
    this.insertLocal(self, selfInc);
  }

  /** The neighbourhood, in ring order from the start of the block before ours (a copy). */
  get local(): number[] { const out: number[] = new Array(this.n); for (let i = 0; i < this.n; i++) out[i] = this.tab[2 * i]; return out; }
  get size(): number { return this.n; }
  private idAt(i: number): number { return this.tab[2 * i]; }

  /** Addresses of members, on the real network only (the simulator's cores have none, and no map). */
  get addrs(): Map<number, string> { return this.addrMap ??= new Map(); }
  addrOf(id: number): string | undefined { return this.addrMap?.get(id); }

  inNeighbourhood(id: number): boolean {
    return this.whole || this.inNeighbourhoodBlock(blockOfId(id, this.p));
  }

  /** Whether our neighbourhood and `id`'s share a block — i.e. whether we are in its neighbourhood too (symmetric). */
  inNeighbourhoodBlock(block: number): boolean {
    if (this.whole) return true;
    const d = (block - this.block + this.blocks) % this.blocks;
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
    // Every replicated item and served request asks for its slot's group, nearly always the
    // same one or two slots: the last answer is kept until the neighbourhood changes. Callers
    // never modify a group they are given.
    if (slot === this.groupSlot && this.version === this.groupVersion) return this.groupIds;
    const g = this.computeGroup(slot);
    this.groupSlot = slot; this.groupVersion = this.version; this.groupIds = g;
    return g;
  }
  private groupSlot = -1;
  private groupVersion = -1;
  private groupIds: number[] = [];
  /** Grows whenever the neighbourhood's ids change. */
  private version = 0;

  private computeGroup(slot: number): number[] {
    const n = this.n;
    const start = this.lowerBound((slotPoint(slot, this.p) - this.base) >>> 0);
    const out: number[] = [];
    for (let k = 0; k < this.p.replicas && k < n; k++) {
      const i = start + k;
      if (i >= n && !this.whole) break;
      out.push(this.idAt(i % n));
    }
    return out;
  }

  /** Learns that a member is alive; 'new' when this changes what we know. */
  alive(id: number, inc: number, now: number, addr?: string): 'new' | 'known' {
    if (id === this.self || id === 0) return 'known';
    const d = this.dead?.get(id);
    if (d !== undefined && d >= inc) return 'known';
    if (d !== undefined) this.dead!.delete(id);
    if (addr) this.addrs.set(id, addr);
    void now;
    if (this.inNeighbourhood(id)) {
      const i = this.indexOf(id);
      if (i >= 0) {
        if (this.tab[2 * i + 1] >= inc) return 'known';
        this.tab[2 * i + 1] = inc;
        this.digestCache = undefined;
        return 'new';
      }
      this.insertLocal(id, inc);
      return 'new';
    }
    const at = blockOfId(id, this.p) * this.contactsPerBlock;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === id) return 'known';
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === 0) { this.contacts[at + k] = id; return 'new'; }
    return 'known';
  }

  /** Fills an empty contact entry with a member that just talked to us. */
  heardFrom(id: number) {
    // Runs for every message received: the common case (a known contact) is settled before the map look-up.
    if (this.whole || id === 0 || this.inNeighbourhood(id)) return;
    const at = blockOfId(id, this.p) * this.contactsPerBlock;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === id) return;
    if (this.dead?.has(id)) return;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === 0) { this.contacts[at + k] = id; return; }
  }

  /** Learns that a neighbourhood member left or failed; true when this is news. Elsewhere only a contact is dropped. */
  died(id: number, inc: number, now: number): boolean {
    if (id === this.self) return false;
    if (!this.inNeighbourhood(id)) { this.dropContact(id); return false; }
    const d = this.dead?.get(id);
    if (d !== undefined && d >= inc) return false;
    const i = this.indexOf(id);
    if (i >= 0 && this.tab[2 * i + 1] > inc) return false;
    (this.dead ??= new Map()).set(id, inc);
    this.deadQ.push(id, inc, now);
    if (i >= 0) this.removeAt(i);
    // The address stays as long as the death is remembered: we keep telling the member it died
    // (randomDead), and a false death is only undone by the member itself.
    return true;
  }

  /** The incarnation we know `id` died in, or undefined. */
  deadInc(id: number): number | undefined { return this.dead?.get(id); }

  /** Stops using a contact that did not answer (it may be alive: no event is spread). */
  dropContact(id: number) {
    if (this.whole || id === 0) return;
    const at = blockOfId(id, this.p) * this.contactsPerBlock;
    for (let k = 0; k < this.contactsPerBlock; k++) if (this.contacts[at + k] === id) this.contacts[at + k] = 0;
  }

  forgetOldDeaths(now: number) {
    const q = this.deadQ;
    let h = this.deadQHead;
    for (; h < q.length && now - q[h + 2] > deadMemoryMs; h += 3) {
      if (this.dead!.get(q[h]) === q[h + 1]) { this.dead!.delete(q[h]); this.addrMap?.delete(q[h]); }
    }
    if (h === q.length) { this.deadQ = []; h = 0; } else if (h > 96 && h * 2 > q.length) { this.deadQ = q.slice(h); h = 0; }
    this.deadQHead = h;
  }

  isDead(id: number) { return this.dead?.has(id) ?? false; }

  /** A member we remember dead, at random (0: none). */
  randomDead(rand: Rand): number {
    const q = this.deadQ, entries = (q.length - this.deadQHead) / 3;
    // Entries of members that came back since (or died again) are skipped; a few tries suffice.
    for (let tries = 0; tries < 4 && entries > 0; tries++) {
      const at = this.deadQHead + 3 * (rand() % entries);
      if (this.dead!.get(q[at]) === q[at + 1]) return q[at];
    }
    return 0;
  }

  /** A member able to route into `block` (one of its members), or 0. */
  memberIn(block: number, rand: Rand): number {
    if (this.whole || this.inNeighbourhoodBlock(block)) {
      const lo = (block * this.blockSpan - this.base) >>> 0;
      const a = this.lowerBound(lo);
      const hi = this.whole ? 2 ** 32 : lo + this.blockSpan;
      const b = this.lowerBound(hi);
      if (b > a) { const id = this.idAt(a + (rand() % (b - a))); if (id !== this.self) return id; }
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

  /**
   * A first hop towards a slot of `block` that can name its replica group: a member of the block
   * or of the block after it (whose neighbourhood covers it) — four contacts to choose from, so a
   * contact that died unnoticed (deaths are not news outside the neighbourhood) costs one retry,
   * and the retry's second way (`avoid`: the first's) rarely meets another.
   */
  routeInto(block: number, rand: Rand, avoid = 0): number {
    const after = (block + 1) % this.blocks;
    for (let t = 0; t < 4; t++) {
      const id = this.memberIn(rand() & 1 ? after : block, rand);
      if (id && id !== avoid) return id;
    }
    return this.memberIn(block, rand) || this.memberIn(after, rand);
  }

  /** Any member we know, for routing when the block we want has no contact left. */
  randomMember(rand: Rand): number {
    const n = this.contacts.length;
    if (n > 0 && rand() % 4 !== 0) {
      for (let tries = 0; tries < 4; tries++) { const id = this.contacts[rand() % n]; if (id) return id; }
    }
    return this.randomNeighbour(rand);
  }

  /** A random member of our own neighbourhood (≠ us), or 0: deaths there are news, so it is likely alive. */
  randomNeighbour(rand: Rand): number {
    if (this.n <= 1) return 0;
    const id = this.idAt(rand() % this.n);
    return id === this.self ? 0 : id;
  }

  /** A random member of `id`'s neighbourhood we know (≠ us), or 0: where news of `id` goes. */
  neighbourOf(id: number, rand: Rand): number {
    if (this.whole) return this.randomNeighbour(rand);
    const b = blockOfId(id, this.p);
    return this.memberIn((b + (rand() % 3) + this.blocks - 1) % this.blocks, rand);
  }

  /** The next member clockwise: the one we watch for failure. */
  successor(): number {
    const i = this.lowerBound((this.self - this.base) >>> 0);
    const n = this.n;
    return n > 1 && (this.whole || i + 1 < n) ? this.idAt((i + 1) % n) : 0;
  }

  /** Up to `k` members after `id` in ring order, as far as our table reaches. */
  successorsAfter(id: number, k: number): number[] {
    const i = this.lowerBound((id - this.base) >>> 0);
    const out: number[] = [];
    for (let j = 1; j <= k; j++) {
      if (i + j >= this.n && !this.whole) break;
      const m = this.idAt((i + j) % this.n);
      if (m === this.self || m === id) break;
      out.push(m);
    }
    return out;
  }

  /** A newer incarnation of ourselves (refuting news of our death). */
  bumpInc(inc: number) {
    this.selfInc = inc;
    const i = this.indexOf(this.self);
    if (i >= 0) this.tab[2 * i + 1] = inc;
    this.digestCache = undefined;
  }

  localDigest(): number {
    if (this.digestCache !== undefined) return this.digestCache;
    let h = 0;
    for (let i = 0; i < 2 * this.n; i += 2) h = (h ^ mix32(this.tab[i] ^ this.tab[i + 1])) >>> 0;
    return this.digestCache = h;
  }

  incOf(id: number): number {
    if (id === this.self) return this.selfInc;
    const i = this.indexOf(id);
    return i >= 0 ? this.tab[2 * i + 1] : 0;
  }

  /** Every id we know: neighbourhood and contacts (for a joiner's first table). */
  knownIds(): number[] {
    const out = this.local;
    for (const id of this.contacts) if (id) out.push(id);
    return out;
  }

  /** Index of the first member whose ring offset from `base` is ≥ off. */
  private lowerBound(off: number): number {
    let lo = 0, hi = this.n;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (((this.tab[2 * mid] - this.base) >>> 0) < off) lo = mid + 1; else hi = mid; }
    return lo;
  }

  private indexOf(id: number): number {
    const i = this.lowerBound((id - this.base) >>> 0);
    return i < this.n && this.idAt(i) === id ? i : -1;
  }

  private insertLocal(id: number, inc: number) {
    this.digestCache = undefined;
    this.version++;
    const i = this.lowerBound((id - this.base) >>> 0);
    if (2 * this.n === this.tab.length) { const t = new Uint32Array(this.tab.length * 2); t.set(this.tab); this.tab = t; }
    this.tab.copyWithin(2 * i + 2, 2 * i, 2 * this.n);
    this.tab[2 * i] = id; this.tab[2 * i + 1] = inc;
    this.n++;
  }

  private removeAt(i: number) {
    this.digestCache = undefined;
    this.version++;
    this.tab.copyWithin(2 * i, 2 * i + 2, 2 * this.n);
    this.n--;
  }
}
