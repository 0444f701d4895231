// One thread's part of a simulated run (docs/decisions/0033): the supernodes whose ids fall in
// its share of the ring, the user shards it owns, and the agenda of their events. A run on one
// thread is one part holding everything; a run on several threads gives the same figures.
//
// What makes the figures independent of the thread count:
// * every actor — a supernode, a user shard, the run itself (faults, the drain) — draws from
//   its own random stream and keys the events it schedules with its own sequence, and the
//   agenda takes a millisecond's events in key order (agenda.ts);
// * nothing is shared between actors but datagrams (which take at least a window to arrive)
//   and the set of live supernodes, which changes only between windows (live-set.ts);
// * a user's look-ups and mails go to users of its own shard, so a shard's state is its own.
//
// Users are not cores: they are the workload, speaking the node ↔ supernode requests
// (ClRequest/ClAnswer) to the core of their supernode, as a real node's overlay client does.
import { Agenda } from './agenda.ts';
import { NodeTable } from './node-table.ts';
import { Rng } from './rng.ts';
import { NetModel, regionOf } from './net-model.ts';
import { lifetimeMs } from './churn.ts';
import type { SimCore } from './sim-core.ts';
import { simRecord, simRecordUser } from './sim-record.ts';
import { LiveSet, type LiveChange, byTimeThenId } from './live-set.ts';
import type { Exchange } from './exchange.ts';
import type { ScenarioOptions } from './scenario.ts';
import { ClRequest, ClAnswer, MailItem, Op, Status } from '../overlay/messages.ts';
import { smallCommand, encodeObjectList } from '../wire/object-list.ts';
import { mix32 } from '../overlay/ring.ts';
import { Metrics } from './metrics.ts';


const enum K { Peer, Client, Answer, Timer, Start, Spawn, Login, Logout, Republish, UserTimeout, Failover, Lookup, Mail, Death, Kill, PartitionOn, PartitionOff, Drain, ClogOn, ClogOff }

interface UserReq {
  user: number; op: Op; gen: number; target: number; at: number; tries: number; bytes: Uint8Array; mailId?: string;
  /** An acknowledgement of a full chunk: the node asks for the next once this one is answered. */
  more?: boolean;
}

export const t0 = 1_700_000_000_000;
/** How long a partition or a clog lasts when the run does not say. */
export const faultDefaults = { partitionForS: 60, clogForS: 30 };
const presenceTtlMs = 10 * 60_000;
const republishMs = 4 * 60_000;
const userTimeoutMs = 5000;
const keepAliveDetectMs = 15_000;
export const drainMs = 120_000;
/** A dead supernode's replacement joins this long after (its process starting). */
const bootMs = 1000;
/** The initial supernodes start within this long of the run's start. */
const startSpreadMs = 1000;

/** Event key sources: the run itself is 0, supernodes are their ids (≥ 1), user shards follow 2^32. */
const runActor = 0;
const shardActor = (s: number) => 2 ** 32 + s;

/** User shards: a function of the user count only, never of the threads. */
const shardCount = (users: number) => Math.max(1, Math.min(64, Math.floor(users / 500)));
/** The thread that runs supernode `id`: threads split the ring into equal ranges. */
export const ownerOfId = (id: number, threads: number) => Math.floor((id * threads) / 2 ** 32);

class Shard {
  /** Log-in and log-out times; the load (look-ups, mail, attachments, the network's draws for its users). */
  readonly users: Rng;
  readonly load: Rng;
  seq = 0;
  nextReq = 0;
  mailCounter = 0;
  size = 0;
  readonly online: number[] = [];
  readonly offline: number[] = [];
  constructor(seed: number, s: number) {
    const base = mix32(seed ^ 0x75736572);
    this.users = new Rng(base, 2 * s);
    this.load = new Rng(base, 2 * s + 1);
  }
}

export class SimPart {
  readonly metrics = new Metrics();
  private readonly agenda = new Agenda(t0);
  private readonly nodes = new NodeTable();
  private readonly net: NetModel;
  private readonly live: LiveSet;
  private readonly seed: number;
  private readonly nodeSeed: number;
  private readonly end: number;
  private readonly stopAt: number;
  private now = t0;
  private windowEnd = t0;
  private events = 0;
  /** Joins and deaths of our supernodes in this window, for every thread's live set. */
  private changes: LiveChange[] = [];
  private runSeq = 0;
  private readonly fault: Rng;
  private clogged: Set<number> | undefined;
  private clogEnd = 0;

