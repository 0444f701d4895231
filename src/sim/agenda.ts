// The simulator's agenda without an object per event (docs/decisions/0028, 0033).
//
// An event is a slot in parallel typed arrays — time, kind, two numeric arguments, the key that
// orders it, and where its payload (a datagram's bytes, if any) lies in the payload arena.
// Freed slots are reused last-in first-out, so the slots in use stay few and hot in cache.
//
// Order is (time, source, sequence): the actor that scheduled the event (a supernode's id, a
// user shard, the run itself) and that actor's own count of events scheduled. The order is a
// property of the events, not of when a thread happened to schedule them, so a run split over
// several threads processes every actor's events in the same order as a run on one thread, and
// gives the same figures (decision 0033). Times are whole milliseconds.
//
// * The next `windowMs` milliseconds are a calendar: one list per millisecond, so scheduling
//   costs O(1). A millisecond's list is sorted by key when its turn comes (a few to a few
//   hundred events); events scheduled for the current millisecond while it runs form a new
//   list, taken (and sorted) after the first.
// * Later events wait in a binary heap by time, and move into their millisecond's list when
//   the window reaches it.
import { PayloadArena } from './payload-arena.ts';

export class Agenda {
  /** Per slot: when, what, its arguments, and its key. */
  t = new Float64Array(1024);
  kind = new Uint8Array(1024);
  a = new Float64Array(1024);
  b = new Float64Array(1024);
  src = new Float64Array(1024);
  seq = new Float64Array(1024);
  /**
   * Source and sequence in one number for sorting: the source (< 2^33) with the sequence's low
   * 20 bits as the fraction (53 bits in all: exact). An actor whose sequence passes a multiple
   * of 2^20 within one millisecond has those events taken out of its order there (a busy user
   * shard may): a reordering like the network's own, and the same on any number of threads.
   */
  private key = new Float64Array(1024);
  /** Per slot: the payload's handle in the arena and its length (-1: none). */
  private pAt = new Float64Array(1024);
  private pLen = new Int32Array(1024);
  private readonly arena = new PayloadArena();
  /** Next slot in the same millisecond's list, or in the free list; -1 ends. */
  private next = new Int32Array(1024).fill(-1);
  private free = -1;
  private used = 0;

  private readonly mask: number;
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  /** The earliest millisecond that may still hold events; the window is [now, now + windowMs). */
  private now: number;
  private near = 0;
  /** The millisecond being taken, sorted: slots cur[curAt..curN). */
  private cur = new Int32Array(256);
  private curAt = 0;
  private curN = 0;

  // The far heap: slots ordered by time.
  private farSlot = new Int32Array(256);
  private farT = new Float64Array(256);
  private farN = 0;

  constructor(startMs: number, readonly windowMs = 8192) {
    if (!Number.isInteger(startMs)) throw new RangeError('the agenda starts at a whole millisecond');
    this.now = startMs;
    if ((windowMs & (windowMs - 1)) !== 0) throw new Error('the window is a power of two');
    this.mask = windowMs - 1;
    this.head = new Int32Array(windowMs).fill(-1);
    this.tail = new Int32Array(windowMs).fill(-1);
  }

  get size() { return this.near + this.farN + this.curN - this.curAt; }

  /**
   * Schedules an event at whole millisecond `t` (≥ the last taken) with its key, and a copy of
   * `payload` (or of its `len` bytes from `from`); its slot.
   */
  push(t: number, kind: number, a: number, b: number, src: number, seq: number, payload?: Uint8Array, from = 0, len = payload ? payload.length - from : -1): number {
    if (t < this.now || !Number.isInteger(t)) throw new RangeError(`event time ${t} is in the past or not whole (now ${this.now})`);
    let s = this.free;
    if (s < 0) s = this.alloc(); else this.free = this.next[s];
    this.t[s] = t; this.kind[s] = kind; this.a[s] = a; this.b[s] = b; this.src[s] = src; this.seq[s] = seq;
    this.key[s] = src + (seq & 0xfffff) / 1048576;
    this.pLen[s] = payload ? len : -1;
    if (payload) this.pAt[s] = this.arena.put(payload, from, len);
    this.next[s] = -1;
    if (t - this.now < this.windowMs) this.append(s, t);
    else this.farPush(s, t);
    return s;
  }

  /**
   * Takes the first event before `limit` (-1 when there is none: the agenda then stands at
   * `limit`, or at its next event if that is earlier); read its fields, then `release` it.
   */
  pop(limit = Infinity): number {
    if (this.curAt < this.curN) return this.cur[this.curAt++];
    for (;;) {
      if (this.now >= limit) return -1;
      if (this.near === 0) {
        if (this.farN === 0 || this.farT[0] >= limit) { if (limit !== Infinity && limit > this.now) this.advanceTo(limit); return -1; }
        this.advanceTo(this.farT[0]);
      }
      const i = this.now & this.mask;
      if (this.head[i] >= 0) return this.take(i);
      if (this.now + 1 >= limit) { this.advanceTo(limit); return -1; }
      this.advanceTo(this.now + 1);
    }
  }

