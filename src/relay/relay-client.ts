// The node's side of relay channels, sans-IO (docs/relay.md, docs/decisions/0016).
//
// A peer reached through a supernode is the path `relay:SN#TOKEN`. The first packets to it go as
// Relay messages inside our session with the supernode (the slow path, always available); the
// first of them also asks for a channel (RelayBind). Once the supernode has answered, packets to
// that path go as channel datagrams — the end-to-end packet behind an 8-byte masked header —
// and channel datagrams from the supernode come back out as packets from `relay:SN#TOKEN`, so the
// session layer never notices the change. Channels unused for a minute are forgotten here (the
// supernode keeps them for two) and bound again on next use.
//
//   commands: wantsBind(relayPath, now), bound(...), refused(relayPath, now)
//   inputs:   unwrap(fromPath, bytes, now) → { path, inner } | undefined
//   outputs:  wrap(relayPath, inner, now) → { path, bytes } | undefined (undefined: use the slow path)
import { ChannelMask, channelHeaderBytes, channelInnerMin } from './channel-header.ts';

// Implementation constants.
const idleMs = 60_000;
const retryBindMs = 30_000;
const bindingsMax = 1024;

interface Bound { channel: number; check: number; snPath: string; peerPath: string; usedMs: number }
interface AtSupernode { mask: ChannelMask; byChannel: Map<number, Bound> }

export interface RelayClientStats { wrapped: number; unwrapped: number; binds: number; refused: number }

export class RelayClient {
  private readonly byPeer = new Map<string, Bound>();
  private readonly supernodes = new Map<string, AtSupernode>();
  /** Relay paths with a bind in flight or refused lately: path → when to try again. */
  private readonly holdOff = new Map<string, number>();
  readonly stats: RelayClientStats = { wrapped: 0, unwrapped: 0, binds: 0, refused: 0 };

  /** True once per relay path that has no channel yet: the caller then sends RelayBind. */
  wantsBind(peerPath: string, now: number): boolean {
    if (this.byPeer.has(peerPath)) return false;
    const t = this.holdOff.get(peerPath);
    if (t !== undefined && now < t) return false;
    if (this.holdOff.size >= bindingsMax) for (const [p, at] of this.holdOff) if (at <= now) this.holdOff.delete(p);
    if (this.holdOff.size >= bindingsMax) return false;
    this.holdOff.set(peerPath, now + retryBindMs);
    this.stats.binds++;
    return true;
  }

  /** The supernode at `snPath` gave us a channel for `peerPath`. */
  bound(snPath: string, peerPath: string, channel: number, check: number, key: Uint8Array, now: number) {
    this.holdOff.delete(peerPath);
    let sn = this.supernodes.get(snPath);
    // A new key means the supernode restarted or forgot us: channels under the old one are gone.
    if (sn && !equal(sn.mask.key, key)) { for (const b of sn.byChannel.values()) this.byPeer.delete(b.peerPath); sn = undefined; }
    if (!sn) { sn = { mask: new ChannelMask(key), byChannel: new Map() }; this.supernodes.set(snPath, sn); }
    const old = this.byPeer.get(peerPath);
    if (old) this.supernodes.get(old.snPath)?.byChannel.delete(old.channel);
    const b: Bound = { channel, check, snPath, peerPath, usedMs: now };
    sn.byChannel.set(channel, b);
    this.byPeer.set(peerPath, b);
  }

  refused(peerPath: string, now: number) { this.stats.refused++; this.holdOff.set(peerPath, now + retryBindMs); }

  /** A channel datagram for a packet to `peerPath`, or undefined when there is no channel (yet). */
  wrap(peerPath: string, inner: Uint8Array, now: number): { path: string; bytes: Uint8Array } | undefined {
    const b = this.byPeer.get(peerPath);
    if (!b || inner.length < channelInnerMin) return undefined;
    if (now - b.usedMs >= idleMs) { this.drop(b); return undefined; }
    b.usedMs = now;
    this.stats.wrapped++;
    return { path: b.snPath, bytes: this.supernodes.get(b.snPath)!.mask.wrap(b.channel, b.check, inner) };
  }

  /** The end-to-end packet inside a channel datagram from a supernode, and the peer path it is from. */
  unwrap(fromPath: string, bytes: Uint8Array, now: number): { path: string; inner: Uint8Array } | undefined {
    const sn = this.supernodes.get(fromPath);
    if (!sn) return undefined;
    const h = sn.mask.read(bytes);
    const b = h && sn.byChannel.get(h.channel);
    if (!b || b.check !== h!.check) return undefined;
    b.usedMs = now;
    this.stats.unwrapped++;
    return { path: b.peerPath, inner: bytes.subarray(channelHeaderBytes) };
  }

  /** Our session with a supernode ended: its channels went with it. */
  forgetSupernode(snPath: string) {
    const sn = this.supernodes.get(snPath);
    if (!sn) return;
    for (const b of sn.byChannel.values()) this.byPeer.delete(b.peerPath);
    this.supernodes.delete(snPath);
  }

  private drop(b: Bound) {
    this.byPeer.delete(b.peerPath);
    this.supernodes.get(b.snPath)?.byChannel.delete(b.channel);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