  // ---- users: arrays over every user, used for the shards we own ----
  private readonly M: number;
  private readonly S: number;
  private readonly shards: (Shard | undefined)[];
  private readonly userRegion: Uint8Array;
  private readonly online: Uint8Array;
  /** The supernode id a user is attached to (0: none). */
  private readonly home: Float64Array;
  private readonly gen: Uint32Array;
  private readonly publishedAt: Float64Array;
  private readonly onlinePos: Int32Array;
  private readonly offlinePos: Int32Array;
  /** Our users by the supernode they attached to (stale entries are skipped), so its death can move them. */
  private readonly attached = new Map<number, number[]>();
  private readonly reqs = new Map<number, UserReq>();
  private readonly mailAccepted = new Map<string, number>();
  private readonly mailDelivered = new Map<string, number>();
  private draining = false;

  constructor(private readonly o: ScenarioOptions, readonly w: number, readonly threads: number, private readonly exchange?: Exchange) {
    this.seed = o.seed >>> 0;
    this.nodeSeed = mix32(this.seed ^ 0x6e6f6465);
    this.net = new NetModel(this.seed, { lossRate: o.lossRate ?? 0.002, jitter: 0.1, bandwidthBps: 10e6, accessMs: 5 });
    this.fault = new Rng(this.seed, 5);
    this.end = t0 + o.minutes * 60_000;
    this.stopAt = this.end + drainMs;

    // The initial supernodes: every thread draws the same ids and builds the ones it owns.
    const idRng = new Rng(this.seed, 2);
    const taken = new Set<number>();
    const ids: number[] = [];
    while (ids.length < o.supernodes) { const id = idRng.u32(); if (id && !taken.has(id)) { taken.add(id); ids.push(id); } }
    const sorted = Uint32Array.from(ids).sort();
    this.live = new LiveSet(sorted);
    for (const id of ids) {
      if (ownerOfId(id, threads) !== w) continue;
      const i = this.addNode(id);
      o.protocol.warm(this.nodes.cores[i]!, sorted, this.nodes.rngs[i], this.now);
      // Each starts within the first second, as the processes of a running network did not all start in one millisecond:
      // in step, every supernode's periodic work fell in the same millisecond.
      this.nodeEvent(i, this.now + this.nodes.rngs[i].int(startSpreadMs), K.Start, i, 0);
    }
    this.metrics.setupDone(o.supernodes);

    // Users.
    const M = this.M = o.users;
    const S = this.S = shardCount(M);
    this.shards = Array.from({ length: S }, (_, s) => (s % threads === w ? new Shard(this.seed, s) : undefined));
    this.userRegion = new Uint8Array(M);
    for (let u = 0; u < M; u++) this.userRegion[u] = regionOf(u, this.seed ^ 0x5a5a5a5a);
    this.online = new Uint8Array(M);
    this.home = new Float64Array(M);
    this.gen = new Uint32Array(M);
    this.publishedAt = new Float64Array(M);
    this.onlinePos = new Int32Array(M).fill(-1);
    this.offlinePos = new Int32Array(M).fill(-1);
    for (let u = 0; u < M; u++) {
      const sh = this.shards[u % S];
      if (!sh) continue;
      sh.size++;
      if (sh.users.chance(0.6)) this.shardEvent(u % S, this.now + sh.users.float() * 60_000, K.Login, u, 0);
      else { this.setIn(sh.offline, this.offlinePos, u); this.shardEvent(u % S, this.now + sh.users.exp(30 * 60_000), K.Login, u, 0); }
    }
    for (let s = 0; s < S; s++) {
      const sh = this.shards[s];
      if (!sh) continue;
      if (this.lookupRate(sh) > 0) this.shardEvent(s, this.now + 60_000 + sh.load.exp(1 / this.lookupRate(sh)), K.Lookup, s, 0);
      if (this.mailRate(sh) > 0) this.shardEvent(s, this.now + sh.load.exp(1 / this.mailRate(sh)), K.Mail, s, 0);
    }
    if (o.killFraction) this.runEvent(t0 + (o.killAtMin ?? o.minutes / 2) * 60_000, K.Kill);
    if (o.partitionAtMin !== undefined) this.runEvent(t0 + o.partitionAtMin * 60_000, K.PartitionOn);
    if (o.clogFraction) this.runEvent(t0 + (o.clogAtMin ?? o.minutes / 2) * 60_000, K.ClogOn);
    this.runEvent(this.end, K.Drain);
  }

