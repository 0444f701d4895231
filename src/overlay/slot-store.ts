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

/**
 * Small items are copied into shared 4 KiB slabs: a record outlives the datagram it came in
 * (whose buffer a view would keep alive), and a copy of its own costs an ArrayBuffer object
 * (~150 B of heap) per record — more than a simulated record itself. A slab lives while any of
 * its items does, so long-lived items waste at most a slab each; big ones get their own copy.
 */
const slabBytes = 4096;
const slabItemMax = 256;
let slab = new Uint8Array(slabBytes);
let slabAt = 0;
function keepBytes(b: Uint8Array): Uint8Array {
  if (b.length > slabItemMax) return b.slice();
  if (slabAt + b.length > slabBytes) { slab = new Uint8Array(slabBytes); slabAt = 0; }
  const v = slab.subarray(slabAt, slabAt + b.length);
  v.set(b);
  slabAt += (b.length + 7) & ~7;
  return v;
}

const newer = (a: RecordMeta, b: RecordMeta) => a.publishedAtMs > b.publishedAtMs || (a.publishedAtMs === b.publishedAtMs && a.expiresAtMs > b.expiresAtMs);

export class SlotStore {
  /** Records by user name: the one record (most users have one device), or one per device. */
  private readonly byUser = new Map<string, StoredRecord | StoredRecord[]>();
  /** Mails by recipient, then by mail id; tombstones of acknowledged ids; which box a mail id is in. Made on first use. */
  private mailBoxes: Map<string, Map<string, StoredMail>> | undefined;
  private tombMap: Map<string, number> | undefined;
  private mailOwner: Map<string, string> | undefined;
  /** Xor of item hashes per bucket (hash & 15): anti-entropy repairs only the buckets that differ. */
  readonly buckets = new Uint32Array(digestBuckets);
  /** Items (records, mails, tombstones) held. */
  count = 0;
  recordCount = 0;
  /** The owner's bookkeeping: the slot's replica group as it last saw it, and until when it may still be catching up. */
  group: number[] = [];
  freshUntil = 0;

  get mails(): Map<string, Map<string, StoredMail>> { return this.mailBoxes ??= new Map(); }
  /** Acknowledged mail id → when the tombstone may go (the mail's own expiry). */
  get tombs(): Map<string, number> { return this.tombMap ??= new Map(); }

