// Supernode core, sans-IO: directory share, look-ups, relay, membership among supernodes.
//
// Theory of operation. On start() the supernode announces itself to the login server (which
// hands the list of supernodes to nodes) and says PeerHello to every supernode it knows of;
// each peer answers with the supernodes it knows, so membership spreads until everyone knows
// everyone. The directory is fully replicated in this first version: a publish is verified,
// stored and pushed to every peer (Store); a joining supernode pulls all records (Sync); a
// look-up that misses locally asks the peers once (localOnly) before answering not-found.
// The real overlay (slots, blocks, one-hop routing) replaces this replication scheme later.
//
//   inputs:  handleDatagram(path, bytes, now), handleTimeout(now)
//   command: start(now)
//   outputs: pollTransmit(), pollTimeout(), pollLog(), loginKey (learned on first contact)
import { Rpc, type RpcEvent } from '../session/rpc.ts';
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { createIdentityProof, consumeIdentityProof } from '../crypto/identity-proof.ts';
import { equalBytes } from '../crypto/bytes.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import type { Message } from '../wire/object-list.ts';
import { err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { OkReply, errorBytes } from '../wire/replies.ts';
import { udpPath, addressOfUdpPath, addressOfTcpPath } from '../session/paths.ts';
import { Directory } from '../overlay/directory.ts';
import { HelloOk, Publish, Lookup, LookupOk, PeerHello, Store, Sync, SyncOk, Relay, Relayed } from '../overlay/protocol.ts';
import { SupernodeAnnounce, SupernodeList } from '../login/protocol.ts';
import { RelayTable } from '../relay/relay-table.ts';
import { BindingEchoes } from '../nat/binding-echo.ts';
import { coordinatePunch } from '../nat/coordinator.ts';
import type { DatagramCore, LogLine } from './core.ts';

export interface SupernodeConfig {
  /** Sees every message this core sends, before compression (recording corpora, debugging). */
  tap?: (raw: Uint8Array) => void;
  staticKey: KeyPair;
  signingKey: KeyPair;
  random: RandomBytes;
  /** The address other nodes reach us at (what we announce). */
  listen: Address;
  login: Address;
  /** The login server's pinned Ed25519 key; learned on first contact when absent. */
  loginKey?: Uint8Array;
  bootstrap: Address[];
  announceEveryMs?: number;   // default 60 s
}

// Implementation constants.
const syncRecordsMax = 1024;
const peersMax = 256;

export class Supernode implements DatagramCore {
  readonly rpc: Rpc;
  loginKey: Uint8Array | undefined;
  readonly directory = new Directory();
  readonly relay: RelayTable;
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

  constructor(private readonly cfg: SupernodeConfig) {
    this.loginKey = cfg.loginKey;
    this.selfPath = udpPath(cfg.listen);
    this.loginPath = udpPath(cfg.login);
    this.announceEveryMs = cfg.announceEveryMs ?? 60_000;
    this.relay = new RelayTable(cfg.random);
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
  }

  start(now: number) {
    this.announce(now);
    for (const b of this.cfg.bootstrap) this.join(b, now);
    this.drain(now);
  }

  // ---- inputs ----

  handleDatagram(path: string, bytes: Uint8Array, now: number) {
    this.rpc.handleDatagram(path, bytes, now);
    this.drain(now);
  }

  handleTimeout(now: number) {
    this.rpc.handleTimeout(now);
    if (this.nextAnnounceMs !== undefined && now >= this.nextAnnounceMs) this.announce(now);
    this.directory.sweep(now);
    for (const echo of this.echoes.due(now)) this.rpc.sendDatagram(echo.path, echo.bytes, now);
    this.drain(now);
  }

  // ---- outputs ----

  pollTransmit() { return this.rpc.pollTransmit(); }
  pollTimeout(): number | undefined {
    const t = [this.rpc.pollTimeout(), this.nextAnnounceMs, this.directory.nextExpiryMs(), this.echoes.pollTimeout()].filter((x): x is number => x !== undefined);
    return t.length ? Math.min(...t) : undefined;
  }
  pollLog(): LogLine | undefined { return this.logs.shift(); }

  knownSupernodes(): Address[] { return [this.cfg.listen, ...this.peers.values()]; }

  // ---- membership ----

  private announce(now: number) {
    this.nextAnnounceMs = now + this.announceEveryMs;
    this.rpc.request(this.loginPath, SupernodeAnnounce.toBytes({ address: this.cfg.listen }), now, (r) => {
      if (!r.ok) { this.log('warn', `login server did not answer the announcement: ${r.error.message}`); return; }
      const list = SupernodeList.decode(r.value.message.body);
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
    this.rpc.request(path, Sync.toBytes({}), now, (r) => {
      if (!r.ok || r.value.message.command !== Cmd.SyncOk) return;
      const s = SyncOk.decode(r.value.message.body);
      if (s.ok && this.loginKey) for (const rec of s.value.records) this.directory.put(rec, this.loginKey, now);
    });
  }

  // ---- requests ----

  private drain(now: number) {
    for (let e = this.rpc.pollEvent(); e; e = this.rpc.pollEvent()) this.consume(e, now);
  }

  private consume(e: RpcEvent, now: number) {
    switch (e.type) {
      case 'request': this.consumeRequest(e.path, e.id, e.message, now); break;
      case 'datagram': if (e.message.command === Cmd.Relay) this.consumeRelay(e.path, e.message, now); break;
      case 'closed': this.relay.forget(e.path); this.peers.delete(e.path); this.echoes.forget(e.path); break;
      default: break;
    }
  }

  private consumeRequest(path: string, id: number, m: Message, now: number) {
    const reply = (bytes: Uint8Array) => this.rpc.respond(path, id, bytes, now);
    const bad = (message: string) => reply(errorBytes('bad-request', message));
    switch (m.command) {
      case Cmd.Hello: {
        const observed = addressOfUdpPath(path) ?? addressOfTcpPath(path);
        if (!observed) return bad('hello is only answered on direct paths');
        return reply(HelloOk.toBytes({ observed, relayToken: this.relay.tokenFor(path), supernodes: this.knownSupernodes() }));
      }
      case Cmd.Publish: {
        const p = Publish.decode(m.body);
        if (!p.ok) return bad(p.error.message);
        if (!this.loginKey) return reply(errorBytes('not-ready', 'supernode has not reached the login server yet'));
        const put = this.directory.put(p.value.record, this.loginKey, now);
        if (!put.ok) return reply(errorBytes(put.error.code, put.error.message));
        if (put.value === 'stored') this.replicate([p.value.record], now);
        return reply(OkReply.toBytes({}));
      }
      case Cmd.Lookup: return this.consumeLookup(m, reply, now);
      case Cmd.PunchRequest: return coordinatePunch(this.rpc, this.relay, path, m, reply, now);
      case Cmd.BindingProbe: return reply(this.echoes.consume(path, m, now));
      case Cmd.PeerHello: {
        const p = PeerHello.decode(m.body);
        if (!p.ok) return bad(p.error.message);
        reply(SupernodeList.toBytes({ supernodes: this.knownSupernodes() }));
        // The peer is where it says it listens only if that is where it talks from.
        if (udpPath(p.value.listen) === path) this.addPeer(path, p.value.listen, now);
        return;
      }
      case Cmd.Store: {
        const s = Store.decode(m.body);
        if (!s.ok) return bad(s.error.message);
        if (this.loginKey) for (const rec of s.value.records) this.directory.put(rec, this.loginKey, now);
        return reply(OkReply.toBytes({}));
      }
      case Cmd.Sync:
        return reply(SyncOk.toBytes({ records: this.directory.list(now, syncRecordsMax) }));
      default:
        return reply(errorBytes('unknown-command', `supernodes do not answer command ${m.command}`));
    }
  }

  private consumeLookup(m: Message, reply: (b: Uint8Array) => void, now: number) {
    const q = Lookup.decode(m.body);
    if (!q.ok) return reply(errorBytes('bad-request', q.error.message));
    const user = q.value.user;
    const local = this.directory.getAll(user, now);
    if (local.length) return reply(lookupOk(local.map((r) => r.bytes)));
    const peers = [...this.peers.keys()];
    if (q.value.localOnly || peers.length === 0) return reply(errorBytes('not-found', `${user} is not online`));
    let waiting = peers.length;
    let answered = false;
    for (const p of peers) {
      this.rpc.request(p, Lookup.toBytes({ user, localOnly: true }), now, (r) => {
        waiting--;
        if (answered) return;
        if (r.ok && r.value.message.command === Cmd.LookupOk) {
          const ok = LookupOk.decode(r.value.message.body);
          if (ok.ok && this.loginKey && this.directory.put(ok.value.record, this.loginKey, now).ok) {
            for (const rec of ok.value.others ?? []) this.directory.put(rec, this.loginKey, now);
            answered = true;
            return reply(lookupOk(this.directory.getAll(user, now).map((r) => r.bytes)));
          }
        }
        if (waiting === 0) { answered = true; reply(errorBytes('not-found', `${user} is not online`)); }
      }, { timeoutMs: 2000 });
    }
  }

  private replicate(records: Uint8Array[], now: number) {
    for (const p of this.peers.keys()) this.rpc.request(p, Store.toBytes({ records }), now, () => {});
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
