// Calls of one node, sans-IO: the signaling machine (signaling.ts, table in call-state.ts)
// wired to sessions, plus each call's media (call-media.ts).
//
// Theory of operation. The signaling machine speaks of (user, device) pairs; this file turns
// its outputs into session traffic: `reach` becomes a look-up of all the callee's devices and
// a session to each (CallTransport), `send` becomes a request on the device's current path
// whose reply is fed back, and `changed` starts or stops media and becomes a 'call' event.
// Requests from peers are decoded here (a malformed one is refused and counted) and handed to
// the machine with the peer's certified user and device. Media datagrams are accepted only
// from the device the call is connected to, and only while it is `active` (or `answering`). Every frame is
// sealed end to end by the two devices' session, so a relay only sees ciphertext.
//
//   inputs:   consumeRequest / consumeDatagram (from the node's session events), pathClosed,
//             handleTimeout(now)
//   commands: call, answer, reject, hangup, hold, resume, pushAudio
//   outputs:  pollEvent() → call | audio, pollTimeout()
import { earliest } from '../deadline.ts';
import type { ReplyHandler } from '../session/rpc.ts';
import type { Message } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { OkReply, ErrorReply, errorBytes } from '../wire/replies.ts';
import type { CallInfo } from '../node/types.ts';
import { CallInvite, CallRinging, CallAnswer, CallHangup, CallHold, Media } from './protocol.ts';
import { CallSignaling, type PeerDevice, type Signal, type SignalReply, type SignalingCall } from './signaling.ts';
import { CallMedia, emptyStats } from './call-media.ts';
import { isRelayedPath } from '../session/paths.ts';

export interface CallTransport {
  /** The node's current time (set by whichever input is running): callbacks carry no `now`. */
  now(): number;
  /** Looks the user up; yields the devices they are online on. */
  findDevices(user: string, now: number, cb: (r: Result<string[]>) => void): void;
  /** Finds or opens an end-to-end session with one device found above; yields its path. */
  connectToDevice(user: string, device: string, now: number, cb: (r: Result<string>) => void): void;
  request(path: string, bytes: Uint8Array, now: number, cb: ReplyHandler): void;
  sendDatagram(path: string, bytes: Uint8Array, now: number, opts?: { compress?: boolean }): void;
  random(n: number): Uint8Array;
}

export type CallEvent =
  | { type: 'call'; call: CallInfo }
  | { type: 'audio'; callId: string; pcm: Int16Array };

export interface CallConfig {
  ringTimeoutMs?: number;   // default 60 s
  setupTimeoutMs?: number;  // default 20 s
  autoAnswer?: boolean;
  bitrateBps?: number;      // default 32 kb/s
}

interface Pending { cb: (r: Result<CallInfo>) => void }

const replyCodes: ReadonlySet<string> = new Set(['busy', 'glare', 'answered-elsewhere', 'no-such-call', 'call-ended', 'out-of-order']);

export class CallManager {
  readonly signaling: CallSignaling;
  private readonly media = new Map<string, CallMedia>();
  private readonly pathKinds = new Map<string, 'direct' | 'relay'>();
  /** When each call that started relayed moved to a direct path. */
  private readonly movedAt = new Map<string, number>();
  /** The current path to each peer device we signal with. */
  private readonly devicePaths = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  private readonly events: CallEvent[] = [];
  private malformed = 0;

  constructor(private readonly transport: CallTransport, private readonly cfg: CallConfig = {}) {
    this.signaling = new CallSignaling({
      random: transport.random, ringTimeoutMs: cfg.ringTimeoutMs, setupTimeoutMs: cfg.setupTimeoutMs, autoAnswer: cfg.autoAnswer,
    });
  }

  // ---- getters ----

  list(): CallInfo[] { return this.signaling.list().map((c) => this.info(c)); }
  get(id: string): CallInfo | undefined { const c = this.signaling.get(id); return c && this.info(c); }
  /** Peer signals refused: malformed, unknown call, wrong device, or out of place in the table. */
  get signalsDropped(): number { return this.malformed + this.signaling.stats.signalsDropped; }

  // ---- commands ----

