// When an ordinary node becomes a supernode, and when it stops (docs/overlay.md, "Promotion").
// Sans-IO: the runtime calls tick(now) and reports verification results; the policy answers
// with what to do. A node is promoted only when
//   * it has not opted out (--no-promote) and the network allows promotion (login server's
//     switch, passed on by supernodes with every verification),
//   * it has been up long enough,
//   * another supernode reached the socket it would serve on unsolicited (reach-check.ts),
//     and measured enough upstream on the way.
// A supernode re-verifies periodically and demotes itself after repeated failures, at once
// when the network's switch goes off.

export interface PromotionConfig {
  optedOut: boolean;
  minUptimeMs?: number;        // default 2 h
  minBitsPerSecond?: number;   // default 1 Mbit/s (a lower bound measured by the prober)
  recheckMs?: number;          // default 10 min
  retryMs?: number;            // after a failed candidacy; default 30 min
  failuresToDemote?: number;   // default 2
}

export interface ReachVerdict { reachable: boolean; bitsPerSecond?: number; promotion: boolean; by?: string }

export type PromotionState = 'ordinary' | 'candidate' | 'supernode';
/** candidate: open a supernode socket (not yet serving) and verify it; recheck: verify the serving one. */
export type PromotionAction = 'candidate' | 'recheck' | undefined;
export type VerdictAction = 'promote' | 'demote' | 'reject' | 'stay';

export class PromotionPolicy {
  state: PromotionState = 'ordinary';
  reason = 'not yet considered';
  private readonly startedAtMs: number;
  private nextMs: number;
  private failures = 0;
  private networkAllows = true;

  constructor(private readonly cfg: PromotionConfig, now: number) {
    this.startedAtMs = now;
    this.nextMs = now;
    if (cfg.optedOut) this.reason = 'opted out (--no-promote)';
  }

  tick(now: number): PromotionAction {
    if (this.cfg.optedOut || now < this.nextMs) return undefined;
    if (this.state === 'supernode') { this.nextMs = now + (this.cfg.recheckMs ?? 600_000); return 'recheck'; }
    if (this.state === 'candidate') return undefined;
    const upMs = now - this.startedAtMs;
    const need = this.cfg.minUptimeMs ?? 2 * 3600_000;
    if (upMs < need) { this.reason = `up ${Math.floor(upMs / 1000)} s of the ${need / 1000} s needed`; this.nextMs = this.startedAtMs + need; return undefined; }
    this.state = 'candidate';
    return 'candidate';
  }

  /** A candidacy that could not be tried (not logged in yet): ask again in `ms`. */
  postpone(now: number, ms: number, reason: string) {
    if (this.state === 'candidate') this.state = 'ordinary';
    this.reason = reason;
    this.nextMs = now + ms;
  }

  /** The outcome of a verification (or its failure to happen: reachable false). */
  verdict(now: number, v: ReachVerdict): VerdictAction {
    this.networkAllows = v.promotion;
    const fast = (v.bitsPerSecond ?? 0) >= (this.cfg.minBitsPerSecond ?? 1_000_000);
    const good = v.promotion && v.reachable && fast;
    const why = !v.promotion ? 'promotion is turned off in this network'
      : !v.reachable ? 'other supernodes cannot reach us unsolicited'
      : !fast ? `measured upstream ${v.bitsPerSecond ?? 0} bit/s is below the minimum` : `verified by ${v.by ?? 'a supernode'}`;
    if (this.state === 'candidate') {
      if (good) { this.state = 'supernode'; this.failures = 0; this.reason = why; this.nextMs = now + (this.cfg.recheckMs ?? 600_000); return 'promote'; }
      this.state = 'ordinary'; this.reason = why; this.nextMs = now + (this.cfg.retryMs ?? 1_800_000);
      return 'reject';
    }
    if (this.state !== 'supernode') return 'stay';
    if (good) { this.failures = 0; return 'stay'; }
    if (v.promotion && ++this.failures < (this.cfg.failuresToDemote ?? 2)) return 'stay';
    this.state = 'ordinary'; this.reason = `demoted: ${why}`; this.failures = 0; this.nextMs = now + (this.cfg.retryMs ?? 1_800_000);
    return 'demote';
  }
}
