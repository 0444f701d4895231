// Endpoint: every secure session one node holds, sans-IO.
//
// Theory of operation. Peers are named by a *path*: an opaque string the driver understands
// ("udp:203.0.113.5:4000", or "relay:…" for a path through a supernode). The endpoint runs a
// Noise handshake per path (IK when the peer's static key is known, XX otherwise), then seals
// every payload with the session's transport keys and an explicit 64-bit counter, checked
// against a replay window on receipt. A session has four keys: one per direction for signaling
// (Noise's Split) and one per direction for media (splitMedia), each with its own counter and
// replay window, each rekeyed on its own (channel.ts). A session is found by the index in the
// packet, not by the address: an authenticated packet with a new newest counter from another
// path moves the session there (roaming), with no new handshake. An IK initiation carries a
// timestamp (as WireGuard's does) so a replayed one cannot displace a live session.
//
//   inputs:   handleDatagram(path, bytes, now), handleTimeout(now)
//   commands: connect(path, now, opts), send(path, payload, now, channel), close(path), setIdentityPayload(p)
//   outputs:  pollTransmit() → {path, bytes}; pollEvent() → established | message | failed | closed;
//             pollTimeout() → the next deadline (ms) or undefined
//
// Call order: apply one input or command, then drain pollTransmit and pollEvent, then re-arm
// the timer from pollTimeout. Invariants: a payload reaches the application only after its
// peer proved its identity (verifyPeer accepted the handshake payload) and only once (replay
// window); anything malformed or unauthenticated is dropped and counted, never answered.
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { HandshakeState, type NoisePattern } from '../crypto/noise.ts';
import { equalBytes } from '../crypto/bytes.ts';
import type { ProvenIdentity } from '../crypto/identity-proof.ts';
import type { Result } from '../wire/result.ts';
import { PacketType, Channel, decodePacket, encodeInit, encodeReply, writeDataHeader, dataHeaderBytes, datagramBytesMax } from './packet.ts';
import { SendChannel, ReceiveChannel, defaultRekeyPolicy, type RekeyPolicy } from './channel.ts';
import { headerKey, headerMask, maskHeader, unmaskHeader } from './header-mask.ts';
import { RateLimiter, type BucketSpec } from './rate-limiter.ts';
import { padHandshakePayload, openHandshakePayload, randomPadding } from './handshake-padding.ts';

/** Who the peer proved to be in the handshake (crypto/identity-proof.ts). */
export type PeerIdentity = ProvenIdentity;

export interface EndpointConfig {
  staticKey: KeyPair;
  random: RandomBytes;
  /** Sent inside every handshake, encrypted: proves who we are (certificate, binding signature). */
  identityPayload: Uint8Array;
  /** Checks the peer's handshake payload against its proven static key. */
  verifyPeer(payload: Uint8Array, remoteStatic: Uint8Array, path: string, now: number): Result<PeerIdentity>;
  handshakeRetryMs?: number;     // default 300, doubling
  handshakeTimeoutMs?: number;   // default 5000
  keepaliveMs?: number;          // default 15000, only for sessions opened with keepAlive
  idleTimeoutMs?: number;        // default 120000
  queuedBytesMax?: number;       // per path while the handshake runs; default 2 MiB (a fragmented 1 MiB message, twice)
  /** New handshakes answered per source (IP address, or relay path); default 20 burst, 10/s. */
  handshakesPerSource?: BucketSpec;
  /** New handshakes answered in all; default 200 burst, 100/s. Established sessions are never throttled. */
  handshakesTotal?: BucketSpec;
  /** When each direction of each channel moves to its next key; default 1 000 000 packets or 120 s. */
  rekey?: Partial<RekeyPolicy>;
}

export type EndpointEvent =
  | { type: 'established'; path: string; peer: PeerIdentity; initiator: boolean }
  | { type: 'message'; path: string; peer: PeerIdentity; payload: Uint8Array; channel: Channel }
  | { type: 'failed'; path: string; reason: string }
  | { type: 'closed'; path: string };

export interface ConnectOptions { remoteStatic?: Uint8Array; keepAlive?: boolean }

