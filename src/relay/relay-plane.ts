// The supernode's relay data plane, sans-IO (docs/relay.md, docs/decisions/0016).
//
// Theory of operation. A node asks, over its Noise session with this supernode, for a channel
// to the node holding relay token T (RelayBind). The channel belongs to the path that asked — the
// session's authenticated source address — and to the asking user, whose quotas it counts
// against. Both ends of a conversation bind a channel toward each other; the two channels pair
// up, and from then on a packet on one is forwarded on the other: unmask 8 header bytes, check
// the source, charge the user's byte bucket, mask a new header for the receiver, send. The
// end-to-end packet inside is never decrypted (the relay cannot: it is sealed between the two
// users). Until the far end has bound its channel back, packets go to it the old way, as a
// Relayed message inside its session with us (`slow`), so a channel works from its first packet.
//
// A datagram is taken as a channel packet only when it comes from a path that holds channels and
// its header names one of that path's channels with the right check word (64 bits to guess);
// everything else is handed back to the session layer, which drops and counts what it cannot
// read. A packet replayed from any other address is therefore never forwarded.
//
//   commands: bind(path, user, peerToken, now), forget(path), sweep(now)
//   inputs:   handle(path, bytes, now) → consumed?
//   outputs:  pollTransmit(), and `slow(targetPath, fromToken, packet, now)` for unpaired channels
import { ChannelMask, channelHeaderBytes, channelInnerMin } from './channel-header.ts';
import type { RelayTable } from './relay-table.ts';
import { type Result, ok, err } from '../wire/result.ts';

/** Per-user limits, set with `tincan supernode --relay-user-kbps / --relay-user-channels`; 0 is no limit. */
export interface RelayQuotas {
  /** Relayed bytes per second per user (token bucket, one second of burst). */
  userBytesPerSecond: number;
  /** Channels one user may hold at once (about one per relayed conversation). */
  userChannelsMax: number;
}
// 512 kb/s carries several Opus calls (about 60 kb/s each with FEC and headers, both ways
// counted at the sender); 16 channels, several devices' conversations.
export const defaultRelayQuotas: RelayQuotas = { userBytesPerSecond: 64_000, userChannelsMax: 16 };

// Implementation limits.
const channelsMax = 65_536;
const channelIdleMs = 120_000;
const sweepEveryMs = 30_000;

interface Usage { channels: number; bucket: number; refilledMs: number }
interface Holder { path: string; user: string; mask: ChannelMask; channels: Map<number, Channel> }
interface Channel { id: number; check: number; holder: Holder; peerToken: number; peer: Channel | undefined; usedMs: number }

export interface RelayPlaneStats {
  bound: number; forwarded: number; forwardedSlow: number; overQuota: number; refusedBinds: number;
  peerGone: number; expired: number;
}

export class RelayPlane {
  private readonly holders = new Map<string, Holder>();
  private readonly usage = new Map<string, Usage>();
  private readonly ids = new Set<number>();
  private readonly out: { path: string; bytes: Uint8Array }[] = [];
  private nextSweepMs: number | undefined;
  readonly stats: RelayPlaneStats = { bound: 0, forwarded: 0, forwardedSlow: 0, overQuota: 0, refusedBinds: 0, peerGone: 0, expired: 0 };

  constructor(
    private readonly random: (n: number) => Uint8Array,
    private readonly tokens: RelayTable,
    private readonly slow: (targetPath: string, fromToken: number, packet: Uint8Array, now: number) => void,
    private readonly quotas: RelayQuotas = defaultRelayQuotas,
  ) {}

