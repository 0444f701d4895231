// When to punch again towards a peer whose call stayed on the relay, sans-IO.
//
// A first attempt can fail for reasons that pass: a NAT mapping that was still being set up, a
// burst of loss, a firewall rule that changes, a peer that roamed. A call stuck on the relay
// is what users complain about most, so while a call to the peer stays relayed we punch again,
// backing off (2 s, 4 s, 8 s … at most every 30 s), as Tailscale keeps probing for a direct path.
// A working path moves the call as the first attempt's would (CallManager.moveToDirect).
//
//   commands: schedule(key, now) (after an attempt failed), cancel(key)
//   outputs:  due(now) → keys whose retry time has come (each taken off), pollTimeout(), tries(key)

export interface RetryConfig { firstMs?: number; maxMs?: number; entriesMax?: number }

export class PunchRetry {
  private readonly entries = new Map<string, { atMs: number | undefined; tries: number }>();
  private readonly firstMs: number;
  private readonly maxMs: number;
  private readonly entriesMax: number;

  constructor(cfg: RetryConfig = {}) {
    this.firstMs = cfg.firstMs ?? 2000;
    this.maxMs = cfg.maxMs ?? 30_000;
    this.entriesMax = cfg.entriesMax ?? 64;
  }

  /** An attempt towards `key` failed: try again after the next back-off step. */
  schedule(key: string, now: number) {
    const e = this.entries.get(key) ?? { atMs: undefined, tries: 0 };
    if (!this.entries.has(key) && this.entries.size >= this.entriesMax) return;
    e.atMs = now + Math.min(this.maxMs, this.firstMs * 2 ** e.tries);
    e.tries++;
    this.entries.set(key, e);
  }

  cancel(key: string) { this.entries.delete(key); }

  /** How many retries were scheduled for the key so far. */
  tries(key: string): number { return this.entries.get(key)?.tries ?? 0; }

  due(now: number): string[] {
    const out: string[] = [];
    for (const [k, e] of this.entries) if (e.atMs !== undefined && now >= e.atMs) { e.atMs = undefined; out.push(k); }
    return out;
  }

  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const e of this.entries.values()) if (e.atMs !== undefined && (t === undefined || e.atMs < t)) t = e.atMs;
    return t;
  }
}
