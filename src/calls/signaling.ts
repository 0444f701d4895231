// Call signaling of one node, sans-IO: every call this node takes part in, driven through the
// transition table in call-state.ts. No sockets, no paths, no clock: a peer is a (user, device)
// pair, a device is the base64url of its certified device key, and `now` comes in.
//
// Theory of operation.
//  - Outgoing: `place` creates a call in `calling` and asks (output `reach`) for the callee's
//    devices. The driver answers with `handleDevices`, then `handleDeviceReached` or
//    `handleDeviceFailed` per device. Each reached device is a leg and gets an invite; its reply
//    (`handleReply`) is ringing, busy, glare or a failure. The call rings as soon as one leg
//    rings; it ends busy or failed once every leg is busy or failed. The first leg to send an
//    answer wins: it gets `ok`, every other leg gets a hangup with reason answered-elsewhere
//    (and a late answer from one of them is told answered-elsewhere too).
//  - Incoming: an invite rings (`incoming`) unless we are in another call (busy). Answering
//    moves to `answering` and sends an answer; the caller's `ok` confirms it (`active`).
//  - Glare: an invite from the user we are calling ourselves. The call with the smaller id
//    wins on both sides: the winner refuses the other invite with `glare`; the loser ends its
//    own call (reason merged) and answers the winner's invite at once. So the two users end in
//    one call, whatever order the messages arrive in.
//  - A call that ends because of something we did (a command, a timer) tells every peer device
//    still involved with a hangup carrying the end reason.
//  - Anything from a peer that does not fit (unknown call, wrong user or device, a transition
//    not in the table) is dropped and counted in `stats.signalsDropped`; it never throws.
//
//   commands: place, answer, reject, hangup, hold, resume
//   inputs:   handleSignal (a peer's request; returns the reply), handleReply, handleDevices,
//             handleDeviceReached, handleDeviceFailed, handleDeviceLost, handleTimeout
//   outputs:  pollOutput() → reach | send | changed; pollTimeout()
import { type Result, ok, err } from '../wire/result.ts';
import { nextCallState, stateTimers, connectedStates, type CallInput, type CallState, type CallEndReason } from './call-state.ts';

export interface PeerDevice { user: string; device: string }

export type Signal =
  | { kind: 'invite'; callId: string }
  | { kind: 'answer'; callId: string }
  | { kind: 'hangup'; callId: string; reason: string }
  | { kind: 'hold'; callId: string; held: boolean };

/** What a peer's signal gets back; 'failed' stands for no reply at all (timeout, lost session). */
export type SignalReply =
  | 'ok' | 'ringing' | 'busy' | 'glare' | 'answered-elsewhere' | 'no-such-call' | 'call-ended' | 'out-of-order' | 'failed';

export interface SignalingCall {
  id: string;
  peer: string;
  direction: 'out' | 'in';
  state: CallState;
  endReason: CallEndReason | undefined;
  /** incoming: the caller's device; outgoing: the callee's device that answered. */
  device: string | undefined;
  startedAtMs: number;
  answeredAtMs: number | undefined;
  endedAtMs: number | undefined;
}

export type SignalingOutput =
  | { type: 'reach'; callId: string; user: string }
  | { type: 'send'; callId: string; device: string; signal: Signal }
  | { type: 'changed'; call: SignalingCall };

export interface SignalingConfig {
  random: (n: number) => Uint8Array;
  setupTimeoutMs?: number;   // calling or answering for this long: failed. Default 20 s
  ringTimeoutMs?: number;    // ringing for this long: no answer. Default 60 s
  autoAnswer?: boolean;
}

type LegStatus = 'connecting' | 'inviting' | 'ringing' | 'answered' | 'busy' | 'failed' | 'timed-out' | 'stopped';
const liveLeg = (s: LegStatus) => s === 'inviting' || s === 'ringing' || s === 'answered';

