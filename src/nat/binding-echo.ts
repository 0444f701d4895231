// The supernode's half of measuring a NAT's binding timeout, sans-IO: a node asks for an echo
// `delayMs` from now (BindingProbe) on an otherwise idle path; the echo arrives only if the
// node's NAT kept the binding that long (src/nat/binding-timeout.ts). Bounded per path and in
// all, so nobody can make a supernode hold or send much.
//
//   inputs:  consume(path, message, now) → the reply to send at once
//   outputs: due(now) → echoes to send now, pollTimeout()
import type { Message } from '../wire/object-list.ts';
import { OkReply, errorBytes } from '../wire/replies.ts';
import { BindingProbe, BindingEcho } from './protocol.ts';

// Implementation limits.
const delayMaxMs = 300_000;   // longer than any NAT we size keep-alives for
const pendingMax = 4096;

export class BindingEchoes {
  private readonly pending = new Map<string, { atMs: number; nonce: number }>();

  consume(path: string, m: Message, now: number): Uint8Array {
    const q = BindingProbe.decode(m.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    if (q.value.delayMs > delayMaxMs) return errorBytes('bad-request', `delay above ${delayMaxMs} ms`);
    if (!this.pending.has(path) && this.pending.size >= pendingMax) return errorBytes('busy', 'too many binding probes');
    // One echo per path: a newer probe replaces the older one.
    this.pending.set(path, { atMs: now + q.value.delayMs, nonce: q.value.nonce });
    return OkReply.toBytes({});
  }

  due(now: number): { path: string; bytes: Uint8Array }[] {
    const out: { path: string; bytes: Uint8Array }[] = [];
    for (const [path, e] of this.pending) {
      if (now < e.atMs) continue;
      this.pending.delete(path);
      out.push({ path, bytes: BindingEcho.toBytes({ nonce: e.nonce }) });
    }
    return out;
  }

  /** The path closed: nothing to echo to. */
  forget(path: string) { this.pending.delete(path); }

  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const e of this.pending.values()) if (t === undefined || e.atMs < t) t = e.atMs;
    return t;
  }
}
