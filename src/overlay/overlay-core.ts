// The overlay core, sans-IO: membership, routing into slots, presence records, replication,
// anti-entropy and offline mailboxes. Its inputs are (peer, message bytes, now) and timeouts;
// its outputs are messages for peers (by supernode id), answers for the nodes attached to us
// (by client reference), and a deadline. The supernode composes it over Noise sessions; the
// simulator drives it directly with the same bytes (docs/decisions/0014, docs/overlay.md).
//
//   inputs:  handlePeer(fromId, bytes, now), handleClient(client, bytes, now), handleTimeout(now)
//   command: start(now, bootstrapIds), seedMembers(ids, incs, now)
//   outputs: pollSend(), pollAnswer(), pollTimeout()
import { smallCommand } from '../wire/object-list.ts';
import { Cmd } from '../wire/commands.ts';
import { type RingParams, slotOfUser, blockOfSlot, blockOfId } from './ring.ts';
import { Membership, type Rand } from './membership.ts';
import { Outbox } from './outbox.ts';
import { SlotStore, type RecordMeta, bucketOf, tombHash } from './slot-store.ts';
import {
  OvJoin, OvMembers, OvEvents, OvPing, OvPong, OvMemberDigest, OvRoute, OvAnswer, OvReplicate, OvSlotDigest,
  ClRequest, ClAnswer, MailItem, Op, Status,
} from './messages.ts';

export type ClientRef = string | number;

export interface OverlayConfig {
  id: number;
  /** Incarnation: grows with each life of the same id (a restart), so news of an old death loses. */
  inc: number;
  addr?: string;
  params: RingParams;
  rand: Rand;
  /** Checks a presence record (the real network: the user's signature under a login certificate). */
  verifyRecord(bytes: Uint8Array, now: number): RecordMeta | undefined;
  /** Whether a mail fetch or acknowledgement is the mailbox owner's (src/overlay/mail-auth.ts); absent: anyone's. */
  authorizeMail?(op: Op, user: string, auth: Uint8Array | undefined, ids: string[], now: number): boolean;
  /** The longest an offline mail is kept. */
  mailRetentionMs?: number;
  /** Mails one mailbox may hold before new ones are refused (anyone may write to anyone). */
  mailboxMax?: number;
  requestTimeoutMs?: number;
}

export interface OverlayStats {
  malformed: number; routed: number; answered: number; failed: number; eventsSpread: number;
  declaredDead: number; replicatedItems: number; antiEntropyRepairs: number;
}

interface Pending {
  client: ClientRef | undefined; clientReq: number; op: Op; user: string; slot: number;
  item?: Uint8Array; ids?: string[]; deadline: number; tries: number; firstHop: number; secondHop: number;
  done?: (status: Status, hops: number, items: Uint8Array[]) => void;
}

// Implementation constants (docs/overlay.md explains the figures).
const tickMs = 1000;
/** Members of the subject's neighbourhood each learner passes news on to (it stays inside ~3 blocks). */
const gossipFanout = 5;
/** Members of a joiner's block a bootstrap outside its neighbourhood hands the news to. */
const handInTo = 2;
const pingEveryTicks = 1;
const pingMissesDead = 2;
/** Members after the watched one pinged too, and for how many ticks, once it was found dead. */
const aheadMax = 3;
const aheadTicks = 10;
/** How long a replica that just joined a slot's group may lack records it should hold (until its pull is answered). */
const freshMs = 20_000;
/** Co-replicas a newcomer asks for the slot's contents. */
const pullFrom = 2;
/** While it may be catching up, a newcomer asks one more co-replica this often. */
const repullEveryTicks = 5;
/** Members of the new group a leaving replica hands its copy to. */
const handOffTo = 2;
const slotDigestEveryTicks = 10;
const memberDigestEveryTicks = 15;
/** Every this many ticks one member we remember dead is told so: after a partition it may be alive, and only it can undo its death. */
const probeDeadEveryTicks = 5;
/** How long a member that lists one we hold dead waits to be told: the subject is asked first, and a live one refutes in a round trip. */
const verifyDeathMs = 2000;
/** Deaths awaiting that check (more are only asked about: the next anti-entropy exchange brings them again). */
const verifyMax = 64;
const sweepGridMs = 30_000;
const triesMax = 4;
/** How long after a request timed out first tries go two ways. */
const troubleMs = 60_000;
const hopsMax = 6;
const chunkItems = 64;
const membersChunk = 1024;
/** Members a joiner keeps asking to let it in. */
const joinViaMax = 3;
const mailboxMaxDefault = 1000;