interface Session {
  localIndex: number;
  remoteIndex: number;
  path: string;
  peer: PeerIdentity;
  /** Indexed by Channel. */
  out: SendChannel[];
  /** The peer's header key, which masks everything we send it. */
  peerHeaderKey: Uint8Array;
  in: ReceiveChannel[];
  lastReceivedMs: number;
  lastSentMs: number;
  /**
   * An XX initiator's session the responder has not been heard on yet: its final may have been
   * lost, and the responder cannot read a byte we send until it has that final (nor does our
   * data tell it anything). Until then the final goes again ahead of data, at most every
   * retry interval; `finalSentMs` is when it last went.
   */
  unconfirmed: boolean;
  finalSentMs: number;
  /** Made by an XX responder from a final: a repeated final is answered (it confirms the session). */
  fromFinal: boolean;
}

interface Handshake {
  localIndex: number;
  path: string;
  initiator: boolean;
  pattern: NoisePattern;
  state: HandshakeState;
  /** The last packet we sent, resent on a timer (initiator) or on a duplicate (responder). */
  packet: Uint8Array;
  remoteIndex: number;
  attempts: number;
  nextRetryMs: number;
  deadlineMs: number;
  peer?: PeerIdentity;
}

export interface EndpointStats {
  malformed: number; unknownIndex: number; decryptFailed: number; replayed: number;
  handshakeRejected: number; handshakesCompleted: number; packetsIn: number; packetsOut: number;
  handshakesThrottled: number;
  /** IK initiations whose timestamp was not newer than the last one from the same key. */
  handshakesReplayed: number;
  roamed: number;
}

const prologue = new TextEncoder().encode('tincan/1');
const publicHeaderKey = headerKey();
const keepalivePayload = new Uint8Array(0);
const headerScratch = new Uint8Array(dataHeaderBytes);
/** How a packet that nothing consumed is counted. */
type Miss = 'malformed' | 'unknownIndex' | 'handshakeRejected';
const timestampBytes = 8;
const tagBytes = 16;
// Implementation: IK initiation timestamps remembered per initiator key (least recently used go).
const initTimestampsMax = 10_000;

export class Endpoint {
  private readonly sessions = new Map<number, Session>();
  private readonly handshakes = new Map<number, Handshake>();
  /** The session used for sending on each path: the most recently established one. */
  private readonly current = new Map<string, number>();
  /** Responder handshakes by (path, initiator's index), so a repeated init gets the same answer. */
  private readonly answered = new Map<string, { localIndex: number; expiresMs: number }>();
  private readonly queued = new Map<string, { payloads: { payload: Uint8Array; channel: Channel }[]; bytes: number }>();
  private readonly initTimestamps = new Map<string, number>();
  private lastInitTimestamp = 0;
  private readonly rekeyPolicy: RekeyPolicy;
  private readonly expected = new Map<string, ConnectOptions>();
  /** Paths sessions roamed away from: the layers above may still name the peer by them. */
  private readonly movedFrom = new Map<string, number>();
  private readonly transmits: { path: string; bytes: Uint8Array }[] = [];
  private readonly events: EndpointEvent[] = [];
  private identityPayload: Uint8Array;
  private readonly ownHeaderKey: Uint8Array;
  readonly stats: EndpointStats = {
    malformed: 0, unknownIndex: 0, decryptFailed: 0, replayed: 0,
    handshakeRejected: 0, handshakesCompleted: 0, packetsIn: 0, packetsOut: 0, handshakesThrottled: 0,
    handshakesReplayed: 0, roamed: 0,
  };
  private readonly throttle = new RateLimiter({ keysMax: 10_000 });
  private readonly retryMs: number;
  private readonly timeoutMs: number;
  private keepaliveMs: number;
  private readonly idleMs: number;
  private readonly queueBytesMax: number;

  constructor(private readonly cfg: EndpointConfig) {
    this.identityPayload = cfg.identityPayload;
    this.ownHeaderKey = headerKey(cfg.staticKey.publicKey);
    this.retryMs = cfg.handshakeRetryMs ?? 300;
    this.timeoutMs = cfg.handshakeTimeoutMs ?? 5000;
    this.keepaliveMs = cfg.keepaliveMs ?? 15000;
    this.idleMs = cfg.idleTimeoutMs ?? 120000;
    this.queueBytesMax = cfg.queuedBytesMax ?? 2 * 1024 * 1024;
    this.rekeyPolicy = { ...defaultRekeyPolicy, ...cfg.rekey };
    if (!(this.rekeyPolicy.afterMessages >= 1 && this.rekeyPolicy.afterMs > 0)) throw new RangeError('rekey needs afterMessages >= 1 and afterMs > 0');
  }

