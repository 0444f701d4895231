// Conferences of one node, sans-IO: conference signaling (conference-signaling.ts) over the
// node's sessions, and each joined conference's media star (media/conference.ts).
//
// Theory of operation. Signaling outputs `send` become a session to the user (the node's
// connectToUser: direct, else relay, else forwarding) and a request on it. When a conference's
// roster changes, its ConferenceParty follows: members added, gone ones removed, and — since
// every party elects the host from the same roster — the host moves by itself. The party's
// packets (member → host, host → member mixes) travel as ConfMedia datagrams on the session
// to that user; a user with no session yet gets one opened and the frame is dropped (audio is
// late anyway). When the party notices a member fall silent (a host killed mid-sentence) the
// signaling marks it gone and tells the others, so the rest agree on the new host quickly.
//
//   inputs:   consumeRequest, consumeDatagram (from the node's session events), handleTimeout
//   commands: create, invite, join, reject, leave, pushAudio
//   outputs:  pollEvent() → conference | conference-audio; pollTimeout()
import { earliest } from '../deadline.ts';
import type { ReplyHandler } from '../session/rpc.ts';
import type { Message } from '../wire/object-list.ts';
import { type Result, ok } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { OkReply, errorBytes } from '../wire/replies.ts';
import { ConferenceParty, hostingCapacity, type Capacity } from '../media/conference.ts';
import { ConferenceSignaling, type ConfSignal, type ConfReply, type SignalingConference } from './conference-signaling.ts';
import { ConfInvite, ConfRoster, ConfMedia } from './conference-protocol.ts';

export interface ConferenceTransport {
  now(): number;
  self(): string | undefined;
  /** This node's measured capacity (CPU per Opus frame, uplink). */
  capacity(): Capacity;
  connectToUser(user: string, now: number, cb: (r: Result<string>) => void): void;
  request(path: string, bytes: Uint8Array, now: number, cb: ReplyHandler): void;
  sendDatagram(path: string, bytes: Uint8Array, now: number): void;
  random(n: number): Uint8Array;
}

export interface ConferenceInfo {
  id: string;
  state: SignalingConference['state'];
  endReason: SignalingConference['endReason'];
  inviter: string | undefined;
  joinedAtMs: number | undefined;
  host: string | undefined;
  members: { user: string; cpuFramesPerMs: number; uplinkKbps: number; canHost: number }[];
  invited: string[];
  gone: string[];
  stats: { hostChanges: number; mixesSent: number; framesSent: number; framesReceived: number; mediaDropped: number };
  /** The jitter buffers of the current host's legs (a member: one; the host: one per member). */
  receivers?: ReturnType<ConferenceParty['receiverStats']>;
}

export type ConferenceEvent =
  | { type: 'conference'; conference: ConferenceInfo }
  | { type: 'conference-audio'; confId: string; pcm: Int16Array };

export interface ConferenceConfig { autoAnswer?: boolean; ringTimeoutMs?: number; hostSilenceMs?: number }

interface Live { party: ConferenceParty; framesSent: number; framesReceived: number; mediaDropped: number }

export class ConferenceManager {
  readonly signaling: ConferenceSignaling;
  private readonly live = new Map<string, Live>();
  private readonly finished = new Map<string, ConferenceInfo['stats'] & { host: string | undefined }>();
  private readonly paths = new Map<string, string>();
  private readonly connecting = new Set<string>();
  private readonly events: ConferenceEvent[] = [];
  private malformed = 0;

  constructor(private readonly t: ConferenceTransport, private readonly cfg: ConferenceConfig = {}) {
    this.signaling = new ConferenceSignaling({
      // Quantized as on the wire, so every party elects from the very same figures.
      self: t.self, capacity: () => quantize(t.capacity()), random: t.random, autoAnswer: cfg.autoAnswer, ringTimeoutMs: cfg.ringTimeoutMs,
    });
  }

  list(): ConferenceInfo[] { return this.signaling.list().map((c) => this.info(c)); }
  get(id: string): ConferenceInfo | undefined { const c = this.signaling.get(id); return c && this.info(c); }
  get signalsDropped(): number { return this.malformed + this.signaling.stats.signalsDropped; }

  // ---- commands ----

  create(invitees: string[], now: number): Result<ConferenceInfo> { return this.command(this.signaling.create(invitees, now), now); }
  invite(id: string, user: string, now: number): Result<ConferenceInfo> { return this.command(this.signaling.invite(id, user), now); }
  join(id: string, now: number): Result<ConferenceInfo> { return this.command(this.signaling.join(id, now), now); }
  reject(id: string, now: number): Result<ConferenceInfo> { return this.command(this.signaling.reject(id), now); }
  leave(id: string, now: number): Result<ConferenceInfo> { return this.command(this.signaling.leave(id), now); }