  /** A channel from `path` (speaking for `user`) to the node holding `peerToken`; the same one again when it exists. */
  bind(path: string, user: string, peerToken: number, now: number): Result<{ channel: number; check: number; key: Uint8Array }> {
    let h = this.holders.get(path);
    const existing = h && [...h.channels.values()].find((c) => c.peerToken === peerToken);
    if (h && existing) { existing.usedMs = now; return ok({ channel: existing.id, check: existing.check, key: h.mask.key }); }
    const u = this.usageOf(user, now);
    if ((this.quotas.userChannelsMax > 0 && u.channels >= this.quotas.userChannelsMax) || this.ids.size >= channelsMax) {
      this.stats.refusedBinds++;
      return err('over-quota', `at most ${this.quotas.userChannelsMax} relay channels per user`);
    }
    if (!this.tokens.pathFor(peerToken)) { this.stats.refusedBinds++; return err('not-found', 'no node with that relay token here'); }
    if (!h) { h = { path, user, mask: new ChannelMask(this.random(16)), channels: new Map() }; this.holders.set(path, h); }
    const c: Channel = { id: this.newId(), check: this.u32(), holder: h, peerToken, peer: undefined, usedMs: now };
    h.channels.set(c.id, c);
    u.channels++;
    this.stats.bound++;
    // Pair with the far end's channel back to us, if it has one.
    const ourToken = this.tokens.tokenFor(path);
    const far = this.holders.get(this.tokens.pathFor(peerToken)!);
    const back = far && [...far.channels.values()].find((x) => x.peerToken === ourToken);
    if (back) { c.peer = back; back.peer = c; }
    this.nextSweepMs ??= now + sweepEveryMs;
    return ok({ channel: c.id, check: c.check, key: h.mask.key });
  }

  /** Takes a datagram if it is a packet on one of `path`'s channels (forwarded, or dropped over quota). */
  handle(path: string, bytes: Uint8Array, now: number): boolean {
    const h = this.holders.get(path);
    if (!h) return false;
    const hdr = h.mask.read(bytes);
    const c = hdr && h.channels.get(hdr.channel);
    if (!c || c.check !== hdr!.check) return false;
    c.usedMs = now;
    const inner = bytes.subarray(channelHeaderBytes);
    if (inner.length < channelInnerMin) return true;
    if (!this.charge(h.user, inner.length, now)) { this.stats.overQuota++; return true; }
    const p = c.peer;
    if (p) {
      p.usedMs = now;
      this.out.push({ path: p.holder.path, bytes: p.holder.mask.wrap(p.id, p.check, inner) });
      this.stats.forwarded++;
      return true;
    }
    const target = this.tokens.pathFor(c.peerToken);
    if (!target) { this.stats.peerGone++; return true; }
    this.stats.forwardedSlow++;
    this.slow(target, this.tokens.tokenFor(path), inner, now);
    return true;
  }

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined { return this.out.shift(); }
  pollTimeout(): number | undefined { return this.nextSweepMs; }

  /** The path's session ended: its channels go, and their partners fall back to the slow path. */
  forget(path: string) {
    const h = this.holders.get(path);
    if (!h) return;
    for (const c of h.channels.values()) this.drop(c);
    this.holders.delete(path);
  }

  /** Drops channels idle for two minutes (a node binds again when it needs one). */
  sweep(now: number) {
    if (this.nextSweepMs === undefined || now < this.nextSweepMs) return;
    for (const h of this.holders.values()) {
      for (const c of h.channels.values()) if (now - c.usedMs >= channelIdleMs) { this.drop(c); this.stats.expired++; }
      if (h.channels.size === 0) this.holders.delete(h.path);
    }
    for (const [user, u] of this.usage) if (u.channels === 0 && now - u.refilledMs >= 1000) this.usage.delete(user);
    this.nextSweepMs = this.holders.size ? now + sweepEveryMs : undefined;
  }

  channelCount(): number { return this.ids.size; }

  private drop(c: Channel) {
    c.holder.channels.delete(c.id);
    this.ids.delete(c.id);
    if (c.peer) c.peer.peer = undefined;
    const u = this.usage.get(c.holder.user);
    if (u) u.channels--;
  }

  private usageOf(user: string, now: number): Usage {
    let u = this.usage.get(user);
    if (!u) { u = { channels: 0, bucket: this.quotas.userBytesPerSecond, refilledMs: now }; this.usage.set(user, u); }
    return u;
  }

  private charge(user: string, bytes: number, now: number): boolean {
    const u = this.usageOf(user, now);
    const rate = this.quotas.userBytesPerSecond;
    if (rate === 0) return true;
    if (now > u.refilledMs) { u.bucket = Math.min(rate, u.bucket + ((now - u.refilledMs) * rate) / 1000); u.refilledMs = now; }
    if (u.bucket < bytes) return false;
    u.bucket -= bytes;
    return true;
  }

  private u32(): number { const b = this.random(4); return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0; }

  private newId(): number {
    let id: number;
    do id = this.u32(); while (id === 0 || this.ids.has(id));
    this.ids.add(id);
    return id;
  }
}