  // ---- getters ----

  isEstablished(path: string): boolean { return this.sessionFor(path) !== undefined; }
  peerOf(path: string): PeerIdentity | undefined { return this.sessionFor(path)?.peer; }

  /** The session used on a path: its current one, or one that roamed away from it. */
  private sessionFor(path: string): Session | undefined {
    const idx = this.current.get(path) ?? this.movedFrom.get(path);
    return idx === undefined ? undefined : this.sessions.get(idx);
  }
  isConnecting(path: string): boolean {
    for (const h of this.handshakes.values()) if (h.path === path && h.initiator) return true;
    return false;
  }

  // ---- commands ----

  setIdentityPayload(payload: Uint8Array) { this.identityPayload = payload; }

  /** Sets how often sessions opened with keepAlive send a keep-alive (sized to the NAT's binding timeout). */
  setKeepaliveMs(ms: number) { this.keepaliveMs = Math.max(1, ms); }

  /** Starts a handshake on the path unless a session or an outgoing handshake exists. */
  connect(path: string, now: number, opts: ConnectOptions = {}) {
    const prev = this.expected.get(path);
    this.expected.set(path, { remoteStatic: opts.remoteStatic ?? prev?.remoteStatic, keepAlive: opts.keepAlive || prev?.keepAlive });
    if (this.isEstablished(path) || this.isConnecting(path)) return;
    const remoteStatic = opts.remoteStatic ?? prev?.remoteStatic;
    const pattern: NoisePattern = remoteStatic ? 'IK' : 'XX';
    const state = new HandshakeState({
      pattern, initiator: true, prologue, staticKey: this.cfg.staticKey, remoteStatic, random: this.cfg.random,
    });
    // XX's first message travels before any key exists, so it carries only random padding.
    // IK's carries a timestamp, strictly increasing per sender, before the padded proof.
    let payload: Uint8Array;
    if (pattern === 'IK') {
      const padded = padHandshakePayload('init-ik', this.identityPayload, this.cfg.random);
      this.lastInitTimestamp = Math.max(Math.floor(now), this.lastInitTimestamp + 1);
      payload = new Uint8Array(timestampBytes + padded.length);
      new DataView(payload.buffer).setBigUint64(0, BigInt(this.lastInitTimestamp));
      payload.set(padded, timestampBytes);
    } else {
      payload = randomPadding('init-xx', this.cfg.random);
    }
    const msg = state.writeMessage(payload);
    if (!msg.ok) { this.fail(path, `handshake could not start: ${msg.error.message}`); return; }
    const localIndex = this.newIndex();
    const packet = maskHeader(encodeInit(pattern === 'IK' ? PacketType.InitIK : PacketType.InitXX, localIndex, msg.value), headerKey(remoteStatic));
    this.handshakes.set(localIndex, {
      localIndex, path, initiator: true, pattern, state, packet, remoteIndex: 0, attempts: 1,
      nextRetryMs: now + this.retryMs, deadlineMs: now + this.timeoutMs,
    });
    this.transmit(path, packet);
  }

  /** Seals and sends, or queues until the path's handshake completes. Returns false if dropped. */
  send(path: string, payload: Uint8Array, now: number, channel: Channel = Channel.Signaling): boolean {
    const s = this.sessionFor(path);
    if (s) { this.seal(s, payload, now, channel); return true; }
    const q = this.queued.get(path) ?? { payloads: [], bytes: 0 };
    if (q.bytes + payload.length > this.queueBytesMax) return false;
    q.payloads.push({ payload, channel });
    q.bytes += payload.length;
    this.queued.set(path, q);
    this.connect(path, now);
    return true;
  }

  /** Forgets every session and handshake on the path (and the session that roamed from it). */
  close(path: string) {
    const moved = this.movedFrom.get(path);
    this.movedFrom.delete(path);
    const away = moved === undefined ? undefined : this.sessions.get(moved);
    if (away && away.path !== path) this.close(away.path);
    for (const [i, s] of this.sessions) if (s.path === path) { this.sessions.delete(i); this.replies.delete(i); }
    for (const [i, h] of this.handshakes) if (h.path === path) this.handshakes.delete(i);
    this.queued.delete(path);
    this.expected.delete(path);
    if (this.current.delete(path)) this.events.push({ type: 'closed', path });
  }

