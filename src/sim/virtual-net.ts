// A virtual network and clock that drive the same sans-IO cores the real drivers run
// (DESIGN.md, rule 2): per-link latency, jitter, seeded random loss, firewalls, address moves,
// and NATs (nat-box.ts) in front of hosts that sit on private addresses.
//
// The run loop mirrors the UDP driver's: apply one input to one core (a delivery or its
// timeout), then drain its transmits into the in-flight queue and call its owner's hook.
// Time jumps straight to the next event, so seconds of protocol time cost microseconds.
import type { DatagramCore } from '../node/core.ts';
import { addressOfUdpPath, parseSocketPath } from '../session/paths.ts';
import { formatAddress, type Address } from '../wire/address.ts';
import { NatBox, type NatBehaviour, type NatPreset } from './nat-box.ts';

export interface VirtualNetOptions { latencyMs?: number; lossRate?: number; jitterMs?: number; seed?: number; startMs?: number }

interface Host { address: string; core: DatagramCore; afterMutation: () => void; nat: NatBox | undefined; sockets: Map<number, string> }
/** One of a host's extra sockets (driver paths sK/udp:…, birthday punching), bound on first use like the UDP driver's. */
interface ExtraSocket { host: Host; socket: number }
/** `lan`: the NAT whose inside the datagram travels in (never crossed it); undefined on the public side. */
interface InFlight { atMs: number; seq: number; to: string; from: string; bytes: Uint8Array; lan: NatBox | undefined }

// Where extra sockets bind: the ephemeral range, as the kernel would pick for the driver's bind(0).
const extraPortLow = 49152;

export class VirtualNet {
  now: number;
  private readonly hosts = new Map<string, Host>();
  private readonly flights: InFlight[] = [];
  private seq = 0;
  private rng: number;
  /** `filtered`: datagrams a NAT dropped on the way in (no binding, expired, or filtered; each box's stats say which). */
  readonly stats = { delivered: 0, lost: 0, undeliverable: 0, filtered: 0 };
  private readonly seed: number;
  private readonly nats = new Map<string, NatBox>();
  private readonly extra = new Map<string, ExtraSocket>();
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
    this.seed = this.rng;
  }

  /** Seeded randomness for cores on this network, so a run replays exactly from its seed. */
  random = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  };

  /**
   * Adds a host. `behind`: a NAT (addNat) the host sits behind, on its private `address`
   * (unique on this network): only the NAT's inside reaches it there, the rest of the world
   * through the NAT's public address.
   */
  add(address: { host: string; port: number }, core: DatagramCore, afterMutation: () => void = () => {}, opts: { behind?: NatBox } = {}) {
    const key = formatAddress(address);
    if (this.nats.has(address.host)) throw new Error(`${address.host} is a NAT's public address`);
    this.hosts.set(key, { address: key, core, afterMutation, nat: opts.behind, sockets: new Map() });
    return key;
  }

  /** A NAT on `publicHost` (every port of it); put hosts behind it with add(…, { behind }). Its port choices follow the network's seed. */
  addNat(publicHost: string, behaviour: NatBehaviour | NatPreset): NatBox {
    if (this.nats.has(publicHost) || [...this.hosts.values()].some((h) => parseKey(h.address).host === publicHost)) throw new Error(`${publicHost} is taken`);
    const box = new NatBox(publicHost, behaviour, (this.seed ^ Math.imul(this.nats.size + 1, 0x9e3779b1)) >>> 0);
    this.nats.set(publicHost, box);
    return box;
  }

  remove(address: { host: string; port: number }) {
    const h = this.hosts.get(formatAddress(address));
    this.hosts.delete(formatAddress(address));
    if (h) this.unbindExtra(h);
  }

  /** The host changes address (a phone moving to another network): datagrams to the old one are lost. */
  move(from: { host: string; port: number }, to: { host: string; port: number }) {
    const h = this.hosts.get(formatAddress(from));
    if (!h) throw new Error(`no host ${formatAddress(from)}`);
    this.hosts.delete(formatAddress(from));
    this.unbindExtra(h);
    this.hosts.set(formatAddress(to), { ...h, address: formatAddress(to), sockets: new Map() });
  }

  // The old address's extra sockets are gone with it; the next use binds new ones.
  private unbindExtra(h: Host) {
    for (const key of h.sockets.values()) this.extra.delete(key);
    h.sockets.clear();
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
      let to = f.to, lan = f.lan;
      const nat = this.nats.size > 0 ? this.nats.get(parseKey(to).host) : undefined;
      if (nat) {
        const inside = nat.inbound(parseKey(to), parseKey(f.from), this.now);
        if (!inside) { this.stats.filtered++; return; }
        to = formatAddress(inside);
        lan = nat;
      }
      const x = this.hosts.has(to) ? undefined : this.extra.get(to);
      const h = this.hostAt(to);
      // A private address is reachable only from inside its own NAT.
      if (!h || h.nat !== lan) { this.stats.undeliverable++; return; }
      this.stats.delivered++;
      // Paths spelled as udpPath and socketPath spell them, from the key without parsing it again.
      h.core.handleDatagram(x ? `s${x.socket}/udp:${f.from}` : `udp:${f.from}`, f.bytes, this.now);
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
        const x = t.path.startsWith('udp:') ? undefined : parseSocketPath(t.path);
        const to = x?.address ?? addressOfUdpPath(t.path);
        if (!to) continue;
        const toKey = formatAddress(to);
        const source = this.sourceOf(h, x?.socket, to, toKey);
        if (!source) { this.stats.undeliverable++; continue; }
        if (this.lossRate > 0 && (this.next() / 0xffffffff) < this.lossRate) { this.stats.lost++; continue; }
        if (this.blocked.has(`${h.address}|${toKey}`)) { this.stats.lost++; continue; }
        this.onWire?.(`udp:${source.from}`, toKey, t.bytes);
        const jitter = this.jitterMs > 0 ? (this.next() / 0x100000000) * this.jitterMs : 0;
        this.flights.push({ atMs: this.now + this.latencyMs + jitter, seq: this.seq++, to: toKey, from: source.from, bytes: t.bytes.slice(), lan: source.lan });
      }
      if (n === 0) break;
    }
  }

  /**
   * The source a datagram carries on the wire: the sending socket's own address, translated by
   * the host's NAT unless the destination is on the same inside; undefined when the NAT drops it.
   */
  private sourceOf(h: Host, socket: number | undefined, to: Address, toKey: string): { from: string; lan: NatBox | undefined } | undefined {
    const local = socket === undefined ? h.address : this.extraAddress(h, socket);
    if (!h.nat) return { from: local, lan: undefined };
    const peer = this.hostAt(toKey);
    if (peer?.nat === h.nat) return { from: local, lan: h.nat };
    const from = h.nat.outbound(parseKey(local), to, this.now);
    return from && { from: formatAddress(from), lan: undefined };
  }

  /** The host listening at an address key, on its main socket or an extra one. */
  private hostAt(key: string): Host | undefined { return this.hosts.get(key) ?? this.extra.get(key)?.host; }

  /** The local address (key) of a host's extra socket `k`, bound on first use to a free port of the host's IP. */
  private extraAddress(h: Host, k: number): string {
    const bound = h.sockets.get(k);
    if (bound) return bound;
    const ip = parseKey(h.address).host;
    for (let port = extraPortLow; port <= 65535; port++) {
      const key = formatAddress({ host: ip, port });
      if (this.hosts.has(key) || this.extra.has(key)) continue;
      this.extra.set(key, { host: h, socket: k });
      h.sockets.set(k, key);
      return key;
    }
    throw new Error(`no free port on ${ip}`);
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
