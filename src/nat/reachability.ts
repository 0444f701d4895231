// A node's reachability state, sans-IO: what its NAT does (from the supernodes' answers) and
// the hole-punching attempts in flight. The node core feeds it datagrams first (punch packets
// are consumed here, everything else goes on to the sessions) and drains its transmits.
import { earliest } from '../deadline.ts';
import type { RandomBytes } from '../crypto/keys.ts';
import type { Address } from '../wire/address.ts';
import { type Result, ok, err } from '../wire/result.ts';
import type { Message } from '../wire/object-list.ts';
import { addressOfUdpPath, parseSocketPath } from '../session/paths.ts';
import { PunchAttempt, punchPacketBytes, type BirthdayRole } from './punch.ts';
import { classifyNat, type MappingSample, type NatReport } from './classify.ts';
import { PunchNotice, PunchNoticeOk } from './protocol.ts';
import { familyOf } from './happy-eyeballs.ts';

export interface ReachabilityConfig {
  random: RandomBytes;
  local: Address;
  /** How long a plain attempt may take; birthday attempts get birthdayWindowMs. */
  windowMs?: number;            // default 1500
  birthdayWindowMs?: number;    // default 3500
  /** We have a working IPv6 socket (src/nat/ipv6.ts): IPv6 candidates are probed, and preferred. */
  v6Ready?: () => boolean;
}

/** `familyWhy`: why the path has its address family, when IPv6 was in play (happy-eyeballs.ts). */
type OnResult = (path: string | undefined, familyWhy?: string) => void;
interface Entry { attempt: PunchAttempt; onResult: OnResult | undefined; reported: boolean; slowAtMs?: number; onSlow?: () => void }

// Implementation constants.
const attemptsMax = 32;
const samplesMax = 8;

export class Reachability {
  private readonly attempts = new Map<string, Entry>();
  private samples: MappingSample[] = [];

  constructor(private readonly cfg: ReachabilityConfig) {}

  // ---- what our NAT does ----

  addSample(server: Address, observed: Address) {
    this.samples = [...this.samples.filter((s) => !(s.server.host === server.host && s.server.port === server.port)), { server, observed }]
      .slice(-samplesMax);
  }

  report(): NatReport { return classifyNat(this.cfg.local, this.samples); }

  /** The gateway forwards a fixed public port to us (src/nat/port-mapper.ts): peers reach us there. */
  portMapped = false;

  /** Our NAT maps per destination and no port mapping gives peers a fixed port: they must find ours by birthday punching. */
  get symmetric(): boolean { return this.report().needsBirthday && !this.portMapped; }

  // ---- attempts ----

  /** Starts punching towards a peer we are about to call; onResult gets the working path or undefined. */
  startOutgoing(candidates: Address[], now: number, onResult: OnResult, slow?: { afterMs: number; then: () => void }): { key: Uint8Array; birthday: boolean } {
    const key = this.cfg.random(16);
    const birthday = this.symmetric;
    if (this.add(key, candidates, birthday ? 'open' : undefined, now, onResult) && slow) {
      const e = this.attempts.get(hex(key))!;
      e.slowAtMs = now + slow.afterMs;
      e.onSlow = slow.then;
    }
    return { key, birthday };
  }

  /** Punching is taking long: run the slow callback now (the peer is symmetric too, or the caller moves on). */
  hurry(key: Uint8Array) {
    const e = this.attempts.get(hex(key));
    if (e?.onSlow && e.slowAtMs !== undefined) { e.slowAtMs = undefined; e.onSlow(); }
  }

  /** The callee's supernode said the callee is behind a symmetric NAT. */
  peerIsSymmetric(key: Uint8Array, now: number) {
    const e = this.attempts.get(hex(key));
    if (!e) return;
    // Both sides symmetric: random guessing cannot meet (no peer does it); let the relay carry
    // it — unless IPv6 is in play, which needs no guessing.
    if (this.symmetric) return e.attempt.hasV6 ? undefined : this.abandon(key);
    e.attempt.probeRandomPorts(now);
  }

  abandon(key: Uint8Array) {
    const e = this.attempts.get(hex(key));
    if (!e) return;
    this.attempts.delete(hex(key));
    if (!e.reported) { e.reported = true; e.onResult?.(undefined); }
  }

  /** A PunchNotice from our own supernode: punch towards the caller, answer with our NAT's kind. */
  consumeNotice(m: Message, now: number): Result<Uint8Array> {
    const q = PunchNotice.decode(m.body);
    if (!q.ok) return q;
    const mine = this.symmetric;
    const role: BirthdayRole = q.value.birthday && !mine ? 'probe' : !q.value.birthday && mine ? 'open' : undefined;
    if (!this.add(q.value.key, q.value.candidates, role, now, undefined)) return err('busy', 'too many punching attempts');
    return ok(PunchNoticeOk.toBytes({ birthday: mine || undefined }));
  }

  private add(key: Uint8Array, candidates: Address[], birthday: BirthdayRole, now: number, onResult: OnResult | undefined): boolean {
    if (this.attempts.size >= attemptsMax) { onResult?.(undefined); return false; }
    const windowMs = birthday || this.symmetric ? this.cfg.birthdayWindowMs ?? 3500 : this.cfg.windowMs ?? 1500;
    // No IPv6 socket here: the peer's IPv6 candidates cannot be reached from us.
    const v6 = this.cfg.v6Ready?.() ?? false;
    const usable = v6 ? candidates : candidates.filter((c) => familyOf(c) === 4);
    const attempt = new PunchAttempt({ key, candidates: usable, random: this.cfg.random, now, birthday, windowMs, preferV6: v6 && usable.some((c) => familyOf(c) === 6) });
    this.attempts.set(hex(key), { attempt, onResult, reported: false });
    attempt.handleTimeout(now);
    return true;
  }

  // ---- inputs / outputs ----

  /** True when the datagram was a punch packet of one of our attempts. */
  handleDatagram(path: string, bytes: Uint8Array, now: number): boolean {
    if (bytes.length !== punchPacketBytes || this.attempts.size === 0) return false;
    const from = addressOfUdpPath(path) ?? parseSocketPath(path)?.address;
    if (!from) return false;
    for (const e of this.attempts.values()) {
      if (e.attempt.handlePacket(path, from, bytes, now)) { this.report_(e); return true; }
    }
    return false;
  }

  handleTimeout(now: number) {
    for (const [k, e] of this.attempts) {
      e.attempt.handleTimeout(now);
      this.report_(e);
      if (!e.reported && e.slowAtMs !== undefined && now >= e.slowAtMs) { e.slowAtMs = undefined; e.onSlow?.(); }
      if (e.attempt.done) {
        this.attempts.delete(k);
        if (!e.reported) { e.reported = true; e.onResult?.(undefined); }
      }
    }
  }

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined {
    for (const e of this.attempts.values()) {
      const t = e.attempt.pollTransmit();
      if (t) return t;
    }
    return undefined;
  }

  pollTimeout(): number | undefined {
    let t: number | undefined;
    for (const e of this.attempts.values()) t = earliest(t, e.attempt.pollTimeout(), e.reported ? undefined : e.slowAtMs);
    return t;
  }

  private report_(e: Entry) {
    if (e.reported || e.attempt.result === undefined) return;
    e.reported = true;
    e.slowAtMs = undefined;   // a path was found: no reason to hurry to the relay any more
    e.onResult?.(e.attempt.result, e.attempt.familyWhy);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
