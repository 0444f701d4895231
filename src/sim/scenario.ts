// One simulated run: supernodes running a protocol core, users attached to them publishing
// presence, looking each other up and leaving offline mail, churn and faults, and the
// checkers. Everything random comes from the seed; the same options replay the same run.
//
// Users are not cores: they are the workload, speaking the node ↔ supernode requests
// (ClRequest/ClAnswer) to the core of their supernode, as a real node's overlay client does.
import { Agenda } from './agenda.ts';
import { NodeTable } from './node-table.ts';
import { Rng } from './rng.ts';
import { NetModel } from './net-model.ts';
import { type ChurnModel, lifetimeMs } from './churn.ts';
import type { SimCore } from './sim-core.ts';
import type { Protocol } from './protocols.ts';
import { simRecord, simRecordUser } from './sim-record.ts';
import { ClRequest, ClAnswer, MailItem, Op, Status } from '../overlay/messages.ts';
import { smallCommand, encodeObjectList } from '../wire/object-list.ts';
import { Metrics } from './metrics.ts';

export interface ScenarioOptions {
  supernodes: number;
  users: number;
  minutes: number;
  seed: number;
  churn: ChurnModel;
  protocol: Protocol;
  /** Kill this fraction of supernodes at once, at `killAtMin`. */
  killFraction?: number;
  killAtMin?: number;
  /** Cut regions {NA, EU} from the rest from `partitionAtMin` for `partitionForS`. */
  partitionAtMin?: number;
  partitionForS?: number;
  /**
   * Clog this fraction of supernodes from `clogAtMin` for `clogForS`: they keep running, but
   * every datagram to or from them is held until the clog ends, then delivered (a stalled
   * uplink, a process paused by its host). Their neighbours think them dead, they think their
   * neighbours dead, and all of it must heal when the traffic flows again.
   */
  clogFraction?: number;
  clogAtMin?: number;
  clogForS?: number;
  lossRate?: number;
  lookupsPerUserHour?: number;
  mailsPerUserHour?: number;
  mail?: boolean;
  onProgress?: (fraction: number, events: number) => void;
}

const enum K { Peer, Client, Answer, Timer, Login, Logout, Republish, UserTimeout, Failover, Lookup, Mail, Death, Kill, PartitionOn, PartitionOff, Drain, ClogOn, ClogOff }

interface UserReq { user: number; op: Op; gen: number; target: number; at: number; tries: number; bytes: Uint8Array; mailId?: string }

/** How long a partition or a clog lasts when the run does not say. */
export const faultDefaults = { partitionForS: 60, clogForS: 30 };

const presenceTtlMs = 10 * 60_000;
const republishMs = 4 * 60_000;
const userTimeoutMs = 5000;
const keepAliveDetectMs = 15_000;
const drainMs = 120_000;