  // ---- inputs ----

  handleDatagram(path: string, bytes: Uint8Array, now: number) {
    this.stats.packetsIn++;
    // Almost every packet is masked with our own header key; the first messages of XX
    // handshakes with the public one. A wrong key gives a header that matches nothing.
    // Each packet kind has exactly one valid key, so a header unmasked with the other key is
    // refused on its type alone (an XX init, which nothing authenticates, must come public).
    // A packet is counted once: by what consumed it, or else by the most telling refusal.
    let miss: Miss = 'malformed';
    // The hot path first: a data packet under our own key is read in place, without a copy.
    const data = this.consumeDataInPlace(path, bytes, now);
    if (data === true) return;
    for (const keyKind of ['own', 'public'] as const) {
      if (keyKind === 'own' && data !== undefined) { miss = data; continue; }
      const plain = unmaskHeader(bytes, keyKind === 'own' ? this.ownHeaderKey : publicHeaderKey);
      const r = plain ? this.consumePacket(path, plain, keyKind, now) : 'malformed';
      if (r === true) return;
      if (miss === 'malformed') miss = r;
    }
    this.stats[miss]++;
  }

  /** consumePacket for a data packet under our own key; undefined when it is no such packet. */
  private consumeDataInPlace(path: string, bytes: Uint8Array, now: number): true | Miss | undefined {
    const mask = headerMask(bytes, this.ownHeaderKey);
    if (!mask || bytes.length > datagramBytesMax || bytes.length < dataHeaderBytes + tagBytes) return undefined;
    const type = bytes[0] ^ mask[0];
    if (type < PacketType.Data || type > PacketType.Data + 3) return undefined;
    const header = headerScratch;  // only read as associated data, before this returns
    for (let i = 0; i < dataHeaderBytes; i++) header[i] = bytes[i] ^ mask[i];
    const receiver = ((header[1] << 24) | (header[2] << 16) | (header[3] << 8) | header[4]) >>> 0;
    const hi = ((header[5] << 24) | (header[6] << 16) | (header[7] << 8) | header[8]) >>> 0;
    const lo = ((header[9] << 24) | (header[10] << 16) | (header[11] << 8) | header[12]) >>> 0;
    const counter = (BigInt(hi) << 32n) | BigInt(lo);
    const t = type - PacketType.Data;
    return this.consumeData(path, receiver, t >> 1, (t & 1) as 0 | 1, counter, header, bytes.subarray(dataHeaderBytes), now);
  }

  /** True when the packet belonged to something we know (even if it was then refused). */
  private consumePacket(path: string, bytes: Uint8Array, keyKind: 'own' | 'public', now: number): true | Miss {
    const decoded = decodePacket(bytes);
    if (!decoded.ok) return 'malformed';
    const p = decoded.value;
    const own = keyKind === 'own';
    switch (p.type) {
      case PacketType.InitXX:
        return own ? 'malformed' : this.consumeInit(path, 'XX', p.sender, p.noise, now);
      case PacketType.InitIK:
        return own ? this.consumeInit(path, 'IK', p.sender, p.noise, now) : 'malformed';
      case PacketType.Response: {
        // An XX responder does not know our key yet; an IK responder does.
        const h = this.handshakes.get(p.receiver);
        if (h && (h.pattern === 'XX') === own) return 'malformed';
        return this.consumeResponse(path, p.sender, p.receiver, p.noise, now);
      }
      case PacketType.Final:
      case PacketType.Data:
        if (!own) return 'malformed';
        break;
    }
    switch (p.type) {
      case PacketType.Final:
        return this.consumeFinal(path, p.sender, p.receiver, p.noise, now);
      case PacketType.Data:
        return this.consumeData(path, p.receiver, p.channel, p.phase, p.counter, p.header, p.ciphertext, now);
    }
  }

