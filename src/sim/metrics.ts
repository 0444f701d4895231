// What a simulated run measures, and the figures it reports.
import { Cmd } from '../wire/commands.ts';

// Per datagram on the real wire: IPv4+UDP headers (28) and the session's header and tag (~24).
const datagramOverhead = 52;
const names = new Map(Object.entries(Cmd).map(([k, v]) => [v as number, k]));

export interface Report {
  supernodes: number; supernodesAtEnd: number; users: number;
  lookups: number; lookupSuccess: number;
  /** Look-ups whose asker logged out before their outcome was known: counted neither way. */
  lookupsAbandoned: number;
  hopsP50: number; hopsP99: number; latencyP50Ms: number; latencyP99Ms: number;
  upkeepBytesPerSupernodeS: number; upkeepByCommand: Record<string, number>;
  mailsAccepted: number; mailsLost: number; mailsDuplicated: number;
  killed?: number; recoveredAfterS?: number | null; worstWindowSuccess: number;
  /** Clogged supernodes, and how long after the clog ended look-ups were back to ≥ 99.9 % for good. */
  clogged?: number; recoveredAfterClogS?: number | null;
  /** How long after a partition healed look-ups were back to ≥ 99.9 % for good. */
  recoveredAfterPartitionS?: number | null;
  churnDeaths: number; events: number; eventsPerS: number;
  /** Per second of CPU time the run got: the machine may be shared. */
  eventsPerCpuS: number; wallS: number; peakRssMiB: number; heapPerSupernodeKiB: number;
  /** Share of the run's wall time thread 0 spent waiting for other threads (0 on one thread). */
  threadWait: number;
}

/** What one thread of a parallel run measured, to be added into thread 0's figures. */
export interface MetricsPart {
  lost: number; churnDeaths: number; hops: number[]; latencies: number[]; lookups: number; found: number; abandoned: number;
  windows: [number, number, number][]; bytesByCmd: number[]; peakRss: number; heap: number;
  mails: { accepted: number; lost: number; dup: number }; events: number;
}

export class Metrics {
  lost = 0;
  cpuMs = 1;
  /** Thread 0's time waiting for the other threads at window ends (parallel runs). */
  waitMs = 0;
  churnDeaths = 0;
  killed = 0;
  killedAt: number | undefined;
  partitionAt: number | undefined;
  partitionEndAt: number | undefined;
  clogEndAt: number | undefined;
  clogged = 0;
  drainAt: number | undefined;
  private readonly hops = new Uint32Array(17);
  private latencies: number[] = [];
  private lookups = 0; private found = 0; private abandoned = 0;
  /** Look-ups by 10 s window of when they started: [ok, total]. */
  private readonly windows = new Map<number, [number, number]>();
  /** Bytes by the datagram's first byte (its command), indexed: a Map update per datagram showed in profiles. */
  private readonly bytesByCmd = new Float64Array(256);
  private peakRss = 0;
  private heapAfterSetup = 0;
  private heapBase = process.memoryUsage().heapUsed;
  private t0 = 1_700_000_000_000;
  private setupNodes = 0;
  private mails = { accepted: 0, lost: 0, dup: 0 };
  report!: Report;

  setupDone(n: number) { this.setupNodes = n; this.heapAfterSetup = process.memoryUsage().heapUsed; this.sample(); }

  sample() { const r = process.memoryUsage.rss(); if (r > this.peakRss) this.peakRss = r; }

  peerSend(bytes: Uint8Array) {
    const c = bytes[0];
    this.bytesByCmd[c] += bytes.length + datagramOverhead;
  }

  lookup(startedAt: number, now: number, ok: boolean, hops: number) {
    if (this.drainAt !== undefined && startedAt - this.t0 >= this.drainAt) return;
    this.lookups++;
    const w = Math.floor((startedAt - this.t0) / 10_000);
    const win = this.windows.get(w) ?? [0, 0];
    win[1]++;
    if (ok) { this.found++; win[0]++; this.hops[Math.min(16, hops)]++; this.latencies.push(now - startedAt); }
    this.windows.set(w, win);
  }

  /**
   * A look-up whose asker logged out before its answer (or its timeout) came. The user never sees
   * its outcome, so it is not a success or a failure. Both kinds are set aside, the late answers
   * with the lost requests, so the success figure is not biased either way.
   */
  lookupAbandoned(startedAt: number) {
    if (this.drainAt !== undefined && startedAt - this.t0 >= this.drainAt) return;
    this.abandoned++;
  }

  mail(accepted: number, lost: number, dup: number) { this.mails = { accepted, lost, dup }; }

  finish(events: number, wallMs: number, simMs: number, liveAtEnd: number) {
    this.sample();
    this.fin = { events, wallMs, simMs, liveAtEnd };
  }
  private fin = { events: 0, wallMs: 1, simMs: 1, liveAtEnd: 0 };

