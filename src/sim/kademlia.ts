// A Kademlia baseline (Maymounkov & Mazières 2002) for the simulator: XOR metric over 32-bit
// ids, k-buckets, iterative look-ups with α parallel requests, records stored at the
// `storeAt` closest nodes. It answers the same node requests as the overlay (publish and
// look-up; not mailboxes) so both run under one workload. Simplified: no bucket refresh or
// ping-before-evict (upkeep is therefore a lower bound), contacts dropped on a timeout.
import { smallCommand } from '../wire/object-list.ts';
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';
import { hash32, lowerBound } from '../overlay/ring.ts';
import { ClRequest, ClAnswer, Op, Status } from '../overlay/messages.ts';
import type { RecordMeta } from '../overlay/slot-store.ts';
import type { ClientRef } from '../overlay/overlay-core.ts';
import type { Rand } from '../overlay/membership.ts';
import { Outbox } from '../overlay/outbox.ts';

const KadFind = command(Cmd.KadFind, { key: f.uint(1, 0xffffffff), req: f.uint(2, 0xffffffff), user: f.string(3, 64).opt() });
const KadFound = command(Cmd.KadFound, { req: f.uint(1, 0xffffffff), ids: f.uints(2, 64), value: f.bytes(3, 4096).opt() });
const KadStore = command(Cmd.KadStore, { record: f.bytes(1, 4096) });

const k = 20, alpha = 3, storeAt = 10, rpcTimeoutMs = 1000, pollMs = 100;

export interface KademliaConfig { id: number; rand: Rand; verifyRecord(bytes: Uint8Array, now: number): RecordMeta | undefined }

interface Cand { id: number; state: 0 | 1 | 2 | 3; depth: number } // unasked, asked, answered, failed
interface Search {
  client: ClientRef; clientReq: number; op: Op; user: string; key: number; item?: Uint8Array;
  cands: Cand[]; inflight: number; done: boolean;
}

export class KademliaCore {
  private readonly buckets: number[][] = Array.from({ length: 32 }, () => []);
  private readonly records = new Map<string, { meta: RecordMeta; bytes: Uint8Array }>();
  private readonly rpcs = new Map<number, { s: Search; c: Cand; deadline: number }>();
  readonly out = new Outbox<number>();
  readonly answers = new Outbox<ClientRef>();
  private nextReq = 1;

  constructor(private readonly cfg: KademliaConfig) {}
  get id() { return this.cfg.id; }

  start(_now: number, bootstrap: number[]) { for (const b of bootstrap) this.learn(b); }

  /** Warm start: each bucket filled with up to k random members of its XOR range. */
  seedTables(sorted: Uint32Array, rand: Rand) {
    const self = this.cfg.id;
    for (let i = 0; i < 32; i++) {
      const lo = ((self ^ (2 ** i)) >>> i) * 2 ** i >>> 0; // flip bit i, clear below
      const a = lowerBound(sorted, lo), b = lowerBound(sorted, lo + 2 ** i);
      const n = b - a;
      for (let j = 0; j < Math.min(k, n); j++) this.learn(sorted[a + (n <= k ? j : rand() % n)]);
    }
  }

  handleClient(client: ClientRef, bytes: Uint8Array, now: number) {
    const r = smallCommand(bytes) === Cmd.ClRequest ? ClRequest.decode(bytes, 1) : undefined;
    if (!r?.ok) return;
    const q = r.value;
    if (q.op !== Op.Publish && q.op !== Op.Lookup) { this.answers.push(client, ClAnswer.toBytes({ req: q.req, status: Status.Rejected, hops: 0 })); return; }
    const key = hash32(q.user);
    const s: Search = { client, clientReq: q.req, op: q.op as Op, user: q.user, key, item: q.item, cands: [], inflight: 0, done: false };
    const local = this.records.get(q.user);
    if (q.op === Op.Lookup && local && local.meta.expiresAtMs > now) return this.finish(s, Status.Ok, 0, [local.bytes]);
    for (const id of this.closest(key, k)) s.cands.push({ id, state: 0, depth: 1 });
    this.step(s, now);
  }

  handlePeer(from: number, bytes: Uint8Array, now: number) {
    const command = smallCommand(bytes);
    if (command < 0) return;
    this.learn(from);
    switch (command) {
      case Cmd.KadFind: {
        const q = KadFind.decode(bytes, 1);
        if (!q.ok) return;
        const rec = q.value.user !== undefined ? this.records.get(q.value.user) : undefined;
        const value = rec && rec.meta.expiresAtMs > now ? rec.bytes : undefined;
        this.out.push(from, KadFound.toBytes({ req: q.value.req, ids: value ? [] : this.closest(q.value.key, k), value }));
        return;
      }
      case Cmd.KadFound: {
        const a = KadFound.decode(bytes, 1);
        if (!a.ok) return;
        const rpc = this.rpcs.get(a.value.req);
        if (!rpc) return;
        this.rpcs.delete(a.value.req);
        const { s, c } = rpc;
        c.state = 2; s.inflight--;
        if (s.done) return;
        if (a.value.value && s.op === Op.Lookup && this.cfg.verifyRecord(a.value.value, now)) return this.finish(s, Status.Ok, c.depth, [a.value.value]);
        // Candidates stay sorted by distance to the key (distances of distinct ids differ), kept to 3k.
        const cands = s.cands;
        for (const id of a.value.ids) {
          if (id === this.cfg.id) continue;
          const d = (id ^ s.key) >>> 0;
          let lo = 0, hi = cands.length;
          while (lo < hi) { const mid = (lo + hi) >>> 1; if (((cands[mid].id ^ s.key) >>> 0) < d) lo = mid + 1; else hi = mid; }
          if (lo >= 3 * k || (lo < cands.length && cands[lo].id === id)) continue;
          cands.splice(lo, 0, { id, state: 0, depth: c.depth + 1 });
          if (cands.length > 3 * k) cands.length = 3 * k;
        }
        return this.step(s, now);
      }
      case Cmd.KadStore: {
        const st = KadStore.decode(bytes, 1);
        if (!st.ok) return;
        const meta = this.cfg.verifyRecord(st.value.record, now);
        const have = meta && this.records.get(meta.user);
        if (meta && (!have || have.meta.publishedAtMs < meta.publishedAtMs)) this.records.set(meta.user, { meta, bytes: st.value.record.slice() }); // a copy: the datagram it came in is not ours to keep
        return;
      }
    }
  }

