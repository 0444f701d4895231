// The ordinary node's host cache (docs/host-cache.md): the supernodes it knows of, best first.
// Pure: time comes in as an argument, and the cache turns into and out of a plain snapshot the
// runtime writes to the data directory. A snapshot read back is untrusted input (the file may be
// truncated, edited or hostile): every field is checked, and at most `max` entries are kept.
import { type Address, formatAddress, parseHostPort } from '../wire/address.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { TcpListeners, listenersPerSupernodeMax, type TcpListenerLists } from '../login/tcp-listeners.ts';

export interface HostEntry {
  address: Address;
  /** Successes, each worth 1 when new and halving every successHalfLifeMs. */
  weight: number;
  lastSuccessMs: number | undefined;
  /** Failures since the last success, forgiven by half every failureHalfLifeMs. */
  failures: number;
  lastFailureMs: number | undefined;
  /** Smoothed round-trip time of answered requests; unknown until one was answered. */
  rttMs: number | undefined;
  /** TCP listeners it advertises besides its own address (e.g. port 443; login/tcp-listeners.ts). */
  tcp?: Address[];
}

export interface HostCacheSnapshot {
  version: 1;
  entries: { address: string; weight: number; lastSuccessMs?: number; failures: number; lastFailureMs?: number; rttMs?: number; tcp?: string[] }[];
}

export interface HostCacheOptions {
  max?: number;                 // default 200 (the original's figure)
  successHalfLifeMs?: number;   // default 24 h
  failureHalfLifeMs?: number;   // default 1 h
}

// Ranking constants (docs/host-cache.md): an unmeasured supernode is assumed this far away, a
// measured one is discounted by rttScaleMs / (rttScaleMs + rtt), and each recent failure divides
// the score by failurePenalty — two fresh failures put a once-good supernode below an untried one.
const assumedRttMs = 200;
const rttScaleMs = 50;
const failurePenalty = 4;
const maxRttMs = 60_000;
const maxCount = 1e6;

export class HostCache {
  private readonly entries = new Map<string, HostEntry>();
  readonly max: number;
  private readonly successHalfLifeMs: number;
  private readonly failureHalfLifeMs: number;

  constructor(o: HostCacheOptions = {}) {
    this.max = o.max ?? 200;
    this.successHalfLifeMs = o.successHalfLifeMs ?? 24 * 3600_000;
    this.failureHalfLifeMs = o.failureHalfLifeMs ?? 3600_000;
  }

  get size(): number { return this.entries.size; }

  /** Adds supernodes heard of (bootstrap list, login server, HelloOk); known ones keep their history. */
  learn(addresses: Address[], now: number) {
    for (const a of addresses) {
      const k = formatAddress(a);
      if (this.entries.has(k)) continue;
      this.entries.set(k, { address: a, weight: 0, lastSuccessMs: undefined, failures: 0, lastFailureMs: undefined, rttMs: undefined });
    }
    this.trim(now);
  }

  /** The supernode answered, after rttMs. */
  success(a: Address, rttMs: number | undefined, now: number) {
    const e = this.entry(a);
    e.weight = this.decayedWeight(e, now) + 1;
    e.lastSuccessMs = now;
    e.failures = 0;
    e.lastFailureMs = undefined;
    if (rttMs !== undefined && Number.isFinite(rttMs) && rttMs >= 0) {
      const r = Math.min(rttMs, maxRttMs);
      e.rttMs = e.rttMs === undefined ? r : e.rttMs * 0.75 + r * 0.25;
    }
    this.trim(now);
  }

  /** The supernode did not answer (or refused us). */
  failure(a: Address, now: number) {
    const e = this.entry(a);
    e.failures = Math.min(this.decayedFailures(e, now) + 1, maxCount);
    e.lastFailureMs = now;
    this.trim(now);
  }

  score(e: HostEntry, now: number): number {
    const rtt = e.rttMs ?? assumedRttMs;
    return (1 + this.decayedWeight(e, now)) * (rttScaleMs / (rttScaleMs + rtt)) / failurePenalty ** this.decayedFailures(e, now);
  }

  /** Every entry, best first; ties keep the order they were learned in. */
  ranked(now: number, exclude?: Address): Address[] {
    const skip = exclude && formatAddress(exclude);
    return [...this.entries.entries()]
      .filter(([k]) => k !== skip)
      .map(([, e], i) => ({ e, i, s: this.score(e, now) }))
      .sort((x, y) => y.s - x.s || x.i - y.i)
      .map((x) => x.e.address);
  }

  get(a: Address): HostEntry | undefined { return this.entries.get(formatAddress(a)); }

