// The directory share a supernode holds: the newest valid presence record per user.
// Records are verified before they enter, so everything served from here is something the
// user signed; expired records are swept by the owner's clock (`now`).
import { type Result, ok, err } from '../wire/result.ts';
import { verifyPresence, newerPresence, type VerifiedPresence } from './presence.ts';

// Implementation limit: a supernode refuses to hold more records than this.
export const directoryRecordsMax = 100_000;

export class Directory {
  private readonly records = new Map<string, VerifiedPresence>();

  get size() { return this.records.size; }

  /** Verifies and stores; 'stale' when we already hold a newer record. */
  put(bytes: Uint8Array, loginKey: Uint8Array, now: number): Result<'stored' | 'stale'> {
    const v = verifyPresence(bytes, loginKey, now);
    if (!v.ok) return v;
    const user = v.value.presence.user;
    const have = this.records.get(user);
    if (have && have.presence.expiresAtMs > now && !newerPresence(v.value.presence, have.presence)) return ok('stale');
    if (!have && this.records.size >= directoryRecordsMax) return err('directory-full', 'supernode directory is full');
    this.records.set(user, v.value);
    return ok('stored');
  }

  get(user: string, now: number): VerifiedPresence | undefined {
    const r = this.records.get(user);
    if (r && r.presence.expiresAtMs <= now) { this.records.delete(user); return undefined; }
    return r;
  }

  /** Valid records, newest first, at most `limit`. */
  list(now: number, limit: number): Uint8Array[] {
    this.sweep(now);
    return [...this.records.values()]
      .sort((a, b) => b.presence.publishedAtMs - a.presence.publishedAtMs)
      .slice(0, limit)
      .map((r) => r.bytes);
  }

  sweep(now: number) {
    for (const [u, r] of this.records) if (r.presence.expiresAtMs <= now) this.records.delete(u);
  }

  nextExpiryMs(): number | undefined {
    let next: number | undefined;
    for (const r of this.records.values()) if (next === undefined || r.presence.expiresAtMs < next) next = r.presence.expiresAtMs;
    return next;
  }
}