  /** Look-ups and mails per ms of a shard (its share of the run's rates). */
  private lookupRate(sh: Shard) { return (sh.size * 0.6 * (this.o.lookupsPerUserHour ?? 6)) / 3_600_000; }
  private mailRate(sh: Shard) { return this.o.mail === false ? 0 : (sh.size * 0.6 * (this.o.mailsPerUserHour ?? 2)) / 3_600_000; }

  // ---- scheduling ----

  /** Schedules an event where its actor lives: here, or in another thread's next batch. */
  private schedule(t: number, kind: K, a: number, b: number, src: number, seq: number, bytes?: Uint8Array) {
    const at = Math.ceil(t);
    const dest = kind === K.Peer || kind === K.Client || kind === K.Spawn ? ownerOfId(a, this.threads)
      : kind === K.Answer ? (a % this.S) % this.threads : this.w;
    if (dest === this.w) { this.agenda.push(at, kind, a, b, src, seq, bytes); return; }
    // A window is shorter than any delay between threads; an event inside it would break the order.
    if (at < this.windowEnd) throw new Error(`sim: an event for thread ${dest} at ${at} falls inside the window ending ${this.windowEnd}`);
    this.exchange!.post(dest, at, kind, a, b, src, seq, bytes);
  }
  private nodeEvent(i: number, t: number, kind: K, a: number, b: number, bytes?: Uint8Array) {
    this.schedule(t, kind, a, b, this.nodes.id[i], this.nodes.seq[i]++, bytes);
  }
  private shardEvent(s: number, t: number, kind: K, a: number, b: number, bytes?: Uint8Array) {
    this.schedule(t, kind, a, b, shardActor(s), this.shards[s]!.seq++, bytes);
  }
  /** A datagram from node `i`: its delay is drawn from its key, and a lost one still uses up its sequence number. */
  private nodeSend(i: number, kind: K, a: number, b: number, toRegion: number, from: number, to: number, bytes: Uint8Array) {
    const seq = this.nodes.seq[i]++, src = this.nodes.id[i];
    const d = this.net.delay(this.nodes.region[i], toRegion, bytes.length, src, seq);
    if (d < 0) { if (kind === K.Peer) this.metrics.lost++; return; }
    this.schedule(this.arrival(from, to, d), kind, a, b, src, seq, bytes);
  }
  private runEvent(t: number, kind: K) { this.schedule(t, kind, 0, 0, runActor, this.runSeq++); }

  /** When a datagram between supernodes `a` and `b` (0: a user) sent now with delay d arrives. */
  private arrival(a: number, b: number, d: number): number {
    const c = this.clogged;
    return c && this.now < this.clogEnd && (c.has(a) || c.has(b)) ? this.clogEnd + d : this.now + d;
  }

  // ---- supernodes ----

  private addNode(id: number): number {
    const rng = new Rng(this.nodeSeed, id);
    const i = this.nodes.add(id, regionOf(id, this.seed), this.o.protocol.create(id, 1, rng), rng);
    const life = lifetimeMs(this.o.churn, rng);
    if (Number.isFinite(life)) this.nodeEvent(i, this.now + life, K.Death, i, 0);
    return i;
  }

  private kill(i: number) {
    const { nodes } = this;
    if (!nodes.alive[i]) return;
    nodes.alive[i] = 0;
    // Drop the core: its memory goes, as the process would.
    nodes.cores[i] = undefined;
    this.changes.push({ t: this.now, id: nodes.id[i], alive: 0 });
  }