  /** Places a call to every device of the user; cb fires once one rings, or with why none does. */
  call(user: string, now: number, cb: (r: Result<CallInfo>) => void): string | undefined {
    const r = this.signaling.place(user, now);
    if (!r.ok) { cb(r); return undefined; }
    this.pending.set(r.value, { cb });
    this.pump(now);
    return r.value;
  }

  answer(id: string, now: number): Result<CallInfo> { return this.command(this.signaling.answer(id, now), now); }
  reject(id: string, now: number): Result<CallInfo> { return this.command(this.signaling.reject(id, now), now); }
  hangup(id: string, now: number): Result<CallInfo> { return this.command(this.signaling.hangup(id, now), now); }
  hold(id: string, now: number): Result<CallInfo> { return this.command(this.signaling.hold(id, now), now); }
  resume(id: string, now: number): Result<CallInfo> { return this.command(this.signaling.resume(id, now), now); }

  /** Audio to send (48 kHz mono PCM, any length); ignored unless the call is active. */
  pushAudio(id: string, pcm: Int16Array, now: number) {
    const c = this.signaling.get(id);
    const m = this.media.get(id);
    const path = c?.device && this.devicePaths.get(c.device);
    if (!c || c.state !== 'active' || !m || !path) return;
    m.pushAudio(pcm, now);
    this.flushMedia(id, m, now);
  }

  // ---- inputs ----

  /** Handles a call request from a certified peer device; false when it is not a call command. */
  consumeRequest(path: string, peer: PeerDevice, m: Message, now: number, respond: (bytes: Uint8Array) => void): boolean {
    const signal = decodeSignal(m);
    if (signal === undefined) return false;
    if (!signal.ok) {
      this.malformed++;
      respond(errorBytes(signal.error.code, signal.error.message));
      return true;
    }
    // Follow the device if its session moved (e.g. from a relay to a direct path).
    this.devicePaths.set(peer.device, path);
    const reply = this.signaling.handleSignal(peer, signal.value, now);
    if (reply !== 'failed' && this.signaling.get(signal.value.callId)) this.pathKinds.set(signal.value.callId, kindOf(path));
    respond(encodeReply(reply, signal.value.callId));
    this.pump(now);
    return true;
  }

  consumeDatagram(peer: PeerDevice, m: Message, now: number) {
    if (m.command !== Cmd.Media) return;
    const q = Media.decode(m.body);
    if (!q.ok) return;
    const c = this.signaling.get(q.value.callId);
    const media = this.media.get(q.value.callId);
    if (!c || !media || c.peer !== peer.user || c.device !== peer.device || !receiving(c)) return;
    media.handlePacket(q.value.frame, now);
    this.flushMedia(c.id, media, now);
    this.drainAudio(c.id, media);
  }

  /**
   * A direct session to a peer device now works: a live call with it that runs over a relay
   * moves onto the direct path (media follows at once; signaling keeps working either way).
   */
  moveToDirect(device: string, path: string, now: number) {
    if (isRelayedPath(path)) return;
    const current = this.devicePaths.get(device);
    if (!current || !isRelayedPath(current)) return;
    const live = this.signaling.live().filter((c) => c.device === device);
    if (live.length === 0) return;
    this.devicePaths.set(device, path);
    for (const c of live) { this.pathKinds.set(c.id, 'direct'); this.movedAt.set(c.id, now); }
  }

  /** A session closed: calls that were using it fail (unless the device has moved on). */
  pathClosed(path: string, now: number) {
    for (const [device, p] of [...this.devicePaths]) {
      if (p !== path) continue;
      this.devicePaths.delete(device);
      this.signaling.handleDeviceLost(device, now);
    }
    this.pump(now);
  }

  handleTimeout(now: number) {
    this.signaling.handleTimeout(now);
    for (const [id, m] of this.media) { m.handleTimeout(now); this.flushMedia(id, m, now); this.drainAudio(id, m); }
    this.pump(now);
  }

  pollEvent(): CallEvent | undefined { return this.events.shift(); }

  pollTimeout(): number | undefined {
    return earliest(this.signaling.pollTimeout(), ...[...this.media.values()].map((m) => m.pollTimeout()));
  }

  // ---- internals ----

