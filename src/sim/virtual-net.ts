// A virtual network and clock that drive the same sans-IO cores the real drivers run
// (DESIGN.md, rule 2). This first version models per-link latency and seeded random loss;
// the full simulator (regions, NATs, churn, checkers) grows from here.
//
// The run loop mirrors the UDP driver's: apply one input to one core (a delivery or its
// timeout), then drain its transmits into the in-flight queue and call its owner's hook.
// Time jumps straight to the next event, so seconds of protocol time cost microseconds.
import type { DatagramCore } from '../node/core.ts';
import { udpPath, addressOfUdpPath } from '../session/paths.ts';
import { formatAddress } from '../wire/address.ts';

export interface VirtualNetOptions { latencyMs?: number; lossRate?: number; jitterMs?: number; seed?: number; startMs?: number }

interface Host { address: string; core: DatagramCore; afterMutation: () => void }
interface InFlight { atMs: number; seq: number; to: string; from: string; bytes: Uint8Array }

export class VirtualNet {
  now: number;
  private readonly hosts = new Map<string, Host>();
  private readonly flights: InFlight[] = [];
  private seq = 0;
  private rng: number;
  readonly stats = { delivered: 0, lost: 0, undeliverable: 0 };
  latencyMs: number;
  lossRate: number;
  /** Extra delay per datagram, uniform in [0, jitterMs); datagrams overtake one another. */
  jitterMs: number;
  /** Sees every datagram that goes on the wire, as an observer on the path would. */
  onWire: ((from: string, to: string, bytes: Uint8Array) => void) | undefined;

  constructor(o: VirtualNetOptions = {}) {
    this.now = o.startMs ?? 1_700_000_000_000;
    this.latencyMs = o.latencyMs ?? 10;
    this.lossRate = o.lossRate ?? 0;
    this.jitterMs = o.jitterMs ?? 0;
    this.rng = (o.seed ?? 1) >>> 0 || 1;
  }

  /** Seeded randomness for cores on this network, so a run replays exactly from its seed. */
  random = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  };

  add(address: { host: string; port: number }, core: DatagramCore, afterMutation: () => void = () => {}) {
    const key = formatAddress(address);
    this.hosts.set(key, { address: key, core, afterMutation });
    return key;
  }

  remove(address: { host: string; port: number }) { this.hosts.delete(formatAddress(address)); }

  /** The host changes address (a phone moving to another network): datagrams to the old one are lost. */
  move(from: { host: string; port: number }, to: { host: string; port: number }) {
    const h = this.hosts.get(formatAddress(from));
    if (!h) throw new Error(`no host ${formatAddress(from)}`);
    this.hosts.delete(formatAddress(from));
    this.hosts.set(formatAddress(to), { ...h, address: formatAddress(to) });
  }

  private readonly blocked = new Set<string>();

  /** A firewall between two hosts: nothing passes either way. */
  block(a: { host: string; port: number }, b: { host: string; port: number }) {
    this.blocked.add(`${formatAddress(a)}|${formatAddress(b)}`);
    this.blocked.add(`${formatAddress(b)}|${formatAddress(a)}`);
  }

  /** Applies a command to a host's core at the current time, then flushes it. */
  mutate(address: { host: string; port: number }, fn: (now: number) => void) {
    const h = this.hosts.get(formatAddress(address));
    if (!h) throw new Error(`no host ${formatAddress(address)}`);
    fn(this.now);
    this.flush(h);
  }

  /** Runs until `done()` holds or `limitMs` of virtual time passes; false on the time limit. */
  runUntil(done: () => boolean, limitMs = 60_000, stepsMax = 1_000_000): boolean {
    const end = this.now + limitMs;
    for (let step = 0; step < stepsMax; step++) {
      if (done()) return true;
      if (!this.advance(end)) return done();
    }
    throw new Error(`livelock: ${stepsMax} steps without reaching the condition`);
  }

  /** Moves to the next event and applies it; false (time set to `end`) when none is due by then. */
  private advance(end: number): boolean {
    const next = this.nextEventMs();
    if (next === undefined || next > end) { this.now = end; return false; }
    this.now = Math.max(this.now, next);
    this.step();
    return true;
  }

  run(durationMs: number) { this.runUntil(() => false, durationMs); }

  private readonly work = new Set<Promise<unknown>>();

  /** Registers asynchronous work a host started (a database call); time stands still until it settles. */
  track(p: Promise<unknown>) {
    this.work.add(p);
    void p.finally(() => this.work.delete(p)).catch(() => {});
  }

  /** runUntil for networks with asynchronous hosts (a login server waiting on its store). */
  async runUntilAsync(done: () => boolean, limitMs = 60_000, stepsMax = 1_000_000): Promise<boolean> {
    const end = this.now + limitMs;
    for (let step = 0; step < stepsMax; step++) {
      while (this.work.size > 0) await Promise.allSettled([...this.work]);
      if (done()) return true;
      if (!this.advance(end)) return done();
    }
    throw new Error(`livelock: ${stepsMax} steps without reaching the condition`);
  }

  private step() {
    this.flights.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    const f = this.flights[0];
    if (f && f.atMs <= this.now) {
      this.flights.shift();
      const h = this.hosts.get(f.to);
      if (!h) { this.stats.undeliverable++; return; }
      this.stats.delivered++;
      h.core.handleDatagram(f.from, f.bytes, this.now);
      this.flush(h);
      return;
    }
    for (const h of this.hosts.values()) {
      const t = h.core.pollTimeout();
      if (t !== undefined && t <= this.now) { h.core.handleTimeout(this.now); this.flush(h); }
    }
  }

  private nextEventMs(): number | undefined {
    let next: number | undefined;
    for (const f of this.flights) if (next === undefined || f.atMs < next) next = f.atMs;
    for (const h of this.hosts.values()) {
      const t = h.core.pollTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  private flush(h: Host) {
    for (let round = 0; round < 8; round++) {
      h.afterMutation();
      let n = 0;
      for (let t = h.core.pollTransmit(); t; t = h.core.pollTransmit()) {
        n++;
        const to = addressOfUdpPath(t.path);
        if (!to) continue;
        if (this.lossRate > 0 && (this.next() / 0xffffffff) < this.lossRate) { this.stats.lost++; continue; }
        if (this.blocked.has(`${h.address}|${formatAddress(to)}`)) { this.stats.lost++; continue; }
        const from = udpPath(parseKey(h.address));
        this.onWire?.(from, formatAddress(to), t.bytes);
        const jitter = this.jitterMs > 0 ? (this.next() / 0x100000000) * this.jitterMs : 0;
        this.flights.push({ atMs: this.now + this.latencyMs + jitter, seq: this.seq++, to: formatAddress(to), from, bytes: t.bytes.slice() });
      }
      if (n === 0) break;
    }
  }

  private next(): number {
    let s = this.rng;
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    this.rng = s;
    return s;
  }
}

function parseKey(key: string): { host: string; port: number } {
  const i = key.lastIndexOf(':');
  return { host: key.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(key.slice(i + 1)) };
}
