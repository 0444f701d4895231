// Binds the overlay core to a supernode's session layer: overlay messages ride as Rpc
// datagrams inside Noise sessions (opened on demand), a peer's overlay id is the hash of the
// address it listens and talks from, and presence records are checked against the login
// server's key before the core stores or serves them (docs/decisions/0014).
import { toBase64Url } from '../crypto/bytes.ts';
import type { Rpc } from '../session/rpc.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import { encodeMessage, type Message } from '../wire/object-list.ts';
import { Cmd } from '../wire/commands.ts';
import { OverlayCore } from './overlay-core.ts';
import { hash32, mix32 } from './ring.ts';
import { verifyPresence } from './presence.ts';
import { isEntry, verifyEntry, entryMeta } from './entries.ts';
import { checkMailAuth } from './mail-auth.ts';
import type { RandomBytes } from '../crypto/keys.ts';
import { addressOfUdpPath } from '../session/paths.ts';

export const supernodeId = (a: Address): number => hash32(formatAddress(a)) || 1;

export const isOverlayCommand = (c: number) => c >= Cmd.OvJoin && c <= Cmd.OvSlotDigest;

export interface OverlayLinkConfig {
  listen: Address;
  random: RandomBytes;
  loginKey: () => Uint8Array | undefined;
  /** Network constant (docs/overlay.md); 3 — one block, everyone knows everyone — suits small networks. */
  slotBits?: number;
  replicas?: number;
}

export class OverlayLink {
  readonly core: OverlayCore;

  constructor(private readonly rpc: Rpc, cfg: OverlayLinkConfig) {
    const rand = overlayRand(cfg.random(8));
    this.core = new OverlayCore({
      id: supernodeId(cfg.listen), inc: 1, addr: formatAddress(cfg.listen),
      params: { slotBits: cfg.slotBits ?? 3, replicas: cfg.replicas ?? 10 }, rand,
      verifyRecord: (bytes, now) => {
        const key = cfg.loginKey();
        if (key && isEntry(bytes)) { const e = verifyEntry(bytes, key, now); return e.ok ? entryMeta(e.value) : undefined; }
        const v = key ? verifyPresence(bytes, key, now) : undefined;
        return v?.ok ? {
          user: v.value.presence.user, device: toBase64Url(v.value.certificate.deviceKey),
          publishedAtMs: v.value.presence.publishedAtMs, expiresAtMs: v.value.presence.expiresAtMs,
        } : undefined;
      },
      authorizeMail: (op, user, auth, ids, now) => {
        const key = cfg.loginKey();
        return key !== undefined && checkMailAuth(auth, op, user, ids, key, now).ok;
      },
    });
  }

  start(now: number) {
    // A restart is a new incarnation: news of our previous death must not win.
    this.core.members.bumpInc(Math.max(1, Math.floor(now / 1000) % 0x7fffffff));
    this.core.start(now, []);
  }

  /** Introduces us to a supernode we learned of (login server list, PeerHello). */
  join(addr: Address, now: number) {
    const id = supernodeId(addr);
    if (id === this.core.id) return;
    this.core.members.addrs.set(id, formatAddress(addr));
    this.core.join(now, [id]);
    this.flush(now);
  }

  /** An overlay datagram from a session: the sender's id follows from its address. */
  handle(path: string, m: Message, now: number) {
    const addr = addressOfUdpPath(path);
    if (!addr) return;
    const id = supernodeId(addr);
    // Dead ones too: the id is the address's hash, and a member we hold dead may be refuting its death.
    if (!this.core.members.addrs.has(id)) this.core.members.addrs.set(id, formatAddress(addr));
    this.core.handlePeer(id, encodeMessage(m.command, m.body), now);
    this.flush(now);
  }

  handleTimeout(now: number) {
    const t = this.core.pollTimeout();
    if (t !== undefined && now >= t) this.core.handleTimeout(now);
    this.flush(now);
  }

  flush(now: number) {
    for (let s = this.core.pollSend(); s; s = this.core.pollSend()) {
      const addr = this.core.members.addrs.get(s.to);
      if (addr) this.rpc.sendDatagram(`udp:${addr}`, s.bytes, now);
    }
  }
}

/**
 * The overlay's choices (gossip targets, routes, retries) come from their own stream
 * (xoshiro128**), seeded once from the node's random source: how many it draws then never shifts
 * the randomness the session layer draws after it (keys, nonces, padding). They are not secrets.
 */
function overlayRand(seed: Uint8Array): () => number {
  const w = (i: number) => ((seed[i] << 24) | (seed[i + 1] << 16) | (seed[i + 2] << 8) | seed[i + 3]) >>> 0;
  let s0 = w(0), s1 = w(4), s2 = mix32(s0 ^ 0x9e3779b9), s3 = mix32(s1 ^ 0x85ebca6b) || 1;
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  return () => {
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
    s2 ^= t; s3 = rotl(s3, 11);
    return r;
  };
}