  /** Takes what a core produced: datagrams onto the virtual wire, answers to users, its next deadline. */
  private flush(i: number, core: SimCore) {
    const { nodes, seed } = this;
    const from = nodes.id[i];
    const out = core.out;
    for (let bytes = out.take(); bytes; bytes = out.take()) {
      this.metrics.peerSend(bytes);
      const to = out.lastTo;
      this.nodeSend(i, K.Peer, to, from, regionOf(to, seed), from, to, bytes);
    }
    const answers = core.answers;
    for (let bytes = answers.take(); bytes; bytes = answers.take()) {
      const u = answers.lastTo as number;
      this.nodeSend(i, K.Answer, u, 0, this.userRegion[u], from, 0, bytes);
    }
    const t = core.pollTimeout();
    if (t !== undefined) {
      const at = Math.ceil(Math.max(t, this.now));
      if (at !== nodes.timerAt[i]) { nodes.timerAt[i] = at; this.nodeEvent(i, at, K.Timer, i, 0); }
    }
  }

  // ---- users ----

  private setIn(list: number[], pos: Int32Array, u: number) { pos[u] = list.length; list.push(u); }
  private setOut(list: number[], pos: Int32Array, u: number) {
    const p = pos[u]; if (p < 0) return;
    const last = list.pop()!; if (last !== u) { list[p] = last; pos[last] = p; } pos[u] = -1;
  }
  private name(u: number) { return `u${u}`; }

  private attach(u: number) {
    const sh = this.shards[u % this.S]!;
    if (this.live.size === 0) { this.home[u] = 0; return; }
    const id = this.live.pick(sh.load);
    this.home[u] = id;
    let list = this.attached.get(id);
    if (!list) this.attached.set(id, list = []);
    list.push(u);
    // Users move on; every 64 entries the list drops those who left.
    if ((list.length & 63) === 0) { const kept = list.filter((x) => this.home[x] === id); list.length = 0; list.push(...kept); }
  }

  private sendReq(u: number, op: Op, item?: Uint8Array, ids?: string[], target = -1, mailId?: string) {
    const s = u % this.S, sh = this.shards[s]!;
    const req = sh.nextReq++ * this.S + s;
    const bytes = ClRequest.toBytes({ op, req, user: op === Op.Lookup || op === Op.MailPut ? this.name(target) : this.name(u), item, ids });
    const r: UserReq = { user: u, op, gen: this.gen[u], target, at: this.now, tries: 1, bytes, mailId };
    this.reqs.set(req, r);
    this.toHome(u, bytes);
    this.shardEvent(s, this.now + userTimeoutMs, K.UserTimeout, req, 0);
    return r;
  }

  private toHome(u: number, bytes: Uint8Array) {
    const h = this.home[u];
    if (!h || !this.live.has(h)) return;
    const s = u % this.S, seq = this.shards[s]!.seq++;
    const d = this.net.delay(this.userRegion[u], regionOf(h, this.seed), bytes.length, shardActor(s), seq);
    if (d >= 0) this.schedule(this.arrival(0, h, d), K.Client, h, u, shardActor(s), seq, bytes);
  }

  private publish(u: number) {
    this.sendReq(u, Op.Publish, simRecord(this.name(u), this.now, this.now + presenceTtlMs, this.home[u]));
  }

  private login(u: number) {
    if (this.online[u]) return;
    const s = u % this.S, sh = this.shards[s]!;
    this.online[u] = 1; this.gen[u]++; this.publishedAt[u] = 0;
    this.setOut(sh.offline, this.offlinePos, u); this.setIn(sh.online, this.onlinePos, u);
    this.attach(u);
    this.publish(u);
    if (this.o.mail !== false) this.sendReq(u, Op.MailFetch);
    this.shardEvent(s, this.now + republishMs * (0.9 + 0.2 * sh.users.float()), K.Republish, u, this.gen[u]);
    if (!this.draining) this.shardEvent(s, this.now + sh.users.exp(45 * 60_000), K.Logout, u, this.gen[u]);
  }

  private logout(u: number) {
    if (!this.online[u]) return;
    const s = u % this.S, sh = this.shards[s]!;
    this.online[u] = 0; this.gen[u]++; this.publishedAt[u] = 0;
    this.setOut(sh.online, this.onlinePos, u); this.setIn(sh.offline, this.offlinePos, u);
    if (!this.draining) this.shardEvent(s, this.now + sh.users.exp(30 * 60_000), K.Login, u, 0);
  }