interface Call extends SignalingCall {
  /** Outgoing only: the callee's devices and how far each got. */
  legs: Map<string, LegStatus>;
  legsKnown: boolean;
  deadlineMs: number | undefined;
}

// Implementation limits.
export const legsMax = 8;
const endedCallsKept = 32;

export class CallSignaling {
  readonly stats = { signalsDropped: 0 };
  private readonly calls = new Map<string, Call>();
  private readonly outputs: SignalingOutput[] = [];
  /** Users whose call we just gave up to glare: their invite is answered at once. */
  private readonly mergedWith = new Map<string, number>();
  private readonly setupMs: number;
  private readonly ringMs: number;

  constructor(private readonly cfg: SignalingConfig) {
    this.setupMs = cfg.setupTimeoutMs ?? 20_000;
    this.ringMs = cfg.ringTimeoutMs ?? 60_000;
  }

  // ---- getters ----

  get(id: string): SignalingCall | undefined { const c = this.calls.get(id); return c && view(c); }
  list(): SignalingCall[] { return [...this.calls.values()].map(view); }
  live(): SignalingCall[] { return this.list().filter((c) => c.state !== 'ended'); }

  // ---- commands ----

  /** Calls a user on all their devices; a call ringing here from that user is answered instead. */
  place(user: string, now: number): Result<string> {
    const theirs = [...this.calls.values()].find((c) => c.peer === user && c.state === 'incoming');
    if (theirs) { this.answer(theirs.id, now); return ok(theirs.id); }
    let id = hex(this.cfg.random(8));
    while (this.calls.has(id)) id = hex(this.cfg.random(8));
    this.add({ id, peer: user, direction: 'out', state: 'calling', device: undefined, legs: new Map(), legsKnown: false }, now);
    this.outputs.push({ type: 'reach', callId: id, user });
    return ok(id);
  }

  answer(id: string, now: number): Result<SignalingCall> {
    const c = this.calls.get(id);
    if (!c || c.state !== 'incoming') return err('no-such-call', `no call ${id} ringing here`);
    this.move(c, 'answer', now);
    this.send(c, c.device!, { kind: 'answer', callId: id });
    return ok(view(c));
  }

  reject(id: string, now: number): Result<SignalingCall> {
    const c = this.calls.get(id);
    if (!c || c.state !== 'incoming') return err('no-such-call', `no call ${id} ringing here`);
    this.move(c, 'reject', now);
    return ok(view(c));
  }

  hangup(id: string, now: number): Result<SignalingCall> {
    const c = this.calls.get(id);
    if (!c || c.state === 'ended') return err('no-such-call', `no call ${id} in progress`);
    this.move(c, 'hangup', now);
    return ok(view(c));
  }

  hold(id: string, now: number): Result<SignalingCall> { return this.setHold(id, true, now); }
  resume(id: string, now: number): Result<SignalingCall> { return this.setHold(id, false, now); }

  private setHold(id: string, held: boolean, now: number): Result<SignalingCall> {
    const c = this.calls.get(id);
    const input: CallInput = held ? 'hold' : 'resume';
    if (!c || !nextCallState(c.state, input)) {
      return err('bad-state', c ? `cannot ${input} a call that is ${c.state}` : `no call ${id}`);
    }
    this.move(c, input, now);
    this.send(c, c.device!, { kind: 'hold', callId: id, held });
    return ok(view(c));
  }

  // ---- inputs ----

  /** A signal from a peer device (inside its authenticated session); returns the reply to send. */
  handleSignal(from: PeerDevice, s: Signal, now: number): SignalReply {
    if (s.kind === 'invite') return this.consumeInvite(from, s.callId, now);
    const c = this.calls.get(s.callId);
    if (!c || c.peer !== from.user) return this.drop('no-such-call');
    if (c.direction === 'out' && !c.legs.has(from.device)) return this.drop('no-such-call');
    if (c.direction === 'in' && c.device !== from.device) return this.drop('no-such-call');
    switch (s.kind) {
      case 'answer': return this.consumeAnswer(c, from.device, now);
      case 'hangup': return this.consumeHangup(c, from.device, s.reason, now);
      case 'hold': {
        if (c.device !== from.device) return this.drop('out-of-order');
        return this.feed(c, s.held ? 'remote-hold' : 'remote-resume', now, from.device) ? 'ok' : this.drop('out-of-order');
      }
    }
  }

