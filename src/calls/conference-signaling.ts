// Conference signaling of one node, sans-IO: who is in each conference this user takes part
// in, with each member's measured capacity, agreed by gossip (docs/calls.md, "Conferences").
//
// Theory of operation. A conference's membership is two grow-only sets: members (user →
// capacity) and gone (users who left or were noticed gone). A user in gone is never a member
// again, so merging two views is a union and every order of messages ends in the same roster.
// Each party sends its whole view to every member whenever its view grows; views only grow and
// are bounded, so the gossip stops once all agree. The host is not signalled at all: every
// party elects it from the roster with the same pure function (media/conference.ts).
//  - create: this user is the first member; each invitee gets an invite carrying the roster.
//  - an invite rings (`incoming`) until the user joins, rejects, or the ring times out; with
//    auto-answer it joins at once. Joining adds this user (with its capacity) and tells everyone.
//  - leave: this user goes into gone and everyone is told; the others go on.
//  - `markGone`: the media layer noticed a member stop (host silence): the same as its leave.
//  - A signal that does not fit (unknown conference, a sender not in it, a roster in which the
//    sender vouches for nobody, a conference we left) is dropped and counted; it never throws.
//
//   commands: create, invite, join, reject, leave, markGone
//   inputs:   handleSignal(from, signal, now) → reply, handleTimeout(now)
//   outputs:  pollOutput() → send | changed; pollTimeout()
import { type Result, ok, err } from '../wire/result.ts';
import type { Capacity } from '../media/conference.ts';

export interface ConfMember { user: string; capacity: Capacity }
export interface ConfRosterView { confId: string; members: ConfMember[]; gone: string[] }
export type ConfSignal = ({ kind: 'invite' } | { kind: 'roster' }) & ConfRosterView;
export type ConfReply = 'ok' | 'ringing' | 'no-such-conference' | 'not-a-member' | 'conference-left' | 'too-many';

export type ConferenceState = 'incoming' | 'joined' | 'left';
export type ConferenceEndReason = 'left' | 'rejected' | 'no-answer' | 'dropped';

export interface SignalingConference {
  id: string;
  state: ConferenceState;
  inviter: string | undefined;
  members: ConfMember[];
  gone: string[];
  invited: string[];
  endReason: ConferenceEndReason | undefined;
  startedAtMs: number;
  /** When this user joined (created it, or answered the invite). */
  joinedAtMs: number | undefined;
}

export type ConfOutput =
  | { type: 'send'; confId: string; user: string; signal: ConfSignal }
  | { type: 'changed'; conf: SignalingConference };

export interface ConfSignalingConfig {
  self: () => string | undefined;
  capacity: () => Capacity;
  random: (n: number) => Uint8Array;
  ringTimeoutMs?: number;   // default 60 s
  autoAnswer?: boolean;
}

interface Conf {
  id: string;
  state: ConferenceState;
  inviter: string | undefined;
  members: Map<string, Capacity>;
  gone: Set<string>;
  invited: Set<string>;
  endReason: ConferenceEndReason | undefined;
  startedAtMs: number;
  joinedAtMs: number | undefined;
  ringDeadlineMs: number | undefined;
}

// Implementation limits.
export const conferenceMembersMax = 16;
const conferencesKept = 32;

export class ConferenceSignaling {
  private readonly confs = new Map<string, Conf>();
  private readonly outputs: ConfOutput[] = [];
  readonly stats = { signalsDropped: 0 };

  constructor(private readonly cfg: ConfSignalingConfig) {}

  get(id: string): SignalingConference | undefined { const c = this.confs.get(id); return c && view(c); }
  list(): SignalingConference[] { return [...this.confs.values()].map(view); }

  // ---- commands ----

  create(invitees: string[], now: number): Result<SignalingConference> {
    const me = this.cfg.self();
    if (!me) return err('not-logged-in', 'log in first');
    if (!this.roomForOneMore()) return err('too-many', `at most ${conferencesKept} conferences at once`);
    const others = [...new Set(invitees)].filter((u) => u !== me);
    if (others.length + 1 > conferenceMembersMax) return err('too-many', `a conference holds at most ${conferenceMembersMax} parties`);
    const r = this.cfg.random(9);
    const id = 'conf-' + [...r].map((b) => b.toString(16).padStart(2, '0')).join('');
    const c: Conf = {
      id, state: 'joined', inviter: undefined, members: new Map([[me, this.cfg.capacity()]]), gone: new Set(),
      invited: new Set(), endReason: undefined, startedAtMs: now, joinedAtMs: now, ringDeadlineMs: undefined,
    };
    this.keep(c);
    for (const u of others) this.inviteOne(c, u);
    this.changed(c);
    return ok(view(c));
  }