  handleTimeout(now: number) {
    this.rpcTick = now + pollMs;
    for (const [req, r] of this.rpcs) {
      if (r.deadline > now) continue;
      this.rpcs.delete(req);
      r.c.state = 3; r.s.inflight--;
      this.forget(r.c.id);
      if (!r.s.done) this.step(r.s, now);
    }
    if (this.records.size > 0 && now % 60_000 < pollMs) for (const [u, r] of this.records) if (r.meta.expiresAtMs <= now) this.records.delete(u);
  }

  pollTimeout(): number | undefined { return this.rpcs.size ? this.rpcTick : undefined; }
  private rpcTick = 0;

  private step(s: Search, now: number) {
    const top = s.cands.filter((c) => c.state !== 3).slice(0, k);
    for (const c of top) {
      if (s.inflight >= alpha) break;
      if (c.state !== 0) continue;
      c.state = 1; s.inflight++;
      const req = this.nextReq = (this.nextReq + 1) >>> 0 || 1;
      this.rpcs.set(req, { s, c, deadline: now + rpcTimeoutMs });
      this.rpcTick = Math.ceil((now + 1) / pollMs) * pollMs;
      this.out.push(c.id, KadFind.toBytes({ key: s.key, req, user: s.op === Op.Lookup ? s.user : undefined }));
    }
    if (s.inflight > 0 || top.some((c) => c.state === 0)) return;
    // Converged: the k closest that answered are known.
    const answered = top.filter((c) => c.state === 2);
    const hops = answered.reduce((d, c) => Math.max(d, c.depth), 0);
    if (s.op === Op.Publish && s.item && this.cfg.verifyRecord(s.item, now)) {
      const targets = answered.slice(0, storeAt);
      for (const c of targets) this.out.push(c.id, KadStore.toBytes({ record: s.item }));
      if (targets.length < storeAt || ((this.cfg.id ^ s.key) >>> 0) < ((targets[targets.length - 1].id ^ s.key) >>> 0)) {
        const meta = this.cfg.verifyRecord(s.item, now)!;
        this.records.set(meta.user, { meta, bytes: s.item.slice() });
      }
      return this.finish(s, targets.length ? Status.Ok : Status.Failed, hops, []);
    }
    this.finish(s, Status.NotFound, hops, []);
  }

  private finish(s: Search, status: Status, hops: number, items: Uint8Array[]) {
    s.done = true;
    this.answers.push(s.client, ClAnswer.toBytes({ req: s.clientReq, status, hops: Math.min(hops, 16), items: items.length ? items : undefined }));
  }

  private bucketOf(id: number) { return 31 - Math.clz32((id ^ this.cfg.id) >>> 0); }

  private learn(id: number) {
    if (id === this.cfg.id || id === 0) return;
    const b = this.buckets[this.bucketOf(id)];
    if (b.length < k && !b.includes(id)) b.push(id);
  }

  private forget(id: number) {
    const b = this.buckets[this.bucketOf(id)];
    const i = b.indexOf(id);
    if (i >= 0) b.splice(i, 1);
  }

  /**
   * The n known ids nearest `key` by XOR, nearest first. Bucket i holds ids whose XOR with us
   * has its top bit at i; with d = key ^ us and h its top bit, bucket h is nearer the key than
   * every bucket below it (those share d's top bit), and those are nearer than every bucket
   * above h, in increasing order. So whole buckets are taken in that order and only the taken
   * ones sorted — not every id we know on every request.
   */
  private closest(key: number, n: number): number[] {
    const d = (key ^ this.cfg.id) >>> 0;
    const h = d === 0 ? -1 : 31 - Math.clz32(d);
    const byDistance = (x: number, y: number) => ((x ^ key) >>> 0) - ((y ^ key) >>> 0);
    const out = h >= 0 ? [...this.buckets[h]].sort(byDistance) : [];
    const below: number[] = [];
    for (let j = h - 1; j >= 0; j--) below.push(...this.buckets[j]);
    out.push(...below.sort(byDistance));
    for (let j = h + 1; j < 32 && out.length < n; j++) out.push(...[...this.buckets[j]].sort(byDistance));
    if (out.length > n) out.length = n;
    return out;
  }
}