  /** A taken event's payload (a view the receiver may keep, payload-arena.ts), or undefined. */
  payload(s: number): Uint8Array | undefined {
    return this.pLen[s] < 0 ? undefined : this.arena.get(this.pAt[s], this.pLen[s]);
  }

  /** Gives a taken slot back, and its payload's room in the arena. */
  release(s: number) {
    if (this.pLen[s] >= 0) { this.arena.free(this.pAt[s], this.pLen[s]); this.pLen[s] = -1; }
    this.next[s] = this.free;
    this.free = s;
  }

  /** Takes millisecond list `i` whole, sorted by key; its first slot. */
  private take(i: number): number {
    let n = 0;
    for (let s = this.head[i]; s >= 0; s = this.next[s]) {
      if (n === this.cur.length) { const c = new Int32Array(n * 2); c.set(this.cur); this.cur = c; }
      this.cur[n++] = s;
    }
    this.head[i] = this.tail[i] = -1;
    this.near -= n;
    if (n > 1) this.sort(n);
    this.curN = n;
    this.curAt = 1;
    return this.cur[0];
  }

  /** Sorts cur[0..n) by key: insertion sort on short runs, merged pairwise on long lists. */
  private sort(n: number) {
    const { cur, key } = this;
    const run = 16;
    for (let lo = 0; lo < n; lo += run) {
      const hi = Math.min(n, lo + run);
      for (let k = lo + 1; k < hi; k++) {
        const x = cur[k], kx = key[x];
        let j = k - 1;
        while (j >= lo && kx < key[cur[j]]) { cur[j + 1] = cur[j]; j--; }
        cur[j + 1] = x;
      }
    }
    if (n <= run) return;
    if (this.spare.length < n) this.spare = new Int32Array(this.cur.length);
    let from = cur, to = this.spare;
    for (let width = run; width < n; width *= 2) {
      for (let lo = 0; lo < n; lo += 2 * width) {
        const mid = Math.min(n, lo + width), hi = Math.min(n, lo + 2 * width);
        let a = lo, b = mid, k = lo;
        while (a < mid && b < hi) to[k++] = key[from[b]] < key[from[a]] ? from[b++] : from[a++];
        while (a < mid) to[k++] = from[a++];
        while (b < hi) to[k++] = from[b++];
      }
      const swap = from; from = to; to = swap;
    }
    if (from !== cur) cur.set(from.subarray(0, n));
  }
  private spare = new Int32Array(0);

  /** Moves the window's start to `t`, bringing the heap's events that now fall inside it into their lists. */
  private advanceTo(t: number) {
    this.now = t;
    const limit = t + this.windowMs;
    while (this.farN > 0 && this.farT[0] < limit) {
      const s = this.farSlot[0];
      this.farPop();
      this.append(s, this.t[s]);
    }
  }

  private append(s: number, t: number) {
    const i = t & this.mask;
    const last = this.tail[i];
    if (last < 0) this.head[i] = s; else this.next[last] = s;
    this.tail[i] = s;
    this.near++;
  }

  private alloc(): number {
    const s = this.used++;
    if (s === this.t.length) {
      const n = s * 2;
      const grow = <T extends Float64Array | Uint8Array | Int32Array>(x: T, make: (n: number) => T) => { const y = make(n); y.set(x); return y; };
      this.t = grow(this.t, (k) => new Float64Array(k));
      this.kind = grow(this.kind, (k) => new Uint8Array(k));
      this.a = grow(this.a, (k) => new Float64Array(k));
      this.b = grow(this.b, (k) => new Float64Array(k));
      this.src = grow(this.src, (k) => new Float64Array(k));
      this.seq = grow(this.seq, (k) => new Float64Array(k));
      this.key = grow(this.key, (k) => new Float64Array(k));
      this.next = grow(this.next, (k) => new Int32Array(k));
      this.pAt = grow(this.pAt, (k) => new Float64Array(k));
      this.pLen = grow(this.pLen, (k) => new Int32Array(k));
    }
    return s;
  }

  private farPush(s: number, t: number) {
    if (this.farN === this.farSlot.length) {
      const n = this.farN * 2;
      const slot = new Int32Array(n); slot.set(this.farSlot); this.farSlot = slot;
      const ft = new Float64Array(n); ft.set(this.farT); this.farT = ft;
    }
    const { farSlot, farT } = this;
    let i = this.farN++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (farT[p] <= t) break;
      farSlot[i] = farSlot[p]; farT[i] = farT[p]; i = p;
    }
    farSlot[i] = s; farT[i] = t;
  }

  private farPop() {
    const { farSlot, farT } = this;
    const n = --this.farN;
    if (n === 0) return;
    const ls = farSlot[n], lt = farT[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && farT[r] < farT[l] ? r : l;
      if (lt <= farT[c]) break;
      farSlot[i] = farSlot[c]; farT[i] = farT[c]; i = c;
    }
    farSlot[i] = ls; farT[i] = lt;
  }
}