  invite(confId: string, user: string): Result<SignalingConference> {
    const c = this.confs.get(confId);
    if (!c) return err('no-such-conference', `no conference ${confId}`);
    if (c.state !== 'joined') return err('not-joined', 'join the conference first');
    if (c.members.has(user)) return err('already-member', `${user} is already in the conference`);
    if (c.gone.has(user)) return err('left', `${user} has left this conference`);
    if (c.members.size + c.invited.size >= conferenceMembersMax) return err('too-many', `a conference holds at most ${conferenceMembersMax} parties`);
    this.inviteOne(c, user);
    this.changed(c);
    return ok(view(c));
  }

  join(confId: string, now: number): Result<SignalingConference> {
    const c = this.confs.get(confId);
    const me = this.cfg.self();
    if (!c) return err('no-such-conference', `no conference ${confId}`);
    if (c.state !== 'incoming' || !me) return err('out-of-order', `the conference is ${c.state}`);
    c.state = 'joined';
    c.ringDeadlineMs = undefined;
    c.members.set(me, this.cfg.capacity());
    c.joinedAtMs = now;
    this.broadcast(c);
    this.changed(c);
    return ok(view(c));
  }

  reject(confId: string): Result<SignalingConference> {
    const c = this.confs.get(confId);
    if (!c) return err('no-such-conference', `no conference ${confId}`);
    if (c.state !== 'incoming') return err('out-of-order', `the conference is ${c.state}`);
    this.end(c, 'rejected');
    return ok(view(c));
  }

  leave(confId: string): Result<SignalingConference> {
    const c = this.confs.get(confId);
    const me = this.cfg.self();
    if (!c) return err('no-such-conference', `no conference ${confId}`);
    if (c.state === 'incoming') return this.reject(confId);
    // Already out (left, or dropped by the others): leaving again is no error.
    if (c.state === 'left') return ok(view(c));
    if (c.state !== 'joined' || !me) return err('out-of-order', `the conference is ${c.state}`);
    c.gone.add(me);
    this.broadcast(c);
    c.members.delete(me);
    this.end(c, 'left');
    return ok(view(c));
  }

  /** A member stopped being heard (media/conference.ts noticed): gone, for everyone. */
  markGone(confId: string, user: string) {
    const c = this.confs.get(confId);
    if (!c || c.state !== 'joined' || user === this.cfg.self() || c.gone.has(user)) return;
    c.gone.add(user);
    c.members.delete(user);
    this.broadcast(c);
    // Told too: if it was only slow, it learns it is out, rather than hosting a split conference.
    this.outputs.push({ type: 'send', confId: c.id, user, signal: { kind: 'roster', ...rosterOf(c) } });
    this.changed(c);
  }

  // ---- inputs ----

  handleSignal(from: string, s: ConfSignal, now: number): ConfReply {
    const me = this.cfg.self();
    const c = this.confs.get(s.confId);
    if (!me) return this.drop('no-such-conference');
    if (s.kind === 'invite') {
      // An inviter must be in its own roster; the invitee must not be gone already.
      if (!s.members.some((m) => m.user === from) || s.gone.includes(from)) return this.drop('not-a-member');
      if (c) {
        if (c.state === 'left') return 'conference-left';
        this.merge(c, from, s);
        return c.state === 'incoming' ? 'ringing' : 'ok';
      }
      if (s.gone.includes(me)) return this.drop('conference-left');
      if (!this.roomForOneMore()) return this.drop('too-many');
      const fresh: Conf = {
        id: s.confId, state: 'incoming', inviter: from, members: new Map(), gone: new Set(), invited: new Set(),
        endReason: undefined, startedAtMs: now, joinedAtMs: undefined, ringDeadlineMs: now + (this.cfg.ringTimeoutMs ?? 60_000),
      };
      this.keep(fresh);
      this.merge(fresh, from, s);
      this.changed(fresh);
      if (this.cfg.autoAnswer) { this.join(fresh.id, now); return 'ok'; }
      return 'ringing';
    }
    if (!c) return this.drop('no-such-conference');
    if (c.state === 'left') return 'conference-left';
    // A roster must come from someone it names (as member, or as gone when they leave) whom we
    // have not already seen leave.
    const vouches = s.members.some((m) => m.user === from) || s.gone.includes(from);
    if (!vouches || (c.gone.has(from) && !s.gone.includes(from))) return this.drop('not-a-member');
    this.merge(c, from, s);
    return 'ok';
  }