  /** Records the TCP listeners that LoginOk or HelloOk say known supernodes advertise. */
  learnTcp(l: TcpListenerLists) {
    const m = new TcpListeners();
    m.learn(l);
    for (const e of this.entries.values()) {
      const at = m.get(e.address);
      if (at.length) e.tcp = at;
    }
  }

  /** The supernode's advertised TCP listeners besides its own address. */
  tcpListeners(a: Address): Address[] { return this.get(a)?.tcp ?? []; }

  snapshot(): HostCacheSnapshot {
    return {
      version: 1,
      entries: [...this.entries.entries()].map(([address, e]) => ({
        address, weight: e.weight, lastSuccessMs: e.lastSuccessMs, failures: e.failures, lastFailureMs: e.lastFailureMs, rttMs: e.rttMs,
        tcp: e.tcp?.map(formatAddress),
      })),
    };
  }

  /**
   * Reads a snapshot back. Entries that do not check out are skipped (and counted); anything that
   * is not a snapshot at all is an error, and the caller starts from an empty cache.
   */
  static restore(raw: unknown, now: number, o: HostCacheOptions = {}): Result<{ cache: HostCache; skipped: number }> {
    const cache = new HostCache(o);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return err('bad-host-cache', 'not a host cache snapshot');
    const s = raw as Record<string, unknown>;
    if (s.version !== 1) return err('bad-host-cache', `unknown host cache version ${JSON.stringify(s.version)?.slice(0, 20)}`);
    if (!Array.isArray(s.entries)) return err('bad-host-cache', 'host cache snapshot has no entry list');
    let skipped = 0;
    // A hostile file may be huge: look at a bounded prefix only.
    const list = s.entries.slice(0, cache.max * 4);
    skipped += s.entries.length - list.length;
    for (const x of list) {
      const e = parseEntry(x, now);
      if (!e || cache.entries.has(formatAddress(e.address))) { skipped++; continue; }
      cache.entries.set(formatAddress(e.address), e);
    }
    const before = cache.size;
    cache.trim(now);
    skipped += before - cache.size;
    return ok({ cache, skipped });
  }

  private entry(a: Address): HostEntry {
    const k = formatAddress(a);
    let e = this.entries.get(k);
    if (!e) {
      e = { address: a, weight: 0, lastSuccessMs: undefined, failures: 0, lastFailureMs: undefined, rttMs: undefined };
      this.entries.set(k, e);
    }
    return e;
  }

  private decayedWeight(e: HostEntry, now: number): number {
    if (e.lastSuccessMs === undefined) return 0;
    return e.weight * 2 ** (-Math.max(0, now - e.lastSuccessMs) / this.successHalfLifeMs);
  }

  private decayedFailures(e: HostEntry, now: number): number {
    if (e.lastFailureMs === undefined) return 0;
    return e.failures * 2 ** (-Math.max(0, now - e.lastFailureMs) / this.failureHalfLifeMs);
  }

  /** Keeps the best `max` entries. */
  private trim(now: number) {
    if (this.entries.size <= this.max) return;
    const keep = new Set(this.ranked(now).slice(0, this.max).map(formatAddress));
    for (const k of [...this.entries.keys()]) if (!keep.has(k)) this.entries.delete(k);
  }
}

function parseEntry(x: unknown, now: number): HostEntry | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const e = x as Record<string, unknown>;
  const address = typeof e.address === 'string' ? parseAddress(e.address) : undefined;
  if (!address) return undefined;
  const count = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= maxCount ? v : undefined;
  // A time from the future would keep an entry fresh for ever: clamp it to now.
  const time = (v: unknown) => v === undefined ? undefined : typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(v, now) : null;
  const weight = count(e.weight), failures = count(e.failures);
  const lastSuccessMs = time(e.lastSuccessMs), lastFailureMs = time(e.lastFailureMs);
  const rttMs = e.rttMs === undefined ? undefined : count(e.rttMs);
  if (weight === undefined || failures === undefined || lastSuccessMs === null || lastFailureMs === null) return undefined;
  if (e.rttMs !== undefined && (rttMs === undefined || rttMs > maxRttMs)) return undefined;
  let tcp: Address[] | undefined;
  if (e.tcp !== undefined) {
    if (!Array.isArray(e.tcp) || e.tcp.length > listenersPerSupernodeMax) return undefined;
    tcp = e.tcp.map((x) => typeof x === 'string' ? parseAddress(x) : undefined).filter((x): x is Address => x !== undefined);
    if (tcp.length !== e.tcp.length) return undefined;
  }
  return { address, weight, lastSuccessMs, failures, lastFailureMs, rttMs, ...(tcp?.length ? { tcp } : {}) };
}

function parseAddress(s: string): Address | undefined {
  if (s.length > 64) return undefined;
  const a = parseHostPort(s);
  return a.ok && a.value.port > 0 && formatAddress(a.value) === s ? a.value : undefined;
}