  /** Microphone audio (48 kHz mono, 20 ms frames) for a joined conference. */
  pushAudio(id: string, pcm: Int16Array, now: number) {
    const l = this.live.get(id);
    if (!l) return;
    l.party.pushPcm(pcm, now);
    this.flush(id, l, now);
  }

  // ---- inputs ----

  /** A conference request from a certified user; false when it is not a conference command. */
  consumeRequest(path: string, peerUser: string, m: Message, now: number, respond: (bytes: Uint8Array) => void): boolean {
    if (m.command !== Cmd.ConfInvite && m.command !== Cmd.ConfRoster) return false;
    const q = (m.command === Cmd.ConfInvite ? ConfInvite : ConfRoster).decode(m.body);
    const s = q.ok ? toSignal(m.command === Cmd.ConfInvite ? 'invite' : 'roster', q.value) : undefined;
    if (!s) {
      this.malformed++;
      respond(errorBytes('bad-request', q.ok ? 'roster lists differ in length' : q.error.message));
      return true;
    }
    this.paths.set(peerUser, path);
    const reply = this.signaling.handleSignal(peerUser, s, now);
    respond(reply === 'ok' || reply === 'ringing' ? OkReply.toBytes({}) : errorBytes(reply, replyMessages[reply] ?? reply));
    this.pump(now);
    return true;
  }

  /** A ConfMedia datagram; false when it is not one. */
  consumeDatagram(peerUser: string, path: string, m: Message, now: number): boolean {
    if (m.command !== Cmd.ConfMedia) return false;
    const q = ConfMedia.decode(m.body);
    if (!q.ok) { this.malformed++; return true; }
    const l = this.live.get(q.value.confId);
    if (!l) return true;
    this.paths.set(peerUser, path);
    l.framesReceived++;
    l.party.handlePacket(peerUser, q.value.frame, now);
    this.after(q.value.confId, l, now);
    return true;
  }

  /** A session closed: the next frame to that user opens a new one. */
  pathClosed(path: string) { for (const [u, p] of [...this.paths]) if (p === path) this.paths.delete(u); }

  handleTimeout(now: number) {
    this.signaling.handleTimeout(now);
    for (const [id, l] of [...this.live]) {
      const due = l.party.pollTimeout();
      if (due !== undefined && due <= now) l.party.handleTimeout(now);
      this.after(id, l, now);
    }
    this.pump(now);
  }

  pollTimeout(): number | undefined {
    return earliest(this.signaling.pollTimeout(), ...[...this.live.values()].map((l) => l.party.pollTimeout()));
  }

  pollEvent(): ConferenceEvent | undefined { return this.events.shift(); }

  // ---- internals ----

  private command(r: Result<SignalingConference>, now: number): Result<ConferenceInfo> {
    this.pump(now);
    return r.ok ? ok(this.get(r.value.id)!) : r;
  }

  private pump(now: number) {
    for (let o = this.signaling.pollOutput(); o; o = this.signaling.pollOutput()) {
      if (o.type === 'send') this.send(o.user, o.signal, now);
      else this.follow(o.conf, now);
    }
  }

  private send(user: string, s: ConfSignal, now: number) {
    const bytes = (s.kind === 'invite' ? ConfInvite : ConfRoster).toBytes(fromSignal(s));
    this.withPath(user, now, (path, t) => this.t.request(path, bytes, t, () => {}));
  }

  private withPath(user: string, now: number, then: (path: string, now: number) => void) {
    this.t.connectToUser(user, now, (p) => {
      const t = this.t.now();
      if (p.ok) { this.paths.set(user, p.value); then(p.value, t); }
      this.pump(t);
    });
  }

  /** The media star follows the roster. */
  private follow(c: SignalingConference, now: number) {
    const me = this.t.self();
    let l = this.live.get(c.id);
    if (c.state === 'joined' && !l && me) {
      const roster = c.members.map((m) => ({ id: m.user, capacity: m.capacity }));
      const seed = (this.t.random(2)[0] << 8) | this.t.random(1)[0];
      l = { party: new ConferenceParty(me, roster, { seed, hostSilenceMs: this.cfg.hostSilenceMs ?? 2500 }), framesSent: 0, framesReceived: 0, mediaDropped: 0 };
      this.live.set(c.id, l);
      // Sessions to everyone now, so the first frames find a path.
      for (const m of c.members) if (m.user !== me && !this.paths.has(m.user)) this.openPath(m.user, now);
    } else if (c.state === 'joined' && l) {
      for (const m of c.members) l.party.add({ id: m.user, capacity: m.capacity }, now);
      for (const g of c.gone) l.party.remove(g, now);
    }
    if (l) this.after(c.id, l, now);
    if (c.state === 'left' && l) {
      l.party.leave(now);
      this.flush(c.id, l, now);
      this.finished.set(c.id, { ...this.statsOf(l), host: undefined });
      this.live.delete(c.id);
    }
    this.events.push({ type: 'conference', conference: this.info(c) });
  }