  private onAnswer(u: number, bytes: Uint8Array) {
    const a = smallCommand(bytes) === ClAnswer.command ? ClAnswer.decode(bytes, 1) : undefined;
    if (!a?.ok) return;
    const r = this.reqs.get(a.value.req);
    if (!r) return;
    const st = a.value.status as Status;
    // The supernode could not reach the slot: the node asks again through another one (its host cache).
    if (st === Status.Failed && r.tries < 3 && this.online[u] && r.gen === this.gen[u]) { this.retryReq(a.value.req, r, true); return; }
    this.reqs.delete(a.value.req);
    switch (r.op) {
      case Op.Publish: if (st === Status.Ok && r.gen === this.gen[u] && this.publishedAt[u] === 0) this.publishedAt[u] = this.now; return;
      case Op.Lookup: {
        if (r.gen !== this.gen[u]) { this.metrics.lookupAbandoned(r.at); return; }
        const found = st === Status.Ok && a.value.items?.length === 1 && simRecordUser(a.value.items[0]) === this.name(r.target);
        this.metrics.lookup(r.at, this.now, found, a.value.hops);
        return;
      }
      case Op.MailPut: if (st === Status.Ok && r.mailId) this.mailAccepted.set(r.mailId, r.target); return;
      case Op.MailFetch: {
        // An answer to a session that has ended reaches no one: the node that asked has logged out,
        // so it delivers nothing and acknowledges nothing, and the mail waits for its next login.
        // Counted here, it would be counted again there.
        if (r.gen !== this.gen[u]) return;
        const ids: string[] = [];
        for (const it of a.value.items ?? []) {
          const mi = MailItem.decode(it);
          if (!mi.ok) continue;
          ids.push(mi.value.id);
          this.mailDelivered.set(mi.value.id, (this.mailDelivered.get(mi.value.id) ?? 0) + 1);
        }
        if (ids.length) this.sendReq(u, Op.MailAck, undefined, ids).more = ids.length >= 64;
        return;
      }
      // As the node does (src/node/mailbox.ts): asked at once, the next fetch could reach a replica
      // before the acknowledgement's tombstones did, and bring the same chunk back.
      case Op.MailAck: if (r.more && st === Status.Ok && r.gen === this.gen[u]) this.sendReq(u, Op.MailFetch); return;
      default: return;
    }
  }

  /** No answer, or a failure: the node asks again, through another supernode from its host cache when needed. */
  private retryReq(req: number, r: UserReq, moveOn: boolean) {
    r.tries++;
    if (moveOn || !this.live.has(this.home[r.user]) || r.tries === 3) this.attach(r.user);
    this.toHome(r.user, r.bytes);
    this.shardEvent(r.user % this.S, this.now + userTimeoutMs, K.UserTimeout, req, 0);
  }

  /** A supernode's death reached every thread's live set: our users on it notice after their keep-alive timeout. */
  private homeDied(id: number, at: number) {
    const list = this.attached.get(id);
    if (!list) return;
    this.attached.delete(id);
    const seen = new Set<number>();
    for (const u of list) {
      if (this.home[u] !== id || !this.online[u] || seen.has(u)) continue;
      seen.add(u);
      this.shardEvent(u % this.S, at + keepAliveDetectMs, K.Failover, u, this.gen[u]);
    }
  }

  // ---- the run ----