  /** Every record held (an array, not a generator: anti-entropy walks whole slots). */
  allRecords(): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (const v of this.byUser.values()) if (Array.isArray(v)) { for (const r of v) out.push(r); } else out.push(v);
    return out;
  }

  /** Stores the record when it is newer than what we hold for its device; true when something changed. */
  putRecord(meta: RecordMeta, bytes: Uint8Array): boolean {
    const cur = this.byUser.get(meta.user);
    // The common cases without building a list: a user's first record, and a newer one from the same device.
    if (cur === undefined) {
      const rec = this.stored(meta, bytes);
      this.byUser.set(meta.user, rec);
      this.add(rec.h); this.recordCount++;
      return true;
    }
    if (!Array.isArray(cur) && cur.device === meta.device) {
      if (!newer(meta, cur)) return false;
      this.forget(cur.h);
      const rec = this.stored(meta, bytes);
      this.byUser.set(meta.user, rec);
      this.add(rec.h);
      return true;
    }
    const list = Array.isArray(cur) ? cur : [cur];
    let at = -1;
    for (let i = 0; i < list.length; i++) if (list[i].device === meta.device) { at = i; break; }
    if (at >= 0 && !newer(meta, list[at])) return false;
    if (at < 0 && list.length >= (meta.keepMax ?? devicesPerUserMax)) {
      let oldest = 0;
      for (let i = 1; i < list.length; i++) if (list[i].publishedAtMs < list[oldest].publishedAtMs) oldest = i;
      if (list[oldest].publishedAtMs >= meta.publishedAtMs) return false;
      at = oldest;
    }
    if (at >= 0) { this.forget(list[at].h); this.recordCount--; }
    const rec = this.stored(meta, bytes);
    if (at >= 0) list[at] = rec; else list.push(rec);
    this.byUser.set(meta.user, list.length === 1 ? list[0] : list);
    this.add(rec.h); this.recordCount++;
    return true;
  }

  private stored(meta: RecordMeta, bytes: Uint8Array): StoredRecord {
    const h = mix32(hash32(keyOf(meta)) ^ Math.floor(meta.publishedAtMs / 1000) ^ (meta.expiresAtMs & 0xffff));
    return { user: meta.user, device: meta.device, publishedAtMs: meta.publishedAtMs, expiresAtMs: meta.expiresAtMs, bytes: keepBytes(bytes), h };
  }

  /** The user's fresh records, one per device, newest publication first. */
  getRecords(user: string, now: number): StoredRecord[] {
    const cur = this.byUser.get(user);
    if (cur === undefined) return [];
    if (!Array.isArray(cur)) return cur.expiresAtMs > now ? [cur] : [];
    return cur.filter((r) => r.expiresAtMs > now).sort((a, b) => b.publishedAtMs - a.publishedAtMs);
  }

  putMail(id: string, to: string, expiresAtMs: number, bytes: Uint8Array): boolean {
    if (this.tombMap?.has(id)) return false;
    let box = this.mailBoxes?.get(to);
    if (box?.has(id)) return false;
    if (!box) { box = new Map(); this.mails.set(to, box); }
    const h = hash32(id);
    box.set(id, { id, to, expiresAtMs, bytes: keepBytes(bytes), h });
    (this.mailOwner ??= new Map()).set(id, to);
    this.add(h);
    return true;
  }

  mailsFor(user: string, now: number): StoredMail[] {
    const box = this.mailBoxes?.get(user);
    return box ? [...box.values()].filter((m) => m.expiresAtMs > now) : [];
  }

  /** Deletes acknowledged mails and remembers their ids until `tombUntilMs`; true when something changed. */
  ack(ids: string[], tombUntilMs: number): boolean {
    let changed = false;
    for (const id of ids) {
      const to = this.mailOwner?.get(id);
      const box = to === undefined ? undefined : this.mailBoxes?.get(to);
      const m = box?.get(id);
      if (m) {
        box!.delete(id); this.mailOwner!.delete(id); this.forget(m.h);
        if (box!.size === 0) this.mails.delete(m.to);
      }
      if (!this.tombs.has(id)) { this.tombs.set(id, m ? Math.max(m.expiresAtMs, tombUntilMs) : tombUntilMs); this.add(tombHash(id)); changed = true; }
    }
    return changed;
  }

  /** Drops what has expired; the owner calls it on a coarse grid so replicas stay comparable. */
  sweep(now: number) {
    for (const [u, cur] of this.byUser) {
      if (!Array.isArray(cur)) { if (cur.expiresAtMs <= now) { this.byUser.delete(u); this.forget(cur.h); this.recordCount--; } continue; }
      const keep = cur.filter((r) => r.expiresAtMs > now);
      if (keep.length === cur.length) continue;
      for (const r of cur) if (r.expiresAtMs <= now) { this.forget(r.h); this.recordCount--; }
      if (keep.length === 0) this.byUser.delete(u); else this.byUser.set(u, keep.length === 1 ? keep[0] : keep);
    }
    if (this.mailBoxes) {
      for (const [u, box] of this.mailBoxes) {
        for (const [id, m] of box) if (m.expiresAtMs <= now) { box.delete(id); this.mailOwner!.delete(id); this.forget(m.h); }
        if (box.size === 0) this.mailBoxes.delete(u);
      }
    }
    if (this.tombMap) for (const [id, t] of this.tombMap) if (t <= now) { this.tombMap.delete(id); this.forget(tombHash(id)); }
  }

  allMails(): StoredMail[] {
    const out: StoredMail[] = [];
    if (this.mailBoxes) for (const box of this.mailBoxes.values()) for (const m of box.values()) out.push(m);
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
