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
export const digestBuckets = 16;
export const bucketOf = (h: number) => h & (digestBuckets - 1);
export const tombHash = (id: string) => mix32(hash32(id) ^ tombTag);

/**
 * Mails are copied into shared 4 KiB slabs: a mail outlives the datagram it came in (whose
 * buffer a view would keep alive), and a copy of its own costs an ArrayBuffer object (~150 B
 * of heap). A slab lives while any of its items does; big items get their own copy.
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

// A record is a row of six numbers in one Float64Array (48 B: one cache line for most), its
// bytes a range of the store's arena, and its user and device two array entries. No object per
// record: a simulator holds ~10^7 records, and objects per record were its largest garbage
// collection cost and most of its memory (docs/decisions/0033).
const PUB = 0, EXP = 1, H = 2, OFF = 3, LEN = 4, NEXT = 5, W = 6;

const newer = (pub: number, exp: number, curPub: number, curExp: number) => pub > curPub || (pub === curPub && exp > curExp);

export class SlotStore {
  /** Record rows (stride W); rows of one user are chained by NEXT (-1 ends), free rows too. */
  private rec = new Float64Array(0);
  /** Per row: the user name (undefined: a free row) and the device. */
  private readonly users: (string | undefined)[] = [];
  private readonly devices: (string | undefined)[] = [];
  private rows = 0;
  private freeRow = -1;
  /**
   * User name hash → first row of the user's chain: pairs (hash, row + 1), linear probing, at
   * most half full; 0 in the second word is an empty entry. Names with equal hashes are told
   * apart by the row's user.
   */
  private index = new Int32Array(0);
  private indexed = 0;
  /** Record bytes, appended; a range is never rewritten once handed out (views of it stay valid), and live ones move to a new arena when the dead outweigh them. */
  private arena = new Uint8Array(0);
  private arenaAt = 0;
  private arenaLive = 0;
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

  /** Every record held (anti-entropy and tests; the hot paths read rows). */
  allRecords(): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (let r = 0; r < this.rows; r++) if (this.users[r] !== undefined) out.push(this.record(r));
    return out;
  }

  /** The bytes of every record whose digest bucket is in `mask`. */
  recordsIn(mask: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const rec = this.rec;
    for (let r = 0; r < this.rows; r++) {
      if (this.users[r] !== undefined && (mask >>> bucketOf(rec[r * W + H])) & 1) out.push(this.bytesOf(r));
    }
    return out;
  }

  /** Stores the record when it is newer than what we hold for its device; true when something changed. */
  putRecord(meta: RecordMeta, bytes: Uint8Array): boolean {
    const user = meta.user, device = meta.device;
    const uh = hash32(user);
    const at = this.find(user, uh);
    const h = mix32((device === undefined ? uh : hash32(`${user} ${device}`)) ^ Math.floor(meta.publishedAtMs / 1000) ^ (meta.expiresAtMs & 0xffff));
    if (at < 0) {
      const row = this.newRow(user, device, meta, bytes, h, -1);
      this.insert(uh, row);
      this.add(h); this.recordCount++;
      return true;
    }
    const rec = this.rec;
    const head = this.index[at + 1] - 1;
    let same = -1, n = 0, oldest = -1;
    for (let r = head; r >= 0; r = rec[r * W + NEXT]) {
      n++;
      if (this.devices[r] === device) { same = r; break; }
      if (oldest < 0 || rec[r * W + PUB] < rec[oldest * W + PUB]) oldest = r;
    }
    if (same >= 0) {
      if (!newer(meta.publishedAtMs, meta.expiresAtMs, rec[same * W + PUB], rec[same * W + EXP])) return false;
      this.rewrite(same, device, meta, bytes, h);
      return true;
    }
    // A new device: past the limit, the oldest publication gives way to a newer one.
    if (n >= (meta.keepMax ?? devicesPerUserMax)) {
      if (rec[oldest * W + PUB] >= meta.publishedAtMs) return false;
      this.rewrite(oldest, device, meta, bytes, h);
      return true;
    }
    const row = this.newRow(this.users[head]!, device, meta, bytes, h, head);
    this.index[at + 1] = row + 1;
    this.add(h); this.recordCount++;
    return true;
  }

  /** The user's fresh records, one per device, newest publication first. */
  getRecords(user: string, now: number): StoredRecord[] {
    const at = this.find(user, hash32(user));
    if (at < 0) return [];
    const rec = this.rec;
    const out: StoredRecord[] = [];
    for (let r = this.index[at + 1] - 1; r >= 0; r = rec[r * W + NEXT]) if (rec[r * W + EXP] > now) out.push(this.record(r));
    if (out.length > 1) out.sort((a, b) => b.publishedAtMs - a.publishedAtMs);
    return out;
  }

  private record(r: number): StoredRecord {
    const rec = this.rec, o = r * W;
    const s: StoredRecord = { user: this.users[r]!, publishedAtMs: rec[o + PUB], expiresAtMs: rec[o + EXP], bytes: this.bytesOf(r), h: rec[o + H] };
    if (this.devices[r] !== undefined) s.device = this.devices[r];
    return s;
  }

  private bytesOf(r: number): Uint8Array {
    const o = r * W;
    return this.arena.subarray(this.rec[o + OFF], this.rec[o + OFF] + this.rec[o + LEN]);
  }

  /** The index entry (word offset) of `user`, or -1. */
  private find(user: string, uh: number): number {
    const ix = this.index;
    if (this.indexed === 0) return -1;
    const mask = ix.length - 2;
    const key = uh | 0;
    for (let e = (Math.imul(uh, 0x9e3779b1) << 1) & mask; ; e = (e + 2) & mask) {
      const row = ix[e + 1];
      if (row === 0) return -1;
      if (ix[e] === key && this.users[row - 1] === user) return e;
    }
  }

  private insert(uh: number, row: number) {
    if (2 * (this.indexed + 1) * 2 > this.index.length) this.rehash();
    const ix = this.index;
    const mask = ix.length - 2;
    let e = (Math.imul(uh, 0x9e3779b1) << 1) & mask;
    while (ix[e + 1] !== 0) e = (e + 2) & mask;
    ix[e] = uh | 0; ix[e + 1] = row + 1;
    this.indexed++;
  }

  /** Removes an index entry; later entries of its probe run move back into the gap (no tombstones). */
  private unindex(e: number) {
    const ix = this.index;
    const mask = ix.length - 2;
    ix[e + 1] = 0;
    this.indexed--;
    for (let j = (e + 2) & mask; ix[j + 1] !== 0; j = (j + 2) & mask) {
      const home = (Math.imul(ix[j], 0x9e3779b1) << 1) & mask;
      // Entry j may fill the gap at e when its home is not cyclically in (e, j].
      if (((j - home) & mask) >= ((j - e) & mask)) { ix[e] = ix[j]; ix[e + 1] = ix[j + 1]; ix[j + 1] = 0; e = j; }
    }
  }

  /** Removes the entry of hash `uh` whose user has no rows left (its row was freed: users[row] is undefined). */
  private unindexEmpty(uh: number) {
    const ix = this.index;
    const mask = ix.length - 2;
    for (let e = (Math.imul(uh, 0x9e3779b1) << 1) & mask; ix[e + 1] !== 0; e = (e + 2) & mask) {
      if (ix[e] === (uh | 0) && this.users[ix[e + 1] - 1] === undefined) return this.unindex(e);
    }
  }

  private rehash() {
    const old = this.index;
    this.index = new Int32Array(Math.max(16, old.length * 2));
    this.indexed = 0;
    for (let e = 0; e < old.length; e += 2) if (old[e + 1] !== 0) this.insert(old[e], old[e + 1] - 1);
  }

  private newRow(user: string, device: string | undefined, meta: RecordMeta, bytes: Uint8Array, h: number, next: number): number {
    let r = this.freeRow;
    if (r >= 0) this.freeRow = this.rec[r * W + NEXT];
    else {
      r = this.rows++;
      if (r * W === this.rec.length) { const grown = new Float64Array(Math.max(4, 2 * this.rows) * W); grown.set(this.rec); this.rec = grown; }
    }
    this.users[r] = user;
    this.devices[r] = device;
    this.rec[r * W + NEXT] = next;
    this.fill(r, meta, bytes, h);
    return r;
  }

  /** A row takes a newer record (of its own device, or of a device that replaces it). */
  private rewrite(r: number, device: string | undefined, meta: RecordMeta, bytes: Uint8Array, h: number) {
    this.forget(this.rec[r * W + H]);
    this.arenaLive -= this.rec[r * W + LEN];
    this.devices[r] = device;
    this.fill(r, meta, bytes, h);
    this.add(h);
  }

  private fill(r: number, meta: RecordMeta, bytes: Uint8Array, h: number) {
    const off = this.keep(bytes);
    const rec = this.rec, o = r * W;
    rec[o + PUB] = meta.publishedAtMs; rec[o + EXP] = meta.expiresAtMs; rec[o + H] = h;
    rec[o + OFF] = off; rec[o + LEN] = bytes.length;
  }

  /** Copies record bytes into the arena; where they start. */
  private keep(b: Uint8Array): number {
    const n = b.length;
    if (this.arenaAt + n > this.arena.length) this.compact(n);
    const at = this.arenaAt;
    const a = this.arena;
    if (n <= 64) for (let i = 0; i < n; i++) a[at + i] = b[i]; else a.set(b, at);
    this.arenaAt += n;
    this.arenaLive += n;
    return at;
  }

  /** A new arena, twice what is live (and `room`), holding only the live records' bytes. */
  private compact(room: number) {
    const old = this.arena;
    let size = 256;
    while (size < 2 * (this.arenaLive + room)) size *= 2;
    const a = new Uint8Array(size);
    let at = 0;
    const rec = this.rec;
    for (let r = 0; r < this.rows; r++) {
      if (this.users[r] === undefined) continue;
      const o = r * W, off = rec[o + OFF], len = rec[o + LEN];
      a.set(old.subarray(off, off + len), at);
      rec[o + OFF] = at;
      at += len;
    }
    this.arena = a;
    this.arenaAt = at;
  }

  private freeRows(r: number) {
    this.users[r] = undefined;
    this.devices[r] = undefined;
    this.arenaLive -= this.rec[r * W + LEN];
    this.rec[r * W + NEXT] = this.freeRow;
    this.freeRow = r;
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
    const rec = this.rec, ix = this.index;
    let emptied: number[] | undefined;
    for (let e = 0; e < ix.length; e += 2) {
      if (ix[e + 1] === 0) continue;
      // Unlink the user's expired rows; a user left with none leaves the index after the walk.
      let head = ix[e + 1] - 1, prev = -1;
      for (let r = head; r >= 0;) {
        const next = rec[r * W + NEXT];
        if (rec[r * W + EXP] <= now) {
          this.forget(rec[r * W + H]); this.recordCount--;
          if (prev < 0) head = next; else rec[prev * W + NEXT] = next;
          this.freeRows(r);
        } else prev = r;
        r = next;
      }
      if (head < 0) (emptied ??= []).push(ix[e]); else ix[e + 1] = head + 1;
    }
    // Emptied users are found again by hash (an entry's position moves as others leave).
    if (emptied) for (const uh of emptied) this.unindexEmpty(uh);
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
