// Fragmentation: a message up to 1 MiB travels as datagrams that fit the path MTU.
//   fragment = varint(messageId) varint(index) varint(count) chunk      (index < count ≤ fragmentsMax)
// Reassembly is sans-IO and per peer: fragments may arrive in any order, twice, or never;
// memory per peer is bounded (messages in progress and bytes held), and a message that does
// make progress (no new fragment) within its timeout is dropped. The sender's retransmission (the request layer
// resends the whole message under the same id) fills the gaps; fragments already held are
// kept. Fragments arriving after their message completed start it again: that is how a
// repeated request reaches the request layer, which answers it again.
import { type Result, ok, err } from './result.ts';
import { messageBytesMax } from './object-list.ts';

// Specification limits.
export const fragmentsMax = 4096;
export const mtuDefaultBytes = 1200;

export interface FragmentConfig {
  partialsMax?: number;      // messages in reassembly per peer; default 8
  bytesHeldMax?: number;     // bytes held per peer; default 2 MiB
  timeoutMs?: number;        // a message that gains no fragment for this long is dropped; default 10 s
}

export interface Fragment { messageId: number; index: number; count: number; chunk: Uint8Array }

function putVarint(out: number[], n: number) {
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
}

/** Splits a payload into fragments whose encoding is at most chunkBytes + 12 bytes each. */
export function splitMessage(messageId: number, payload: Uint8Array, chunkBytes: number): Uint8Array[] {
  if (payload.length > messageBytesMax + 64) throw new RangeError(`message of ${payload.length} bytes exceeds the limit`);
  const count = Math.max(1, Math.ceil(payload.length / chunkBytes));
  if (count > fragmentsMax) throw new RangeError(`message needs ${count} fragments, more than ${fragmentsMax}`);
  const out: Uint8Array[] = [];
  for (let index = 0; index < count; index++) {
    const head: number[] = [];
    putVarint(head, messageId); putVarint(head, index); putVarint(head, count);
    const chunk = payload.subarray(index * chunkBytes, Math.min(payload.length, (index + 1) * chunkBytes));
    const f = new Uint8Array(head.length + chunk.length);
    f.set(head); f.set(chunk, head.length);
    out.push(f);
  }
  return out;
}

export function decodeFragment(bytes: Uint8Array): Result<Fragment> {
  let at = 0;
  const varint = (): number | undefined => {
    let n = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (at >= bytes.length) return undefined;
      const b = bytes[at++];
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
    }
    return undefined;
  };
  const messageId = varint(), index = varint(), count = varint();
  if (messageId === undefined || index === undefined || count === undefined) return err('truncated', 'fragment header truncated');
  if (count === 0 || count > fragmentsMax || index >= count) return err('bad-fragment', `fragment ${index} of ${count}`);
  return ok({ messageId, index, count, chunk: bytes.slice(at) });
}

interface Partial { count: number; chunks: (Uint8Array | undefined)[]; have: number; bytes: number; deadlineMs: number }

export class Reassembler {
  private readonly partials = new Map<number, Partial>();
  private held = 0;
  readonly stats = { completed: 0, duplicates: 0, malformed: 0, evicted: 0, timedOut: 0, inconsistent: 0 };
  private readonly partialsMax: number;
  private readonly bytesMax: number;
  private readonly timeoutMs: number;

  constructor(cfg: FragmentConfig = {}) {
    this.partialsMax = cfg.partialsMax ?? 8;
    this.bytesMax = cfg.bytesHeldMax ?? 2 * 1024 * 1024;
    this.timeoutMs = cfg.timeoutMs ?? 10_000;
  }

  get bytesHeld() { return this.held; }

  /** Adds one fragment; returns the whole message once its last missing fragment arrives. */
  add(bytes: Uint8Array, now: number): Uint8Array | undefined {
    this.expire(now);
    const d = decodeFragment(bytes);
    if (!d.ok) { this.stats.malformed++; return undefined; }
    const f = d.value;
    let p = this.partials.get(f.messageId);
    if (p && p.count !== f.count) { this.stats.inconsistent++; this.drop(f.messageId); p = undefined; }
    if (!p) {
      if (this.partials.size >= this.partialsMax) this.evictOldest();
      p = { count: f.count, chunks: new Array(f.count), have: 0, bytes: 0, deadlineMs: now + this.timeoutMs };
      this.partials.set(f.messageId, p);
    }
    if (p.chunks[f.index]) { this.stats.duplicates++; return undefined; }
    while (this.held + f.chunk.length > this.bytesMax && this.partials.size > 1) this.evictOldest(f.messageId);
    if (this.held + f.chunk.length > this.bytesMax || p.bytes + f.chunk.length > messageBytesMax + 64) {
      this.stats.evicted++;
      this.drop(f.messageId);
      return undefined;
    }
    p.chunks[f.index] = f.chunk;
    p.deadlineMs = now + this.timeoutMs; // progress keeps a message alive across the sender's resends
    p.have++;
    p.bytes += f.chunk.length;
    this.held += f.chunk.length;
    if (p.have < p.count) return undefined;
    this.drop(f.messageId);
    this.stats.completed++;
    const out = new Uint8Array(p.bytes);
    let at = 0;
    for (const c of p.chunks) { out.set(c!, at); at += c!.length; }
    return out;
  }

  /** The earliest time a partial message expires, for the owner's timer. */
  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const p of this.partials.values()) if (t === undefined || p.deadlineMs < t) t = p.deadlineMs;
    return t;
  }

  expire(now: number) {
    for (const [id, p] of this.partials) if (now >= p.deadlineMs) { this.stats.timedOut++; this.drop(id); }
  }

  private evictOldest(except?: number) {
    for (const id of this.partials.keys()) {
      if (id === except) continue;
      this.stats.evicted++;
      this.drop(id);
      return;
    }
  }

  private drop(id: number) {
    const p = this.partials.get(id);
    if (!p) return;
    this.held -= p.bytes;
    this.partials.delete(id);
  }
}
