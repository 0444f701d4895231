// The simulator's agenda without an object per event (docs/decisions/0028).
//
// An event is a slot in parallel typed arrays — time, kind, two numeric arguments — plus an
// optional payload (the datagram's bytes). Freed slots are reused last-in first-out, so the
// slots in use stay few and hot in cache however many events a run schedules.
//
// Order is exactly (time, scheduling order), as the binary heap it replaces: a run replays
// from its seed, and gives the same figures as before. Times are whole milliseconds.
//
// * The next `windowMs` milliseconds are a calendar: one FIFO list per millisecond, so
//   scheduling and taking an event cost O(1) and touch only the list's tail or head. Almost
//   every event — a datagram in flight, a core's next tick — lands here.
// * Later events wait in a binary heap keyed by (time, order). When the window moves past a
//   millisecond, that millisecond's events leave the heap for its list before anything else
//   can be scheduled into it; having been scheduled earlier, they belong in front.
export class Agenda {
  /** Per slot: when, what, and its arguments. */
  t = new Float64Array(1024);
  kind = new Uint8Array(1024);
  a = new Float64Array(1024);
  b = new Float64Array(1024);
  payload: (Uint8Array | undefined)[] = new Array(1024).fill(undefined);
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

  // The far heap: slots ordered by (t, seq).
  private farSlot = new Int32Array(256);
  private farT = new Float64Array(256);
  private farSeq = new Float64Array(256);
  private farN = 0;
  private seq = 0;

  constructor(startMs: number, readonly windowMs = 8192) {
    if (!Number.isInteger(startMs)) throw new RangeError('the agenda starts at a whole millisecond');
    this.now = startMs;
    if ((windowMs & (windowMs - 1)) !== 0) throw new Error('the window is a power of two');
    this.mask = windowMs - 1;
    this.head = new Int32Array(windowMs).fill(-1);
    this.tail = new Int32Array(windowMs).fill(-1);
  }

  get size() { return this.near + this.farN; }

  /** Schedules an event at whole millisecond `t` (≥ the last taken); its slot. */
  push(t: number, kind: number, a: number, b: number, payload?: Uint8Array): number {
    if (t < this.now || !Number.isInteger(t)) throw new RangeError(`event time ${t} is in the past or not whole (now ${this.now})`);
    let s = this.free;
    if (s < 0) s = this.alloc(); else this.free = this.next[s];
    this.t[s] = t; this.kind[s] = kind; this.a[s] = a; this.b[s] = b; this.payload[s] = payload;
    this.next[s] = -1;
    if (t - this.now < this.windowMs) this.append(s, t);
    else this.farPush(s, t, this.seq);
    this.seq++;
    return s;
  }

  /** Takes the earliest event's slot (-1 when none is left); read its fields, then `release` it. */
  pop(): number {
    if (this.near === 0) {
      if (this.farN === 0) return -1;
      this.advanceTo(this.farT[0]);
    }
    const { head, mask } = this;
    let i = this.now & mask;
    while (head[i] < 0) { this.advanceTo(this.now + 1); i = this.now & mask; }
    const s = head[i];
    const n = this.next[s];
    head[i] = n;
    if (n < 0) this.tail[i] = -1;
    this.near--;
    return s;
  }

  /** Gives a taken slot back (its payload is dropped, so the agenda keeps no datagram alive). */
  release(s: number) {
    this.payload[s] = undefined;
    this.next[s] = this.free;
    this.free = s;
  }

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
      this.next = grow(this.next, (k) => new Int32Array(k));
      for (let k = s; k < n; k++) this.payload.push(undefined);
    }
    return s;
  }

  private farPush(s: number, t: number, q: number) {
    if (this.farN === this.farSlot.length) {
      const n = this.farN * 2;
      const slot = new Int32Array(n); slot.set(this.farSlot); this.farSlot = slot;
      const ft = new Float64Array(n); ft.set(this.farT); this.farT = ft;
      const fq = new Float64Array(n); fq.set(this.farSeq); this.farSeq = fq;
    }
    const { farSlot, farT, farSeq } = this;
    let i = this.farN++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (farT[p] < t || (farT[p] === t && farSeq[p] < q)) break;
      farSlot[i] = farSlot[p]; farT[i] = farT[p]; farSeq[i] = farSeq[p]; i = p;
    }
    farSlot[i] = s; farT[i] = t; farSeq[i] = q;
  }

  private farPop() {
    const { farSlot, farT, farSeq } = this;
    const n = --this.farN;
    if (n === 0) return;
    const ls = farSlot[n], lt = farT[n], lq = farSeq[n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (farT[r] < farT[l] || (farT[r] === farT[l] && farSeq[r] < farSeq[l])) ? r : l;
      if (lt < farT[c] || (lt === farT[c] && lq < farSeq[c])) break;
      farSlot[i] = farSlot[c]; farT[i] = farT[c]; farSeq[i] = farSeq[c]; i = c;
    }
    farSlot[i] = ls; farT[i] = lt; farSeq[i] = lq;
  }
}