  /** Runs this part to the end, window by window; thread 0's metrics hold every thread's counts. */
  run(): Metrics {
    const { agenda, nodes, metrics, o } = this;
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    const step = this.net.minDelayMs();
    let nextProgress = t0;
    for (let start = t0; start <= this.stopAt; start += step) {
      this.windowEnd = start + step;
      const limit = Math.min(this.windowEnd, this.stopAt + 1);
      for (let s = agenda.pop(limit); s >= 0; s = agenda.pop(limit)) {
        const t = agenda.t[s];
        const k = agenda.kind[s] as K, ea = agenda.a[s], eb = agenda.b[s], bytes = agenda.payload(s);
        // The run's own events (faults, the drain) happen in every thread; they count once.
        if (this.w === 0 || agenda.src[s] !== runActor) this.events++;
        agenda.release(s);
        this.now = t;
        if (t >= nextProgress && this.w === 0) { nextProgress = t + 5000; metrics.sample(); o.onProgress?.((t - t0) / (this.stopAt - t0), this.events * this.threads); }
        this.handle(k, t, ea, eb, bytes, nodes);
      }
      this.endWindow();
    }
    const cpu = process.cpuUsage(cpuStart);
    metrics.cpuMs = (cpu.user + cpu.system) / 1000;
    metrics.finish(this.events, performance.now() - wallStart, o.minutes * 60_000 + drainMs, this.live.size);
    metrics.waitMs = this.exchange?.waitMs ?? 0;
    let lost = 0, dup = 0;
    for (const id of this.mailAccepted.keys()) { const d = this.mailDelivered.get(id) ?? 0; if (d === 0) lost++; else if (d > 1) dup++; }
    metrics.mail(this.mailAccepted.size, lost, dup);
    return metrics;
  }

