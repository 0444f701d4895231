// What the threads of a parallel run tell each other between windows (docs/decisions/0033):
// the events one thread scheduled for actors another thread runs, and the joins and deaths of
// supernodes. A window is no longer than the shortest delay of any datagram, so nothing sent
// during one can be due before the next; the threads run a window each, write their batches,
// meet at a barrier, read each other's, and go on.
//
// Batches travel in shared memory: for each ordered pair of threads two buffers, used in turn
// (the reader may still be reading one window's batch while the writer fills the next). A
// batch that outgrows its buffer moves to a bigger one, which goes to the reader over the pair's
// MessagePort, read synchronously (receiveMessageOnPort) — so no thread ever waits on its event
// loop, and a window costs one barrier and no message in the common case.
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { LiveChange } from './live-set.ts';
import type { Agenda } from './agenda.ts';

const eventHead = 8 * 6 + 1 + 4;
/** Batch header: bytes used, events, live changes, and 1 when the batch moved to a new buffer. */
const head = 16;
const laneBytes = 1 << 18;

/** One direction of a thread pair: two shared buffers, used in turn. */
export type Lane = [SharedArrayBuffer, SharedArrayBuffer];
export const newLane = (): Lane => [new SharedArrayBuffer(laneBytes), new SharedArrayBuffer(laneBytes)];

class BatchWriter {
  private buf!: SharedArrayBuffer;
  private view!: DataView;
  private bytes!: Uint8Array;
  private at = head;
  private events = 0;
  /** The buffer this batch started in, when it had to move. */
  private outgrown: SharedArrayBuffer | undefined;
  private turn = 0;

  constructor(private readonly lane: Lane) { this.use(lane[0]); }

  private use(buf: SharedArrayBuffer) { this.buf = buf; this.view = new DataView(buf); this.bytes = new Uint8Array(buf); }

  private ensure(n: number) {
    if (this.at + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.at + n) size *= 2;
    const grown = new SharedArrayBuffer(size);
    new Uint8Array(grown).set(this.bytes.subarray(0, this.at));
    this.outgrown ??= this.buf;
    this.use(grown);
  }

  event(t: number, kind: number, a: number, b: number, src: number, seq: number, payload: Uint8Array | undefined) {
    const len = payload ? payload.length : 0;
    this.ensure(eventHead + len);
    const v = this.view;
    let o = this.at;
    v.setFloat64(o, t, true); v.setFloat64(o + 8, a, true); v.setFloat64(o + 16, b, true);
    v.setFloat64(o + 24, src, true); v.setFloat64(o + 32, seq, true);
    v.setFloat64(o + 40, payload ? len : -1, true);
    v.setUint8(o + 48, kind);
    o += eventHead;
    if (payload) { this.bytes.set(payload, o); o += len; }
    this.at = o;
    this.events++;
  }

  /** Closes the window's batch (its live changes last); a buffer it moved to, for the reader. */
  finish(changes: LiveChange[]): SharedArrayBuffer | undefined {
    this.ensure(changes.length * 24);
    const v = this.view;
    let o = this.at;
    for (const c of changes) { v.setFloat64(o, c.t, true); v.setFloat64(o + 8, c.id, true); v.setFloat64(o + 16, c.alive, true); o += 24; }
    v.setUint32(0, o, true); v.setUint32(4, this.events, true); v.setUint32(8, changes.length, true); v.setUint32(12, 0, true);
    const moved = this.outgrown;
    if (moved) {
      // The reader looks in the old buffer first: it says where the batch went.
      new DataView(moved).setUint32(12, 1, true);
      this.lane[this.turn] = this.buf;
      this.outgrown = undefined;
    }
    this.turn ^= 1;
    this.use(this.lane[this.turn]);
    this.at = head; this.events = 0;
    return moved && this.lane[this.turn ^ 1];
  }
}