  handleTimeout(now: number) {
    for (const h of [...this.handshakes.values()]) {
      if (now >= h.deadlineMs) {
        this.handshakes.delete(h.localIndex);
        if (h.initiator && !this.current.has(h.path)) this.fail(h.path, 'no answer to the handshake');
        continue;
      }
      // The initiator repeats its last message; an XX responder repeats its reply until the final arrives.
      if (now >= h.nextRetryMs) {
        this.transmit(h.path, h.packet);
        h.attempts++;
        h.nextRetryMs = now + Math.min(this.retryMs * 2 ** (h.attempts - 1), 2000);
      }
    }
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastReceivedMs >= this.idleMs) {
        this.sessions.delete(s.localIndex);
        this.replies.delete(s.localIndex);
        if (this.current.get(s.path) === s.localIndex) {
          this.current.delete(s.path);
          this.events.push({ type: 'closed', path: s.path });
        }
        continue;
      }
      if (this.current.get(s.path) === s.localIndex && this.expected.get(s.path)?.keepAlive &&
          now - s.lastSentMs >= this.keepaliveMs) {
        this.seal(s, keepalivePayload, now);
      }
    }
    for (const [k, a] of this.answered) if (now >= a.expiresMs) this.answered.delete(k);
    for (const [p, idx] of this.movedFrom) if (!this.sessions.has(idx)) this.movedFrom.delete(p);
  }

  // ---- outputs ----

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined { return this.transmits.shift(); }
  pollEvent(): EndpointEvent | undefined { return this.events.shift(); }
  pollTimeout(): number | undefined {
    let next: number | undefined;
    const at = (t: number) => { if (next === undefined || t < next) next = t; };
    for (const h of this.handshakes.values()) { at(h.deadlineMs); if (h.initiator || !h.peer) at(h.nextRetryMs); }
    for (const s of this.sessions.values()) {
      at(s.lastReceivedMs + this.idleMs);
      if (this.expected.get(s.path)?.keepAlive && this.current.get(s.path) === s.localIndex) at(s.lastSentMs + this.keepaliveMs);
    }
    for (const a of this.answered.values()) at(a.expiresMs);
    return next;
  }

  // ---- handshake messages ----

  private consumeInit(path: string, pattern: NoisePattern, sender: number, noise: Uint8Array, now: number): true | Miss {
    const key = `${path}|${sender}`;
    const seen = this.answered.get(key);
    if (seen) {
      const h = this.handshakes.get(seen.localIndex);
      if (h) this.transmit(path, h.packet);
      else {
        const s = this.sessions.get(seen.localIndex);
        const cached = s && this.replies.get(s.localIndex);
        if (cached) this.transmit(path, cached);
      }
      return true;
    }
    // A flood of initiations costs us a Diffie-Hellman each: cap them per source and in all, so
    // peers with sessions keep being served and a single flooder gets only its own small share.
    const source = path.startsWith('udp:') ? path.slice(0, path.lastIndexOf(':')) : path;
    if (this.throttle.take(`src ${source}`, this.cfg.handshakesPerSource ?? { burst: 20, perMinute: 600 }, now) > 0 ||
        this.throttle.take('all', this.cfg.handshakesTotal ?? { burst: 200, perMinute: 6000 }, now) > 0) {
      this.stats.handshakesThrottled++;
      return true;
    }
    const state = new HandshakeState({
      pattern, initiator: false, prologue, staticKey: this.cfg.staticKey, random: this.cfg.random,
    });
    const payload = state.readMessage(noise);
    if (!payload.ok) return 'handshakeRejected';
    let peer: PeerIdentity | undefined;
    if (pattern === 'IK') {
      if (!this.freshInit(state.remoteStatic!, payload.value)) { this.stats.handshakesReplayed++; this.stats.handshakeRejected++; return true; }
      const proof = openHandshakePayload(payload.value.subarray(timestampBytes));
      const v = proof ? this.cfg.verifyPeer(proof, state.remoteStatic!, path, now) : undefined;
      if (!v?.ok) { this.stats.handshakeRejected++; return true; }
      peer = v.value;
    }
    const reply = state.writeMessage(padHandshakePayload(pattern === 'IK' ? 'response-ik' : 'response-xx', this.identityPayload, this.cfg.random));
    if (!reply.ok) { this.stats.handshakeRejected++; return true; }
    const localIndex = this.newIndex();
    // An IK responder knows the initiator's key from its first message; an XX one not yet.
    const packet = maskHeader(encodeReply(PacketType.Response, localIndex, sender, reply.value),
      headerKey(pattern === 'IK' ? state.remoteStatic : undefined));
    this.answered.set(key, { localIndex, expiresMs: now + this.timeoutMs });
    if (pattern === 'IK') {
      this.replies.set(localIndex, packet);
      this.establish(localIndex, sender, path, peer!, state, false, now);
    } else {
      this.handshakes.set(localIndex, {
        localIndex, path, initiator: false, pattern, state, packet, remoteIndex: sender, attempts: 1,
        nextRetryMs: now + this.retryMs, deadlineMs: now + this.timeoutMs,
      });
    }
    this.transmit(path, packet);
    return true;
  }

  /**
   * An IK initiation is believed only if its timestamp is newer than the last one from the same
   * static key: a recorded one replayed later (from anywhere) would otherwise set up a session
   * that no one holds the keys of and displace the real one.
   */
  private freshInit(remoteStatic: Uint8Array, payload: Uint8Array): boolean {
    if (payload.length < timestampBytes) return false;
    const ts = Number(new DataView(payload.buffer, payload.byteOffset, timestampBytes).getBigUint64(0));
    const key = Buffer.from(remoteStatic).toString('base64');
    const last = this.initTimestamps.get(key);
    if (last !== undefined && ts <= last) return false;
    this.initTimestamps.delete(key);
    if (this.initTimestamps.size >= initTimestampsMax) this.initTimestamps.delete(this.initTimestamps.keys().next().value!);
    this.initTimestamps.set(key, ts);
    return true;
  }

  /** IK responders keep their reply for a while, to answer a repeated init whose reply was lost. */
  private readonly replies = new Map<number, Uint8Array>();

  private consumeResponse(path: string, sender: number, receiver: number, noise: Uint8Array, now: number): true | Miss {
    const h = this.handshakes.get(receiver);
    if (!h || !h.initiator || h.path !== path) {
      // Our final was lost and the responder repeats its reply: repeat the final.
      const s = this.sessions.get(receiver);
      const fin = s && s.path === path && s.remoteIndex === sender ? this.replies.get(receiver) : undefined;
      if (fin) { this.transmit(path, fin); s!.finalSentMs = now; return true; }
      return 'unknownIndex';
    }
    const payload = h.state.readMessage(noise);
    if (!payload.ok) return 'handshakeRejected';
    const rs = h.state.remoteStatic!;
    const want = this.expected.get(path)?.remoteStatic;
    if (want && !equalBytes(want, rs)) { this.rejectInitiated(h, 'peer presented an unexpected key'); return true; }
    const proof = openHandshakePayload(payload.value);
    const v = proof ? this.cfg.verifyPeer(proof, rs, path, now) : undefined;
    if (!v?.ok) { this.rejectInitiated(h, `peer identity rejected: ${v ? v.error.message : 'malformed handshake payload'}`); return true; }
    this.handshakes.delete(receiver);
    const unconfirmed = !h.state.isComplete;
    if (unconfirmed) {
      const fin = h.state.writeMessage(padHandshakePayload('final-xx', this.identityPayload, this.cfg.random));
      if (!fin.ok) { this.fail(path, fin.error.message); return true; }
      const packet = maskHeader(encodeReply(PacketType.Final, receiver, sender, fin.value), headerKey(rs));
      this.replies.set(receiver, packet);
      this.transmit(path, packet);
    }
    this.establish(receiver, sender, path, v.value, h.state, true, now, { unconfirmed });
    return true;
  }

  private consumeFinal(path: string, sender: number, receiver: number, noise: Uint8Array, now: number): true | Miss {
    const h = this.handshakes.get(receiver);
    if (!h) {
      // The initiator repeats its final until it hears from us: a keep-alive tells it we have it.
      const s = this.sessions.get(receiver);
      if (s && s.fromFinal && s.path === path && s.remoteIndex === sender) { this.seal(s, keepalivePayload, now); return true; }
      return 'unknownIndex';
    }
    if (h.initiator || h.path !== path || h.remoteIndex !== sender) return 'unknownIndex';
    const payload = h.state.readMessage(noise);
    if (!payload.ok) return 'handshakeRejected';
    const proof = openHandshakePayload(payload.value);
    const v = proof ? this.cfg.verifyPeer(proof, h.state.remoteStatic!, path, now) : undefined;
    if (!v?.ok) { this.stats.handshakeRejected++; this.handshakes.delete(receiver); return true; }
    this.handshakes.delete(receiver);
    this.establish(receiver, sender, path, v.value, h.state, false, now, { fromFinal: true });
    return true;
  }

  private rejectInitiated(h: Handshake, reason: string) {
    this.stats.handshakeRejected++;
    this.handshakes.delete(h.localIndex);
    this.fail(h.path, reason);
  }

  private establish(localIndex: number, remoteIndex: number, path: string, peer: PeerIdentity,
    state: HandshakeState, initiator: boolean, now: number, flags: Partial<Pick<Session, 'unconfirmed' | 'fromFinal'>> = {}) {
    const signaling = state.split(), media = state.splitMedia();
    const s: Session = {
      localIndex, remoteIndex, path, peer, peerHeaderKey: headerKey(peer.staticKey),
      out: [new SendChannel(signaling.send, this.rekeyPolicy, now), new SendChannel(media.send, this.rekeyPolicy, now)],
      in: [new ReceiveChannel(signaling.receive), new ReceiveChannel(media.receive)],
      lastReceivedMs: now, lastSentMs: now, unconfirmed: false, finalSentMs: now, fromFinal: false, ...flags,
    };
    this.sessions.set(localIndex, s);
    this.current.set(path, localIndex);
    this.stats.handshakesCompleted++;
    this.events.push({ type: 'established', path, peer, initiator });
    const q = this.queued.get(path);
    this.queued.delete(path);
    for (const { payload, channel } of q?.payloads ?? []) this.seal(s, payload, now, channel);
  }

  // ---- transport ----

  private seal(s: Session, payload: Uint8Array, now: number, channel = Channel.Signaling) {
    if (s.unconfirmed && now - s.finalSentMs >= this.retryMs) {
      const fin = this.replies.get(s.localIndex);
      if (fin) { this.transmit(s.path, fin); s.finalSentMs = now; }
    }
    const { key, phase, counter } = s.out[channel].next(now);
    // One buffer for the whole packet: header, ciphertext, tag; the header then masked in place.
    // From node's shared pool (every byte is written below): most of a packet's cost is allocation.
    const pooled = Buffer.allocUnsafe(dataHeaderBytes + payload.length + tagBytes);
    const out = new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length);
    writeDataHeader(out, channel, phase, s.remoteIndex, counter);
    key.sealInto(counter, payload, out.subarray(0, dataHeaderBytes), out, dataHeaderBytes);
    s.lastSentMs = now;
    this.transmit(s.path, maskHeader(out, s.peerHeaderKey));
  }

  private consumeData(path: string, receiver: number, channel: Channel, phase: 0 | 1, counter: bigint,
    header: Uint8Array, ciphertext: Uint8Array, now: number): true | Miss {
    const s = this.sessions.get(receiver);
    if (!s) return 'unknownIndex';
    const rx = s.in[channel];
    const newest = counter > rx.newestCounter;
    const plain = rx.open(phase, counter, ciphertext, header);
    if (plain === 'replayed') { this.stats.replayed++; return true; }
    if (!plain.ok) { this.stats.decryptFailed++; return true; }
    s.lastReceivedMs = now;
    // An authenticated packet, newer than any before, from another path: the peer moved. A
    // delayed or replayed copy arriving from an old address does not drag the session back.
    if (s.path !== path && newest) this.roam(s, path);
    this.replies.delete(s.localIndex);
    s.unconfirmed = false;
    if (plain.value.length === 0) return true;  // keep-alive
    this.events.push({ type: 'message', path: s.path, peer: s.peer, payload: plain.value, channel });
    return true;
  }

  private roam(s: Session, path: string) {
    this.stats.roamed++;
    this.movedFrom.delete(path);
    this.movedFrom.set(s.path, s.localIndex);
    if (this.current.get(s.path) === s.localIndex) this.current.delete(s.path);
    s.path = path;
    if (!this.current.has(path)) this.current.set(path, s.localIndex);
  }

  private fail(path: string, reason: string) {
    this.queued.delete(path);
    this.events.push({ type: 'failed', path, reason });
  }

  private transmit(path: string, bytes: Uint8Array) {
    this.stats.packetsOut++;
    this.transmits.push({ path, bytes });
  }

  private newIndex(): number {
    for (;;) {
      const b = this.cfg.random(4);
      const idx = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
      if (idx !== 0 && !this.sessions.has(idx) && !this.handshakes.has(idx)) return idx;
    }
  }
}
