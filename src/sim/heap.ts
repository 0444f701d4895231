// The simulator's agenda: a binary min-heap of events ordered by (time, insertion order), so
// two events at the same virtual instant always run in the order they were scheduled — one
// of the things that make a run replay exactly from its seed.
//
// The keys live in typed arrays beside the events: sifting compares only contiguous numbers
// instead of loading each event object (at 10⁵ nodes those loads were cache misses, and the
// heap's comparisons a tenth of the run).
export interface Scheduled { t: number; seq: number }

export class EventHeap<E extends Scheduled> {
  private a: (E | undefined)[] = [];
  private ts = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private n = 0;
  private seq = 0;

  get size() { return this.n; }

  push(e: E) {
    e.seq = this.seq++;
    if (this.n === this.ts.length) this.grow();
    const { a, ts, seqs } = this;
    const t = e.t, s = e.seq;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (ts[p] < t || (ts[p] === t && seqs[p] < s)) break;
      a[i] = a[p]; ts[i] = ts[p]; seqs[i] = seqs[p]; i = p;
    }
    a[i] = e; ts[i] = t; seqs[i] = s;
  }

  peek(): E | undefined { return this.n ? this.a[0] : undefined; }

  pop(): E | undefined {
    if (this.n === 0) return undefined;
    const { a, ts, seqs } = this;
    const top = a[0];
    const n = --this.n;
    const last = a[n]!, lt = ts[n], ls = seqs[n];
    a[n] = undefined;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (ts[r] < ts[l] || (ts[r] === ts[l] && seqs[r] < seqs[l])) ? r : l;
      if (lt < ts[c] || (lt === ts[c] && ls < seqs[c])) break;
      a[i] = a[c]; ts[i] = ts[c]; seqs[i] = seqs[c]; i = c;
    }
    a[i] = last; ts[i] = lt; seqs[i] = ls;
    return top;
  }

  private grow() {
    const ts = new Float64Array(this.ts.length * 2); ts.set(this.ts); this.ts = ts;
    const seqs = new Float64Array(this.seqs.length * 2); seqs.set(this.seqs); this.seqs = seqs;
  }
}