/** Puts a batch's events on the agenda, and its live changes into `changes`. */
function readBatch(buf: SharedArrayBuffer, agenda: Agenda, changes: LiveChange[]) {
  const v = new DataView(buf), bytes = new Uint8Array(buf);
  const n = v.getUint32(4, true), m = v.getUint32(8, true);
  let o = head;
  for (let i = 0; i < n; i++) {
    const len = v.getFloat64(o + 40, true);
    const t = v.getFloat64(o, true), a = v.getFloat64(o + 8, true), b = v.getFloat64(o + 16, true);
    const src = v.getFloat64(o + 24, true), seq = v.getFloat64(o + 32, true), kind = v.getUint8(o + 48);
    o += eventHead;
    if (len >= 0) { agenda.push(t, kind, a, b, src, seq, bytes, o, len); o += len; } else agenda.push(t, kind, a, b, src, seq);
  }
  for (let i = 0; i < m; i++) { changes.push({ t: v.getFloat64(o, true), id: v.getFloat64(o + 8, true), alive: v.getFloat64(o + 16, true) }); o += 24; }
}

/** Barrier words: [arrived, generation, failed]. */
export const barrierWords = 3;

export class Exchange {
  private readonly out: (BatchWriter | undefined)[];
  private turn = 0;
  /** Barriers this thread has passed: the first waits long for threads still starting. */
  private arrivals = 0;

  /**
   * `ports[d]`: the channel to thread d; `outLanes[d]` / `inLanes[d]`: the buffers we write for d
   * and d writes for us (all undefined for ourselves); `barrier`: shared by all threads.
   */
  constructor(readonly w: number, readonly threads: number, private readonly ports: (MessagePort | undefined)[],
    outLanes: (Lane | undefined)[], private readonly inLanes: (Lane | undefined)[], private readonly barrier: Int32Array) {
    this.out = outLanes.map((l) => l && new BatchWriter(l));
  }

  post(dest: number, t: number, kind: number, a: number, b: number, src: number, seq: number, payload: Uint8Array | undefined) {
    this.out[dest]!.event(t, kind, a, b, src, seq, payload);
  }

  /** Time spent waiting for the other threads at barriers (a thread that finished its window first). */
  waitMs = 0;
  /** Ends a window: closes our batches with our live changes, waits for every thread, puts their events on `agenda`, and returns their live changes. */
  swap(ours: LiveChange[], agenda: Agenda): LiveChange[] {
    for (let d = 0; d < this.threads; d++) {
      const moved = this.out[d]?.finish(ours);
      if (moved) this.ports[d]!.postMessage({ lane: moved });
    }
    const waitFrom = performance.now();
    this.arrive();
    this.waitMs += performance.now() - waitFrom;
    const changes: LiveChange[] = [];
    for (let d = 0; d < this.threads; d++) {
      const lane = this.inLanes[d];
      if (!lane) continue;
      if (new DataView(lane[this.turn]).getUint32(12, true) === 1) {
        const m = receiveMessageOnPort(this.ports[d]!)?.message as { lane?: SharedArrayBuffer } | undefined;
        if (!m?.lane) throw new Error(`sim thread ${this.w}: thread ${d}'s batch moved, and the new buffer did not come`);
        lane[this.turn] = m.lane;
      }
      readBatch(lane[this.turn], agenda, changes);
    }
    this.turn ^= 1;
    return changes;
  }

  /** Sends a final message (results) to thread 0. */
  postResult(message: unknown) { this.ports[0]!.postMessage(message); }
  takeResult(from: number): unknown { return receiveMessageOnPort(this.ports[from]!)?.message; }

  /** Tells every thread that this one failed: their barrier waits throw instead of hanging. */
  fail() { Atomics.store(this.barrier, 2, 1); Atomics.add(this.barrier, 1, 1); Atomics.notify(this.barrier, 1); }

  /** Waits until every thread has arrived (a generation barrier: spin briefly, then sleep). */
  arrive(firstTimeoutMs = 120_000) {
    const b = this.barrier;
    const gen = Atomics.load(b, 1);
    if (Atomics.add(b, 0, 1) === this.threads - 1) {
      Atomics.store(b, 0, 0);
      Atomics.add(b, 1, 1);
      Atomics.notify(b, 1);
    } else {
      let spins = 0;
      while (Atomics.load(b, 1) === gen && spins < 20_000) spins++;
      const started = Date.now();
      while (Atomics.load(b, 1) === gen) {
        Atomics.wait(b, 1, gen, 50);
        if (Atomics.load(b, 2)) break;
        if (this.arrivals === 0 && Date.now() - started > firstTimeoutMs) throw new Error(`sim thread ${this.w}: the other threads did not start`);
      }
    }
    this.arrivals++;
    if (Atomics.load(b, 2)) throw new Error('another sim thread failed');
  }
}
