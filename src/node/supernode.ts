// Supernode core, sans-IO: directory share, look-ups, relay, membership among supernodes.
//
// Theory of operation. On start() the supernode announces itself to the login server (which
// hands the list of supernodes to nodes) and says PeerHello to every supernode it knows of;
// each peer answers with the supernodes it knows (the relay's forwarding peers). The directory
// is the overlay (docs/overlay.md): every supernode we hear of is introduced to the overlay core,
// which keeps membership by gossip and routes publishes, look-ups and offline mail to the
// user's slot; its messages ride as datagrams in our sessions (src/overlay/overlay-link.ts).
//
//   inputs:  handleDatagram(path, bytes, now), handleTimeout(now)
//   command: start(now)
//   outputs: pollTransmit(), pollTimeout(), pollLog(), loginKey (learned on first contact)
import { earliest } from '../deadline.ts';
import { Rpc, type RpcEvent } from '../session/rpc.ts';
import type { PeerIdentity } from '../session/endpoint.ts';
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { createIdentityProof, consumeIdentityProof } from '../crypto/identity-proof.ts';
import { equalBytes } from '../crypto/bytes.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import type { Message } from '../wire/object-list.ts';
import { err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { OkReply, errorBytes } from '../wire/replies.ts';
import { udpPath, addressOfUdpPath, addressOfTcpPath } from '../session/paths.ts';
import { HelloOk, Publish, Lookup, LookupOk, PeerHello, Relay, Relayed, RelayBind, RelayBindOk } from '../overlay/protocol.ts';
import { OverlayLink, isOverlayCommand } from '../overlay/overlay-link.ts';
import { ClRequest, ClAnswer, Op, Status } from '../overlay/messages.ts';
import { isEntryName } from '../overlay/entries.ts';
import { SupernodeAnnounce, SupernodeList } from '../login/protocol.ts';
import { verifyPresence } from '../overlay/presence.ts';
import { RelayTable } from '../relay/relay-table.ts';
import { RelayPlane, type RelayQuotas } from '../relay/relay-plane.ts';
import { BindingEchoes } from '../nat/binding-echo.ts';
import { coordinatePunch } from '../nat/coordinator.ts';
import { TcpListeners } from '../login/tcp-listeners.ts';
import { requestReachCheck, probeReach, answerReachPing } from './reach-check.ts';
import type { DatagramCore, LogLine } from './core.ts';

export interface SupernodeConfig {
  /** Sees every message this core sends, before compression (recording corpora, debugging). */
  tap?: (raw: Uint8Array) => void;
  staticKey: KeyPair;
  signingKey: KeyPair;
  random: RandomBytes;
  /** The address other nodes reach us at (what we announce). */
  listen: Address;
  /** Our IPv6 address when we also listen on one (told to nodes in HelloOk). */
  listen6?: Address;
  login: Address;
  /** The login server's pinned Ed25519 key; learned on first contact when absent. */
  loginKey?: Uint8Array;
  bootstrap: Address[];
  announceEveryMs?: number;   // default 60 s
  /** Overlay network constant (docs/overlay.md); default 3. */
  slotBits?: number;
  /** Per-user relay limits (relay/relay-plane.ts). */
  relayQuotas?: RelayQuotas;
  /** Our TCP listeners besides `listen` (e.g. port 443): announced, and told to nodes in HelloOk. */
  tcpListen?: Address[];
}

// Implementation constants.
const peersMax = 256;

export class Supernode implements DatagramCore {
  readonly rpc: Rpc;
  loginKey: Uint8Array | undefined;
  readonly overlay: OverlayLink;
  readonly relay: RelayTable;
  /** Relay channels: forwarding without per-packet Noise (relay/relay-plane.ts). */
  readonly plane: RelayPlane;
  // The session layer's and the directory's next deadline (each a scan), kept while only channel
  // packets arrive: they change neither.
  private coreTimeout: number | undefined;
  private rpcTimeoutStale = true;
  /** Supernodes we have a working PeerHello with: path → their listen address. */
  readonly peers = new Map<string, Address>();
  private readonly joining = new Set<string>();
  private readonly logs: LogLine[] = [];
  private readonly selfPath: string;
  private readonly loginPath: string;
  private nextAnnounceMs: number | undefined;
  private readonly announceEveryMs: number;
  /** Delayed echoes that measure nodes' NAT binding timeouts (src/nat/binding-echo.ts). */
  private readonly echoes = new BindingEchoes();
  /** The login server's network-wide switch, passed to nodes asking about promotion. */
  promotionAllowed = true;
  /** Extra TCP listeners of ours and of the supernodes the login server lists (login/tcp-listeners.ts). */
  readonly tcpListeners = new TcpListeners();
  /** The latest time we were given (timing probes answered later). */
  private clockMs = 0;

  constructor(private readonly cfg: SupernodeConfig) {
    this.loginKey = cfg.loginKey;
    this.selfPath = udpPath(cfg.listen);
    this.loginPath = udpPath(cfg.login);
    this.announceEveryMs = cfg.announceEveryMs ?? 60_000;
    this.relay = new RelayTable(cfg.random);
    this.plane = new RelayPlane(cfg.random, this.relay, (target, from, packet, now) => {
      this.rpcTimeoutStale = true;
      this.rpc.sendDatagram(target, Relayed.toBytes({ packet, from }), now, { compress: false });
    }, cfg.relayQuotas);
    this.rpc = new Rpc({
      staticKey: cfg.staticKey,
      random: cfg.random,
      tap: cfg.tap,
      identityPayload: createIdentityProof('supernode', cfg.signingKey, cfg.staticKey.publicKey),
      verifyPeer: (payload, rs, path, now) => {
        const proof = consumeIdentityProof(payload, rs, this.loginKey, now);
        if (!proof.ok || proof.value.role !== 'login') return proof;
        // Only the server we were told to use may speak as the login server.
        if (path !== this.loginPath) return err('not-login-server', 'login role claimed by another address');
        if (this.loginKey && !equalBytes(this.loginKey, proof.value.signingKey)) {
          this.log('error', 'the login server presented a different key than the pinned one: refusing it');
          return err('login-key-changed', 'login server key does not match the pinned key');
        }
        if (!this.loginKey) {
          this.loginKey = proof.value.signingKey;
          this.log('info', 'learned the login server key on first contact');
        }
        return proof;
      },
    });
    this.tcpListeners.set(cfg.listen, cfg.tcpListen ?? []);
    this.overlay = new OverlayLink(this.rpc, { listen: cfg.listen, random: cfg.random, loginKey: () => this.loginKey, slotBits: cfg.slotBits });
  }

  start(now: number) {
    this.rpcTimeoutStale = true;
    this.overlay.start(now);
    this.announce(now);
    for (const b of this.cfg.bootstrap) this.join(b, now);
    this.drain(now);
  }

  // ---- inputs ----

  handleDatagram(path: string, bytes: Uint8Array, now: number) {
    this.clockMs = now;
    if (this.plane.handle(path, bytes, now)) return;
    this.rpcTimeoutStale = true;
    this.rpc.handleDatagram(path, bytes, now);
    this.drain(now);
  }

  handleTimeout(now: number) {
    this.clockMs = now;
    this.rpcTimeoutStale = true;
    this.rpc.handleTimeout(now);
    this.plane.sweep(now);
    if (this.nextAnnounceMs !== undefined && now >= this.nextAnnounceMs) this.announce(now);
    this.overlay.handleTimeout(now);
    for (const echo of this.echoes.due(now)) this.rpc.sendDatagram(echo.path, echo.bytes, now);
    this.drain(now);
  }

  // ---- outputs ----

  pollTransmit() { return this.plane.pollTransmit() ?? this.rpc.pollTransmit(); }
  pollTimeout(): number | undefined {
    if (this.rpcTimeoutStale) {
      this.coreTimeout = earliest(this.rpc.pollTimeout(), this.overlay.core.pollTimeout(), this.echoes.pollTimeout());
      this.rpcTimeoutStale = false;
    }
    return earliest(this.coreTimeout, this.plane.pollTimeout(), this.nextAnnounceMs);
  }
  pollLog(): LogLine | undefined { return this.logs.shift(); }

  knownSupernodes(): Address[] { return [this.cfg.listen, ...this.peers.values()]; }

  // ---- membership ----

  private announce(now: number) {
    this.nextAnnounceMs = now + this.announceEveryMs;
    this.rpc.request(this.loginPath, SupernodeAnnounce.toBytes({ address: this.cfg.listen, tcp: this.tcpListeners.get(this.cfg.listen).length ? this.tcpListeners.get(this.cfg.listen) : undefined }), now, (r) => {
      if (!r.ok) { this.log('warn', `login server did not answer the announcement: ${r.error.message}`); return; }
      const list = SupernodeList.decode(r.value.message.body);
      if (list.ok) this.promotionAllowed = list.value.promotion !== false;
      if (list.ok) { this.tcpListeners.learn(list.value); this.tcpListeners.set(this.cfg.listen, this.cfg.tcpListen ?? []); }
      if (list.ok) for (const a of list.value.supernodes) this.join(a, now);
    });
  }

  private join(addr: Address, now: number) {
    const path = udpPath(addr);
    if (path === this.selfPath || this.peers.has(path) || this.joining.has(path) || this.peers.size >= peersMax) return;
    this.joining.add(path);
    this.rpc.request(path, PeerHello.toBytes({ listen: this.cfg.listen }), now, (r) => {
      this.joining.delete(path);
      if (!r.ok) return;
      const list = SupernodeList.decode(r.value.message.body);
      if (!list.ok) return;
      this.addPeer(path, addr, now);
      for (const a of list.value.supernodes) this.join(a, now);
    }, { connect: { keepAlive: true } });
  }

  private addPeer(path: string, addr: Address, now: number) {
    if (this.peers.has(path)) return;
    this.peers.set(path, addr);
    this.log('info', `peer supernode ${formatAddress(addr)} joined (${this.peers.size} peers)`);
    this.overlay.join(addr, now);
  }

  // ---- requests ----

  private drain(now: number) {
    for (let e = this.rpc.pollEvent(); e; e = this.rpc.pollEvent()) this.consume(e, now);
  }

  private consume(e: RpcEvent, now: number) {
    switch (e.type) {
      case 'request': this.consumeRequest(e.path, e.id, e.peer, e.message, now); break;
      case 'datagram':
        if (e.message.command === Cmd.Relay) this.consumeRelay(e.path, e.message, now);
        else if (isOverlayCommand(e.message.command)) this.overlay.handle(e.path, e.message, now);
        break;
      case 'closed': this.relay.forget(e.path); this.plane.forget(e.path); this.peers.delete(e.path); this.echoes.forget(e.path); break;
      default: break;
    }
  }

  private consumeRequest(path: string, id: number, peer: PeerIdentity, m: Message, now: number) {
    const reply = (bytes: Uint8Array) => this.rpc.respond(path, id, bytes, now);
    const bad = (message: string) => reply(errorBytes('bad-request', message));
    switch (m.command) {
      case Cmd.Hello: {
        const observed = addressOfUdpPath(path) ?? addressOfTcpPath(path);
        if (!observed) return bad('hello is only answered on direct paths');
        const supernodes = this.knownSupernodes();
        return reply(HelloOk.toBytes({ observed, relayToken: this.relay.tokenFor(path), supernodes, ...this.tcpListeners.lists(supernodes), address6: this.cfg.listen6 }));
      }
      case Cmd.Publish: {
        const p = Publish.decode(m.body);
        if (!p.ok) return bad(p.error.message);
        if (!this.loginKey) return reply(errorBytes('not-ready', 'supernode has not reached the login server yet'));
        const v = verifyPresence(p.value.record, this.loginKey, now);
        if (!v.ok) return reply(errorBytes(v.error.code, v.error.message));
        this.overlay.core.request(Op.Publish, v.value.presence.user, now, (status) => {
          reply(status === Status.Ok ? OkReply.toBytes({}) : errorBytes('not-stored', 'the directory did not take the record'));
        }, p.value.record);
        return this.overlay.flush(now);
      }
      case Cmd.ClRequest: {
        const q = ClRequest.decode(m.body);
        if (!q.ok) return bad(q.error.message);
        const { op, req, user, item, ids } = q.value;
        // Presence goes through Publish and Lookup (checked here first); directory entries (mail keys, profiles) come this way.
        if ((op === Op.Publish || op === Op.Lookup) && !isEntryName(user)) return bad('use Publish and Lookup');
        this.overlay.core.request(op as Op, user, now, (status, hops, items) => {
          reply(ClAnswer.toBytes({ req, status, hops, items: items.length ? items : undefined }));
        }, item, ids);
        return this.overlay.flush(now);
      }
      case Cmd.Lookup: return this.consumeLookup(m, reply, now);
      case Cmd.RelayBind: {
        const q = RelayBind.decode(m.body);
        if (!q.ok) return bad(q.error.message);
        // Quotas count per certified user; a peer without a certificate counts as its own address.
        const b = this.plane.bind(path, peer.user ?? path, q.value.to, now);
        return reply(b.ok ? RelayBindOk.toBytes({ channel: b.value.channel, check: b.value.check, key: b.value.key }) : errorBytes(b.error.code, b.error.message));
      }
      case Cmd.PunchRequest: return coordinatePunch(this.rpc, this.relay, path, m, reply, now);
      case Cmd.BindingProbe: return reply(this.echoes.consume(path, m, now));
      case Cmd.ReachRequest:
        return requestReachCheck(this.rpc, [...this.peers.values()], this.promotionAllowed, path, m, reply, now, (n) => this.cfg.random(1)[0] % n);
      case Cmd.ReachProbe: return probeReach(this.rpc, this.peers.has(path), m, reply, now, () => this.clockMs);
      case Cmd.ReachPing: return answerReachPing(m, reply, this.cfg.random);
      case Cmd.PeerHello: {
        const p = PeerHello.decode(m.body);
        if (!p.ok) return bad(p.error.message);
        reply(SupernodeList.toBytes({ supernodes: this.knownSupernodes() }));
        // The peer is where it says it listens only if that is where it talks from.
        if (udpPath(p.value.listen) === path) this.addPeer(path, p.value.listen, now);
        return;
      }
      default:
        return reply(errorBytes('unknown-command', `supernodes do not answer command ${m.command}`));
    }
  }

  private consumeLookup(m: Message, reply: (b: Uint8Array) => void, now: number) {
    const q = Lookup.decode(m.body);
    if (!q.ok) return reply(errorBytes('bad-request', q.error.message));
    const user = q.value.user;
    this.overlay.core.request(Op.Lookup, user, now, (status, _hops, items) => {
      // Every device the user is online on: calls ring on all of them.
      if (status === Status.Ok && items.length >= 1) return reply(lookupOk(items));
      reply(errorBytes('not-found', `${user} is not online`));
    });
    this.overlay.flush(now);
  }

  private consumeRelay(path: string, m: Message, now: number) {
    const r = Relay.decode(m.body);
    if (!r.ok) return;
    const fromPeer = this.peers.has(path);
    // Quotas are per user, charged at the first supernode; a peer's forwarded traffic is not charged again.
    if (!fromPeer && !this.relay.admit(path, r.value.packet.length, now)) return;
    const hops = r.value.hops ?? [];
    if (hops.length > 0) {
      // Forward along the route, only to supernodes we know: we are nobody's open proxy.
      const next = udpPath(hops[0]);
      if (!this.peers.has(next)) { this.relay.stats.unknownTarget++; return; }
      const origin = fromPeer && r.value.from !== undefined && r.value.via
        ? { from: r.value.from, via: r.value.via }
        : { from: this.relay.tokenFor(path), via: this.cfg.listen };
      this.relay.stats.forwarded++;
      this.rpc.sendDatagram(next, Relay.toBytes({ to: r.value.to, packet: r.value.packet, hops: hops.slice(1), ...origin }), now, { compress: false });
      return;
    }
    const target = this.relay.pathFor(r.value.to);
    if (!target) { this.relay.stats.unknownTarget++; return; }
    this.relay.stats.relayed++;
    const stamp = fromPeer && r.value.from !== undefined && r.value.via
      ? { from: r.value.from, via: r.value.via }
      : { from: this.relay.tokenFor(path) };
    this.rpc.sendDatagram(target, Relayed.toBytes({ packet: r.value.packet, ...stamp }), now, { compress: false });
  }

  private log(level: LogLine['level'], message: string) { this.logs.push({ level, message }); }
}

/** A look-up answer: newest record first, the user's other devices after it. */
function lookupOk(records: Uint8Array[]): Uint8Array {
  const [record, ...others] = records;
  return LookupOk.toBytes({ record, others: others.length ? others.slice(0, 7) : undefined });
}