  /** This thread's counts, for thread 0 (the run-wide figures — faults, times — are the same in every thread). */
  part(): MetricsPart {
    return {
      lost: this.lost, churnDeaths: this.churnDeaths, hops: [...this.hops], latencies: this.latencies, lookups: this.lookups, found: this.found, abandoned: this.abandoned,
      windows: [...this.windows].map(([w, [ok, n]]) => [w, ok, n]), bytesByCmd: [...this.bytesByCmd], peakRss: this.peakRss,
      heap: this.heapAfterSetup - this.heapBase, mails: this.mails, events: this.fin.events,
    };
  }

  absorb(p: MetricsPart) {
    this.lost += p.lost; this.churnDeaths += p.churnDeaths; this.lookups += p.lookups; this.found += p.found; this.abandoned += p.abandoned;
    for (let h = 0; h < 17; h++) this.hops[h] += p.hops[h];
    for (const x of p.latencies) this.latencies.push(x);
    for (const [w, ok, n] of p.windows) { const win = this.windows.get(w) ?? [0, 0]; win[0] += ok; win[1] += n; this.windows.set(w, win); }
    for (let c = 0; c < 256; c++) this.bytesByCmd[c] += p.bytesByCmd[c];
    this.peakRss = Math.max(this.peakRss, p.peakRss);
    this.heapAfterSetup += p.heap;
    this.mails = { accepted: this.mails.accepted + p.mails.accepted, lost: this.mails.lost + p.mails.lost, dup: this.mails.dup + p.mails.dup };
    this.fin.events += p.events;
  }

  /** The figures, once every thread's counts are in. */
  build(users: number) {
    const lat = Float64Array.from(this.latencies).sort();
    const q = (p: number) => lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]) : 0;
    const hq = (p: number) => { let acc = 0; const total = this.hops.reduce((a, b) => a + b, 0); for (let h = 0; h < 17; h++) { acc += this.hops[h]; if (acc >= p * total) return h; } return 16; };
    const seconds = this.fin.simMs / 1000;
    const perNode = (b: number) => Math.round(b / seconds / Math.max(1, (this.setupNodes + this.fin.liveAtEnd) / 2));
    const byCmd: Record<string, number> = {};
    let total = 0;
    const used = [...this.bytesByCmd.entries()].filter(([, b]) => b > 0);
    for (const [c, b] of used.sort((a, b) => b[1] - a[1])) { byCmd[names.get(c) ?? String(c)] = perNode(b); total += b; }
    let worst = 1;
    const ws = [...this.windows].sort((a, b) => a[0] - b[0]);
    for (const [, [ok, n]] of ws) if (n >= 20) worst = Math.min(worst, ok / n);
    /** Seconds after `from` (ms into the run) from which every 10 s window of look-ups is at ≥ 99.9 %; null: never. */
    const backAfter = (from: number): number | null => {
      const after = ws.filter(([w]) => w * 10_000 >= from);
      for (let i = 0; i < after.length; i++) {
        if (after.slice(i).every(([, [ok, n]]) => n === 0 || ok / n >= 0.999)) return (after[i][0] * 10_000 - from) / 1000;
      }
      return null;
    };
    const recovered = this.killedAt !== undefined ? backAfter(this.killedAt) : undefined;
    this.report = {
      supernodes: this.setupNodes, supernodesAtEnd: this.fin.liveAtEnd, users,
      lookups: this.lookups, lookupSuccess: this.lookups ? this.found / this.lookups : 1, lookupsAbandoned: this.abandoned,
      hopsP50: hq(0.5), hopsP99: hq(0.99), latencyP50Ms: q(0.5), latencyP99Ms: q(0.99),
      upkeepBytesPerSupernodeS: perNode(total), upkeepByCommand: byCmd,
      mailsAccepted: this.mails.accepted, mailsLost: this.mails.lost, mailsDuplicated: this.mails.dup,
      killed: this.killedAt !== undefined ? this.killed : undefined, recoveredAfterS: recovered, worstWindowSuccess: worst,
      clogged: this.clogEndAt !== undefined ? this.clogged : undefined,
      recoveredAfterClogS: this.clogEndAt !== undefined ? backAfter(this.clogEndAt) : undefined,
      recoveredAfterPartitionS: this.partitionEndAt !== undefined ? backAfter(this.partitionEndAt) : undefined,
      churnDeaths: this.churnDeaths, events: this.fin.events, eventsPerS: Math.round(this.fin.events / (this.fin.wallMs / 1000)), eventsPerCpuS: Math.round(this.fin.events / (this.cpuMs / 1000)),
      wallS: Math.round(this.fin.wallMs / 100) / 10, peakRssMiB: Math.round(this.peakRss / 2 ** 20),
      heapPerSupernodeKiB: Math.round((this.heapAfterSetup - this.heapBase) / Math.max(1, this.setupNodes) / 102.4) / 10,
      threadWait: Math.round((1000 * this.waitMs) / this.fin.wallMs) / 1000,
    };
  }
}