  /** The reply (or 'failed': none) to a signal we sent to a device. */
  handleReply(callId: string, device: string, kind: Signal['kind'], reply: SignalReply, now: number) {
    const c = this.calls.get(callId);
    if (!c) return;
    if (kind === 'invite' && reply === 'ringing' && c.direction === 'out' && c.legs.get(device) === 'stopped') {
      // It rings after we told it to stop (the hangup overtook the invite): tell it again.
      const reason = c.device !== undefined && c.device !== device ? 'answered-elsewhere' : c.endReason ?? 'cancelled';
      this.send(c, device, { kind: 'hangup', callId, reason });
      return;
    }
    if (c.state === 'ended') return;
    if (kind === 'invite' && c.direction === 'out') {
      if (c.legs.get(device) !== 'inviting') return;
      if (reply === 'ringing') {
        c.legs.set(device, 'ringing');
        this.feed(c, 'remote-ringing', now, device);
      } else if (reply === 'glare') {
        // They won the tie-break; their invite is on its way (or already here).
        c.legs.set(device, 'stopped');
        this.feed(c, 'glare-lost', now, device);
      } else {
        c.legs.set(device, reply === 'busy' ? 'busy' : 'failed');
        this.settleLegs(c, now);
      }
    } else if (kind === 'answer' && c.state === 'answering') {
      if (reply === 'ok') this.feed(c, 'answer-confirmed', now, device);
      else if (reply === 'answered-elsewhere') this.feed(c, 'answered-elsewhere', now, device);
      else if (reply === 'failed') this.feed(c, 'failure', now);
      else this.feed(c, 'remote-hangup', now, device);
    } else if (reply === 'failed' && c.device === device && connectedStates.has(c.state)) {
      // A hold that never arrived: the session is gone.
      this.feed(c, 'failure', now);
    }
  }

  handleDevices(callId: string, devices: Result<string[]>, now: number) {
    const c = this.calls.get(callId);
    if (!c || c.direction !== 'out' || c.legsKnown || c.state === 'ended') return;
    c.legsKnown = true;
    if (devices.ok) for (const d of devices.value.slice(0, legsMax)) c.legs.set(d, 'connecting');
    this.settleLegs(c, now);
  }

  handleDeviceReached(callId: string, device: string, now: number) {
    const c = this.calls.get(callId);
    if (!c || c.legs.get(device) !== 'connecting') return;
    // Reached too late: the call was answered on another device, or is over.
    if (c.state !== 'calling' && c.state !== 'ringing') { c.legs.set(device, 'stopped'); return; }
    c.legs.set(device, 'inviting');
    this.send(c, device, { kind: 'invite', callId });
  }

  handleDeviceFailed(callId: string, device: string, now: number) {
    const c = this.calls.get(callId);
    if (!c || c.legs.get(device) !== 'connecting') return;
    c.legs.set(device, 'failed');
    this.settleLegs(c, now);
  }

  /** The session to a device closed: calls that depend on it fail. */
  handleDeviceLost(device: string, now: number) {
    for (const c of this.calls.values()) {
      if (c.state === 'ended') continue;
      if (c.device === device) this.feed(c, 'failure', now);
      else if (c.direction === 'out' && c.legs.has(device) && liveLeg(c.legs.get(device)!)) {
        c.legs.set(device, 'failed');
        this.settleLegs(c, now);
      }
    }
  }

