// Calls of one node, sans-IO: signaling through the state table, media through the media cores.
//
// Theory of operation. A call is placed by finding a path to the callee (the node core does
// that: direct if possible, else through a supernode relay), then an invite request; the
// callee's node answers "ringing" at once and later sends an answer request when the user
// picks up (or auto-answer is on). From then both sides send Media datagrams: audio the driver
// pushes in (pushAudio) is encoded into 20 ms Opus frames; frames that arrive go through the
// jitter buffer and decoder, and decoded audio comes out as 'audio' events paced by `now`.
// Every frame is sealed end to end by the two users' session, so a relay only sees ciphertext.
//
//   inputs:   consumeRequest / consumeDatagram (from the node's session events), pathClosed,
//             handleTimeout(now)
//   commands: call, answer, reject, hangup, pushAudio
//   outputs:  pollEvent() → call | audio, pollTimeout()
import type { ReplyHandler } from '../session/rpc.ts';
import type { Message } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { OkReply, errorBytes, describeFailure } from '../wire/replies.ts';
import type { CallInfo, CallStats } from '../node/types.ts';
import { CallInvite, CallRinging, CallAnswer, CallHangup, Media } from './protocol.ts';
import { nextCallState, type CallInput } from './call-state.ts';
import { MediaSender } from '../media/sender.ts';
import { MediaReceiver } from '../media/receiver.ts';
import { isRelayedPath } from '../session/paths.ts';

export interface CallTransport {
  /** Finds or opens an end-to-end session with the user; yields its path. */
  connectToUser(user: string, now: number, cb: (r: Result<string>) => void): void;
  request(path: string, bytes: Uint8Array, now: number, cb: ReplyHandler): void;
  sendDatagram(path: string, bytes: Uint8Array, now: number, opts?: { compress?: boolean }): void;
  random(n: number): Uint8Array;
}

export type CallEvent =
  | { type: 'call'; call: CallInfo }
  | { type: 'audio'; callId: string; pcm: Int16Array };

export interface CallConfig {
  ringTimeoutMs?: number;   // default 60 s
  autoAnswer?: boolean;
  bitrateBps?: number;      // default 32 kb/s
}

interface Call {
  info: CallInfo;
  path: string | undefined;
  sender: MediaSender | undefined;
  receiver: MediaReceiver | undefined;
  ringDeadlineMs: number | undefined;
}

// Implementation constants.
const endedCallsKept = 32;

export class CallManager {
  private readonly calls = new Map<string, Call>();
  private readonly events: CallEvent[] = [];
  private readonly ringTimeoutMs: number;

  constructor(private readonly transport: CallTransport, private readonly cfg: CallConfig = {}) {
    this.ringTimeoutMs = cfg.ringTimeoutMs ?? 60_000;
  }

  list(): CallInfo[] { return [...this.calls.values()].map((c) => snapshot(c)); }
  get(id: string): CallInfo | undefined { const c = this.calls.get(id); return c && snapshot(c); }
  private live(): Call | undefined { return [...this.calls.values()].find((c) => c.info.state !== 'ended'); }

  // ---- commands ----

  /** Places a call; cb fires once the callee rings, or with the reason it cannot. */
  call(user: string, now: number, cb: (r: Result<CallInfo>) => void): string {
    const id = hex(this.transport.random(8));
    const c = this.add(id, user, 'out', 'calling', now);
    this.transport.connectToUser(user, now, (p) => {
      if (c.info.state === 'ended') return cb(err('cancelled', 'the call was cancelled'));
      if (!p.ok) { this.move(c, 'failure', now); return cb(err(p.error.code, `cannot reach ${user}: ${p.error.message}`)); }
      c.path = p.value;
      c.info.path = isRelayedPath(p.value) ? 'relay' : 'direct';
      this.transport.request(p.value, CallInvite.toBytes({ callId: id, codec: 'opus', frameMs: 20 }), now, (r) => {
        if (c.info.state === 'ended') return cb(ok(snapshot(c)));
        if (!r.ok) { this.move(c, 'failure', now); return cb(err(r.error.code, r.error.message)); }
        if (r.value.message.command === Cmd.CallRinging) {
          this.move(c, 'remote-ringing', now);
          return cb(ok(snapshot(c)));
        }
        const f = describeFailure(r.value.message);
        this.move(c, f.code === 'busy' ? 'remote-busy' : 'remote-rejected', now);
        cb(err(f.code, f.message));
      });
    });
    return id;
  }

