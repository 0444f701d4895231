// What a supernode holds for one slot it replicates: the newest presence record per device of
// each user (a user online on several devices is reachable on each: calls ring on all),
// offline mails, and tombstones of acknowledged mails (so anti-entropy never resurrects a
// mail a user already has). A running xor of item hashes is the slot's digest: two replicas
// holding the same items have the same digest, whatever order the items arrived in.
import { hash32, mix32 } from './ring.ts';

export interface RecordMeta {
  user: string;
  /** Which of the user's devices published it (its certified key); records without one are one per user. */
  device?: string;
  publishedAtMs: number;
  expiresAtMs: number;
  /** Records kept under this user name (default devicesPerUserMax): a search word's slot keeps more. */
  keepMax?: number;
}
export interface StoredRecord extends RecordMeta { bytes: Uint8Array; h: number }
export interface StoredMail { id: string; to: string; expiresAtMs: number; bytes: Uint8Array; h: number }

const tombTag = 0x9e3779b9;
/** Implementation limit: records kept per user; past it the oldest publication gives way. */
export const devicesPerUserMax = 8;
const keyOf = (m: RecordMeta) => (m.device === undefined ? m.user : `${m.user} ${m.device}`);
export const digestBuckets = 16;
export const bucketOf = (h: number) => h & (digestBuckets - 1);
export const tombHash = (id: string) => mix32(hash32(id) ^ tombTag);

export class SlotStore {
  /** Records by user and device (keyOf). */
  readonly records = new Map<string, StoredRecord>();
  /** user → the keys of their records. */
  private readonly byUser = new Map<string, Set<string>>();
  /** Mails by recipient, then by mail id. */
  readonly mails = new Map<string, Map<string, StoredMail>>();
  /** Acknowledged mail id → when the tombstone may go (the mail's own expiry). */
  readonly tombs = new Map<string, number>();
  private readonly mailOwner = new Map<string, string>();
  /** Xor of item hashes per bucket (hash & 15): anti-entropy repairs only the buckets that differ. */
  readonly buckets = new Uint32Array(digestBuckets);
  count = 0;

  /** Stores the record when it is newer than what we hold for its device; true when something changed. */
  putRecord(meta: RecordMeta, bytes: Uint8Array): boolean {
    const key = keyOf(meta);
    const have = this.records.get(key);
    if (have && (have.publishedAtMs > meta.publishedAtMs || (have.publishedAtMs === meta.publishedAtMs && have.expiresAtMs >= meta.expiresAtMs))) return false;
    let keys = this.byUser.get(meta.user);
    if (!have && keys && keys.size >= (meta.keepMax ?? devicesPerUserMax)) {
      const oldest = [...keys].map((k) => this.records.get(k)!).sort((a, b) => a.publishedAtMs - b.publishedAtMs)[0];
      if (oldest.publishedAtMs >= meta.publishedAtMs) return false;
      this.drop(keyOf(oldest));
      keys = this.byUser.get(meta.user);
    }
    if (have) this.forget(have.h);
    const h = mix32(hash32(key) ^ Math.floor(meta.publishedAtMs / 1000) ^ (meta.expiresAtMs & 0xffff));
    // A copy: the record outlives the datagram it came in (whose buffer a view would keep alive).
    this.records.set(key, { user: meta.user, device: meta.device, publishedAtMs: meta.publishedAtMs, expiresAtMs: meta.expiresAtMs, bytes: bytes.slice(), h });
    if (!keys) { keys = new Set(); this.byUser.set(meta.user, keys); }
    keys.add(key);
    this.add(h);
    return true;
  }

  /** The user's fresh records, one per device, newest publication first. */
  getRecords(user: string, now: number): StoredRecord[] {
    const keys = this.byUser.get(user);
    if (!keys) return [];
    return [...keys].map((k) => this.records.get(k)!).filter((r) => r.expiresAtMs > now)
      .sort((a, b) => b.publishedAtMs - a.publishedAtMs);
  }

  private drop(key: string) {
    const r = this.records.get(key);
    if (!r) return;
    this.records.delete(key);
    this.forget(r.h);
    const keys = this.byUser.get(r.user);
    keys?.delete(key);
    if (keys?.size === 0) this.byUser.delete(r.user);
  }

  putMail(id: string, to: string, expiresAtMs: number, bytes: Uint8Array): boolean {
    if (this.tombs.has(id)) return false;
    let box = this.mails.get(to);
    if (box?.has(id)) return false;
    if (!box) { box = new Map(); this.mails.set(to, box); }
    const h = hash32(id);
    box.set(id, { id, to, expiresAtMs, bytes, h });
    this.mailOwner.set(id, to);
    this.add(h);
    return true;
  }

  mailsFor(user: string, now: number): StoredMail[] {
    const box = this.mails.get(user);
    return box ? [...box.values()].filter((m) => m.expiresAtMs > now) : [];
  }

  /** Deletes acknowledged mails and remembers their ids until `tombUntilMs`; true when something changed. */
  ack(ids: string[], tombUntilMs: number): boolean {
    let changed = false;
    for (const id of ids) {
      const to = this.mailOwner.get(id);
      const box = to === undefined ? undefined : this.mails.get(to);
      const m = box?.get(id);
      if (m) {
        box!.delete(id); this.mailOwner.delete(id); this.forget(m.h);
        if (box!.size === 0) this.mails.delete(m.to);
      }
      if (!this.tombs.has(id)) { this.tombs.set(id, m ? Math.max(m.expiresAtMs, tombUntilMs) : tombUntilMs); this.add(tombHash(id)); changed = true; }
    }
    return changed;
  }

  /** Drops what has expired; the owner calls it on a coarse grid so replicas stay comparable. */
  sweep(now: number) {
    for (const [k, r] of this.records) if (r.expiresAtMs <= now) this.drop(k);
    for (const [u, box] of this.mails) {
      for (const [id, m] of box) if (m.expiresAtMs <= now) { box.delete(id); this.mailOwner.delete(id); this.forget(m.h); }
      if (box.size === 0) this.mails.delete(u);
    }
    for (const [id, t] of this.tombs) if (t <= now) { this.tombs.delete(id); this.forget(tombHash(id)); }
  }

  allMails(): StoredMail[] {
    const out: StoredMail[] = [];
    for (const box of this.mails.values()) for (const m of box.values()) out.push(m);
    return out;
  }

  /** Buckets whose hashes differ from `other`'s, as a bit mask. */
  differingBuckets(other: number[]): number {
    let mask = 0;
    for (let i = 0; i < digestBuckets; i++) if ((other[i] ?? 0) !== this.buckets[i]) mask |= 1 << i;
    return mask;
  }

  private add(h: number) { this.buckets[bucketOf(h)] ^= h; this.count++; }
  private forget(h: number) { this.buckets[bucketOf(h)] ^= h; this.count--; }
}