  private handle(k: K, t: number, ea: number, eb: number, bytes: Uint8Array | undefined, nodes: NodeTable) {
    switch (k) {
      case K.Peer: { const i = nodes.indexOf(ea); if (i < 0 || !nodes.alive[i]) break; const c = nodes.cores[i]!; c.handlePeer(eb, bytes!, t); this.flush(i, c); break; }
      case K.Client: { const i = nodes.indexOf(ea); if (i < 0 || !nodes.alive[i]) break; const c = nodes.cores[i]!; c.handleClient(eb, bytes!, t); this.flush(i, c); break; }
      case K.Timer: { if (!nodes.alive[ea] || nodes.timerAt[ea] !== t) break; nodes.timerAt[ea] = -1; const c = nodes.cores[ea]!; c.handleTimeout(t); this.flush(ea, c); break; }
      case K.Answer: this.onAnswer(ea, bytes!); break;
      case K.Start: { if (!nodes.alive[ea]) break; const c = nodes.cores[ea]!; c.start(t, []); this.flush(ea, c); break; }
      case K.Login: this.login(ea); break;
      case K.Logout: if (this.gen[ea] === eb && !this.draining) this.logout(ea); break;
      case K.Republish: {
        const u = ea;
        if (!this.online[u] || this.gen[u] !== eb) break;
        this.publish(u);
        if (this.o.mail !== false) this.sendReq(u, Op.MailFetch);
        this.shardEvent(u % this.S, t + republishMs, K.Republish, u, eb);
        break;
      }
      case K.UserTimeout: {
        const r = this.reqs.get(ea);
        if (!r) break;
        if (r.gen !== this.gen[r.user] || !this.online[r.user]) {
          this.reqs.delete(ea);
          if (r.op === Op.Lookup) this.metrics.lookupAbandoned(r.at);
          break;
        }
        if (r.tries >= 3) {
          this.reqs.delete(ea);
          if (r.op === Op.Lookup) this.metrics.lookup(r.at, t, false, 0);
          break;
        }
        this.retryReq(ea, r, false);
        break;
      }
      case K.Failover: {
        const u = ea;
        if (!this.online[u] || this.gen[u] !== eb) break;
        this.attach(u);
        this.publish(u);
        break;
      }
      case K.Lookup: {
        const sh = this.shards[ea]!;
        if (!this.draining) this.shardEvent(ea, t + sh.load.exp(1 / this.lookupRate(sh)), K.Lookup, ea, 0);
        if (sh.online.length < 2) break;
        const from = sh.online[sh.load.int(sh.online.length)];
        let target = -1;
        for (let tries = 0; tries < 8 && target < 0; tries++) {
          const x = sh.online[sh.load.int(sh.online.length)];
          if (x !== from && this.publishedAt[x] > 0 && this.publishedAt[x] < t - 2000) target = x;
        }
        if (target >= 0) this.sendReq(from, Op.Lookup, undefined, undefined, target);
        break;
      }
      case K.Mail: {
        if (this.draining) break;
        const s = ea, sh = this.shards[s]!;
        this.shardEvent(s, t + sh.load.exp(1 / this.mailRate(sh)), K.Mail, s, 0);
        if (sh.online.length === 0 || sh.offline.length === 0) break;
        const from = sh.online[sh.load.int(sh.online.length)];
        const to = sh.offline[sh.load.int(sh.offline.length)];
        const id = `m${this.seed.toString(36)}-${s}-${sh.mailCounter++}`;
        const item = encodeObjectList(MailItem.encode({ id, to: this.name(to), from: this.name(from), body: new Uint8Array(40), expiresAtMs: t + 86_400_000 - 1 }));
        this.sendReq(from, Op.MailPut, item, undefined, to, id);
        break;
      }
      case K.Death: {
        const i = ea;
        if (!nodes.alive[i]) break;
        const id = nodes.id[i], rng = nodes.rngs[i];
        this.kill(i);
        this.metrics.churnDeaths++;
        // Its replacement: a new id from the dying node's stream, joining a moment later through a
        // live supernode, on whichever thread owns that id.
        let j = 0;
        while (j === 0 || this.live.has(j)) j = rng.u32();
        let boot = 0;
        for (let tries = 0; tries < 8 && (boot === 0 || boot === id) && this.live.size > 0; tries++) boot = this.live.pick(rng);
        this.nodeEvent(i, t + bootMs, K.Spawn, j, boot === id ? 0 : boot);
        break;
      }
      case K.Spawn: {
        // An id drawn twice (the chance is ~N/2^32 per join) keeps its first node.
        if (nodes.indexOf(ea) >= 0) break;
        const i = this.addNode(ea);
        const c = nodes.cores[i]!;
        c.start(t, eb ? [eb] : []);
        this.flush(i, c);
        this.changes.push({ t, id: ea, alive: 1 });
        break;
      }
      case K.Kill: {
        const count = Math.floor(this.live.size * this.o.killFraction!);
        for (const id of this.pickLive(count)) if (ownerOfId(id, this.threads) === this.w) this.kill(nodes.indexOf(id));
        this.metrics.killedAt = t - t0; this.metrics.killed = count;
        break;
      }
      case K.PartitionOn: {
        this.net.partitioned = true;
        const healAt = t + (this.o.partitionForS ?? faultDefaults.partitionForS) * 1000;
        this.metrics.partitionAt = t - t0; this.metrics.partitionEndAt = healAt - t0;
        this.runEvent(healAt, K.PartitionOff);
        break;
      }
      case K.PartitionOff: this.net.partitioned = false; break;
      case K.ClogOn: {
        // Joiners during the clog are not in the set: not clogged.
        this.clogged = new Set(this.pickLive(Math.floor(this.live.size * this.o.clogFraction!)));
        this.clogEnd = t + (this.o.clogForS ?? faultDefaults.clogForS) * 1000;
        this.metrics.clogEndAt = this.clogEnd - t0; this.metrics.clogged = this.clogged.size;
        this.runEvent(this.clogEnd, K.ClogOff);
        break;
      }
      case K.ClogOff: this.clogged = undefined; break;
      case K.Drain: {
        // Everyone comes online once more and collects what is waiting, so the mail checker
        // can tell lost from merely undelivered.
        this.draining = true;
        this.metrics.drainAt = t - t0;
        for (const sh of this.shards) if (sh) for (const u of [...sh.offline]) this.login(u);
        for (let s = 0; s < this.S; s++) {
          const sh = this.shards[s];
          if (sh) for (const u of sh.online) this.shardEvent(s, t + 60_000 + sh.users.float() * 30_000, K.Republish, u, this.gen[u]);
        }
        break;
      }
    }
  }

  /** `count` distinct live supernodes, the same in every thread (the run's own stream). */
  private pickLive(count: number): number[] {
    const picked = new Set<number>();
    for (let tries = 0; picked.size < count && tries < 20 * count; tries++) picked.add(this.live.pick(this.fault));
    return [...picked];
  }

  /** Between windows: events for us from other threads, and every thread's joins and deaths. */
  private endWindow() {
    const ours = this.changes;
    this.changes = [];
    let all = ours;
    if (this.exchange) {
      all = ours.concat(this.exchange.swap(ours, this.agenda));
    }
    if (all.length === 0) return;
    all.sort(byTimeThenId);
    this.live.apply(all);
    for (const c of all) if (!c.alive) this.homeDied(c.id, c.t);
  }
}