  answer(id: string, now: number): Result<CallInfo> {
    const c = this.calls.get(id);
    if (!c || c.info.state !== 'incoming') return err('no-such-call', `no incoming call ${id}`);
    this.move(c, 'answer', now);
    this.transport.request(c.path!, CallAnswer.toBytes({ callId: id }), now, (r) => {
      if (!r.ok) this.move(c, 'failure', now);
    });
    return ok(snapshot(c));
  }

  reject(id: string, now: number): Result<CallInfo> {
    const c = this.calls.get(id);
    if (!c || c.info.state !== 'incoming') return err('no-such-call', `no incoming call ${id}`);
    this.move(c, 'reject', now);
    this.signalHangup(c, 'rejected', now);
    return ok(snapshot(c));
  }

  hangup(id: string, now: number): Result<CallInfo> {
    const c = this.calls.get(id);
    if (!c || c.info.state === 'ended') return err('no-such-call', `no call ${id} in progress`);
    this.move(c, 'hangup', now);
    this.signalHangup(c, c.info.endReason ?? 'hung-up', now);
    return ok(snapshot(c));
  }

  /** Audio to send (48 kHz mono PCM, any length); ignored unless the call is active. */
  pushAudio(id: string, pcm: Int16Array, now: number) {
    const c = this.calls.get(id);
    if (!c || c.info.state !== 'active' || !c.sender || !c.path) return;
    c.sender.pushPcm(pcm);
    for (let frame = c.sender.pollFrame(); frame; frame = c.sender.pollFrame()) {
      c.info.stats.framesSent++;
      c.info.stats.bytesSent += frame.length;
      this.transport.sendDatagram(c.path, Media.toBytes({ callId: id, frame }), now, { compress: false });
    }
  }

  // ---- inputs ----

  /** Handles a call request from a certified peer; false when the command is not a call command. */
  consumeRequest(path: string, peerUser: string, m: Message, now: number, respond: (bytes: Uint8Array) => void): boolean {
    switch (m.command) {
      case Cmd.CallInvite: {
        const q = CallInvite.decode(m.body);
        if (!q.ok) { respond(errorBytes('bad-request', q.error.message)); return true; }
        const existing = this.calls.get(q.value.callId);
        if (existing) { respond(CallRinging.toBytes({ callId: existing.info.id })); return true; }
        if (q.value.codec !== 'opus') { respond(errorBytes('unsupported-codec', `codec ${q.value.codec}`)); return true; }
        if (this.live()) { respond(errorBytes('busy', 'already in a call')); return true; }
        const c = this.add(q.value.callId, peerUser, 'in', 'incoming', now);
        c.path = path;
        c.info.path = isRelayedPath(path) ? 'relay' : 'direct';
        respond(CallRinging.toBytes({ callId: c.info.id }));
        if (this.cfg.autoAnswer) this.answer(c.info.id, now);
        return true;
      }
      case Cmd.CallAnswer:
      case Cmd.CallHangup: {
        const q = m.command === Cmd.CallAnswer ? CallAnswer.decode(m.body) : CallHangup.decode(m.body);
        if (!q.ok) { respond(errorBytes('bad-request', q.error.message)); return true; }
        const c = this.calls.get(q.value.callId);
        if (!c || c.info.peer !== peerUser) { respond(errorBytes('no-such-call', 'unknown call')); return true; }
        // Follow the peer if its session moved (e.g. from a relay to a direct path).
        c.path = path;
        c.info.path = isRelayedPath(path) ? 'relay' : 'direct';
        this.move(c, m.command === Cmd.CallAnswer ? 'remote-answered' : 'remote-hangup', now);
        respond(OkReply.toBytes({}));
        return true;
      }
      default:
        return false;
    }
  }

  consumeDatagram(peerUser: string, m: Message, now: number) {
    if (m.command !== Cmd.Media) return;
    const q = Media.decode(m.body);
    if (!q.ok) return;
    const c = this.calls.get(q.value.callId);
    if (!c || c.info.peer !== peerUser || c.info.state !== 'active' || !c.receiver) return;
    if (c.info.stats.framesReceived++ === 0) c.info.stats.firstFrameAtMs = now;
    c.info.stats.bytesReceived += q.value.frame.length;
    c.receiver.handleFrame(q.value.frame, now);
    this.drainAudio(c);
  }

