// One hole-punching attempt, sans-IO (docs/reachability.md).
//
// Theory of operation. Both peers learn each other's addresses from the callee's supernode at
// about the same moment and send small probes to every candidate every intervalMs. A probe
// that arrives is answered with an ack to the address it *really* came from, and that address
// becomes a candidate too (peer-reflexive, as ICE learns them): a symmetric NAT shows the peer a
// different port than it showed the supernode. The first ack (or, for the side holding many
// sockets, the first probe) names a working path: we stop probing, keep answering for a
// moment in case the peer has not heard our ack yet, and report the path.
//
// Symmetric NAT facing a cone NAT (birthday paradox): the symmetric side ("open") sends from
// `sockets` extra sockets to the peer, which opens that many random ports on its NAT toward
// the peer; the cone side ("probe") sends probes to random ports of the symmetric side's IP,
// rate-limited and bounded, until one lands on an open mapping. With 256 mappings among ~64k
// ports a probe hits with p ≈ 1/252, so 2048 probes succeed with p > 0.9997.
//
// Packets are 32 bytes: a 16-byte nonce and a 16-byte HMAC of it under the attempt's key, so
// they look random on the wire and nobody without the key can fake a working path.
//
//   inputs:  handlePacket(path, bytes, now) → consumed?, handleTimeout(now), probeRandomPorts(now)
//   outputs: pollTransmit(), pollTimeout(), result (the working path once found), done
import { createHmac } from 'node:crypto';
import type { RandomBytes } from '../crypto/keys.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import { udpPath, socketPath } from '../session/paths.ts';
import { FamilyPreference, familyOf } from './happy-eyeballs.ts';

export type BirthdayRole = 'open' | 'probe' | undefined;

export interface PunchConfig {
  key: Uint8Array;
  /** The peer's addresses as the supernode and its own record tell them. */
  candidates: Address[];
  random: RandomBytes;
  now: number;
  birthday?: BirthdayRole;
  intervalMs?: number;        // default 20
  windowMs?: number;          // default 4000: the whole attempt, success or not
  lingerMs?: number;          // default 1000: keep answering after success
  sockets?: number;           // 'open': extra sockets, default 256
  probesMax?: number;         // 'probe': random ports tried at most, default 3072
  probesPerTick?: number;     // 'probe': per intervalMs, default 20 (1000/s at 20 ms)
  /** Both sides have IPv6: an IPv6 path wins over IPv4 (happy-eyeballs.ts). */
  preferV6?: boolean;
  v6WaitMs?: number;          // default 150: how long an IPv4 path that answered first waits for IPv6
}

export const punchPacketBytes = 32;
const candidatesMax = 16;
const portLow = 1024;
const portHigh = 65535;
const openResendMs = 500;

export class PunchAttempt {
  /** The path that works, once found. */
  result: string | undefined;
  resultAtMs: number | undefined;
  readonly stats = { probesSent: 0, randomProbes: 0, acksSent: 0, probesReceived: 0, acksReceived: 0 };
  private readonly targets = new Map<string, Address>();
  private readonly out: { path: string; bytes: Uint8Array }[] = [];
  private readonly interval: number;
  private readonly endMs: number;
  private readonly linger: number;
  private nextTickMs: number;
  private nextOpenMs: number;
  private birthday: BirthdayRole;
  private readonly triedPorts = new Set<number>();
  private readonly pref: FamilyPreference;
  /** Birthday punching is IPv4's business (IPv6 needs no NAT traversal): the peer's first IPv4 candidate. */
  private readonly peer4: Address | undefined;

  constructor(private readonly cfg: PunchConfig) {
    this.interval = cfg.intervalMs ?? 20;
    this.endMs = cfg.now + (cfg.windowMs ?? 4000);
    this.linger = cfg.lingerMs ?? 1000;
    this.nextTickMs = cfg.now;
    this.nextOpenMs = cfg.now;
    this.birthday = cfg.birthday;
    this.pref = new FamilyPreference({ v6: cfg.preferV6 ?? false, v6WaitMs: cfg.v6WaitMs });
    this.peer4 = cfg.candidates.find((c) => familyOf(c) === 4);
    for (const c of cfg.candidates) this.addTarget(c);
  }

  /** Why the result has its address family ('' when IPv6 was not in play). */
  get familyWhy(): string { return this.pref.chosen?.why ?? ''; }

  /** The peer has an IPv6 candidate we probe. */
  get hasV6(): boolean { return [...this.targets.values()].some((t) => familyOf(t) === 6); }

  get done(): boolean {
    return this.now >= this.endMs || (this.resultAtMs !== undefined && this.now >= this.resultAtMs + this.linger);
  }
  private now = 0;

