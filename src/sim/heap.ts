// The simulator's agenda: a binary min-heap of events ordered by (time, insertion order), so
// two events at the same virtual instant always run in the order they were scheduled — one
// of the things that make a run replay exactly from its seed.
export interface Scheduled { t: number; seq: number }

export class EventHeap<E extends Scheduled> {
  private readonly a: E[] = [];
  private seq = 0;

  get size() { return this.a.length; }

  push(e: E) {
    e.seq = this.seq++;
    const a = this.a;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, a[p])) break;
      a[i] = a[p]; i = p;
    }
    a[i] = e;
  }

  peek(): E | undefined { return this.a[0]; }

  pop(): E | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(a[r], a[l]) ? r : l;
      if (!before(a[c], last)) break;
      a[i] = a[c]; i = c;
    }
    a[i] = last;
    return top;
  }
}

const before = (x: Scheduled, y: Scheduled) => x.t < y.t || (x.t === y.t && x.seq < y.seq);