  private openPath(user: string, now: number) {
    if (this.connecting.has(user)) return;
    this.connecting.add(user);
    this.t.connectToUser(user, now, (p) => {
      this.connecting.delete(user);
      if (p.ok) this.paths.set(user, p.value);
    });
  }

  /** Sends the party's packets, passes its audio up and its host changes and losses on. */
  private after(id: string, l: Live, now: number) {
    this.flush(id, l, now);
    for (let a = l.party.pollAudio(); a; a = l.party.pollAudio()) this.events.push({ type: 'conference-audio', confId: id, pcm: a });
    let changed = false;
    for (let e = l.party.pollEvent(); e; e = l.party.pollEvent()) {
      changed = true;
      if (e.type === 'left') this.signaling.markGone(id, e.id);
    }
    if (changed) {
      const c = this.signaling.get(id);
      if (c) this.events.push({ type: 'conference', conference: this.info(c) });
      this.pump(now);
    }
  }

  private flush(id: string, l: Live, now: number) {
    for (let p = l.party.pollPacket(); p; p = l.party.pollPacket()) {
      const path = this.paths.get(p.to);
      if (!path) { l.mediaDropped++; this.openPath(p.to, now); continue; }
      l.framesSent++;
      this.t.sendDatagram(path, ConfMedia.toBytes({ confId: id, frame: p.bytes }), now);
    }
  }

  private statsOf(l: Live) {
    return { hostChanges: l.party.stats.hostChanges, mixesSent: l.party.stats.mixesSent, framesSent: l.framesSent, framesReceived: l.framesReceived, mediaDropped: l.mediaDropped };
  }

  private info(c: SignalingConference): ConferenceInfo {
    const l = this.live.get(c.id);
    const done = this.finished.get(c.id);
    const { host: _h, ...doneStats } = done ?? { host: undefined };
    return {
      id: c.id, state: c.state, endReason: c.endReason, inviter: c.inviter, joinedAtMs: c.joinedAtMs, host: l?.party.hostId,
      members: c.members.map((m) => ({ user: m.user, cpuFramesPerMs: m.capacity.cpuFramesPerMs, uplinkKbps: m.capacity.uplinkKbps, canHost: Math.floor(hostingCapacity(m.capacity)) })),
      invited: c.invited, gone: c.gone, receivers: l?.party.receiverStats(),
      stats: l ? this.statsOf(l) : done ? doneStats as ConferenceInfo['stats'] : { hostChanges: 0, mixesSent: 0, framesSent: 0, framesReceived: 0, mediaDropped: 0 },
    };
  }
}

const replyMessages: Partial<Record<ConfReply, string>> = {
  'no-such-conference': 'unknown conference', 'not-a-member': 'the sender is not in this conference',
  'conference-left': 'this user has left the conference', 'too-many': 'too many conferences or parties',
};

type RosterFields = ReturnType<typeof ConfRoster.decode> extends Result<infer T> ? T : never;

function toSignal(kind: 'invite' | 'roster', v: RosterFields): ConfSignal | undefined {
  if (v.cpus.length !== v.users.length || v.uplinksKbps.length !== v.users.length) return undefined;
  const members = v.users.map((user, i) => ({ user, capacity: { cpuFramesPerMs: v.cpus[i] / 1000, uplinkKbps: v.uplinksKbps[i] } }));
  return { kind, confId: v.confId, members, gone: v.gone };
}

function fromSignal(s: ConfSignal): RosterFields {
  return {
    confId: s.confId, users: s.members.map((m) => m.user),
    cpus: s.members.map((m) => Math.max(0, Math.round(m.capacity.cpuFramesPerMs * 1000))),
    uplinksKbps: s.members.map((m) => Math.max(0, Math.round(m.capacity.uplinkKbps))), gone: s.gone,
  };
}


function quantize(c: Capacity): Capacity {
  return { cpuFramesPerMs: Math.max(0, Math.round(c.cpuFramesPerMs * 1000)) / 1000, uplinkKbps: Math.max(0, Math.round(c.uplinkKbps)) };
}