  private command(r: Result<SignalingCall>, now: number): Result<CallInfo> {
    this.pump(now);
    return r.ok ? ok(this.get(r.value.id)!) : r;
  }

  /** Carries out everything the signaling machine asked for. */
  private pump(now: number) {
    for (let o = this.signaling.pollOutput(); o; o = this.signaling.pollOutput()) {
      switch (o.type) {
        case 'reach': this.reach(o.callId, o.user, now); break;
        case 'send': this.send(o.callId, o.device, o.signal, now); break;
        case 'changed': this.changed(o.call); break;
      }
    }
  }

  private reach(callId: string, user: string, now: number) {
    this.transport.findDevices(user, now, (found) => {
      const t = this.transport.now();
      // The look-up's own words ("bob is not online") beat the call's end reason (failed).
      if (!found.ok) this.settlePending(callId, err(found.error.code, `cannot reach ${user}: ${found.error.message}`));
      this.signaling.handleDevices(callId, found, t);
      this.pump(t);
      if (found.ok) for (const device of found.value) {
        this.transport.connectToDevice(user, device, t, (p) => {
          const t2 = this.transport.now();
          if (p.ok) {
            this.devicePaths.set(device, p.value);
            if (!this.pathKinds.has(callId)) this.pathKinds.set(callId, kindOf(p.value));
            this.signaling.handleDeviceReached(callId, device, t2);
          } else {
            this.signaling.handleDeviceFailed(callId, device, t2);
          }
          this.pump(t2);
        });
      }
    });
  }

  private send(callId: string, device: string, s: Signal, now: number) {
    const path = this.devicePaths.get(device);
    if (!path) { this.signaling.handleReply(callId, device, s.kind, 'failed', now); return; }
    this.transport.request(path, encodeSignal(s), now, (r) => {
      const t = this.transport.now();
      this.signaling.handleReply(callId, device, s.kind, r.ok ? decodeReply(r.value.message) : 'failed', t);
      this.pump(t);
    });
  }

  private changed(c: SignalingCall) {
    let m = this.media.get(c.id);
    if (!m && c.state !== 'ended') {
      m = new CallMedia({ bitrateBps: this.cfg.bitrateBps ?? 32_000, random: this.transport.random });
      this.media.set(c.id, m);
    }
    if (m) {
      if (c.device && this.devicePaths.has(c.device)) this.pathKinds.set(c.id, kindOf(this.devicePaths.get(c.device)!));
      if (!receiving(c)) this.drainAudio(c.id, m);
      m.setActive(receiving(c));
    }
    const info = this.info(c);
    if (c.state === 'ended') { m?.stop(); this.retire(); }
    this.events.push({ type: 'call', call: info });
    if (c.state === 'ringing' || c.state === 'active') this.settlePending(c.id, ok(info));
    if (c.state === 'ended' && c.endReason === 'merged') {
      // Glare: the user's call goes on as the peer's call, which this node answers.
      const theirs = this.signaling.live().find((x) => x.peer === c.peer);
      this.settlePending(c.id, ok(theirs ? this.info(theirs) : info));
    }
    if (c.state === 'ended') this.settlePending(c.id, err(c.endReason ?? 'failed', `the call ended: ${c.endReason ?? 'failed'}`));
  }