  handleTimeout(now: number) {
    for (const c of this.calls.values()) {
      if (c.deadlineMs !== undefined && now >= c.deadlineMs) {
        c.deadlineMs = undefined;
        const timer = stateTimers[c.state];
        if (timer) this.move(c, timer, now);
      }
    }
    for (const [user, until] of this.mergedWith) if (now >= until) this.mergedWith.delete(user);
  }

  // ---- outputs ----

  pollOutput(): SignalingOutput | undefined { return this.outputs.shift(); }

  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const c of this.calls.values()) if (c.deadlineMs !== undefined && (next === undefined || c.deadlineMs < next)) next = c.deadlineMs;
    for (const until of this.mergedWith.values()) if (next === undefined || until < next) next = until;
    return next;
  }

  // ---- peer signals ----

  private consumeInvite(from: PeerDevice, id: string, now: number): SignalReply {
    const existing = this.calls.get(id);
    if (existing) {
      // A retransmitted invite is answered the same way; anything else reusing the id is hostile.
      if (existing.direction !== 'in' || existing.peer !== from.user || existing.device !== from.device) return this.drop('no-such-call');
      return existing.state === 'ended' ? 'call-ended' : 'ringing';
    }
    const ours = [...this.calls.values()].find((c) => c.direction === 'out' && c.peer === from.user && (c.state === 'calling' || c.state === 'ringing'));
    let answerNow = this.cfg.autoAnswer === true;
    if (ours) {
      if (ours.id < id) return 'glare';
      this.move(ours, 'glare-lost', now, from.device);
    }
    if (this.mergedWith.has(from.user)) { this.mergedWith.delete(from.user); answerNow = true; }
    if (this.calls.size > 0 && [...this.calls.values()].some((c) => c.state !== 'ended')) return 'busy';
    const c = this.add({ id, peer: from.user, direction: 'in', state: 'incoming', device: from.device, legs: new Map(), legsKnown: true }, now);
    if (answerNow) this.answer(c.id, now);
    return 'ringing';
  }

  private consumeAnswer(c: Call, device: string, now: number): SignalReply {
    if (c.direction !== 'out') return this.drop('out-of-order');
    if (c.device !== undefined) return c.device === device ? 'ok' : 'answered-elsewhere';
    if (c.state === 'ended') return 'call-ended';
    if (!liveLeg(c.legs.get(device)!)) return this.drop('out-of-order');
    c.device = device;
    c.legs.set(device, 'answered');
    if (!this.feed(c, 'remote-answer', now, device)) return this.drop('out-of-order');
    // First answer wins: stop the others ringing.
    for (const [d, s] of c.legs) {
      if (d === device) continue;
      if (liveLeg(s)) this.send(c, d, { kind: 'hangup', callId: c.id, reason: 'answered-elsewhere' });
      if (s === 'connecting' || liveLeg(s)) c.legs.set(d, 'stopped');
    }
    return 'ok';
  }

  private consumeHangup(c: Call, device: string, reason: string, now: number): SignalReply {
    if (c.state === 'ended') return this.drop('call-ended');
    if (c.direction === 'out' && c.device !== device) {
      // A leg that has not answered: one device declining declines the call; a device that
      // timed out or failed only drops out of the fan-out.
      if (c.device !== undefined || !liveLeg(c.legs.get(device)!)) { c.legs.set(device, 'stopped'); return 'ok'; }
      if (reason === 'no-answer' || reason === 'failed') {
        c.legs.set(device, reason === 'no-answer' ? 'timed-out' : 'failed');
        this.settleLegs(c, now);
        return 'ok';
      }
      c.legs.set(device, 'stopped');
      return this.feed(c, 'remote-reject', now, device) ? 'ok' : this.drop('out-of-order');
    }
    if (c.direction === 'out') c.legs.set(device, 'stopped');
    return this.feed(c, hangupInput(reason), now, device) ? 'ok' : this.drop('out-of-order');
  }

  // ---- internals ----

  /** Outgoing, not yet answered: once no leg can still ring or answer, the call ends. */
  private settleLegs(c: Call, now: number) {
    if (c.direction !== 'out' || (c.state !== 'calling' && c.state !== 'ringing') || !c.legsKnown) return;
    const s = [...c.legs.values()];
    if (s.some((x) => x === 'connecting' || liveLeg(x))) return;
    this.feed(c, s.includes('busy') ? 'remote-busy' : s.includes('timed-out') ? 'remote-timeout' : 'failure', now);
  }

  /** Feeds a peer-caused input; true when the table took it. */
  private feed(c: Call, input: CallInput, now: number, cause?: string): boolean {
    return this.move(c, input, now, cause ?? null);
  }

  /**
   * Applies one input. `cause`: undefined for our own commands and timers (the peer is told when
   * the call ends), the device whose signal caused it, or null for a cause with no device.
   */
  private move(c: Call, input: CallInput, now: number, cause?: string | null): boolean {
    const next = nextCallState(c.state, input);
    if (!next) return false;
    const was = c.state;
    c.state = next.state;
    if (was !== c.state) c.deadlineMs = stateTimers[c.state] ? now + (stateTimers[c.state] === 'ring-timeout' ? this.ringMs : this.setupMs) : undefined;
    if (connectedStates.has(c.state) && c.answeredAtMs === undefined) c.answeredAtMs = now;
    if (c.state === 'ended') {
      c.endReason = next.reason;
      c.endedAtMs = now;
      c.deadlineMs = undefined;
      if (next.reason === 'merged') this.mergedWith.set(c.peer, now + this.setupMs);
      this.tellPeers(c, next.reason!, cause);
    }
    this.outputs.push({ type: 'changed', call: view(c) });
    return true;
  }

  private tellPeers(c: Call, reason: string, cause: string | null | undefined) {
    if (c.direction === 'in') {
      if (cause === undefined && c.device) this.send(c, c.device, { kind: 'hangup', callId: c.id, reason });
      return;
    }
    for (const [d, s] of c.legs) {
      if (d === cause) continue;
      if (liveLeg(s)) this.send(c, d, { kind: 'hangup', callId: c.id, reason });
      if (s === 'connecting' || liveLeg(s)) c.legs.set(d, 'stopped');
    }
  }

  private send(c: Call, device: string, signal: Signal) { this.outputs.push({ type: 'send', callId: c.id, device, signal }); }

  private add(init: Pick<Call, 'id' | 'peer' | 'direction' | 'state' | 'device' | 'legs' | 'legsKnown'>, now: number): Call {
    const timer = stateTimers[init.state];
    const c: Call = {
      ...init, endReason: undefined, startedAtMs: now, answeredAtMs: undefined, endedAtMs: undefined,
      deadlineMs: timer ? now + (timer === 'ring-timeout' ? this.ringMs : this.setupMs) : undefined,
    };
    this.calls.set(c.id, c);
    this.prune();
    this.outputs.push({ type: 'changed', call: view(c) });
    return c;
  }

  private drop(reply: SignalReply): SignalReply {
    this.stats.signalsDropped++;
    return reply;
  }

  private prune() {
    const ended = [...this.calls.values()].filter((c) => c.state === 'ended');
    for (const c of ended.slice(0, Math.max(0, ended.length - endedCallsKept))) this.calls.delete(c.id);
  }
}

/** How a peer's hangup reason enters the table. */
function hangupInput(reason: string): CallInput {
  switch (reason) {
    case 'answered-elsewhere': return 'answered-elsewhere';
    case 'rejected': return 'remote-reject';
    case 'no-answer': return 'remote-timeout';
    case 'failed': return 'failure';
    default: return 'remote-hangup';
  }
}

function view(c: Call): SignalingCall {
  return {
    id: c.id, peer: c.peer, direction: c.direction, state: c.state, endReason: c.endReason, device: c.device,
    startedAtMs: c.startedAtMs, answeredAtMs: c.answeredAtMs, endedAtMs: c.endedAtMs,
  };
}

function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
