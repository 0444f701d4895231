// Requests, responses and plain datagrams over an Endpoint's sessions, sans-IO.
//
// Theory of operation. Each sealed payload starts with a kind byte:
//   0x00 datagram  envelope                (unreliable: media, relay traffic)
//   0x01 request   varint(id) envelope     (retransmitted until answered or timed out)
//   0x02 response  varint(id) envelope
//   0x03 fragment  fragment                (a piece of a payload too big for one datagram)
// An envelope is a wire message (command + object list), raw or compressed (wire/envelope.ts);
// a payload longer than the path MTU allows is split into fragments (wire/fragment.ts) and
// reassembled, per peer and within bounded memory, before it is read. The requester retransmits a request on
// a doubling timer while its session is up; the responder remembers the answer to each
// (path, id) for a while, so a repeated request is answered again instead of handled twice.
// Requests are answered through respond(), possibly later (the handler may be asynchronous):
// while no answer exists, repeats of the request are ignored.
//
//   inputs:   handleDatagram(path, bytes, now), handleTimeout(now)
//   commands: request(…, onReply), respond(path, id, message, now), sendDatagram(path, message, now), connect, close
//   outputs:  pollTransmit(), pollEvent() → request | datagram | established | failed | closed, pollTimeout()
// Reply callbacks run synchronously inside the input or timeout that settles them.
import { Endpoint, type EndpointConfig, type PeerIdentity, type ConnectOptions } from './endpoint.ts';
import { Channel } from './packet.ts';
import { type Message, decodeMessage } from '../wire/object-list.ts';
import { packMessage, unpackMessage } from '../wire/envelope.ts';
import { splitMessage, Reassembler, mtuDefaultBytes } from '../wire/fragment.ts';
import { type Result, ok, err, type DecodeError } from '../wire/result.ts';

export type RpcEvent =
  | { type: 'request'; path: string; peer: PeerIdentity; id: number; message: Message }
  | { type: 'datagram'; path: string; peer: PeerIdentity; message: Message }
  | { type: 'established'; path: string; peer: PeerIdentity; initiator: boolean }
  | { type: 'failed'; path: string; reason: string }
  | { type: 'closed'; path: string };

export interface Reply { path: string; peer: PeerIdentity; message: Message }
export type ReplyHandler = (reply: Result<Reply>) => void;

export interface RequestOptions { timeoutMs?: number; retryMs?: number; connect?: ConnectOptions; compress?: boolean }

export interface RpcConfig extends EndpointConfig {
  /** Largest UDP payload a path carries; payloads that do not fit are fragmented. Default 1200. */
  mtuBytes?: number;
  /** Sees every message sent, before compression. */
  tap?: (raw: Uint8Array) => void;
}

interface Pending {
  id: number; path: string; bytes: Uint8Array; fragmentId: number; onReply: ReplyHandler;
  deadlineMs: number; nextRetryMs: number; retryMs: number;
}

export interface RpcStats { malformed: number; duplicateRequests: number; lateResponses: number; timeouts: number; fragmentsSent: number }

const enum Kind { Datagram = 0, Request = 1, Response = 2, Fragment = 3 }

// Implementation constants.
const answeredKeepMs = 30_000;
const answeredMax = 4096;
const reassemblyPathsMax = 256;
/** Room left in each datagram for the session header, AEAD tag, kind byte and, on a relayed
 * path, the relay wrapping and the outer session around it. */
const perDatagramOverheadBytes = 112;

export class Rpc {
  readonly endpoint: Endpoint;
  private readonly pending = new Map<number, Pending>();
  private readonly answered = new Map<string, { bytes: Uint8Array | undefined; fragmentId: number; expiresMs: number }>();
  private readonly events: RpcEvent[] = [];
  private nextId: number;
  private nextMessageId = 0;
  private readonly reassemblers = new Map<string, Reassembler>();
  private readonly chunkBytes: number;
  readonly stats: RpcStats = { malformed: 0, duplicateRequests: 0, lateResponses: 0, timeouts: 0, fragmentsSent: 0 };

  private readonly tap: ((raw: Uint8Array) => void) | undefined;