export function runScenario(o: ScenarioOptions): Metrics {
  const seed = o.seed >>> 0;
  const rng = { net: new Rng(seed, 1), ids: new Rng(seed, 2), users: new Rng(seed, 3), load: new Rng(seed, 4), churn: new Rng(seed, 5), cores: new Rng(seed, 6) };
  const net = new NetModel(rng.net, { lossRate: o.lossRate ?? 0.002, jitter: 0.1, bandwidthBps: 10e6, accessMs: 5 });
  const metrics = new Metrics();
  const t0 = 1_700_000_000_000;
  const agenda = new Agenda(t0);
  const end = t0 + o.minutes * 60_000;
  let now = t0;
  const push = (t: number, k: K, a = 0, b = 0, bytes?: Uint8Array) => agenda.push(Math.ceil(t), k, a, b, bytes);

  // ---- supernodes ----
  const nodes = new NodeTable();
  const live: number[] = [];
  let livePos = new Int32Array(o.supernodes + 16).fill(-1);
  const newId = () => { for (;;) { const id = rng.ids.u32(); if (id && nodes.indexOf(id) < 0) return id; } };
  const addNode = (): number => {
    const id = newId();
    const idx = nodes.add(id, net.pickRegion(), o.protocol.create(id, 1, rng.cores));
    if (idx >= livePos.length) { const p = new Int32Array(livePos.length * 2).fill(-1); p.set(livePos); livePos = p; }
    livePos[idx] = live.length; live.push(idx);
    const life = lifetimeMs(o.churn, rng.churn);
    if (Number.isFinite(life)) push(now + life, K.Death, idx);
    return idx;
  };
  const removeLive = (idx: number) => {
    const p = livePos[idx]; const last = live.pop()!;
    if (last !== idx) { live[p] = last; livePos[last] = p; }
    livePos[idx] = -1;
  };
  const randomLive = () => live[rng.load.int(live.length)];
  /** Nodes whose traffic is held (by index), and when the hold ends. */
  let clogged = new Uint8Array(0);
  let clogEnd = 0;
  /** When a datagram from or to node `a` or `b` (-1: a user) sent now with delay d arrives. */
  const arrival = (a: number, b: number, d: number) =>
    now < clogEnd && ((a >= 0 && clogged[a]) || (b >= 0 && clogged[b])) ? clogEnd + d : now + d;

  for (let i = 0; i < o.supernodes; i++) addNode();
  const sorted = nodes.id.slice(0, nodes.count).sort();
  for (let i = 0; i < nodes.count; i++) { const core = nodes.cores[i]!; o.protocol.warm(core, sorted, rng.cores, now); core.start(now, []); flush(i, core); }
  metrics.setupDone(nodes.count);

  /** Takes what a core produced: datagrams onto the virtual wire, answers to users, its next deadline. */
  function flush(i: number, core: SimCore) {
    const from = nodes.id[i], region = nodes.region[i];
    const out = core.out;
    for (let bytes = out.take(); bytes; bytes = out.take()) {
      metrics.peerSend(bytes);
      const ti = nodes.indexOf(out.lastTo);
      if (ti < 0) continue;
      const d = net.delay(region, nodes.region[ti], bytes.length);
      if (d < 0) { metrics.lost++; continue; }
      push(arrival(i, ti, d), K.Peer, ti, from, bytes);
    }
    const answers = core.answers;
    for (let bytes = answers.take(); bytes; bytes = answers.take()) {
      const u = answers.lastTo as number;
      const d = net.delay(region, userRegion[u], bytes.length);
      if (d >= 0) push(arrival(i, -1, d), K.Answer, u, 0, bytes);
    }
    const t = core.pollTimeout();
    if (t !== undefined) {
      const at = Math.ceil(Math.max(t, now));
      if (at !== nodes.timerAt[i]) { nodes.timerAt[i] = at; push(at, K.Timer, i); }
    }
  }

  // ---- users ----
  const M = o.users;
  const userRegion = new Uint8Array(M);
  const online = new Uint8Array(M);
  const home = new Int32Array(M).fill(-1);
  const gen = new Uint32Array(M);
  const publishedAt = new Float64Array(M);
  const onlineList: number[] = [], onlinePos = new Int32Array(M).fill(-1);
  const offlineList: number[] = [], offlinePos = new Int32Array(M).fill(-1);
  const setIn = (list: number[], pos: Int32Array, u: number) => { pos[u] = list.length; list.push(u); };
  const setOut = (list: number[], pos: Int32Array, u: number) => {
    const p = pos[u]; if (p < 0) return;
    const last = list.pop()!; if (last !== u) { list[p] = last; pos[last] = p; } pos[u] = -1;
  };
  const name = (u: number) => `u${u}`;
  const reqs = new Map<number, UserReq>();
  let nextReq = 1;
  const mailAccepted = new Map<string, number>();
  const mailDelivered = new Map<string, number>();
  let mailCounter = 0;
  let draining = false;

  const attach = (u: number) => {
    const idx = randomLive();
    home[u] = idx;
    nodes.users[idx].push(u);
  };
  const sendReq = (u: number, op: Op, item?: Uint8Array, ids?: string[], target = -1, mailId?: string) => {
    const req = nextReq++;
    const bytes = ClRequest.toBytes({ op, req, user: op === Op.Lookup ? name(target) : op === Op.MailPut ? name(target) : name(u), item, ids });
    reqs.set(req, { user: u, op, gen: gen[u], target, at: now, tries: 1, bytes, mailId });
    toHome(u, bytes);
    push(now + userTimeoutMs, K.UserTimeout, req);
  };
  const toHome = (u: number, bytes: Uint8Array) => {
    const h = home[u];
    if (!nodes.alive[h]) return;
    const d = net.delay(userRegion[u], nodes.region[h], bytes.length);
    if (d >= 0) push(arrival(-1, h, d), K.Client, h, u, bytes);
  };
  const publish = (u: number) => {
    sendReq(u, Op.Publish, simRecord(name(u), now, now + presenceTtlMs, nodes.id[home[u]]));
  };
  const login = (u: number) => {
    if (online[u]) return;
    online[u] = 1; gen[u]++; publishedAt[u] = 0;
    setOut(offlineList, offlinePos, u); setIn(onlineList, onlinePos, u);
    attach(u);
    publish(u);
    if (o.mail !== false) sendReq(u, Op.MailFetch);
    push(now + republishMs * (0.9 + 0.2 * rng.users.float()), K.Republish, u, gen[u]);
    if (!draining) push(now + rng.users.exp(45 * 60_000), K.Logout, u, gen[u]);
  };
  const logout = (u: number) => {
    if (!online[u]) return;
    online[u] = 0; gen[u]++; publishedAt[u] = 0;
    setOut(onlineList, onlinePos, u); setIn(offlineList, offlinePos, u);
    if (!draining) push(now + rng.users.exp(30 * 60_000), K.Login, u);
  };

  for (let u = 0; u < M; u++) {
    userRegion[u] = net.pickRegion();
    if (rng.users.chance(0.6)) push(now + rng.users.float() * 60_000, K.Login, u);
    else { setIn(offlineList, offlinePos, u); push(now + rng.users.exp(30 * 60_000), K.Login, u); }
  }
  const lookupRate = (M * 0.6 * (o.lookupsPerUserHour ?? 6)) / 3_600_000; // per ms
  const mailRate = o.mail === false ? 0 : (M * 0.6 * (o.mailsPerUserHour ?? 2)) / 3_600_000;
  if (lookupRate > 0) push(now + 60_000 + rng.load.exp(1 / lookupRate), K.Lookup);
  if (mailRate > 0) push(now + rng.load.exp(1 / mailRate), K.Mail);
  if (o.killFraction) push(t0 + (o.killAtMin ?? o.minutes / 2) * 60_000, K.Kill);
  if (o.partitionAtMin !== undefined) push(t0 + o.partitionAtMin * 60_000, K.PartitionOn);
  if (o.clogFraction) push(t0 + (o.clogAtMin ?? o.minutes / 2) * 60_000, K.ClogOn);
  push(end, K.Drain);

  const onAnswer = (u: number, bytes: Uint8Array) => {
    const a = smallCommand(bytes) === ClAnswer.command ? ClAnswer.decode(bytes, 1) : undefined;
    if (!a?.ok) return;
    const r = reqs.get(a.value.req);
    if (!r) return;
    const st = a.value.status as Status;
    // The supernode could not reach the slot: the node asks again through another one (its host cache).
    if (st === Status.Failed && r.tries < 3 && online[u] && r.gen === gen[u]) { retryReq(a.value.req, r, true); return; }
    reqs.delete(a.value.req);
    switch (r.op) {
      case Op.Publish: if (st === Status.Ok && r.gen === gen[u] && publishedAt[u] === 0) publishedAt[u] = now; return;
      case Op.Lookup: {
        const found = st === Status.Ok && a.value.items?.length === 1 && simRecordUser(a.value.items[0]) === name(r.target);
        metrics.lookup(r.at, now, found, a.value.hops);
        return;
      }
      case Op.MailPut: if (st === Status.Ok && r.mailId) mailAccepted.set(r.mailId, r.target); return;
      case Op.MailFetch: {
        const ids: string[] = [];
        for (const it of a.value.items ?? []) {
          const mi = MailItem.decode(it);
          if (!mi.ok) continue;
          ids.push(mi.value.id);
          mailDelivered.set(mi.value.id, (mailDelivered.get(mi.value.id) ?? 0) + 1);
        }
        if (ids.length && online[u]) sendReq(u, Op.MailAck, undefined, ids);
        if (ids.length >= 64 && online[u]) sendReq(u, Op.MailFetch);
        return;
      }
      default: return;
    }
  };

  // No answer, or a failure: the node asks again, through another supernode from its host cache when needed.
  const retryReq = (req: number, r: UserReq, moveOn: boolean) => {
    r.tries++;
    if (moveOn || !nodes.alive[home[r.user]] || r.tries === 3) attach(r.user);
    toHome(r.user, r.bytes);
    push(now + userTimeoutMs, K.UserTimeout, req);
  };

  const failover = (u: number, g: number) => {
    if (!online[u] || gen[u] !== g) return;
    attach(u);
    publish(u);
  };

  const kill = (idx: number) => {
    if (!nodes.alive[idx]) return;
    nodes.alive[idx] = 0;
    removeLive(idx);
    for (const u of nodes.users[idx]) if (home[u] === idx && online[u]) push(now + keepAliveDetectMs, K.Failover, u, gen[u]);
    nodes.users[idx] = [];
    // Drop the core: its memory goes, as the process would.
    nodes.cores[idx] = undefined;
  };

  // ---- the run ----
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  let events = 0;
  let nextProgress = t0;
  const stopAt = end + drainMs;
  const { cores } = nodes;
  for (let s = agenda.pop(); s >= 0; s = agenda.pop()) {
    const t = agenda.t[s];
    if (t > stopAt) break;
    const k = agenda.kind[s] as K, ea = agenda.a[s], eb = agenda.b[s], bytes = agenda.payload[s];
    agenda.release(s);
    now = t;
    events++;
    if (now >= nextProgress) { nextProgress = now + 5000; metrics.sample(); o.onProgress?.((now - t0) / (stopAt - t0), events); }
    switch (k) {
      case K.Peer: { if (!nodes.alive[ea]) break; const c = cores[ea]!; c.handlePeer(eb, bytes!, now); flush(ea, c); break; }
      case K.Client: { if (!nodes.alive[ea]) break; const c = cores[ea]!; c.handleClient(eb, bytes!, now); flush(ea, c); break; }
      case K.Timer: { if (!nodes.alive[ea] || nodes.timerAt[ea] !== t) break; nodes.timerAt[ea] = -1; const c = cores[ea]!; c.handleTimeout(now); flush(ea, c); break; }
      case K.Answer: onAnswer(ea, bytes!); break;
      case K.Login: login(ea); break;
      case K.Logout: if (gen[ea] === eb && !draining) logout(ea); break;
      case K.Republish: {
        const u = ea;
        if (!online[u] || gen[u] !== eb) break;
        publish(u);
        if (o.mail !== false) sendReq(u, Op.MailFetch);
        push(now + republishMs, K.Republish, u, eb);
        break;
      }
      case K.UserTimeout: {
        const r = reqs.get(ea);
        if (!r) break;
        if (r.gen !== gen[r.user] || !online[r.user] || r.tries >= 3) {
          reqs.delete(ea);
          if (r.op === Op.Lookup) metrics.lookup(r.at, now, false, 0);
          break;
        }
        retryReq(ea, r, false);
        break;
      }
      case K.Failover: failover(ea, eb); break;
      case K.Lookup: {
        if (!draining) push(now + rng.load.exp(1 / lookupRate), K.Lookup);
        if (onlineList.length < 2) break;
        const from = onlineList[rng.load.int(onlineList.length)];
        let target = -1;
        for (let tries = 0; tries < 8 && target < 0; tries++) {
          const t = onlineList[rng.load.int(onlineList.length)];
          if (t !== from && publishedAt[t] > 0 && publishedAt[t] < now - 2000) target = t;
        }
        if (target >= 0) sendReq(from, Op.Lookup, undefined, undefined, target);
        break;
      }
      case K.Mail: {
        if (draining) break;
        push(now + rng.load.exp(1 / mailRate), K.Mail);
        if (onlineList.length === 0 || offlineList.length === 0) break;
        const from = onlineList[rng.load.int(onlineList.length)];
        const to = offlineList[rng.load.int(offlineList.length)];
        const id = `m${seed.toString(36)}-${mailCounter++}`;
        const item = encodeObjectList(MailItem.encode({ id, to: name(to), from: name(from), body: new Uint8Array(40), expiresAtMs: now + 86_400_000 - 1 }));
        sendReq(from, Op.MailPut, item, undefined, to, id);
        break;
      }
      case K.Death: {
        if (!nodes.alive[ea]) break;
        kill(ea);
        metrics.churnDeaths++;
        const j = addNode();
        const boot = randomLive();
        const c = nodes.cores[j]!;
        c.start(now, boot === j ? [] : [nodes.id[boot]]);
        flush(j, c);
        break;
      }
      case K.Kill: {
        const count = Math.floor(live.length * o.killFraction!);
        for (let i = 0; i < count; i++) kill(live[rng.churn.int(live.length)]);
        metrics.killedAt = now - t0; metrics.killed = count;
        break;
      }
      case K.PartitionOn: {
        net.partitioned = true;
        const healAt = now + (o.partitionForS ?? faultDefaults.partitionForS) * 1000;
        metrics.partitionAt = now - t0; metrics.partitionEndAt = healAt - t0;
        push(healAt, K.PartitionOff);
        break;
      }
      case K.PartitionOff: net.partitioned = false; break;
      case K.ClogOn: {
        // Joiners during the clog fall past the end: read as 0, not clogged.
        clogged = new Uint8Array(nodes.count);
        const count = Math.floor(live.length * o.clogFraction!);
        let n = 0;
        for (let tries = 0; n < count && tries < 20 * count; tries++) { const x = live[rng.churn.int(live.length)]; if (!clogged[x]) { clogged[x] = 1; n++; } }
        clogEnd = now + (o.clogForS ?? faultDefaults.clogForS) * 1000;
        metrics.clogEndAt = clogEnd - t0; metrics.clogged = n;
        push(clogEnd, K.ClogOff);
        break;
      }
      case K.ClogOff: clogged = new Uint8Array(0); break;
      case K.Drain: {
        // Everyone comes online once more and collects what is waiting, so the mail checker
        // can tell lost from merely undelivered.
        draining = true;
        metrics.drainAt = now - t0;
        for (const u of [...offlineList]) login(u);
        for (const u of onlineList) push(now + 60_000 + rng.users.float() * 30_000, K.Republish, u, gen[u]);
        break;
      }
    }
  }
  const cpu = process.cpuUsage(cpuStart);
  metrics.cpuMs = (cpu.user + cpu.system) / 1000;
  metrics.finish(events, performance.now() - wallStart, o.minutes * 60_000 + drainMs, live.length, nodes.count);
  let lost = 0, dup = 0;
  for (const id of mailAccepted.keys()) { const d = mailDelivered.get(id) ?? 0; if (d === 0) lost++; else if (d > 1) dup++; }
  metrics.mail(mailAccepted.size, lost, dup);
  return metrics;
}