  handleTimeout(now: number) {
    for (const c of this.confs.values()) {
      if (c.state === 'incoming' && c.ringDeadlineMs !== undefined && now >= c.ringDeadlineMs) this.end(c, 'no-answer');
    }
  }

  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const c of this.confs.values()) if (c.state === 'incoming' && c.ringDeadlineMs !== undefined) t = t === undefined ? c.ringDeadlineMs : Math.min(t, c.ringDeadlineMs);
    return t;
  }

  pollOutput(): ConfOutput | undefined { return this.outputs.shift(); }

  // ---- internals ----

  /** Union of views; the sender alone speaks for its own capacity. Tells everyone if ours grew. */
  private merge(c: Conf, from: string, s: ConfRosterView) {
    const me = this.cfg.self();
    let grew = false;
    for (const g of s.gone) {
      if (c.gone.has(g) || c.gone.size >= conferenceMembersMax * 4) continue;
      c.gone.add(g); c.members.delete(g); c.invited.delete(g); grew = true;
    }
    for (const m of s.members) {
      if (c.gone.has(m.user) || m.user === me) continue;
      if (!c.members.has(m.user)) {
        if (c.members.size >= conferenceMembersMax) continue;
        c.members.set(m.user, m.capacity); c.invited.delete(m.user); grew = true;
      } else if (m.user === from) c.members.set(m.user, m.capacity);
    }
    if (me && c.gone.has(me) && c.state !== 'left') { this.end(c, 'dropped'); return; }
    if (grew && c.state === 'joined') this.broadcast(c);
    if (grew) this.changed(c);
  }

  private inviteOne(c: Conf, user: string) {
    c.invited.add(user);
    this.outputs.push({ type: 'send', confId: c.id, user, signal: { kind: 'invite', ...rosterOf(c) } });
  }

  private broadcast(c: Conf) {
    const me = this.cfg.self();
    const r = rosterOf(c);
    for (const u of c.members.keys()) if (u !== me) this.outputs.push({ type: 'send', confId: c.id, user: u, signal: { kind: 'roster', ...r } });
  }

  private end(c: Conf, reason: ConferenceEndReason) {
    c.state = 'left';
    c.endReason = reason;
    c.ringDeadlineMs = undefined;
    this.changed(c);
  }

  private changed(c: Conf) { this.outputs.push({ type: 'changed', conf: view(c) }); }

  private drop(reply: ConfReply): ConfReply { this.stats.signalsDropped++; return reply; }

  /** Ended conferences make way for new ones; live ones never do. */
  private roomForOneMore(): boolean {
    for (const [id, x] of this.confs) if (this.confs.size >= conferencesKept && x.state === 'left') this.confs.delete(id);
    return this.confs.size < conferencesKept;
  }

  private keep(c: Conf) {
    this.confs.set(c.id, c);
    if (this.confs.size <= conferencesKept) return;
    for (const [id, x] of this.confs) if (x.state === 'left') { this.confs.delete(id); if (this.confs.size <= conferencesKept) return; }
  }
}

function rosterOf(c: Conf): ConfRosterView {
  return { confId: c.id, members: [...c.members].map(([user, capacity]) => ({ user, capacity })), gone: [...c.gone] };
}

function view(c: Conf): SignalingConference {
  return {
    id: c.id, state: c.state, inviter: c.inviter, members: [...c.members].map(([user, capacity]) => ({ user, capacity: { ...capacity } })),
    gone: [...c.gone], invited: [...c.invited], endReason: c.endReason, startedAtMs: c.startedAtMs, joinedAtMs: c.joinedAtMs,
  };
}