  constructor(cfg: RpcConfig) {
    this.endpoint = new Endpoint(cfg);
    this.tap = cfg.tap;
    this.chunkBytes = Math.max(256, (cfg.mtuBytes ?? mtuDefaultBytes) - perDatagramOverheadBytes);
    const b = cfg.random(4);
    this.nextId = ((b[0] << 16) | (b[1] << 8) | b[2]) & 0x3fffff;
  }

  connect(path: string, now: number, opts?: ConnectOptions) { this.endpoint.connect(path, now, opts); this.drainEndpoint(now); }

  close(path: string, now: number) {
    this.endpoint.close(path);
    this.reassemblers.delete(path);
    this.failPath(path, 'closed');
    this.drainEndpoint(now);
  }

  request(path: string, message: Uint8Array, now: number, onReply: ReplyHandler, opts: RequestOptions = {}): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) % 0x7fffffff;
    this.tap?.(message);
    const bytes = frame(Kind.Request, id, packMessage(message, opts.compress ?? true));
    const retryMs = opts.retryMs ?? 400;
    const fragmentId = this.newFragmentId();
    this.pending.set(id, {
      id, path, bytes, fragmentId, onReply, deadlineMs: now + (opts.timeoutMs ?? 6000), nextRetryMs: now + retryMs, retryMs,
    });
    if (opts.connect) this.endpoint.connect(path, now, opts.connect);
    if (!this.sendPayload(path, bytes, now, fragmentId)) {
      this.pending.delete(id);
      onReply(err('queue-full', `too many messages waiting for ${path}`));
    }
    this.drainEndpoint(now);
    return id;
  }

  respond(path: string, id: number, message: Uint8Array, now: number) {
    this.tap?.(message);
    const bytes = frame(Kind.Response, id, packMessage(message));
    const key = `${path}|${id}`;
    const entry = this.answered.get(key);
    const fragmentId = this.newFragmentId();
    if (entry) { entry.bytes = bytes; entry.fragmentId = fragmentId; }
    this.sendPayload(path, bytes, now, fragmentId);
    this.drainEndpoint(now);
  }

  /**
   * Unreliable; `compress: false` for payloads known not to shrink (media). `media: true` seals
   * it under the session's media keys instead of the signaling ones.
   */
  sendDatagram(path: string, message: Uint8Array, now: number, opts: { compress?: boolean; media?: boolean } = {}): boolean {
    this.tap?.(message);
    const env = packMessage(message, opts.compress ?? true);
    const bytes = new Uint8Array(1 + env.length);
    bytes[0] = Kind.Datagram;
    bytes.set(env, 1);
    const sent = opts.media && bytes.length <= this.chunkBytes
      ? this.endpoint.send(path, bytes, now, Channel.Media)
      : this.sendPayload(path, bytes, now);
    this.drainEndpoint(now);
    return sent;
  }

  private newFragmentId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId + 1) % 0x7fffffff;
    return id;
  }

  /**
   * Sends a payload whole, or as fragments when it is too big for one datagram. A resend passes
   * the same fragment id, so the receiver fills its gaps from either copy.
   */
  private sendPayload(path: string, payload: Uint8Array, now: number, fragmentId = this.newFragmentId()): boolean {
    if (payload.length <= this.chunkBytes) return this.endpoint.send(path, payload, now);
    let sent = true;
    for (const f of splitMessage(fragmentId, payload, this.chunkBytes - 16)) {
      const b = new Uint8Array(1 + f.length);
      b[0] = Kind.Fragment;
      b.set(f, 1);
      this.stats.fragmentsSent++;
      sent = this.endpoint.send(path, b, now) && sent;
    }
    return sent;
  }

  handleDatagram(path: string, bytes: Uint8Array, now: number) {
    this.endpoint.handleDatagram(path, bytes, now);
    this.drainEndpoint(now);
  }

  handleTimeout(now: number) {
    this.endpoint.handleTimeout(now);
    for (const p of [...this.pending.values()]) {
      if (now >= p.deadlineMs) {
        this.pending.delete(p.id);
        this.stats.timeouts++;
        p.onReply(err('timeout', `no answer from ${p.path}`));
      } else if (now >= p.nextRetryMs) {
        // Only resend on an established session; before that the endpoint already holds a copy.
        if (this.endpoint.isEstablished(p.path)) this.sendPayload(p.path, p.bytes, now, p.fragmentId);
        p.retryMs = Math.min(p.retryMs * 2, 3000);
        p.nextRetryMs = now + p.retryMs;
      }
    }
    for (const [k, a] of this.answered) if (now >= a.expiresMs) this.answered.delete(k);
    this.drainEndpoint(now);
  }

  pollTransmit() { return this.endpoint.pollTransmit(); }
  pollEvent(): RpcEvent | undefined { return this.events.shift(); }
  pollTimeout(): number | undefined {
    let next = this.endpoint.pollTimeout();
    const at = (t: number) => { if (next === undefined || t < next) next = t; };
    for (const p of this.pending.values()) { at(p.deadlineMs); at(p.nextRetryMs); }
    for (const a of this.answered.values()) at(a.expiresMs);
    return next;
  }

  private drainEndpoint(now: number) {
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
      switch (e.type) {
        case 'message': this.consumePayload(e.path, e.peer, e.payload, now); break;
        case 'failed': this.failPath(e.path, e.reason); this.events.push(e); break;
        default: this.events.push(e);
      }
    }
  }

  private consumePayload(path: string, peer: PeerIdentity, payload: Uint8Array, now: number, whole = false) {
    const kind = payload[0];
    if (kind === Kind.Fragment) {
      if (whole) { this.stats.malformed++; return; } // fragments never nest
      let r = this.reassemblers.get(path);
      if (!r) {
        if (this.reassemblers.size >= reassemblyPathsMax) this.reassemblers.delete(this.reassemblers.keys().next().value!);
        r = new Reassembler();
        this.reassemblers.set(path, r);
      }
      const complete = r.add(payload.subarray(1), now);
      if (complete) this.consumePayload(path, peer, complete, now, true);
      return;
    }
    if (kind === Kind.Datagram) {
      const m = readEnvelope(payload.subarray(1));
      if (!m.ok) { this.stats.malformed++; return; }
      this.events.push({ type: 'datagram', path, peer, message: m.value });
      return;
    }
    const id = readVarint(payload, 1);
    if (!id) { this.stats.malformed++; return; }
    const m = readEnvelope(payload.subarray(id.next));
    if (!m.ok) { this.stats.malformed++; return; }
    if (kind === Kind.Request) {
      const key = `${path}|${id.value}`;
      const seen = this.answered.get(key);
      if (seen) {
        this.stats.duplicateRequests++;
        seen.expiresMs = now + answeredKeepMs; // the peer still wants it: keep the answer
        if (seen.bytes) this.sendPayload(path, seen.bytes, now, seen.fragmentId);
        return;
      }
      if (this.answered.size >= answeredMax) this.answered.delete(this.answered.keys().next().value!);
      this.answered.set(key, { bytes: undefined, fragmentId: 0, expiresMs: now + answeredKeepMs });
      this.events.push({ type: 'request', path, peer, id: id.value, message: m.value });
    } else if (kind === Kind.Response) {
      const p = this.pending.get(id.value);
      if (!p || p.path !== path) { this.stats.lateResponses++; return; }
      this.pending.delete(id.value);
      p.onReply(ok({ path, peer, message: m.value }));
    } else {
      this.stats.malformed++;
    }
  }

  private failPath(path: string, reason: string) {
    for (const p of [...this.pending.values()]) {
      if (p.path !== path) continue;
      this.pending.delete(p.id);
      p.onReply(err('unreachable', reason));
    }
  }
}

function readEnvelope(bytes: Uint8Array): Result<Message> {
  const raw = unpackMessage(bytes);
  return raw.ok ? decodeMessage(raw.value) : raw;
}

function frame(kind: Kind, id: number, message: Uint8Array): Uint8Array {
  const head: number[] = [kind];
  let n = id;
  while (n >= 0x80) { head.push((n & 0x7f) | 0x80); n >>>= 7; }
  head.push(n);
  const out = new Uint8Array(head.length + message.length);
  out.set(head); out.set(message, head.length);
  return out;
}

function readVarint(b: Uint8Array, at: number): { value: number; next: number } | undefined {
  let v = 0;
  for (let i = 0; i < 5 && at + i < b.length; i++) {
    const x = b[at + i];
    v += (x & 0x7f) * 2 ** (7 * i);
    if (x < 0x80) return { value: v, next: at + i + 1 };
  }
  return undefined;
}

export type { DecodeError, PeerIdentity };
