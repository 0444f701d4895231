// Token buckets keyed by anything (a source address, an account), sans-IO: refilled by `now`;
// a refused attempt learns when to retry. Memory is bounded: past keysMax the least recently
// touched keys are forgotten. Used against handshake floods here and by the login server.

export interface BucketSpec { burst: number; perMinute: number }

export interface RateLimitConfig {
  perAddress?: BucketSpec;      // login server: any login or register from one IP address; default 20 burst, 30/min
  perAccount?: BucketSpec;      // login server: failed logins against one account; default 5 burst, 6/min
  keysMax?: number;             // default 100 000
}

interface Bucket { tokens: number; atMs: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly keysMax: number;

  constructor(private readonly cfg: RateLimitConfig = {}) {
    this.keysMax = cfg.keysMax ?? 100_000;
  }

  get addressSpec(): BucketSpec { return this.cfg.perAddress ?? { burst: 20, perMinute: 30 }; }
  get accountSpec(): BucketSpec { return this.cfg.perAccount ?? { burst: 5, perMinute: 6 }; }

  /** Takes one token; returns 0 when allowed, or how many ms until a token is back. */
  take(key: string, spec: BucketSpec, now: number): number {
    const b = this.refill(key, spec, now);
    if (b.tokens >= 1) { b.tokens -= 1; return 0; }
    return Math.ceil((1 - b.tokens) * 60_000 / spec.perMinute);
  }

  /** How long until `key` has a token, without taking one. */
  wait(key: string, spec: BucketSpec, now: number): number {
    const b = this.refill(key, spec, now);
    return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) * 60_000 / spec.perMinute);
  }

  private refill(key: string, spec: BucketSpec, now: number): Bucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: spec.burst, atMs: now };
      if (this.buckets.size >= this.keysMax) this.buckets.delete(this.buckets.keys().next().value!);
    } else {
      this.buckets.delete(key); // re-inserted below: the map stays in least-recently-used order
      b.tokens = Math.min(spec.burst, b.tokens + ((now - b.atMs) / 60_000) * spec.perMinute);
      b.atMs = now;
    }
    this.buckets.set(key, b);
    return b;
  }
}