  /** A direct session to the peer now works: a live call on a relay moves to it (media follows at once). */
  moveToDirect(peerUser: string, path: string, _now: number) {
    for (const c of this.calls.values()) {
      if (c.info.peer !== peerUser || c.info.state === 'ended' || !c.path || !isRelayedPath(c.path) || isRelayedPath(path)) continue;
      c.path = path;
      c.info.path = 'direct';
    }
  }

  pathClosed(path: string, now: number) {
    for (const c of this.calls.values()) if (c.path === path && c.info.state !== 'ended') this.move(c, 'failure', now);
  }

  handleTimeout(now: number) {
    for (const c of this.calls.values()) {
      if (c.ringDeadlineMs !== undefined && now >= c.ringDeadlineMs && c.info.state !== 'active' && c.info.state !== 'ended') {
        this.move(c, 'timeout', now);
        this.signalHangup(c, 'no-answer', now);
      }
      if (c.receiver) { c.receiver.handleTimeout(now); this.drainAudio(c); }
    }
  }

  pollEvent(): CallEvent | undefined { return this.events.shift(); }

  pollTimeout(): number | undefined {
    let next: number | undefined;
    for (const c of this.calls.values()) {
      for (const t of [c.ringDeadlineMs, c.receiver?.pollTimeout()]) {
        if (t !== undefined && (next === undefined || t < next)) next = t;
      }
    }
    return next;
  }

  // ---- internals ----

  private add(id: string, peer: string, direction: 'in' | 'out', state: CallInfo['state'], now: number): Call {
    const info: CallInfo = {
      id, peer, direction, state, path: undefined, endReason: undefined,
      startedAtMs: now, answeredAtMs: undefined, endedAtMs: undefined, stats: emptyStats(),
    };
    const c: Call = { info, path: undefined, sender: undefined, receiver: undefined, ringDeadlineMs: now + this.ringTimeoutMs };
    this.calls.set(id, c);
    this.prune();
    this.events.push({ type: 'call', call: snapshot(c) });
    return c;
  }

  private move(c: Call, input: CallInput, now: number) {
    const next = nextCallState(c.info.state, input);
    if (!next) return;
    c.info.state = next.state;
    if (next.state === 'active') {
      c.info.answeredAtMs = now;
      c.ringDeadlineMs = undefined;
      const r = this.transport.random(6);
      c.sender = new MediaSender({
        bitrateBps: this.cfg.bitrateBps ?? 32_000, fec: true,
        seqStart: (r[0] << 8) | r[1], timestampStart: ((r[2] << 24) | (r[3] << 16) | (r[4] << 8) | r[5]) >>> 0,
      });
      c.receiver = new MediaReceiver({});
    }
    if (next.state === 'ended') {
      c.info.endReason = next.reason;
      c.info.endedAtMs = now;
      c.ringDeadlineMs = undefined;
      if (c.receiver) { c.receiver.stop(); this.drainAudio(c); }
      c.sender = undefined;
    }
    this.events.push({ type: 'call', call: snapshot(c) });
  }

  private drainAudio(c: Call) {
    if (!c.receiver) return;
    for (let pcm = c.receiver.pollAudio(); pcm; pcm = c.receiver.pollAudio()) {
      this.events.push({ type: 'audio', callId: c.info.id, pcm });
    }
    const s = c.receiver.stats;
    c.info.stats.framesConcealed = s.concealed;
    c.info.stats.framesRecoveredFec = s.recoveredFec;
    c.info.stats.framesLate = s.late;
  }

  private signalHangup(c: Call, reason: string, now: number) {
    if (c.path) this.transport.request(c.path, CallHangup.toBytes({ callId: c.info.id, reason }), now, () => {});
  }

  private prune() {
    const ended = [...this.calls.values()].filter((c) => c.info.state === 'ended');
    for (const c of ended.slice(0, Math.max(0, ended.length - endedCallsKept))) this.calls.delete(c.info.id);
  }
}

function snapshot(c: Call): CallInfo { return { ...c.info, via: c.path, stats: { ...c.info.stats } }; }

function emptyStats(): CallStats {
  return { framesSent: 0, framesReceived: 0, framesConcealed: 0, framesRecoveredFec: 0, framesLate: 0, bytesSent: 0, bytesReceived: 0 };
}

function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
