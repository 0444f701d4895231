// The directory share a supernode holds: the newest valid presence record per device of
// each user (a user logged in on several devices is online on each: calls ring on all).
// Records are verified before they enter, so everything served from here is something the
// user signed; expired records are swept by the owner's clock (`now`).
import { type Result, ok, err } from '../wire/result.ts';
import { toBase64Url } from '../crypto/bytes.ts';
import { verifyPresence, newerPresence, type VerifiedPresence } from './presence.ts';

// Implementation limits: a supernode refuses to hold more records than this, and keeps at
// most this many devices per user (the oldest publication gives way).
export const directoryRecordsMax = 100_000;
export const devicesPerUserMax = 8;

/** One record per user and device key. */
const keyOf = (v: VerifiedPresence) => `${v.presence.user} ${toBase64Url(v.certificate.deviceKey)}`;

export class Directory {
  private readonly records = new Map<string, VerifiedPresence>();
  /** user → the keys of their devices' records. */
  private readonly devices = new Map<string, Set<string>>();

  get size() { return this.records.size; }

  /** Verifies and stores; 'stale' when we already hold a newer record. */
  put(bytes: Uint8Array, loginKey: Uint8Array, now: number): Result<'stored' | 'stale'> {
    const v = verifyPresence(bytes, loginKey, now);
    if (!v.ok) return v;
    const user = v.value.presence.user;
    const key = keyOf(v.value);
    const have = this.records.get(key);
    if (have && have.presence.expiresAtMs > now && !newerPresence(v.value.presence, have.presence)) return ok('stale');
    if (!have && this.records.size >= directoryRecordsMax) return err('directory-full', 'supernode directory is full');
    const keys = this.devices.get(user) ?? new Set<string>();
    if (!have && keys.size >= devicesPerUserMax) {
      const oldest = [...keys].sort((a, b) => this.records.get(a)!.presence.publishedAtMs - this.records.get(b)!.presence.publishedAtMs)[0];
      this.remove(oldest);
    }
    this.records.set(key, v.value);
    this.devices.set(user, keys.add(key));
    return ok('stored');
  }

  /** The user's newest record. */
  get(user: string, now: number): VerifiedPresence | undefined { return this.getAll(user, now)[0]; }

  /** Every device's record for the user, newest first. */
  getAll(user: string, now: number): VerifiedPresence[] {
    const out: VerifiedPresence[] = [];
    for (const k of [...this.devices.get(user) ?? []]) {
      const r = this.records.get(k)!;
      if (r.presence.expiresAtMs <= now) this.remove(k); else out.push(r);
    }
    return out.sort((a, b) => b.presence.publishedAtMs - a.presence.publishedAtMs);
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
    for (const [k, r] of [...this.records]) if (r.presence.expiresAtMs <= now) this.remove(k);
  }

  private remove(key: string) {
    const r = this.records.get(key);
    if (!r) return;
    this.records.delete(key);
    const keys = this.devices.get(r.presence.user);
    keys?.delete(key);
    if (keys && keys.size === 0) this.devices.delete(r.presence.user);
  }

  nextExpiryMs(): number | undefined {
    let next: number | undefined;
    for (const r of this.records.values()) if (next === undefined || r.presence.expiresAtMs < next) next = r.presence.expiresAtMs;
    return next;
  }
}