export class OverlayCore {
  readonly members: Membership;
  readonly stores = new Map<number, SlotStore>();
  readonly stats: OverlayStats = { malformed: 0, routed: 0, answered: 0, failed: 0, eventsSpread: 0, declaredDead: 0, replicatedItems: 0, antiEntropyRepairs: 0 };
  /** Messages for peers (by supernode id) and answers for our nodes (by client reference), until the driver takes them. */
  readonly out = new Outbox<number>();
  readonly answers = new Outbox<ClientRef>();
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  private nextTick: number | undefined;
  private ticks = 0;
  /** Membership news to pass on at the next tick: ids, incarnations, alive flags, addresses ('' none). */
  private outIds: number[] = [];
  private outIncs: number[] = [];
  private outAlive: number[] = [];
  private outAddrs: string[] = [];
  /** Deaths to tell members whose lists still held them, once the subject failed to refute: (lister, id, inc, due) quads. */
  private verifying: number[] = [];
  /** Members we asked to let us in, asked again each tick until we know anyone. */
  private joinVia: number[] = [];
  private watched = 0;
  private misses = 0;
  /** Members after the watched one, pinged until tick `aheadUntil`, and their missed pings. */
  private ahead: number[] = [];
  private aheadMisses: number[] = [];
  private aheadUntil = 0;
  private nonce = 0;
  private sweptGrid = 0;
  private digestCursor = 0;
  private dirty = false;
  /** Until when first tries go two ways (we recently met a route that did not answer). */
  private troubleUntil = 0;
  private readonly retentionMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly cfg: OverlayConfig) {
    this.members = new Membership(cfg.id, cfg.inc, cfg.params);
    if (cfg.addr) this.members.addrs.set(cfg.id, cfg.addr);
    this.retentionMs = cfg.mailRetentionMs ?? 30 * 86_400_000;
    this.timeoutMs = cfg.requestTimeoutMs ?? 1000;
    this.slots = 2 ** cfg.params.slotBits;
  }

  get id() { return this.cfg.id; }
  private readonly slots: number;

  /** Presence records held here, over all slots we replicate. */
  recordCount(): number { let n = 0; for (const s of this.stores.values()) n += s.recordCount; return n; }

  // ---- commands ----

  start(now: number, bootstrap: number[]) {
    this.nextTick = now + tickMs;
    this.ticks = this.cfg.rand() % 60;
    this.join(now, bootstrap.slice(0, 3));
  }

  /** Asks members to let us in (and tell us whom they know). */
  join(now: number, ids: number[]) {
    for (const b of ids) {
      if (b === this.cfg.id) continue;
      this.send(b, this.joinRequest());
      if (!this.joinVia.includes(b)) this.joinVia.push(b);
    }
    if (this.joinVia.length > joinViaMax) this.joinVia.splice(0, this.joinVia.length - joinViaMax);
    // We announce ourselves to our neighbourhood too (at the next tick, once the first table is in): the
    // bootstrap's hand-in may meet members that died unnoticed.
    if (ids.length && !this.outIds.includes(this.cfg.id)) this.queueEvent(this.cfg.id, this.members.selfInc, 1, this.cfg.addr ?? '');
    this.reconcile(now);
  }

  /** A warm start from a known membership (the simulator's pre-formed network, a restart's cache). */
  seedMembers(ids: number[], incs: number[], now: number) {
    for (let i = 0; i < ids.length; i++) this.members.alive(ids[i], incs[i], now);
    this.dirty = true;
    this.reconcile(now);
  }

  /** Local requests (the supernode's own users, tests): the answer comes to `done`. */
  request(op: Op, user: string, now: number, done: Pending['done'], item?: Uint8Array, ids?: string[]) {
    this.begin({ client: undefined, clientReq: 0, op, user, slot: slotOfUser(user, this.cfg.params), item, ids, deadline: 0, tries: 0, firstHop: 0, secondHop: 0, done }, now);
    this.reconcile(now);
  }

  // ---- inputs ----

  handleTimeout(now: number) {
    if (this.nextTick === undefined || now < this.nextTick) return;
    this.nextTick = now + tickMs;
    this.ticks++;
    if (this.joinVia.length) this.askAgainToJoin();
    this.flushEvents();
    if (this.verifying.length) this.tellListers(now);
    if (this.ticks % pingEveryTicks === 0) this.watchSuccessor(now);
    if (this.ticks % slotDigestEveryTicks === 0) this.sendSlotDigest();
    if (this.ticks % memberDigestEveryTicks === 0) this.sendMemberDigest();
    if (this.ticks % probeDeadEveryTicks === 0) this.probeDead();
    if (this.ticks % repullEveryTicks === 0) this.repullFresh(now);
    const grid = Math.floor(now / sweepGridMs);
    if (grid !== this.sweptGrid) {
      this.sweptGrid = grid;
      for (const s of this.stores.values()) s.sweep(grid * sweepGridMs);
      this.members.forgetOldDeaths(now);
    }
    if (this.pending.size) for (const [req, p] of this.pending) if (p.deadline <= now) this.retry(req, p, now);
    this.reconcile(now);
  }

  pollTimeout(): number | undefined { return this.nextTick; }

  /** The next message for a peer, as an object (tests and the supernode; the simulator drains `out`). */
  pollSend(): { to: number; bytes: Uint8Array } | undefined {
    const bytes = this.out.take();
    return bytes && { to: this.out.lastTo, bytes };
  }

  pollAnswer(): { client: ClientRef; bytes: Uint8Array } | undefined {
    const bytes = this.answers.take();
    return bytes && { client: this.answers.lastTo, bytes };
  }

  handleClient(client: ClientRef, bytes: Uint8Array, now: number) {
    this.client(client, bytes, now);
    this.reconcile(now);
  }

  handlePeer(from: number, bytes: Uint8Array, now: number) {
    this.peer(from, bytes, now);
    this.reconcile(now);
  }

  private client(client: ClientRef, bytes: Uint8Array, now: number) {
    if (smallCommand(bytes) !== Cmd.ClRequest) { this.stats.malformed++; return; }
    const r = ClRequest.decode(bytes, 1);
    if (!r.ok) { this.stats.malformed++; return; }
    const q = r.value;
    this.begin({ client, clientReq: q.req, op: q.op as Op, user: q.user, slot: slotOfUser(q.user, this.cfg.params), item: q.item, ids: q.ids, deadline: 0, tries: 0, firstHop: 0, secondHop: 0 }, now);
  }

  private peer(from: number, bytes: Uint8Array, now: number) {
    const command = smallCommand(bytes);
    if (command < 0) { this.stats.malformed++; return; }
    this.members.heardFrom(from);
    // Bodies are decoded in place, from byte 1 (after the command).
    switch (command) {
      case Cmd.OvJoin: {
        const j = OvJoin.decode(bytes, 1);
        if (!j.ok || j.value.id !== from) break;
        this.event(j.value.id, j.value.inc, 1, j.value.addr ?? '', now);
        if (!this.members.inNeighbourhood(from)) this.handIn(j.value.id, j.value.inc, j.value.addr ?? '');
        this.sendMembers(from, this.members.knownIds(), true);
        return this.reconcile(now);
      }
      case Cmd.OvMembers: {
        const ms = OvMembers.decode(bytes, 1);
        if (!ms.ok || ms.value.incs.length !== ms.value.ids.length) break;
        const { ids, incs, addrs } = ms.value;
        let stale: number[] | undefined;
        for (let i = 0; i < ids.length; i++) {
          if (this.members.alive(ids[i], incs[i], now, addrs?.[i]) === 'new') this.dirty = true;
          else if ((this.members.deadInc(ids[i]) ?? -1) >= incs[i]) (stale ??= []).push(ids[i]);
        }
        if (stale) this.verifyDeaths(from, stale, now);
        // A neighbour's whole list without us: it never heard we joined (the news was lost), or it
        // holds us dead — a false suspicion, after we were cut off for a while, that we may never
        // hear of ourselves. Only a newer incarnation overrides a death (SWIM), so we take one and
        // tell the neighbour at once and the neighbourhood at the next tick. Without this, a
        // 30 s clog of a fifth of the supernodes left tables at a quarter of the network.
        if (!ms.value.reply && ids.length < membersChunk && this.members.inNeighbourhood(from) && !ids.includes(this.cfg.id)) {
          this.members.bumpInc(this.members.selfInc + 1);
          this.send(from, this.lifeOfSelf());
          this.queueEvent(this.cfg.id, this.members.selfInc, 1, this.cfg.addr ?? '');
        }
        // A joiner now asks a member of its own block for the full neighbourhood.
        if (ms.value.reply) { const b = this.members.memberIn(this.members.block, this.cfg.rand); if (b) this.send(b, OvMemberDigest.toBytes({ hash: 0, count: 0 })); }
        return this.reconcile(now);
      }
      case Cmd.OvEvents: {
        const e = OvEvents.decode(bytes, 1);
        if (!e.ok) break;
        const { ids, incs, alive, addrs } = e.value;
        if (incs.length !== ids.length || alive.length !== ids.length) break;
        for (let i = 0; i < ids.length; i++) this.event(ids[i], incs[i], alive[i] ? 1 : 0, addrs?.[i] ?? '', now, from);
        return this.reconcile(now);
      }
      case Cmd.OvPing: {
        const p = OvPing.decode(bytes, 1);
        if (p.ok) this.send(from, OvPong.toBytes({ nonce: p.value.nonce }));
        return;
      }
      case Cmd.OvPong: {
        if (from === this.watched) this.misses = 0;
        else if (this.ahead.length) { const i = this.ahead.indexOf(from); if (i >= 0) this.aheadMisses[i] = 0; }
        return;
      }
      case Cmd.OvMemberDigest: {
        const d = OvMemberDigest.decode(bytes, 1);
        if (!d.ok) break;
        if (d.value.hash !== this.members.localDigest()) this.sendMembers(from, this.members.local, false);
        return;
      }
      case Cmd.OvRoute: {
        const r = OvRoute.decode(bytes, 1);
        if (!r.ok || r.value.slot >= this.slots || r.value.slot !== slotOfUser(r.value.user, this.cfg.params)) break;
        return this.route(r.value, now);
      }
      case Cmd.OvAnswer: {
        const a = OvAnswer.decode(bytes, 1);
        if (!a.ok) break;
        return this.finish(a.value.req, a.value.status as Status, a.value.hops, a.value.items ?? [], now);
      }
      case Cmd.OvReplicate: {
        const r = OvReplicate.decode(bytes, 1);
        if (!r.ok || r.value.slot >= this.slots) break;
        return this.merge(from, r.value, now);
      }
      case Cmd.OvSlotDigest: {
        const d = OvSlotDigest.decode(bytes, 1);
        if (!d.ok) break;
        const s = this.stores.get(d.value.slot);
        const mask = s ? s.differingBuckets(d.value.hashes) : 0;
        if (s && mask) {
          this.stats.antiEntropyRepairs++;
          this.pushState(from, d.value.slot, s, mask, mask);
        }
        return;
      }
      default: break;
    }
    this.stats.malformed++;
  }

  // ---- membership ----

  /**
   * Membership news. Only the subject's neighbourhood (its block and the ones on either side)
   * keeps it and passes it on, and only when it changed what we knew — our tables are the
   * dedup, no remembered-event set (docs/decisions/0030). Elsewhere a death drops a contact and
   * a join may fill an empty one; neither goes further.
   */
  private event(id: number, inc: number, alive: number, addr: string, now: number, from = 0) {
    if (id === this.cfg.id) {
      if (alive) return;
      // Someone thinks we died: refute with a newer incarnation (SWIM). The news of our life
      // spreads to members we believe alive, which may not include the ones holding us dead
      // (after a partition each side holds the other dead), so the sender hears it from us.
      if (inc >= this.members.selfInc) { this.members.bumpInc(inc + 1); this.queueEvent(id, inc + 1, 1, this.cfg.addr ?? ''); }
      if (from) this.send(from, this.lifeOfSelf());
      return;
    }
    if (!this.members.inNeighbourhood(id)) {
      if (alive) this.members.alive(id, inc, now, addr || undefined); else this.members.died(id, inc, now);
      return;
    }
    const changed = alive ? this.members.alive(id, inc, now, addr || undefined) === 'new' : this.members.died(id, inc, now);
    if (!changed) return;
    this.dirty = true;
    this.queueEvent(id, inc, alive, addr);
  }

  private queueEvent(id: number, inc: number, alive: number, addr: string) {
    this.outIds.push(id); this.outIncs.push(inc); this.outAlive.push(alive); this.outAddrs.push(addr);
    this.stats.eventsSpread++;
  }

  private joinRequest(): Uint8Array {
    return OvJoin.toBytes({ id: this.cfg.id, inc: this.members.selfInc, addr: this.cfg.addr });
  }

  /**
   * A join is one datagram and its answer another: when either is lost, a joiner that knows no
   * one would otherwise stay alone for good, serving its users from a replica group of itself.
   */
  private askAgainToJoin() {
    if (this.members.size > 1 || this.members.contacts.some((id) => id !== 0)) { this.joinVia = []; return; }
    this.send(this.joinVia[this.ticks % this.joinVia.length], this.joinRequest());
  }

  private lifeOfSelf(): Uint8Array {
    return OvEvents.toBytes({ ids: [this.cfg.id], incs: [this.members.selfInc], alive: [1], addrs: this.cfg.addr ? [this.cfg.addr] : undefined });
  }

  /**
   * Tells a member we remember dead that it died. A real death costs a datagram to no one; a
   * live member refutes, to us too. Without this, a partition that lasted long enough for each
   * side to declare the other dead left two overlays that never spoke again: all news, digests
   * and routes go to members believed alive.
   */
  private probeDead() {
    const id = this.members.randomDead(this.cfg.rand);
    if (id) this.send(id, OvEvents.toBytes({ ids: [id], incs: [this.members.deadInc(id)!], alive: [0] }));
  }

  /**
   * A member lists ones we hold dead: it missed the news, or the deaths are false (after a
   * partition, each side holds the other dead at the same incarnation, and a death outranks a
   * life of equal incarnation). Told at once, a member that rightly held them alive would drop
   * them and spread their deaths on its side, until each heard and refuted. So the subjects
   * are asked first (a live one refutes, to us too), and the lister is told only of those that
   * did not — or its lists would bring real deaths back.
   */
  private verifyDeaths(lister: number, ids: number[], now: number) {
    for (const id of ids) {
      const inc = this.members.deadInc(id)!;
      this.send(id, OvEvents.toBytes({ ids: [id], incs: [inc], alive: [0] }));
      if (this.verifying.length < 4 * verifyMax) this.verifying.push(lister, id, inc, now + verifyDeathMs);
    }
  }

  private tellListers(now: number) {
    const v = this.verifying;
    let tell: Map<number, number[]> | undefined;
    let kept = 0;
    for (let i = 0; i < v.length; i += 4) {
      if (v[i + 3] > now) { v[kept++] = v[i]; v[kept++] = v[i + 1]; v[kept++] = v[i + 2]; v[kept++] = v[i + 3]; continue; }
      if ((this.members.deadInc(v[i + 1]) ?? -1) < v[i + 2]) continue;
      let ids = (tell ??= new Map()).get(v[i]);
      if (!ids) tell.set(v[i], ids = []);
      if (!ids.includes(v[i + 1])) ids.push(v[i + 1]);
    }
    v.length = kept;
    if (tell) for (const [to, ids] of tell) this.send(to, OvEvents.toBytes({ ids, incs: ids.map((x) => this.members.deadInc(x)!), alive: ids.map(() => 0) }));
  }

  /** A joiner asked us, from outside its neighbourhood: we hand the news to members of its block, who spread it there. */
  private handIn(id: number, inc: number, addr: string) {
    const bytes = OvEvents.toBytes({ ids: [id], incs: [inc], alive: [1], addrs: addr ? [addr] : undefined });
    const block = blockOfId(id, this.cfg.params);
    const sent: number[] = [];
    for (let k = 0; k < handInTo * 2 && sent.length < handInTo; k++) {
      const to = this.members.memberIn(block, this.cfg.rand);
      if (to && to !== id && !sent.includes(to)) { sent.push(to); this.send(to, bytes); }
    }
  }

  /** Passes queued news on: each subject's news to `gossipFanout` members of its neighbourhood, batched per block. */
  private flushEvents() {
    const n = Math.min(this.outIds.length, 1000);
    if (n === 0) return;
    const ids = this.outIds.splice(0, n), incs = this.outIncs.splice(0, n), alive = this.outAlive.splice(0, n), addrs = this.outAddrs.splice(0, n);
    // News of one block goes to its neighbourhood; ours spans 3 blocks, so at most 3 batches (1 in small networks).
    const p = this.cfg.params;
    const done = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const b = blockOfId(ids[i], p);
      const pick: number[] = [];
      for (let j = i; j < n; j++) if (!done[j] && blockOfId(ids[j], p) === b) { done[j] = 1; pick.push(j); }
      const withAddrs = pick.some((j) => addrs[j]);
      const bytes = OvEvents.toBytes({
        ids: pick.map((j) => ids[j]), incs: pick.map((j) => incs[j]), alive: pick.map((j) => alive[j]),
        addrs: withAddrs ? pick.map((j) => addrs[j]) : undefined,
      });
      const sent: number[] = [];
      for (let k = 0; k < gossipFanout * 3 && sent.length < gossipFanout; k++) {
        const to = this.members.neighbourOf(ids[i], this.cfg.rand);
        if (to && !sent.includes(to)) { sent.push(to); this.send(to, bytes); }
      }
    }
  }

  private sendMembers(to: number, ids: number[], reply: boolean) {
    for (let i = 0; i < ids.length; i += membersChunk) {
      const part = ids.slice(i, i + membersChunk);
      const addrs = part.map((id) => this.members.addrOf(id) ?? '');
      this.send(to, OvMembers.toBytes({ ids: part, incs: part.map((id) => this.members.incOf(id)), addrs: addrs.some(Boolean) ? addrs : undefined, reply: reply && i === 0 ? true : undefined }));
    }
  }

  private watchSuccessor(now: number) {
    let succ = this.members.successor();
    if (succ !== this.watched) { this.watched = succ; this.misses = this.missedAhead(succ); }
    // After a mass failure the next ones may be dead too: each is watched at once, with the pings
    // it already missed while we watched ahead, not from scratch a period later.
    while (succ && this.misses >= pingMissesDead) {
      this.stats.declaredDead++;
      this.event(succ, this.members.incOf(succ), 0, '', now);
      this.aheadUntil = this.ticks + aheadTicks;
      const next = this.members.successor();
      // The table drops the dead at once; should it ever not, this must not spin.
      if (next === succ) break;
      succ = this.watched = next;
      this.misses = this.missedAhead(succ);
    }
    if (!succ) return;
    this.misses++;
    this.send(succ, OvPing.toBytes({ nonce: this.nonce = (this.nonce + 1) >>> 0 }));
    if (this.ticks < this.aheadUntil) this.watchAhead(now);
    else if (this.ahead.length) { this.ahead = []; this.aheadMisses = []; }
  }

  private missedAhead(id: number): number { const i = this.ahead.indexOf(id); return i >= 0 ? this.aheadMisses[i] : 0; }

  /**
   * For a while after our successor died, the members after it are pinged too: a mass failure
   * kills runs of neighbours, and found one after another, two ticks each, a run of five would
   * stay in replica groups for ten seconds.
   */
  private watchAhead(now: number) {
    const next = this.members.successorsAfter(this.watched, aheadMax);
    const misses = next.map((id) => this.missedAhead(id));
    const kept: number[] = [], keptMisses: number[] = [];
    for (let k = 0; k < next.length; k++) {
      if (misses[k] >= pingMissesDead) {
        this.stats.declaredDead++;
        this.event(next[k], this.members.incOf(next[k]), 0, '', now);
        continue;
      }
      kept.push(next[k]); keptMisses.push(misses[k] + 1);
      this.send(next[k], OvPing.toBytes({ nonce: this.nonce = (this.nonce + 1) >>> 0 }));
    }
    this.ahead = kept; this.aheadMisses = keptMisses;
  }

  private sendMemberDigest() {
    const to = this.members.memberIn(this.members.block, this.cfg.rand);
    if (to) this.send(to, OvMemberDigest.toBytes({ hash: this.members.localDigest(), count: this.members.size }));
  }

  // ---- requests ----

  private begin(p: Pending, now: number) {
    const req = this.nextReq = (this.nextReq + 1) >>> 0 || 1;
    this.pending.set(req, p);
    this.dispatch(req, p, now);
  }

  private dispatch(req: number, p: Pending, now: number) {
    p.tries++;
    p.deadline = now + this.timeoutMs;
    const r = { op: p.op, slot: p.slot, origin: this.cfg.id, req, hops: 0, user: p.user, item: p.item, ids: p.ids };
    // A look-up that found nothing here asks other replicas: ours may not have caught up.
    const elsewhere = p.tries > 1 && p.op === Op.Lookup;
    p.firstHop = this.route(r, now, elsewhere);
    p.secondHop = 0;
    // A retry goes two ways at once: after a mass failure one random route is often dead. So does a
    // first try for a while after any request of ours timed out — our contacts may hold the dead.
    if ((p.tries > 1 || now < this.troubleUntil) && p.firstHop) {
      // A retry's second way detours through a neighbour when the slot is far: deaths far away are
      // not news here, so all our contacts towards it may have died unnoticed; a neighbour's are others.
      p.secondHop = p.tries > 1 && !this.members.knowsGroupOf(p.slot) ? this.detour(r, p.firstHop) : this.route(r, now, elsewhere, p.firstHop);
    }
  }

  private detour(r: RouteFields, avoid: number): number {
    const via = this.members.randomNeighbour(this.cfg.rand);
    if (!via || via === avoid) return 0;
    this.stats.routed++;
    this.send(via, OvRoute.toBytes({ ...r, hops: r.hops + 1 }));
    return via;
  }

  private retry(req: number, p: Pending, now: number) {
    this.troubleUntil = now + troubleMs;
    // Either way may have met the dead; a live contact that was only slow is learnt again from its next message.
    for (const hop of [p.firstHop, p.secondHop]) if (hop && !this.members.inNeighbourhood(hop)) this.members.dropContact(hop);
    if (p.tries < triesMax) return this.dispatch(req, p, now);
    this.finish(req, Status.Failed, 0, [], now);
  }

  /** Forwards a request one hop closer to its slot, or serves it; the next hop's id (0: served here). */
  private route(r: RouteFields, now: number, elsewhere = false, avoid = 0): number {
    if (r.hops > hopsMax) { this.answer(r, Status.Failed, []); return 0; }
    let next: number;
    if (this.members.knowsGroupOf(r.slot)) {
      const g = this.members.group(r.slot);
      const others = elsewhere ? g.filter((x) => x !== this.cfg.id) : g;
      if (others.length === 0 || (!elsewhere && g.includes(this.cfg.id))) { this.serve(r, g, now); return 0; }
      if (elsewhere) { next = others[this.cfg.rand() % others.length]; this.stats.routed++; this.send(next, OvRoute.toBytes({ ...r, hops: r.hops + 1 })); return next; }
      // Any member serves (writes are passed on to the rest): load spreads, and a retry likely avoids a dead one.
      next = g[this.cfg.rand() % g.length];
      if (next === avoid && g.length > 1) next = g[(g.indexOf(next) + 1) % g.length];
    } else {
      next = this.members.routeInto(blockOfSlot(r.slot, this.cfg.params), this.cfg.rand, avoid) || this.members.randomMember(this.cfg.rand);
    }
    if (!next) { this.answer(r, Status.Failed, []); return 0; }
    this.stats.routed++;
    this.send(next, OvRoute.toBytes({ ...r, hops: r.hops + 1 }));
    return next;
  }

  private serve(r: RouteFields, g: number[], now: number) {
    const store = this.storeFor(r.slot, g);
    const others = g.filter((x) => x !== this.cfg.id);
    switch (r.op) {
      case Op.Publish: {
        const meta = r.item && this.cfg.verifyRecord(r.item, now);
        if (!meta || meta.user !== r.user || slotOfUser(meta.user, this.cfg.params) !== r.slot) return this.answer(r, Status.Rejected, []);
        if (store.putRecord(meta, r.item!)) this.replicate(others, OvReplicate.toBytes({ slot: r.slot, records: [r.item!] }), 1);
        return this.answer(r, Status.Ok, []);
      }
      case Op.Lookup: {
        const recs = store.getRecords(r.user, now);
        if (!recs.length && this.passOnWhileCatchingUp(r, g, others, now)) return;
        return this.answer(r, recs.length ? Status.Ok : Status.NotFound, recs.map((x) => x.bytes));
      }
      case Op.MailPut: {
        const m = r.item && this.acceptMail(r.item, r.user, now);
        // The limit applies where mail enters, not to replication, so replicas still converge.
        if (!m || store.mailsFor(r.user, now).length >= (this.cfg.mailboxMax ?? mailboxMaxDefault)) return this.answer(r, Status.Rejected, []);
        if (store.putMail(m.id, m.to, m.expiresAtMs, r.item!)) this.replicate(others, OvReplicate.toBytes({ slot: r.slot, mails: [r.item!] }), 1);
        return this.answer(r, Status.Ok, []);
      }
      case Op.MailFetch: {
        if (this.cfg.authorizeMail && !this.cfg.authorizeMail(Op.MailFetch, r.user, r.item, [], now)) return this.answer(r, Status.Rejected, []);
        const mails = store.mailsFor(r.user, now);
        if (!mails.length && this.passOnWhileCatchingUp(r, g, others, now)) return;
        return this.answer(r, Status.Ok, mails.slice(0, chunkItems).map((m) => m.bytes));
      }
      case Op.MailAck: {
        const ids = r.ids ?? [];
        if (this.cfg.authorizeMail && !this.cfg.authorizeMail(Op.MailAck, r.user, r.item, ids, now)) return this.answer(r, Status.Rejected, []);
        if (store.ack(ids, now + this.retentionMs)) this.replicate(others, OvReplicate.toBytes({ slot: r.slot, tombs: ids }), ids.length);
        return this.answer(r, Status.Ok, []);
      }
    }
  }

  /**
   * A newcomer to the group may not have caught up: it asks a co-replica rather than answer
   * "nothing" — one before it in the group's ring order when there is one: a group grows at its
   * end when members die, so those joined it earlier (newcomers passing among themselves found nothing).
   */
  private passOnWhileCatchingUp(r: RouteFields, g: number[], others: number[], now: number): boolean {
    if ((this.stores.get(r.slot)?.freshUntil ?? 0) <= now || r.hops >= hopsMax - 1 || !others.length) return false;
    const before = g.indexOf(this.cfg.id);
    const to = before > 0 ? g[this.cfg.rand() % before] : others[this.cfg.rand() % others.length];
    this.stats.routed++;
    this.send(to, OvRoute.toBytes({ ...r, hops: r.hops + 1 }));
    return true;
  }

  private acceptMail(item: Uint8Array, user: string, now: number) {
    const m = MailItem.decode(item);
    if (!m.ok || m.value.to !== user || m.value.expiresAtMs <= now || m.value.expiresAtMs > now + this.retentionMs) return undefined;
    return m.value;
  }

  private answer(r: RouteFields, status: Status, items: Uint8Array[]) {
    this.stats.answered++;
    if (r.origin === this.cfg.id) { this.deferredFinish.push({ req: r.req, status, hops: r.hops, items }); return; }
    this.send(r.origin, OvAnswer.toBytes({ req: r.req, status, hops: r.hops, items: items.length ? items : undefined }));
  }

  private readonly deferredFinish: { req: number; status: Status; hops: number; items: Uint8Array[] }[] = [];

  private finish(req: number, status: Status, hops: number, items: Uint8Array[], now: number) {
    const p = this.pending.get(req);
    if (!p) return;
    // A replica that has not caught up says not-found; another replica may know.
    if ((status === Status.NotFound || status === Status.Failed) && p.tries < 3 && p.op === Op.Lookup) return this.dispatch(req, p, now);
    this.pending.delete(req);
    if (status === Status.Failed) this.stats.failed++;
    if (p.done) return p.done(status, hops, items);
    if (p.client !== undefined) this.answers.push(p.client, ClAnswer.toBytes({ req: p.clientReq, status, hops, items: items.length ? items : undefined }));
  }

  // ---- replication ----

  private storeFor(slot: number, g: number[]): SlotStore {
    let s = this.stores.get(slot);
    if (!s) { s = new SlotStore(); this.stores.set(slot, s); s.group = g; }
    return s;
  }

  private replicate(to: number[], bytes: Uint8Array, items: number) {
    for (const t of to) this.send(t, bytes);
    this.stats.replicatedItems += items * to.length;
  }

  private merge(from: number, r: { slot: number; records?: Uint8Array[]; mails?: Uint8Array[]; tombs?: string[]; wantBack?: number }, now: number) {
    if (!this.members.knowsGroupOf(r.slot)) return;
    const g = this.members.group(r.slot);
    if (!g.includes(this.cfg.id)) return;
    const s = this.storeFor(r.slot, g);
    for (const b of r.records ?? []) { const meta = this.cfg.verifyRecord(b, now); if (meta && slotOfUser(meta.user, this.cfg.params) === r.slot) s.putRecord(meta, b); }
    if (r.tombs?.length) s.ack(r.tombs, now + this.retentionMs);
    for (const b of r.mails ?? []) {
      const m = MailItem.decode(b);
      if (m.ok && m.value.expiresAtMs > now && slotOfUser(m.value.to, this.cfg.params) === r.slot) s.putMail(m.value.id, m.value.to, m.value.expiresAtMs, b);
    }
    if (r.wantBack) this.pushState(from, r.slot, s, r.wantBack, 0);
  }

  /** What we hold for a slot in the digest buckets of `mask`, in chunks; `wantBack` asks the receiver for its side. */
  private pushState(to: number, slot: number, s: SlotStore, mask: number, wantBack: number) {
    const inMask = (h: number) => (mask >>> bucketOf(h)) & 1;
    const records = s.recordsIn(mask);
    const mails = s.allMails().filter((m) => inMask(m.h)).map((m) => m.bytes);
    const tombs = [...s.tombs.keys()].filter((id) => inMask(tombHash(id)));
    const n = Math.max(1, Math.ceil(Math.max(records.length, mails.length, tombs.length / 16) / chunkItems));
    for (let i = 0; i < n; i++) {
      const rs = records.slice(i * chunkItems, (i + 1) * chunkItems);
      const ms = mails.slice(i * chunkItems, (i + 1) * chunkItems);
      const ts = tombs.slice(i * chunkItems * 16, (i + 1) * chunkItems * 16);
      this.send(to, OvReplicate.toBytes({ slot, records: rs.length ? rs : undefined, mails: ms.length ? ms : undefined, tombs: ts.length ? ts : undefined, wantBack: wantBack && i === n - 1 ? wantBack : undefined }));
      this.stats.replicatedItems += rs.length + ms.length + ts.length;
    }
  }

  /**
   * We became a replica of a slot: a running member pulls its contents from co-replicas at once
   * (an empty digest makes them send everything) instead of waiting for the first old member's
   * push, which never comes when that member died unnoticed in the same failure.
   */
  private joinGroup(slot: number, g: number[], now: number) {
    const s = this.storeFor(slot, g);
    if (this.nextTick === undefined) return;
    s.freshUntil = now + freshMs;
    const others = g.filter((x) => x !== this.cfg.id);
    for (let k = 0; k < pullFrom && others.length; k++) {
      const to = others.splice(this.cfg.rand() % others.length, 1)[0];
      this.send(to, OvSlotDigest.toBytes({ slot, hashes: [...s.buckets] }));
    }
  }

  /**
   * While a slot we joined may still be catching up, one more co-replica is asked: the first pulls
   * may have gone to members that died unnoticed in the same failure, and a newcomer that never
   * caught up answers "not found" once its fresh time is over. A digest costs little when nothing differs.
   */
  private repullFresh(now: number) {
    for (const [slot, s] of this.stores) {
      if (s.freshUntil <= now) continue;
      const others = s.group.filter((x) => x !== this.cfg.id);
      if (others.length) this.send(others[this.cfg.rand() % others.length], OvSlotDigest.toBytes({ slot, hashes: [...s.buckets] }));
    }
  }

  /**
   * We are no longer a replica of a slot: before dropping our copy we hand it to two members of
   * the group as we now see it — a write that reached only us (our view of the group was stale)
   * would otherwise go with it.
   */
  private leaveGroup(slot: number, g: number[], s: SlotStore) {
    this.stores.delete(slot);
    if (s.count === 0) return;
    const to = g.filter((x) => x !== this.cfg.id);
    for (let k = 0; k < handOffTo && to.length; k++) this.pushState(to.splice(this.cfg.rand() % to.length, 1)[0], slot, s, 0xffff, 0);
  }

  private sendSlotDigest() {
    const n = this.stores.size;
    if (n === 0) return;
    // The cursor-th slot in the map's order (a supernode holds a slot or two: no array of them).
    let k = this.digestCursor++ % n, slot = 0, s: SlotStore | undefined;
    for (const [x, store] of this.stores) if (k-- === 0) { slot = x; s = store; break; }
    const g = s!.group, self = this.cfg.id;
    const others = g.length - (g.includes(self) ? 1 : 0);
    if (others === 0) return;
    // The r-th member of the group other than us.
    let r = this.cfg.rand() % others, to = 0;
    for (const x of g) if (x !== self && r-- === 0) { to = x; break; }
    this.send(to, OvSlotDigest.toBytes({ slot, hashes: [...s!.buckets] }));
  }

  /**
   * After the neighbourhood changed: the slots we now replicate, and for each group that gained
   * members, a full copy for the newcomers from the first old member still in it.
   */
  private reconcile(now: number) {
    if (this.deferredFinish.length) {
      const fs = this.deferredFinish.splice(0);
      for (const f of fs) this.finish(f.req, f.status, f.hops, f.items, now);
    }
    if (!this.dirty) return;
    this.dirty = false;
    const p = this.cfg.params;
    const slots = 2 ** p.slotBits;
    const mine = this.members.blocks <= 3 ? range(0, slots) : [
      ...range(this.members.block * 8, this.members.block * 8 + 8),
      ...range(((this.members.block - 1 + this.members.blocks) % this.members.blocks) * 8, ((this.members.block - 1 + this.members.blocks) % this.members.blocks) * 8 + 8),
    ];
    for (const slot of mine) {
      const g = this.members.group(slot);
      const inG = g.includes(this.cfg.id);
      const s = this.stores.get(slot);
      if (!s) { if (inG) this.joinGroup(slot, g, now); continue; }
      const prev = s.group;
      if (!inG) { this.leaveGroup(slot, g, s); continue; }
      const kept = g.filter((x) => prev.includes(x));
      if (kept[0] === this.cfg.id) for (const x of g) if (!prev.includes(x)) this.pushState(x, slot, s, 0xffff, 0);
      s.group = g;
    }
  }

  private send(to: number, bytes: Uint8Array) { this.out.push(to, bytes); }
}

interface RouteFields { op: number; slot: number; origin: number; req: number; hops: number; user: string; item?: Uint8Array; ids?: string[] }

function range(a: number, b: number): number[] { const out: number[] = []; for (let i = a; i < b; i++) out.push(i); return out; }
