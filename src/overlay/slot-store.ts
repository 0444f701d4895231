// What a supernode holds for one slot it replicates: the newest presence record per user,
// offline mails, and tombstones of acknowledged mails (so anti-entropy never resurrects a
// mail a user already has). A running xor of item hashes is the slot's digest: two replicas
// holding the same items have the same digest, whatever order the items arrived in.
import { hash32, mix32 } from './ring.ts';

export interface RecordMeta { user: string; publishedAtMs: number; expiresAtMs: number }
export interface StoredRecord extends RecordMeta { bytes: Uint8Array; h: number }
export interface StoredMail { id: string; to: string; expiresAtMs: number; bytes: Uint8Array; h: number }

const tombTag = 0x9e3779b9;
export const digestBuckets = 16;
export const bucketOf = (h: number) => h & (digestBuckets - 1);
export const tombHash = (id: string) => mix32(hash32(id) ^ tombTag);

export class SlotStore {
  readonly records = new Map<string, StoredRecord>();
  /** Mails by recipient, then by mail id. */
  readonly mails = new Map<string, Map<string, StoredMail>>();
  /** Acknowledged mail id → when the tombstone may go (the mail's own expiry). */
  readonly tombs = new Map<string, number>();
  private readonly mailOwner = new Map<string, string>();
  /** Xor of item hashes per bucket (hash & 15): anti-entropy repairs only the buckets that differ. */
  readonly buckets = new Uint32Array(digestBuckets);
  count = 0;

  /** Stores the record when it is newer than what we hold; true when something changed. */
  putRecord(meta: RecordMeta, bytes: Uint8Array): boolean {
    const have = this.records.get(meta.user);
    if (have && (have.publishedAtMs > meta.publishedAtMs || (have.publishedAtMs === meta.publishedAtMs && have.expiresAtMs >= meta.expiresAtMs))) return false;
    if (have) this.forget(have.h);
    const h = mix32(hash32(meta.user) ^ Math.floor(meta.publishedAtMs / 1000) ^ (meta.expiresAtMs & 0xffff));
    this.records.set(meta.user, { ...meta, bytes, h });
    this.add(h);
    return true;
  }

  getRecord(user: string, now: number): StoredRecord | undefined {
    const r = this.records.get(user);
    return r && r.expiresAtMs > now ? r : undefined;
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
    for (const [u, r] of this.records) if (r.expiresAtMs <= now) { this.records.delete(u); this.forget(r.h); }
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