  /** The peer turned out to be behind a symmetric NAT (and we are not): probe its ports at random. */
  probeRandomPorts(now: number) { if (this.birthday === undefined) this.birthday = 'probe'; this.handleTimeout(now); }

  /** A datagram that may be one of ours; true when it was (and is consumed). */
  handlePacket(path: string, from: Address, bytes: Uint8Array, now: number): boolean {
    this.now = now;
    if (bytes.length !== punchPacketBytes) return false;
    const nonce = bytes.subarray(0, 16), tag = bytes.subarray(16);
    if (equal16(tag, this.tag('probe', nonce))) {
      this.stats.probesReceived++;
      this.addTarget(from);
      this.stats.acksSent++;
      this.out.push({ path, bytes: this.packet('ack') });
      // Many sockets: a probe reaching one of them is the peer's lucky guess; that socket is the path.
      if (this.birthday === 'open' && path !== udpPath(from)) this.found(path, now);
      return true;
    }
    if (equal16(tag, this.tag('ack', nonce))) {
      this.stats.acksReceived++;
      this.found(path, now);
      return true;
    }
    return false;
  }

  handleTimeout(now: number) {
    this.now = now;
    if (this.result === undefined) {
      // The window closing ends the wait for IPv6: an IPv4 path in hand is still a path.
      this.pref.handleTimeout(now >= this.endMs ? Infinity : now);
      if (this.pref.chosen) this.succeed(this.pref.chosen.path, now);
    }
    if (this.result !== undefined || now >= this.endMs) return;
    if (now >= this.nextTickMs) {
      this.nextTickMs = now + this.interval;
      // IPv6 first: its probes leave a moment earlier in every tick.
      for (const t of this.targets.values()) if (familyOf(t) === 6) this.probe(udpPath(t));
      for (const t of this.targets.values()) if (familyOf(t) === 4) this.probe(udpPath(t));
      if (this.birthday === 'probe') this.randomProbes();
    }
    if (this.birthday === 'open' && now >= this.nextOpenMs) {
      // Each socket's packet to the peer opens (and keeps open) one mapping on our NAT.
      this.nextOpenMs = now + openResendMs;
      const peer = this.peer4;
      if (peer) for (let s = 0; s < (this.cfg.sockets ?? 256); s++) this.probe(socketPath(s, peer));
    }
  }

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined { return this.out.shift(); }

  pollTimeout(): number | undefined {
    if (this.result !== undefined) return this.resultAtMs! + this.linger;
    if (this.now >= this.endMs) return undefined;
    const t = this.birthday === 'open' ? Math.min(this.nextTickMs, this.nextOpenMs) : this.nextTickMs;
    return Math.min(t, this.endMs, this.pref.pollTimeout() ?? Infinity);
  }

  private randomProbes() {
    const peer = this.peer4;
    const max = this.cfg.probesMax ?? 3072;
    if (!peer) return;
    for (let i = 0; i < (this.cfg.probesPerTick ?? 20) && this.stats.randomProbes < max; i++) {
      const port = this.randomPort();
      if (port === undefined) return;
      this.stats.randomProbes++;
      this.probe(udpPath({ host: peer.host, port }));
    }
  }

  private randomPort(): number | undefined {
    for (let tries = 0; tries < 64; tries++) {
      const b = this.cfg.random(2);
      const port = portLow + (((b[0] << 8) | b[1]) % (portHigh - portLow + 1));
      if (!this.triedPorts.has(port)) { this.triedPorts.add(port); return port; }
    }
    return undefined;
  }

  /** A path answered: it is the result unless IPv6 may still beat it (happy-eyeballs.ts). */
  private found(path: string, now: number) {
    this.pref.working(path, now);
    if (this.pref.chosen) this.succeed(this.pref.chosen.path, now);
  }

  private succeed(path: string, now: number) {
    if (this.result !== undefined) return;
    this.result = path;
    this.resultAtMs = now;
  }

  private addTarget(a: Address) {
    if (this.targets.size < candidatesMax) this.targets.set(formatAddress(a), a);
  }

  private probe(path: string) {
    this.stats.probesSent++;
    this.out.push({ path, bytes: this.packet('probe') });
  }

  private packet(kind: 'probe' | 'ack'): Uint8Array {
    const nonce = this.cfg.random(16);
    const out = new Uint8Array(punchPacketBytes);
    out.set(nonce, 0);
    out.set(this.tag(kind, nonce), 16);
    return out;
  }

  private tag(kind: 'probe' | 'ack', nonce: Uint8Array): Uint8Array {
    return createHmac('sha256', this.cfg.key).update(kind).update(nonce).digest().subarray(0, 16);
  }
}

function equal16(a: Uint8Array, b: Uint8Array): boolean {
  let d = 0;
  for (let i = 0; i < 16; i++) d |= a[i] ^ b[i];
  return d === 0 && a.length === 16;
}