  private settlePending(id: string, r: Result<CallInfo>) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.cb(r);
  }

  private drainAudio(callId: string, m: CallMedia) {
    for (let pcm = m.pollAudio(); pcm; pcm = m.pollAudio()) this.events.push({ type: 'audio', callId, pcm });
    // Once a second the media session has fresh quality figures: publish them as a call event.
    let fresh = false;
    for (let q = m.pollQuality(); q; q = m.pollQuality()) fresh = true;
    const c = fresh ? this.signaling.get(callId) : undefined;
    if (c && c.state !== 'ended') this.events.push({ type: 'call', call: this.info(c) });
  }

  /** Sends what the media session has queued (audio, receiver reports) to the call's device. */
  private flushMedia(callId: string, m: CallMedia, now: number) {
    const c = this.signaling.get(callId);
    const path = c?.device && this.devicePaths.get(c.device);
    for (let frame = m.pollPacket(); frame; frame = m.pollPacket()) {
      if (path) this.transport.sendDatagram(path, Media.toBytes({ callId, frame }), now, { compress: false });
    }
  }

  /** Forgets media and paths of calls the signaling machine no longer keeps. */
  private retire() {
    for (const id of [...this.media.keys()]) if (!this.signaling.get(id)) { this.media.delete(id); this.pathKinds.delete(id); this.movedAt.delete(id); }
    if (this.devicePaths.size > 256) {
      const inUse = new Set(this.signaling.live().map((c) => c.device));
      for (const d of [...this.devicePaths.keys()]) if (!inUse.has(d)) this.devicePaths.delete(d);
    }
  }

  private info(c: SignalingCall): CallInfo {
    const m = this.media.get(c.id);
    return {
      id: c.id, peer: c.peer, direction: c.direction, state: c.state, path: this.pathKinds.get(c.id), endReason: c.endReason,
      via: c.device ? this.devicePaths.get(c.device) : undefined, movedToDirectAtMs: this.movedAt.get(c.id),
      startedAtMs: c.startedAtMs, answeredAtMs: c.answeredAtMs, endedAtMs: c.endedAtMs, stats: m ? { ...m.stats } : emptyStats(),
    };
  }
}

/**
 * Media is played in `active`, and already in `answering`: the caller sends media only to the
 * device whose answer won, so the first words are not lost while the confirmation travels.
 */
function receiving(c: SignalingCall): boolean { return c.state === 'active' || c.state === 'answering'; }

function kindOf(path: string): 'direct' | 'relay' { return isRelayedPath(path) ? 'relay' : 'direct'; }

/** A call command's signal; undefined when the message is not a call command. */
function decodeSignal(m: Message): Result<Signal> | undefined {
  const bad = (message: string) => err('bad-request', message);
  switch (m.command) {
    case Cmd.CallInvite: {
      const q = CallInvite.decode(m.body);
      if (!q.ok) return bad(q.error.message);
      if (q.value.codec !== 'opus') return err('unsupported-codec', `codec ${q.value.codec}`);
      return ok({ kind: 'invite', callId: q.value.callId });
    }
    case Cmd.CallAnswer: {
      const q = CallAnswer.decode(m.body);
      return q.ok ? ok({ kind: 'answer', callId: q.value.callId }) : bad(q.error.message);
    }
    case Cmd.CallHangup: {
      const q = CallHangup.decode(m.body);
      return q.ok ? ok({ kind: 'hangup', callId: q.value.callId, reason: q.value.reason }) : bad(q.error.message);
    }
    case Cmd.CallHold: {
      const q = CallHold.decode(m.body);
      return q.ok ? ok({ kind: 'hold', callId: q.value.callId, held: q.value.held }) : bad(q.error.message);
    }
    default: return undefined;
  }
}

function encodeSignal(s: Signal): Uint8Array {
  switch (s.kind) {
    case 'invite': return CallInvite.toBytes({ callId: s.callId, codec: 'opus', frameMs: 20 });
    case 'answer': return CallAnswer.toBytes({ callId: s.callId });
    case 'hangup': return CallHangup.toBytes({ callId: s.callId, reason: s.reason });
    case 'hold': return CallHold.toBytes({ callId: s.callId, held: s.held });
  }
}

function encodeReply(r: SignalReply, callId: string): Uint8Array {
  if (r === 'ringing') return CallRinging.toBytes({ callId });
  if (r === 'ok') return OkReply.toBytes({});
  return errorBytes(r, replyMessages[r] ?? r);
}

const replyMessages: Partial<Record<SignalReply, string>> = {
  busy: 'already in a call', glare: 'both called at once; our call wins', 'answered-elsewhere': 'another device answered first',
  'no-such-call': 'unknown call', 'call-ended': 'the call has ended', 'out-of-order': 'signal does not fit the call state',
};

function decodeReply(m: Message): SignalReply {
  if (m.command === Cmd.CallRinging) return 'ringing';
  if (m.command === Cmd.Ok) return 'ok';
  if (m.command === Cmd.Error) {
    const e = ErrorReply.decode(m.body);
    if (e.ok && replyCodes.has(e.value.code)) return e.value.code as SignalReply;
  }
  return 'failed';
}
