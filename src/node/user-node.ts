// The ordinary node's core, sans-IO: a user's own daemon minus its sockets, files and clock.
//
// Theory of operation.
//  1. login: a request to the login server inside a Noise session to its pinned key returns a
//     certificate for our device key and a list of supernodes.
//  2. attach: Hello to the best supernode of the host cache (supernode-link.ts, docs/host-cache.md) tells
//     us our public address and our relay token there; we then publish a presence record
//     signed by our device key, and re-publish it at half its lifetime.
//  3. reaching a user: look the user up (verifying the record ourselves: supernodes are not
//     trusted), try a direct session to the addresses in the record for a short while, and
//     fall back to a session through the user's supernode relay. Either way the session is
//     Noise IK to the static key in the signed record, end to end.
//  4. chat and calls ride on that session (chat: request + acknowledgement as the receipt;
//     calls: calls/call-manager.ts).
//
//   inputs:   handleDatagram(path, bytes, now), handleTimeout(now)
//   commands: register, login, restore, renew, changePassword, deleteAccount, devices, lookup, chat,
//             call, answer, reject, hangup, pushAudio
// The certificate is renewed by itself at 3/4 of its lifetime (login/client.ts), and the
// presence record re-signed with the new one.
//   outputs:  pollTransmit(), pollTimeout(), pollEvent()
// Relay paths never reach the driver: pollTransmit wraps their packets into Relay datagrams
// to the supernode, so a driver only ever sees udp: paths.
import { earliest } from '../deadline.ts';
import { Rpc, type RpcEvent, type PeerIdentity } from '../session/rpc.ts';
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { createIdentityProof, consumeIdentityProof } from '../crypto/identity-proof.ts';
import { verifyCertificate } from '../crypto/certificate.ts';
import { equalBytes, toBase64Url } from '../crypto/bytes.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import type { Message } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { describeFailure, errorBytes, OkReply } from '../wire/replies.ts';
import { udpPath, relayPath, parseRelayPath, addressOfUdpPath, forwardPath, parseForwardPath, isDriverPath, tcpPath, addressOfTcpPath, isRelayedPath, socketPath, parseSocketPath } from '../session/paths.ts';
import { Reachability } from '../nat/reachability.ts';
import { PunchRequest, PunchOk } from '../nat/protocol.ts';
import { describeRoute } from '../nat/route.ts';
import { PunchRetry } from '../nat/retry.ts';
import { BindingTimeoutProbe } from '../nat/binding-timeout.ts';
import { PortMapper, type MappingProtocol } from '../nat/port-mapper.ts';
import type { HttpReply, UpnpRequest } from '../nat/upnp-igd.ts';
import { Ipv6Status, withIpv6Last } from '../nat/ipv6.ts';
import { familyOf, familyOfPath, familyReason } from '../nat/happy-eyeballs.ts';
import { BindingProbe, BindingEcho } from '../nat/protocol.ts';
import { normaliseUserName } from '../login/names.ts';
import { LoginRoute } from '../login/login-route.ts';
import { loginClient, renewAtMs, renewRetryMs, finalRenewalErrors, type DeviceInfo, type Grant } from '../login/client.ts';
import { Hello, HelloOk, Publish, Lookup, LookupOk, Relay, Relayed, RelayBind, RelayBindOk } from '../overlay/protocol.ts';
import { RelayClient } from '../relay/relay-client.ts';
import { RelaySet } from '../relay/relay-set.ts';
import { chooseRelay, type RelayOption } from '../relay/relay-choice.ts';
import { signPresence, verifyPresence, type Presence } from '../overlay/presence.ts';
import { Chat, ChatAck } from '../chat/protocol.ts';
import { ClRequest, ClAnswer, type Op } from '../overlay/messages.ts';
import { Mailbox, isReceipt, type OverlayAnswer } from './mailbox.ts';
import { WhitePages, type ProfileFields, type SearchResult } from './white-pages.ts';
import { ReachRequest, ReachOk, answerReachPing } from './reach-check.ts';
import type { ReachVerdict } from './promotion.ts';
import { CallManager, type CallEvent } from '../calls/call-manager.ts';
import { ConferenceManager, type ConferenceEvent } from '../calls/conference-manager.ts';
import type { Capacity } from '../media/conference.ts';
import type { NodeStatus, ChatMessage, LookupResult, CallInfo } from './types.ts';
import type { LogLine } from './core.ts';
import { HostCache } from './host-cache.ts';
import { SupernodeLink, type Attachment } from './supernode-link.ts';

export interface UserNodeConfig {
  /** Sees every message this core sends, before compression (recording corpora, debugging). */
  tap?: (raw: Uint8Array) => void;
  staticKey: KeyPair;
  signingKey: KeyPair;
  random: RandomBytes;
  deviceId: string;
  login: Address;
  loginKey?: Uint8Array;
  bootstrap: Address[];
  /** Our own UDP address, offered to peers as a direct candidate. */
  listen: Address;
  /** Our IPv6 socket's global address, when we have one (src/nat/ipv6.ts). */
  listen6?: Address;
  directAllowed: boolean;
  autoAnswer: boolean;
  presenceTtlMs?: number;     // default 5 min
  directAttemptMs?: number;   // how long a direct path may take before we use a relay; default 1500
  punchGraceMs?: number;      // how long punching runs before the call starts on the relay meanwhile; default 250
  /** Supernodes known from earlier runs (the runtime restores it from the data directory). */
  hostCache?: HostCache;
  /** How often the attached supernode is probed, and how long it may take to answer (supernode-link.ts). */
  probeMs?: number;
  probeTimeoutMs?: number;
  /** This node's capacity for hosting conferences, measured by the runtime (it changes: a function). */
  capacity?: () => Capacity;
  /** Idle times to test the NAT's binding with (src/nat/binding-timeout.ts); default 5 s … 80 s. */
  bindingLadderMs?: number[];
  /** The default gateway, asked for a port mapping (src/nat/port-mapper.ts); none: not tried. */
  gateway?: Address;
  /** Port-mapping protocols to try at the gateway; default PCP, NAT-PMP and UPnP-IGD. */
  portMapping?: MappingProtocol[];
  /** Our LAN address, named in PCP and UPnP-IGD requests when `listen` is every address (0.0.0.0). */
  portMappingHost?: string;
}

export type UserNodeEvent =
  | { type: 'log'; line: LogLine }
  | { type: 'login-key'; key: Uint8Array }
  | { type: 'status' }
  | { type: 'chat'; message: ChatMessage }
  | { type: 'receipt'; id: string; peer: string; deliveredAtMs: number }
  | CallEvent
  | ConferenceEvent;


type PathCallback = (r: Result<string>) => void;
interface PathWaiter { deadlineMs: number | undefined; callbacks: PathCallback[]; user: string; fallback: ((cbs: PathCallback[]) => void) | undefined }

export class UserNode {
  readonly rpc: Rpc;
  readonly calls: CallManager;
  /** NAT behaviour and hole punching (src/nat). */
  readonly nat: Reachability;
  /** Our IPv6: the socket's address, and whether a supernode answered over it. */
  readonly ipv6: Ipv6Status;
  readonly conferences: ConferenceManager;
  /** Relay channels: relayed packets without a second Noise layer (src/relay/relay-client.ts). */
  readonly relayChannels = new RelayClient();
  /** Relay tokens held at the lowest-RTT supernodes besides our own, and our RTTs to them (relay/relay-set.ts). */
  readonly relaySet: RelaySet;
  /** Which relay reaches each user, and why (relay/relay-choice.ts). */
  private readonly relayReasons = new Map<string, string>();
  /** The last record published carried our RTT to our own supernode (else publish again once it is measured). */
  private primaryRttPublished = false;
  private loginKey: Uint8Array | undefined;
  private user: string | undefined;
  private certificate: Uint8Array | undefined;
  private certificateExpiresAtMs: number | undefined;
  /** The attachment to a supernode, kept alive and moved on failure; owns the host cache. */
  readonly link: SupernodeLink;
  /** Offline mail: our mail key in the directory, sealed mail out, our mailbox collected (mailbox.ts). */
  readonly mailbox: Mailbox;
  /** The user's white-pages profile and search (white-pages.ts). */
  readonly whitePages: WhitePages;
  private get attachment(): Attachment | undefined { return this.link.attachment; }
  private nextPublishMs: number | undefined;
  private nextRenewMs: number | undefined;
  private renewing = false;
  /** Established end-to-end sessions by user. */
  private readonly userPaths = new Map<string, string>();
  /** Established end-to-end sessions by peer device (base64url device key). */
  private readonly devicePaths = new Map<string, string>();
  /** The records of devices found by the last look-ups (for calls), by device. */
  private readonly knownDevices = new Map<string, Presence>();
  /** The latest direct session with each peer device, by its static key (base64url), so relayed calls can move onto it. */
  private readonly directPaths = new Map<string, string>();
  /** Why we reach each user the way we do (reported with calls). */
  private readonly routeReasons = new Map<string, string>();
  /** Calls that stayed relayed punch again later (src/nat/retry.ts): what to punch towards, by user. */
  private readonly retry = new PunchRetry();
  private readonly retryTargets = new Map<string, { candidates: Address[]; supernode: Address; token: number; staticKey: Uint8Array; firstMs: number }>();
  /** Measures the NAT's binding timeout on a socket of its own (extra socket bindingSocket), to size keep-alives. */
  private readonly binding: BindingTimeoutProbe;
  private bindingPath: string | undefined;
  private keepaliveMs: number | undefined;
  private readonly portMapper: PortMapper | undefined;
  private mappedKey = '';
  /** Path attempts in progress: path → waiter. */
  private readonly waiting = new Map<string, PathWaiter>();
  private readonly events: UserNodeEvent[] = [];
  private now = 0;
  /** UDP, else TCP, else TCP port 443 to the login server (login/login-route.ts). */
  readonly loginRoute: LoginRoute;
  private readonly ttlMs: number;
  private readonly directMs: number;
  private readonly punchGraceMs: number;

  constructor(private readonly cfg: UserNodeConfig) {
    this.loginKey = cfg.loginKey;
    this.loginRoute = new LoginRoute({
      login: cfg.login,
      connect: (p, now) => this.rpc.connect(p, now), close: (p, now) => this.rpc.close(p, now), isUp: (p) => this.rpc.endpoint.isEstablished(p),
    });
    this.ttlMs = cfg.presenceTtlMs ?? 5 * 60_000;
    this.directMs = cfg.directAttemptMs ?? 1500;
    this.punchGraceMs = cfg.punchGraceMs ?? 250;
    this.ipv6 = new Ipv6Status(cfg.listen6);
    this.nat = new Reachability({ random: cfg.random, local: cfg.listen, v6Ready: () => this.ipv6.ready });
    const hosts = cfg.hostCache ?? new HostCache();
    hosts.learn(cfg.bootstrap, 0);
    this.link = new SupernodeLink({
      rpc: { request: (...a) => this.rpc.request(...a), close: (...a) => this.rpc.close(...a) }, isUp: (p) => this.rpc.endpoint.isEstablished(p),
      hosts, now: () => this.now, log: (level, message) => this.log(level, message),
      attached: (a, now) => { this.sampleNat(a); this.holdRelays(a, now); this.publish(now, () => {}); },
      detached: (now, lost) => { this.relaySet.setPrimary(undefined, now); this.closePathsVia(lost.address, now); this.events.push({ type: 'status' }); },
      probeMs: cfg.probeMs, probeTimeoutMs: cfg.probeTimeoutMs,
    });
    this.relaySet = new RelaySet({
      request: (...a) => this.rpc.request(...a), isUp: (p) => this.rpc.endpoint.isEstablished(p), now: () => this.now,
      ranked: (now) => hosts.ranked(now), rttOf: (a) => hosts.get(a)?.rttMs,
      measured: (a, rtt, now) => hosts.success(a, rtt, now), failed: (a, now) => hosts.failure(a, now),
    });
    this.binding = new BindingTimeoutProbe({ random: cfg.random, ladderMs: cfg.bindingLadderMs });
    const lanHost = isUnspecified(cfg.listen) ? cfg.portMappingHost : cfg.listen.host;
    this.portMapper = cfg.gateway && lanHost && cfg.portMapping?.length !== 0
      ? new PortMapper({ gateway: cfg.gateway, internalHost: lanHost, internalPort: cfg.listen.port, random: cfg.random, protocols: cfg.portMapping }) : undefined;
    this.rpc = new Rpc({
      staticKey: cfg.staticKey,
      random: cfg.random,
      tap: cfg.tap,
      identityPayload: this.proof(),
      verifyPeer: (payload, rs, path, now) => {
        const p = consumeIdentityProof(payload, rs, this.loginKey, now);
        if (!p.ok) return p;
        if (p.value.role === 'login') {
          if (!this.loginRoute.isLoginPath(path)) return err('not-login-server', 'login role claimed by another address');
          if (this.loginKey && !equalBytes(this.loginKey, p.value.signingKey)) {
            this.log('error', `LOGIN SERVER KEY CHANGED: ${formatAddress(cfg.login)} shows ${toBase64Url(p.value.signingKey)}, pinned ${toBase64Url(this.loginKey)}; refusing to talk to it`);
            return err('login-key-changed', 'login server key does not match the pinned key');
          }
          if (!this.loginKey) {
            this.loginKey = p.value.signingKey;
            this.events.push({ type: 'login-key', key: p.value.signingKey });
            this.log('warn', `pinned the login server key on first contact: ${toBase64Url(p.value.signingKey)}`);
          }
        }
        // Another user's node must show a certificate; supernodes need not.
        if (p.value.role === 'node' && !p.value.user) return err('no-certificate', 'peer node has no valid certificate');
        return p;
      },
    });
    this.mailbox = new Mailbox({
      random: cfg.random, signing: cfg.signingKey, staticKey: cfg.staticKey, now: () => this.now,
      me: () => (this.user && this.certificate ? { user: this.user, certificate: this.certificate } : undefined),
      loginKey: () => this.loginKey,
      overlay: (op, name, item, ids, cb) => this.overlayRequest(op, name, item, ids, cb),
      toUser: (user, bytes, cb) => this.connectToUser(user, this.now, (p) => p.ok ? this.rpc.request(p.value, bytes, this.now, (r) => cb(r.ok ? ok(r.value.message) : r)) : cb(p)),
      deliver: (message) => this.events.push({ type: 'chat', message }),
      receipt: (id, peer, deliveredAtMs) => this.events.push({ type: 'receipt', id, peer, deliveredAtMs }),
      log: (level, message) => this.log(level, message),
    });
    this.whitePages = new WhitePages({
      signing: cfg.signingKey, now: () => this.now, loginKey: () => this.loginKey,
      me: () => (this.user && this.certificate ? { user: this.user, certificate: this.certificate } : undefined),
      overlay: (op, name, item, ids, cb) => this.overlayRequest(op, name, item, ids, cb),
      log: (level, message) => this.log(level, message),
    });
    this.calls = new CallManager({
      now: () => this.now,
      findDevices: (user, now, cb) => this.findDevices(user, now, cb),
      connectToDevice: (user, device, now, cb) => this.connectToDevice(user, device, now, cb),
      request: (path, bytes, now, cb) => { this.rpc.request(path, bytes, now, cb); },
      // The call manager's only datagrams are media frames: they travel under the media keys.
      sendDatagram: (path, bytes, now, opts) => { this.rpc.sendDatagram(path, bytes, now, { ...opts, media: true }); },
      random: cfg.random,
    }, { autoAnswer: cfg.autoAnswer });
    this.conferences = new ConferenceManager({
      now: () => this.now,
      self: () => this.user,
      capacity: cfg.capacity ?? (() => ({ cpuFramesPerMs: 0, uplinkKbps: 0 })),
      connectToUser: (user, now, cb) => this.connectToUser(user, now, cb),
      request: (path, bytes, now, cb) => { this.rpc.request(path, bytes, now, cb); },
      sendDatagram: (path, bytes, now) => { this.rpc.sendDatagram(path, bytes, now, { compress: false, media: true }); },
      random: cfg.random,
    }, { autoAnswer: cfg.autoAnswer });
  }

  // ---- getters ----

  status(): NodeStatus {
    return {
      user: this.user,
      loggedIn: this.user !== undefined && this.certificate !== undefined,
      certificateExpiresAtMs: this.certificateExpiresAtMs,
      supernode: this.attachment && formatAddress(this.attachment.address),
      hostCacheSize: this.link.hosts.size,
      publicAddress: this.attachment && formatAddress(this.attachment.observed),
      listen: formatAddress(this.cfg.listen),
      loginServer: formatAddress(this.cfg.login),
      loginServerKey: this.loginKey && toBase64Url(this.loginKey),
      directAllowed: this.cfg.directAllowed,
      calls: this.callList(),
      callSignalsDropped: this.calls.signalsDropped,
      nat: { ...this.nat.report(), binding: this.attachment && !this.overTcp ? this.binding.result() : undefined, portMapping: this.portMapper?.result(), ipv6: this.ipv6.report() },
      transport: this.attachment ? (this.overTcp ? 'tcp' : 'udp') : undefined,
    };
  }

  certificateBytes(): Uint8Array | undefined { return this.certificate; }

  /** Calls with their route in words and the reason for it. */
  callList(): CallInfo[] {
    return this.calls.list().map((c) => ({
      ...c, route: describeRoute(c.via, this.overTcp),
      routeReason: withRelayReason(this.routeReasons.get(c.peer) ?? (c.direction === 'in' ? 'the caller reached us on this path' : undefined),
        c.direction === 'out' && c.via?.startsWith('relay:') ? this.relayReasons.get(c.peer) : undefined),
    }));
  }

  // ---- commands ----

  register(user: string, password: string, now: number, cb: (r: Result<void>) => void, invite?: string) {
    this.now = now;
    this.viaLogin(now, cb, (path) => loginClient.register(this.rpc, path, { user, password, deviceId: this.cfg.deviceId, invite }, this.now, cb));
    this.drain(now);
  }

  login(user: string, password: string, now: number, cb: (r: Result<NodeStatus>) => void) {
    this.now = now;
    this.viaLogin(now, cb, (path) => loginClient.login(this.rpc, path, { user, password, deviceId: this.cfg.deviceId }, this.now, (r) => {
      if (!r.ok) return cb(r);
      const accepted = this.restore(r.value.certificate, this.now);
      if (!accepted.ok) return cb(accepted);
      this.link.hosts.learn(r.value.supernodes, this.now);
      this.link.hosts.learnTcp(r.value);
      // The login server answered only over TCP: UDP is blocked here, do not wait for it again
      // (and if only its port 443 answered, try the supernodes' advertised listeners first).
      const via = this.loginRoute.preferredPath;
      if (via?.startsWith('tcp:') && !this.attachment) this.link.preferTcp(via !== tcpPath(this.cfg.login));
      this.attach(this.now, (a) => cb(a.ok ? ok(this.status()) : a));
    }));
    this.drain(now);
  }

  /** Adopts a certificate (after login, or kept from an earlier run); it must verify. */
  restore(certificate: Uint8Array, now: number): Result<string> {
    if (!this.loginKey) return err('no-login-key', 'the login server key is not known yet');
    const c = verifyCertificate(certificate, this.loginKey, now);
    if (!c.ok) return c;
    if (!equalBytes(c.value.deviceKey, this.cfg.signingKey.publicKey)) return err('certificate-mismatch', 'certificate is for another device key');
    this.user = c.value.user;
    this.certificate = certificate;
    this.certificateExpiresAtMs = c.value.expiresAtMs;
    this.nextRenewMs = renewAtMs(c.value);
    this.rpc.endpoint.setIdentityPayload(this.proof());
    this.events.push({ type: 'status' });
    return ok(c.value.user);
  }

  /** Forgets the certificate and stops publishing; the last record expires on its own. */
  logout(now: number) {
    this.now = now;
    this.user = undefined;
    this.certificate = undefined;
    this.certificateExpiresAtMs = undefined;
    this.nextPublishMs = undefined;
    this.nextRenewMs = undefined;
    this.rpc.endpoint.setIdentityPayload(this.proof());
    this.events.push({ type: 'status' });
  }

  /**
   * Asks for a fresh certificate for this device (no password needed). On success the node
   * adopts it and re-publishes its presence; a refusal (device removed, password changed)
   * stops further attempts, and the current certificate runs out.
   */
  renew(now: number, cb: (r: Result<void>) => void = () => {}) {
    this.now = now;
    const cert = this.certificate;
    if (!cert) return cb(err('not-logged-in', 'log in first'));
    if (this.renewing) return cb(err('renewal-in-progress', 'a renewal is already under way'));
    this.renewing = true;
    this.nextRenewMs = undefined;
    const renewed = (r: Result<Grant>) => {
      this.renewing = false;
      if (this.certificate !== cert) return cb(err('superseded', 'logged in or out meanwhile'));
      if (!r.ok) {
        if (finalRenewalErrors.has(r.error.code)) {
          this.log('error', `certificate renewal refused: ${r.error.message}`);
        } else if (this.certificateExpiresAtMs !== undefined && this.now + renewRetryMs < this.certificateExpiresAtMs) {
          this.nextRenewMs = this.now + renewRetryMs;
          this.log('warn', `certificate renewal failed (${r.error.message}); retrying in ${renewRetryMs / 1000} s`);
        }
        return cb(r);
      }
      const accepted = this.restore(r.value.certificate, this.now);
      if (!accepted.ok) return cb(accepted);
      this.log('info', `certificate renewed until ${new Date(this.certificateExpiresAtMs!).toISOString()}`);
      if (this.attachment) this.publish(this.now, cb); else cb(ok(undefined));
    };
    this.viaLogin(now, renewed, (path) => loginClient.renew(this.rpc, path, cert, this.now, renewed));
    this.drain(now);
  }

  /** Other devices of the account must log in again afterwards; this one keeps renewing. */
  changePassword(password: string, newPassword: string, now: number, cb: (r: Result<void>) => void, user = this.user) {
    this.now = now;
    if (!user) return cb(err('not-logged-in', 'log in first, or name the user'));
    this.viaLogin(now, cb, (path) => loginClient.changePassword(this.rpc, path, { user, password, newPassword }, this.now, cb));
    this.drain(now);
  }

  /** Deletes the account on the login server, then logs this node out. */
  deleteAccount(password: string, now: number, cb: (r: Result<void>) => void, user = this.user) {
    this.now = now;
    if (!user) return cb(err('not-logged-in', 'log in first, or name the user'));
    this.viaLogin(now, cb, (path) => loginClient.deleteAccount(this.rpc, path, { user, password }, this.now, (r) => {
      if (r.ok && user === this.user) this.logout(this.now);
      cb(r);
    }));
    this.drain(now);
  }

  /** The account's devices, after removing `remove` if given. */
  devices(password: string, remove: string | undefined, now: number, cb: (r: Result<DeviceInfo[]>) => void, user = this.user) {
    this.now = now;
    if (!user) return cb(err('not-logged-in', 'log in first, or name the user'));
    this.viaLogin(now, cb, (path) => loginClient.devices(this.rpc, path, { user, password, remove }, this.now, cb));
    this.drain(now);
  }

  /** Runs a login-server request once a session to it is up, over whichever transport got through. */
  private viaLogin<T>(now: number, cb: (r: Result<T>) => void, send: (path: string) => void) {
    this.loginRoute.open(now, (p) => p.ok ? send(p.value) : cb(p));
  }

  /** Attaches to a supernode and publishes presence (needs a certificate); stays attached from then on. */
  attach(now: number, cb: (r: Result<void>) => void = () => {}) {
    this.now = now;
    if (this.portMapper?.idle) this.portMapper.start(now);
    this.link.attach(now, (a) => {
      if (!a.ok) return cb(a);
      this.sampleNat(a.value);
      this.holdRelays(a.value, this.now);
      this.publish(this.now, cb);
    });
    this.drain(now);
  }

  lookup(rawUser: string, now: number, cb: (r: Result<LookupResult & { presence: Presence }>) => void) {
    this.now = now;
    const name = normaliseUserName(rawUser);
    if (!name.ok) return cb(name);
    this.lookupDevices(name.value, now, (r) => {
      if (!r.ok) return cb(r);
      const p = r.value[0].presence;
      cb(ok({
        user: p.user, online: true, addresses: (p.addresses ?? []).map(formatAddress),
        supernode: p.supernode && formatAddress(p.supernode), publishedAtMs: p.publishedAtMs, expiresAtMs: p.expiresAtMs,
        presence: p,
      }));
    });
    this.drain(now);
  }

  /** Every online device of the user, newest record first, each record verified here. */
  private lookupDevices(user: string, now: number, cb: (r: Result<{ device: string; presence: Presence }[]>) => void, retry = true) {
    const a = this.attachment;
    // Between supernodes (failover under way): wait for the next one rather than fail.
    if (!a && this.certificate && retry) return this.attach(now, (l) => l.ok ? this.lookupDevices(user, this.now, cb, false) : cb(l));
    if (!a) return cb(err('not-attached', 'not connected to a supernode; log in first'));
    if (!this.loginKey) return cb(err('no-login-key', 'the login server key is not known yet'));
    this.rpc.request(a.path, Lookup.toBytes({ user }), now, (r) => {
      if (!r.ok && retry && this.attachment === a) {
        this.link.lost(this.now, r.error.message, now);
        return this.attach(this.now, (l) => l.ok ? this.lookupDevices(user, this.now, cb, false) : cb(l));
      }
      if (!r.ok) return cb(err('supernode-unreachable', r.error.message));
      if (r.value.message.command !== Cmd.LookupOk) { const f = describeFailure(r.value.message); return cb(err(f.code, f.message)); }
      const q = LookupOk.decode(r.value.message.body);
      if (!q.ok) return cb(err('bad-reply', q.error.message));
      const v = verifyPresence(q.value.record, this.loginKey!, this.now);
      if (!v.ok) return cb(err('forged-record', `the supernode returned a record that does not verify: ${v.error.message}`));
      const p = v.value.presence;
      // A supernode could answer with another user's (valid) record: check it is the one asked for.
      if (p.user !== user) return cb(err('forged-record', `asked for ${user}, got a record for ${p.user}`));
      const devices = new Map([[toBase64Url(v.value.certificate.deviceKey), p]]);
      // Other devices' records are checked the same way; one that fails is left out, not fatal.
      for (const bytes of q.value.others ?? []) {
        const o = verifyPresence(bytes, this.loginKey!, this.now);
        if (o.ok && o.value.presence.user === user) {
          const d = toBase64Url(o.value.certificate.deviceKey);
          if (!devices.has(d)) devices.set(d, o.value.presence);
        }
      }
      cb(ok([...devices].map(([device, presence]) => ({ device, presence }))));
    });
  }

  private findDevices(user: string, now: number, cb: (r: Result<string[]>) => void) {
    this.lookupDevices(user, now, (r) => {
      if (!r.ok) return cb(r);
      if (this.knownDevices.size > knownDevicesMax) this.knownDevices.clear();
      for (const d of r.value) this.knownDevices.set(d.device, d.presence);
      // Never ring ourselves (another device of ours would be a different device key).
      cb(ok(r.value.map((d) => d.device).filter((d) => d !== this.deviceId)));
    });
  }

  private connectToDevice(user: string, device: string, now: number, cb: PathCallback) {
    const known = this.devicePaths.get(device);
    if (known && this.rpc.endpoint.isEstablished(known)) return cb(ok(known));
    const p = this.knownDevices.get(device);
    if (!p || p.user !== user) return cb(err('unknown-device', `no record for that device of ${user}`));
    this.connectToPresence(p, now, cb);
  }

  private get deviceId(): string { return toBase64Url(this.cfg.signingKey.publicKey); }

  chat(rawUser: string, text: string, now: number, cb: (r: Result<ChatMessage>) => void) {
    this.now = now;
    const name = normaliseUserName(rawUser);
    if (!name.ok) return cb(name);
    const user = name.value;
    const msg: ChatMessage = {
      id: Buffer.from(this.cfg.random(12)).toString('hex'), peer: user, direction: 'out', text, sentAtMs: now, deliveredAtMs: undefined,
    };
    // Not reachable now: the message waits, sealed, in the user's offline mailbox.
    const offline = (why: Result<never>) => {
      if (why.ok || !offlineCodes.has(why.error.code)) return cb(why);
      this.log('info', `${user} cannot be reached (${why.error.message}); leaving the message in their offline mailbox`);
      this.mailbox.send(user, msg, (r) => cb(r.ok ? r : err(r.error.code, `${why.error.message}; ${r.error.message}`)));
    };
    this.connectToUser(user, now, (p) => {
      if (!p.ok) return offline(p);
      this.rpc.request(p.value, Chat.toBytes({ id: msg.id, text, sentAtMs: now }), this.now, (r) => {
        // If the message did arrive and only the acknowledgement was lost, the reader drops the mailed copy (same id).
        if (!r.ok) return offline(err('not-delivered', `message not delivered: ${r.error.message}`));
        if (r.value.message.command !== Cmd.ChatAck) { const f = describeFailure(r.value.message); return cb(err(f.code, f.message)); }
        msg.deliveredAtMs = this.now;
        this.events.push({ type: 'receipt', id: msg.id, peer: user, deliveredAtMs: this.now });
        cb(ok(msg));
      });
    });
    this.drain(now);
  }

  /** Sets the user's white-pages profile and files it in the directory (docs/overlay.md, "White pages"). */
  setProfile(p: ProfileFields, now: number, cb: (r: Result<ProfileFields>) => void) {
    this.now = now;
    this.whitePages.setProfile(p, cb);
    this.drain(now);
  }

  /** Finds users by exact user name or by words of their display names. */
  search(query: string, now: number, cb: (r: Result<SearchResult[]>) => void) {
    this.now = now;
    if (!this.attachment) return cb(err('not-attached', 'not connected to a supernode; log in first'));
    this.whitePages.search(query, cb);
    this.drain(now);
  }

  /** Asks our supernode to have another supernode reach us (at `port` on our public address) unsolicited (promotion). */
  checkReach(port: number | undefined, now: number, cb: (r: Result<ReachVerdict>) => void) {
    this.now = now;
    const a = this.attachment;
    if (!a || !a.path.startsWith('udp:')) return cb(err('not-attached', 'not attached to a supernode over UDP'));
    this.rpc.request(a.path, ReachRequest.toBytes({ port }), now, (r) => {
      if (!r.ok) return cb(err('supernode-unreachable', r.error.message));
      if (r.value.message.command !== Cmd.ReachOk) { const f = describeFailure(r.value.message); return cb(err(f.code, f.message)); }
      const q = ReachOk.decode(r.value.message.body);
      if (!q.ok) return cb(err('bad-reply', q.error.message));
      cb(ok({ reachable: q.value.reachable, bitsPerSecond: q.value.bitsPerSecond, promotion: q.value.promotion, by: q.value.by && formatAddress(q.value.by) }));
    }, { timeoutMs: 12_000 });
    this.drain(now);
  }

  call(rawUser: string, now: number, cb: (r: Result<CallInfo>) => void): string | undefined {
    this.now = now;
    const name = normaliseUserName(rawUser);
    if (!name.ok) { cb(name); return undefined; }
    const id = this.calls.call(name.value, now, cb);
    this.drain(now);
    return id;
  }

  /** Runs a conference command (create, invite, join, leave, pushAudio) as one mutation. */
  withConferences<T>(now: number, fn: (c: ConferenceManager) => T): T {
    this.now = now;
    const out = fn(this.conferences);
    this.drain(now);
    return out;
  }

  /** Runs a call command (answer, reject, hangup, pushAudio) as one mutation. */
  withCalls<T>(now: number, fn: (calls: CallManager) => T): T {
    this.now = now;
    const out = fn(this.calls);
    this.drain(now);
    return out;
  }

  // ---- inputs ----

  handleDatagram(path: string, bytes: Uint8Array, now: number) {
    this.now = now;
    if (this.portMapper?.handleDatagram(path, bytes, now)) { this.portMapped(now); return this.drain(now); }
    if (path === this.attachment?.path) this.link.heard(now);
    const relayed = this.relayChannels.unwrap(path, bytes, now);
    if (relayed) this.rpc.handleDatagram(relayed.path, relayed.inner, now);
    else if (!this.nat.handleDatagram(path, bytes, now)) this.rpc.handleDatagram(path, bytes, now);
    this.drain(now);
  }

  handleTimeout(now: number) {
    this.now = now;
    this.rpc.handleTimeout(now);
    this.nat.handleTimeout(now);
    for (const [path, w] of [...this.waiting]) {
      if (w.deadlineMs !== undefined && now >= w.deadlineMs && w.fallback) {
        // The direct attempt took too long: give it up and go through the relay.
        this.waiting.delete(path);
        this.rpc.close(path, now);
        this.log('info', `no answer from ${w.user} on ${path} within ${this.directMs} ms; trying the next path`);
        w.fallback(w.callbacks);
      }
    }
    for (const user of this.retry.due(now)) this.punchAgain(user);
    this.binding.handleTimeout(now);
    this.pumpBinding();
    if (this.portMapper) { this.portMapper.handleTimeout(now); this.portMapped(now); }
    this.loginRoute.handleTimeout(now);
    this.relaySet.handleTimeout(now);
    if (this.nextPublishMs !== undefined && now >= this.nextPublishMs) this.publish(now, () => {});
    if (this.nextRenewMs !== undefined && now >= this.nextRenewMs) this.renew(now);
    this.link.handleTimeout(now);
    this.calls.handleTimeout(now);
    this.conferences.handleTimeout(now);
    this.drain(now);
  }

  // ---- outputs ----

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined {
    const punch = this.nat.pollTransmit() ?? this.portMapper?.pollTransmit();
    if (punch) return punch;
    for (let t = this.rpc.pollTransmit(); t; t = this.rpc.pollTransmit()) {
      if (isDriverPath(t.path)) return t;
      const r = parseRelayPath(t.path);
      if (r) {
        const channel = this.relayChannels.wrap(t.path, t.bytes, this.now);
        if (channel) return channel;
        if (this.relayChannels.wantsBind(t.path, this.now)) this.bindChannel(this.supernodePath(r.supernode), t.path, r.token);
      }
      if (r) this.rpc.sendDatagram(this.supernodePath(r.supernode), Relay.toBytes({ to: r.token, packet: t.bytes }), this.now, { compress: false });
      const f = parseForwardPath(t.path);
      if (f) this.rpc.sendDatagram(this.supernodePath(f.first), Relay.toBytes({ to: f.token, packet: t.bytes, hops: [f.second] }), this.now, { compress: false });
    }
    return undefined;
  }

  /** Asks the supernode for a relay channel to `peerPath`; meanwhile packets take the slow path. */
  private bindChannel(snPath: string, peerPath: string, token: number) {
    this.rpc.request(snPath, RelayBind.toBytes({ to: token }), this.now, (r) => {
      const b = r.ok && r.value.message.command === Cmd.RelayBindOk ? RelayBindOk.decode(r.value.message.body) : undefined;
      if (b?.ok) this.relayChannels.bound(snPath, peerPath, b.value.channel, b.value.check, b.value.key, this.now);
      else this.relayChannels.refused(peerPath, this.now);
    });
  }

  pollTimeout(): number | undefined {
    return earliest(this.rpc.pollTimeout(), this.nextPublishMs, this.nextRenewMs, this.calls.pollTimeout(), this.conferences.pollTimeout(), this.nat.pollTimeout(), this.link.pollTimeout(),
      this.retry.pollTimeout(), this.binding.pollTimeout(), this.loginRoute.pollTimeout(), this.relaySet.pollTimeout(), this.portMapper?.pollTimeout(),
      ...[...this.waiting.values()].map((w) => w.deadlineMs));
  }

  pollEvent(): UserNodeEvent | undefined { return this.events.shift(); }

  // ---- presence ----

  private publish(now: number, cb: (r: Result<void>) => void) {
    const a = this.attachment;
    if (!a || !this.user || !this.certificate) { this.nextPublishMs = undefined; return cb(err('not-logged-in', 'log in first')); }
    this.nextPublishMs = now + this.ttlMs / 2;
    const addresses = this.cfg.directAllowed && !this.overTcp ? withIpv6Last(mergeAddresses([a.observed, ...this.mappedAddress()], isUnspecified(this.cfg.listen) ? [] : [this.cfg.listen]), this.ipv6.ready ? this.ipv6.observed : undefined) : [];
    const relays = [{ supernode: a.address, token: a.relayToken, rttMs: this.overTcp ? undefined : this.link.hosts.get(a.address)?.rttMs }, ...this.relaySet.held()];
    this.primaryRttPublished = relays[0].rttMs !== undefined;
    const record = signPresence({
      user: this.user, certificate: this.certificate, staticKey: this.cfg.staticKey.publicKey, addresses,
      supernode: a.address, relayToken: a.relayToken, publishedAtMs: now, expiresAtMs: now + this.ttlMs,
      ...(relays.length > 1 ? {
        relays: relays.map((r) => r.supernode), relayTokens: relays.map((r) => r.token),
        relayRttMs: relays.map((r) => r.rttMs === undefined ? noRtt : Math.min(noRtt - 1, Math.round(r.rttMs))),
      } : {}),
    }, this.cfg.signingKey.privateKey);
    this.rpc.request(a.path, Publish.toBytes({ record }), now, (r) => {
      if (!r.ok) {
        this.log('warn', `supernode ${formatAddress(a.address)} did not take our presence: ${r.error.message}`);
        if (this.attachment === a) this.link.lost(this.now, r.error.message, now);
        return this.attach(this.now, cb);
      }
      if (r.value.message.command !== Cmd.Ok) { const f = describeFailure(r.value.message); return cb(err(f.code, f.message)); }
      this.events.push({ type: 'status' });
      // Wire timestamps are whole milliseconds; a simulated clock with jitter need not be.
      this.mailbox.onPublished(Math.floor(this.now));
      this.whitePages.onPublished(Math.floor(this.now));
      cb(ok(undefined));
    });
  }

  /** A directory or mailbox request to the overlay through our supernode. */
  private overlayRequest(op: Op, name: string, item: Uint8Array | undefined, ids: string[] | undefined, cb: (r: Result<OverlayAnswer>) => void) {
    const a = this.attachment;
    if (!a) return cb(err('not-attached', 'not connected to a supernode; log in first'));
    this.rpc.request(a.path, ClRequest.toBytes({ op, req: 0, user: name, item, ids }), this.now, (r) => {
      if (!r.ok) return cb(err('supernode-unreachable', r.error.message));
      if (r.value.message.command !== Cmd.ClAnswer) { const f = describeFailure(r.value.message); return cb(err(f.code, f.message)); }
      const q = ClAnswer.decode(r.value.message.body);
      cb(q.ok ? ok({ status: q.value.status, items: q.value.items ?? [] }) : err('bad-reply', q.error.message));
    });
  }

  // ---- reaching users ----

  private connectToUser(user: string, now: number, cb: PathCallback) {
    const known = this.userPaths.get(user);
    if (known && this.rpc.endpoint.isEstablished(known)) return cb(ok(known));
    this.lookup(user, now, (l) => l.ok ? this.connectToPresence(l.value.presence, this.now, cb) : cb(l));
  }

  /** Opens a session to the device a record describes: punched direct path, else its relay, else forwarding. */
  private connectToPresence(p: Presence, now: number, cb: PathCallback) {
    this.now = now;
    const user = p.user;
    const choice = chooseRelay(this.relayOptions(p), (a) => this.rttTo(a));
    if (choice) this.relayReasons.set(user, choice.reason);
    const relay = choice ? relayPath(choice.supernode, choice.token) : undefined;
    // Last resort: forward through our own supernode to theirs (we may not reach theirs at all).
    const own = this.attachment?.address;
    const forward = own && p.supernode && p.relayToken !== undefined && formatAddress(own) !== formatAddress(p.supernode)
      ? forwardPath(own, p.supernode, p.relayToken) : undefined;
    const viaForward = (cbs: PathCallback[]) => forward ? this.open(forward, user, p.staticKey, undefined, cbs)
      : cbs.forEach((c) => c(err('unreachable', `${user} cannot be reached`)));
    const viaRelay = (cbs: PathCallback[]) => relay ? this.open(relay, user, p.staticKey, forward ? viaForward : undefined, cbs)
      : viaForward(cbs);
    const direct = this.cfg.directAllowed && !this.overTcp ? (p.addresses ?? []).filter((a) => udpPath(a) !== udpPath(this.cfg.listen)) : [];
    if (direct.length === 0) {
      this.routeReasons.set(user, this.overTcp ? (this.link.tcpMode === 'listener'
        ? `only TCP to the supernodes' advertised listeners gets out here (attached over ${this.attachment!.path}), so relayed`
        : 'UDP is blocked here: attached to supernodes over TCP, so relayed')
        : !this.cfg.directAllowed ? 'direct paths are off here (--no-direct)'
        : `${user} publishes no direct address (UDP blocked there, or direct paths off)`);
      return viaRelay([cb]);
    }
    if (p.supernode && p.relayToken !== undefined && this.attachment) {
      return this.punch(user, direct, p.supernode, p.relayToken, p.staticKey, viaRelay, cb);
    }
    this.open(udpPath(direct[0]), user, p.staticKey, viaRelay, [cb]);
  }

  /**
   * Punches towards the user through its supernode (src/nat), then opens the session on the path
   * that worked; the relay when none did.
   */
  private punch(user: string, candidates: Address[], supernode: Address, token: number, staticKey: Uint8Array,
    viaRelay: (cbs: PathCallback[]) => void, cb: PathCallback, retry = 0) {
    const a = this.attachment!;
    const own = withIpv6Last(mergeAddresses([a.observed, ...this.mappedAddress()], isUnspecified(this.cfg.listen) ? [] : [this.cfg.listen]), this.ipv6.ready ? this.ipv6.observed : undefined);
    const peerV6 = candidates.some((c) => familyOf(c) === 6);
    const started = this.now;
    let peerSymmetric = false;
    let relayed = retry > 0;   // a retry runs while the call is already on the relay
    let answered = false;
    const done: PathCallback = (r) => {
      if (answered) return;
      answered = true;
      const direct = this.directPaths.get(toBase64Url(staticKey));
      cb(r.ok && isRelayedPath(r.value) && direct && this.rpc.endpoint.isEstablished(direct) ? ok(direct) : r);
    };
    // Whatever answers first carries the call: when punching is slow (birthday punching takes
    // hundreds of ms) the call starts on the relay and moves to the direct path once it works.
    const startRelay = (why: string) => {
      if (relayed || answered) return;
      relayed = true;
      this.routeReasons.set(user, why);
      viaRelay([done]);
    };
    const { key, birthday } = this.nat.startOutgoing(candidates, this.now, (path, familyWhy) => {
      if (!path) {
        const v6 = this.ipv6.ready && peerV6;
        const why = birthday && peerSymmetric && !v6 ? 'both NATs are symmetric (endpoint-dependent mapping): no punching method meets'
          : `hole punching found no path within its window${birthday || peerSymmetric ? ' (birthday punching included)' : ''}${v6 ? ' (IPv6 included)' : ''}`;
        this.log('info', `hole punching to ${user}${retry ? ` (retry ${retry})` : ''}: ${why}; using the relay`);
        // Unless nothing can meet (both symmetric, no IPv6), punch again while the call stays relayed.
        if (!(birthday && peerSymmetric) || v6) {
          const first = this.retryTargets.get(user)?.firstMs ?? started;
          this.retryTargets.set(user, { candidates, supernode, token, staticKey, firstMs: first });
          this.retry.schedule(user, this.now);
        }
        if (relayed) { this.routeReasons.set(user, `${why}${retry ? ` (${retry + 1} attempts)` : ''}; stayed on the relay`); return; }
        return startRelay(`${why}; relayed`);
      }
      const ms = this.now - started;
      // Our symmetric NAT reached a peer's fixed port (a port mapping, a cone) from our own socket: no birthday.
      const family = familyReason(familyOfPath(path), this.ipv6.ready, peerV6, familyWhy);
      const how = (family ? ` (${family})` : '') + (familyOfPath(path) === 4 && (parseSocketPath(path) || peerSymmetric) ? ' (birthday punching: a symmetric NAT on the way)' : '');
      const firstMs = this.retryTargets.get(user)?.firstMs;
      this.retry.cancel(user);
      this.retryTargets.delete(user);
      this.routeReasons.set(user, retry && firstMs !== undefined
        ? `started on the relay; hole punching attempt ${retry + 1}, ${this.now - firstMs} ms after the first, found a direct path in ${ms} ms${how} and the call moved to it`
        : relayed ? `started on the relay; hole punching found a direct path after ${ms} ms${how} and the call moved to it`
        : `hole punching found this path in ${ms} ms${how}`);
      this.log('info', `hole punching to ${user} found ${path}`);
      this.open(path, user, staticKey, relayed ? undefined : viaRelay, [done]);
    }, { afterMs: this.punchGraceMs, then: () => startRelay('hole punching still running: started on the relay') });
    this.rpc.request(udpPath(supernode), PunchRequest.toBytes({ to: token, key, candidates: own, birthday: birthday || undefined }), this.now, (r) => {
      if (!r.ok || r.value.message.command !== Cmd.PunchOk) {
        this.log('warn', `${user}'s supernode did not coordinate punching: ${r.ok ? describeFailure(r.value.message).message : r.error.message}`);
        return;
      }
      const q = PunchOk.decode(r.value.message.body);
      // IPv6 on both sides needs no birthday punching: no reason to hurry to the relay.
      if (q.ok && q.value.birthday) { peerSymmetric = true; this.nat.peerIsSymmetric(key, this.now); if (!(this.ipv6.ready && peerV6)) this.nat.hurry(key); }
    }, { timeoutMs: 3000 });
  }

  /** Starts measuring how long our NAT keeps an idle binding, once, through the supernode we attached to. */
  private measureBinding(sn: Address) {
    if (this.bindingPath) return;
    this.bindingPath = socketPath(bindingSocket, sn);
    this.binding.start(this.now);
    this.pumpBinding();
  }

  /** Sends the probe the measurement asks for, and sizes keep-alives to what it found so far. */
  private pumpBinding() {
    const path = this.bindingPath;
    const p = this.binding.pollProbe();
    if (p && path) {
      this.rpc.request(path, BindingProbe.toBytes(p), this.now, (r) => {
        if (r.ok && r.value.message.command === Cmd.Ok) this.binding.sent(p.nonce, this.now); else this.binding.failed();
        this.pumpBinding();
      }, { timeoutMs: 3000 });
    }
    const r = this.binding.result();
    if (r.keepaliveMs !== this.keepaliveMs) {
      this.keepaliveMs = r.keepaliveMs;
      this.rpc.endpoint.setKeepaliveMs(r.keepaliveMs);
      if (r.state === 'done') {
        this.log('info', `NAT binding timeout: idle bindings live ${r.aliveMs === undefined ? '?' : `≥ ${r.aliveMs / 1000} s`}` +
          `${r.expiredMs === undefined ? '' : `, < ${r.expiredMs / 1000} s`}; keep-alives every ${r.keepaliveMs / 1000} s`);
      }
      this.events.push({ type: 'status' });
    }
  }

  // ---- port mapping: the runtime carries UPnP-IGD's SSDP and HTTP (PCP and NAT-PMP use our socket) ----

  pollPortMapRequest(): UpnpRequest | undefined { return this.portMapper?.pollRequest(); }

  handlePortMapSsdp(from: Address, bytes: Uint8Array, now: number) { this.now = now; this.portMapper?.handleSsdp(from, bytes, now); this.portMapped(now); this.drain(now); }

  handlePortMapHttp(id: number, reply: HttpReply, now: number) { this.now = now; this.portMapper?.handleHttp(id, reply, now); this.portMapped(now); this.drain(now); }

  /** Shutting down: delete the mapping at the gateway (datagrams and a request to send now); true if we held one. */
  releasePortMapping(now: number): boolean {
    this.now = now;
    const held = this.mappedAddress().length > 0;
    this.portMapper?.release(now);
    this.portMapped(now);
    this.drain(now);
    return held;
  }

  /** A mapping granted, changed or lost: peers reach us there without punching, so publish it. */
  private portMapped(now: number) {
    const m = this.mappedAddress()[0];
    const key = m ? formatAddress(m) : '';
    if (key === this.mappedKey) return;
    this.mappedKey = key;
    this.nat.portMapped = m !== undefined;
    this.log('info', m ? `port mapping: ${this.portMapper!.result().protocol} at the gateway forwards ${key} to us` : 'port mapping: none now');
    this.events.push({ type: 'status' });
    if (this.attachment && this.user && this.certificate) this.publish(now, () => {});
  }

  /** The public address the gateway forwards to us (PCP, NAT-PMP or UPnP-IGD), while it does. */
  private mappedAddress(): Address[] {
    const m = this.portMapper?.result();
    return m?.state === 'mapped' && m.publicAddress && m.externalPort ? [{ host: m.publicAddress, port: m.externalPort }] : [];
  }

  /** A retry is due: punch again if a call with the user still runs over the relay. */
  private punchAgain(user: string) {
    const t = this.retryTargets.get(user);
    const relayedCall = this.calls.list().some((c) => c.peer === user && c.state !== 'ended' && c.path === 'relay');
    if (!t || !relayedCall || !this.attachment || this.overTcp) { this.retry.cancel(user); this.retryTargets.delete(user); return; }
    // Nothing to fall back to: the call already runs on the relay, and a path that works moves it.
    this.punch(user, t.candidates, t.supernode, t.token, t.staticKey, () => {}, () => {}, this.retry.tries(user));
  }

  /** Attached over TCP: UDP did not get through, so every supernode is reached over TCP. */
  private get overTcp(): boolean { return this.attachment?.path.startsWith('tcp:') ?? false; }

  private supernodePath(a: Address): string { return this.overTcp ? this.link.pathTo(a) : udpPath(a); }

  /** Holds relay tokens at more supernodes than the one we attached to (over UDP only: over TCP, we relay through our own). */
  private holdRelays(a: Attachment, now: number) {
    this.relaySet.setPrimary(a.path.startsWith('udp:') ? a.address : undefined, now);
  }

  /** Our measured RTT to a supernode: from the relay set, else the host cache. */
  private rttTo(a: Address): number | undefined { return this.relaySet.rttOf(a) ?? this.link.hosts.get(a)?.rttMs; }

  /** The relays a record offers, its own supernode first. */
  private relayOptions(p: Presence): RelayOption[] {
    const out: RelayOption[] = [];
    if (p.supernode && p.relayToken !== undefined) out.push({ supernode: p.supernode, token: p.relayToken, calleeRttMs: undefined });
    const { relays, relayTokens, relayRttMs } = p;
    if (!relays || !relayTokens || relays.length !== relayTokens.length || (relayRttMs && relayRttMs.length !== relays.length)) return out;
    relays.forEach((supernode, i) => {
      const rtt = relayRttMs?.[i];
      const calleeRttMs = rtt === undefined || rtt >= noRtt ? undefined : rtt;
      const same = out.find((o) => formatAddress(o.supernode) === formatAddress(supernode) && o.token === relayTokens[i]);
      if (same) same.calleeRttMs = calleeRttMs; else out.push({ supernode, token: relayTokens[i], calleeRttMs });
    });
    return out;
  }

  /** A new attachment over UDP is a sample of how our NAT maps; a second supernode gives another. */
  private sampleNat(a: Attachment) {
    if (a.path.startsWith('tcp:')) return;
    this.nat.addSample(a.address, a.observed);
    this.sampleMapping(a.address);
    this.measureBinding(a.address);
    this.probeIpv6(a.address6);
  }

  /** Says Hello to the supernode's IPv6 address from our IPv6 socket: the answer proves IPv6 works and says where we are. */
  private probeIpv6(sn6: Address | undefined) {
    if (!sn6 || !this.ipv6.wants(sn6)) return;
    this.ipv6.probing(sn6);
    this.rpc.request(udpPath(sn6), Hello.toBytes({}), this.now, (r) => {
      const h = r.ok && r.value.message.command === Cmd.HelloOk ? HelloOk.decode(r.value.message.body) : undefined;
      if (!h?.ok) {
        this.ipv6.failed(r.ok ? 'the supernode refused Hello over IPv6' : r.error.message);
        this.log('info', `IPv6: no answer from ${formatAddress(sn6)}; publishing IPv4 candidates only`);
      } else if (this.ipv6.answered(h.value.observed)) {
        this.log('info', `IPv6 works: ${formatAddress(sn6)} sees us at ${formatAddress(h.value.observed)}`);
        if (this.attachment) this.publish(this.now, () => {});
      }
      this.events.push({ type: 'status' });
    }, { timeoutMs: 3000 });
  }

  /** Asks another supernode (on another IP) where it sees us: tells whether our NAT maps per destination. */
  private sampleMapping(attached: Address) {
    const other = this.link.hosts.ranked(this.now).find((s) => s.host !== attached.host);
    if (!other) return;
    this.rpc.request(udpPath(other), Hello.toBytes({}), this.now, (r) => {
      if (!r.ok || r.value.message.command !== Cmd.HelloOk) return;
      const h = HelloOk.decode(r.value.message.body);
      if (h.ok) { this.nat.addSample(other, h.value.observed); this.events.push({ type: 'status' }); }
    }, { timeoutMs: 3000 });
  }

  /** Opens an end-to-end session on a path; with a fallback, gives the path directAttemptMs to work. */
  private open(path: string, user: string, staticKey: Uint8Array, fallback: PathWaiter['fallback'], cbs: PathCallback[]) {
    if (this.rpc.endpoint.isEstablished(path)) { this.userPaths.set(user, path); return cbs.forEach((c) => c(ok(path))); }
    const w = this.waiting.get(path);
    if (w) { w.callbacks.push(...cbs); return; }
    this.waiting.set(path, { deadlineMs: fallback ? this.now + this.directMs : undefined, callbacks: cbs, user, fallback });
    this.rpc.connect(path, this.now, { remoteStatic: staticKey });
  }

  /**
   * Our supernode died: end-to-end sessions that peers opened through its relay are dead too.
   * Closing them makes the next chat or call look the peer up again instead of timing out.
   */
  private closePathsVia(supernode: Address, now: number) {
    const dead = formatAddress(supernode);
    const via = (p: string) => {
      const r = parseRelayPath(p), f = parseForwardPath(p);
      return (r && formatAddress(r.supernode) === dead) || (f && formatAddress(f.first) === dead);
    };
    for (const p of new Set([...this.userPaths.values(), ...this.devicePaths.values()])) if (via(p)) this.rpc.close(p, now);
  }

  private settle(path: string, r: Result<string>) {
    const w = this.waiting.get(path);
    if (!w) return;
    this.waiting.delete(path);
    if (r.ok) this.userPaths.set(w.user, path);
    if (!r.ok && w.fallback) return w.fallback(w.callbacks);
    for (const cb of w.callbacks) cb(r);
  }

  // ---- session events ----

  private drain(now: number) {
    for (let e = this.rpc.pollEvent(); e; e = this.rpc.pollEvent()) this.consume(e, now);
    // Relay tokens gained or lost, or first measured: the record must say so — soon, in one
    // publication for the several answers that come in together.
    const primaryMeasured = !this.primaryRttPublished && !this.overTcp && this.attachment && this.link.hosts.get(this.attachment.address)?.rttMs !== undefined;
    if (this.attachment && this.certificate && this.nextPublishMs !== undefined && (this.relaySet.takeChanged() || primaryMeasured)) {
      this.nextPublishMs = Math.min(this.nextPublishMs, Math.ceil(now + relayRepublishMs));
    }
    for (let c = this.calls.pollEvent(); c; c = this.calls.pollEvent()) this.events.push(c);
    for (let c = this.conferences.pollEvent(); c; c = this.conferences.pollEvent()) this.events.push(c);
  }

  private consume(e: RpcEvent, now: number) {
    switch (e.type) {
      case 'established':
        if (e.peer.user) this.userPaths.set(e.peer.user, e.path);
        if (e.peer.user) this.devicePaths.set(toBase64Url(e.peer.signingKey), e.path);
        // A direct session with a device we are talking to over a relay: move the call to it.
        if (e.peer.user && !isRelayedPath(e.path)) {
          this.directPaths.set(toBase64Url(e.peer.staticKey), e.path);
          this.calls.moveToDirect(toBase64Url(e.peer.signingKey), e.path, now);
        }
        this.settle(e.path, ok(e.path));
        this.loginRoute.established(e.path, now);
        break;
      case 'failed':
        this.settle(e.path, err('unreachable', e.reason));
        this.loginRoute.failed(e.path, now, e.reason);
        break;
      case 'closed':
        for (const [u, p] of this.userPaths) if (p === e.path) this.userPaths.delete(u);
        for (const [d, p] of this.devicePaths) if (p === e.path) this.devicePaths.delete(d);
        for (const [k, p] of this.directPaths) if (p === e.path) this.directPaths.delete(k);
        this.relayChannels.forgetSupernode(e.path);
        this.link.pathClosed(e.path, now);
        this.calls.pathClosed(e.path, now);
        this.conferences.pathClosed(e.path);
        break;
      case 'datagram':
        if (e.message.command === Cmd.Relayed) return this.consumeRelayed(e.path, e.message, now);
        if (e.message.command === Cmd.BindingEcho && e.path === this.bindingPath) {
          const q = BindingEcho.decode(e.message.body);
          if (q.ok) { this.binding.handleEcho(q.value.nonce, now); this.pumpBinding(); }
          return;
        }
        if (e.peer.user && this.conferences.consumeDatagram(e.peer.user, e.path, e.message, now)) break;
        if (e.peer.user) this.calls.consumeDatagram({ user: e.peer.user, device: toBase64Url(e.peer.signingKey) }, e.message, now);
        break;
      case 'request':
        this.consumeRequest(e.path, e.id, e.peer, e.message, now);
        break;
    }
  }

  private consumeRelayed(path: string, m: Message, now: number) {
    const sn = this.link.supernodeOf(path);
    const r = Relayed.decode(m.body);
    if (!sn || !r.ok) return;
    const from = r.value.via ? forwardPath(sn, r.value.via, r.value.from) : relayPath(sn, r.value.from);
    this.rpc.handleDatagram(from, r.value.packet, now);
  }

  private consumeRequest(path: string, id: number, peer: PeerIdentity, m: Message, now: number) {
    const respond = (bytes: Uint8Array) => this.rpc.respond(path, id, bytes, now);
    const peerUser = peer.user;
    if (m.command === Cmd.PunchNotice) {
      // Only our own supernode may make us punch (each notice costs us a few hundred probes).
      if (path !== this.attachment?.path) return respond(errorBytes('not-my-supernode', 'punch notices come from our supernode'));
      const r = this.nat.consumeNotice(m, now);
      return respond(r.ok ? r.value : errorBytes(r.error.code, r.error.message));
    }
    // A supernode checking that we are reachable (promotion): anyone may ask, the answer is filler.
    if (m.command === Cmd.ReachPing) return answerReachPing(m, respond, this.cfg.random);
    if (!peerUser) return respond(errorBytes('not-a-user', 'only certified users may ask this node'));
    this.userPaths.set(peerUser, path);
    const device = toBase64Url(peer.signingKey);
    this.devicePaths.set(device, path);
    if (m.command === Cmd.Chat) {
      const q = Chat.decode(m.body);
      if (!q.ok) return respond(errorBytes('bad-request', q.error.message));
      if (this.mailbox.firstSight(peerUser, q.value.id)) this.events.push({ type: 'chat', message: {
        id: q.value.id, peer: peerUser, direction: 'in', text: q.value.text, sentAtMs: q.value.sentAtMs, deliveredAtMs: now,
      } });
      return respond(ChatAck.toBytes({ id: q.value.id, receivedAtMs: now }));
    }
    if (isReceipt(m)) {
      if (!this.mailbox.consumeReceipt(peerUser, m)) return respond(errorBytes('bad-request', 'malformed receipt'));
      return respond(OkReply.toBytes({}));
    }
    if (this.calls.consumeRequest(path, { user: peerUser, device }, m, now, respond)) {
      // A call signalled over the relay while a direct session already works: media goes direct.
      const direct = this.directPaths.get(toBase64Url(peer.staticKey));
      if (direct && isRelayedPath(path) && this.rpc.endpoint.isEstablished(direct)) this.calls.moveToDirect(device, direct, now);
      return;
    }
    if (this.calls.consumeRequest(path, { user: peerUser, device }, m, now, respond)) return;
    if (this.conferences.consumeRequest(path, peerUser, m, now, respond)) return;
    respond(errorBytes('unknown-command', `nodes do not answer command ${m.command}`));
  }

  private proof(): Uint8Array {
    return createIdentityProof('node', this.cfg.signingKey, this.cfg.staticKey.publicKey, this.certificate);
  }

  private log(level: LogLine['level'], message: string) { this.events.push({ type: 'log', line: { level, message } }); }
}

// The extra socket (driver path sK/udp:…) that measures the binding timeout: past the birthday sockets.
const bindingSocket = 511;

/** Failures that mean "not reachable now" (rather than a mistake): the message goes to the offline mailbox. */
const offlineCodes = new Set(['not-found', 'unreachable', 'not-delivered']);
// Implementation limit: device records remembered for placing calls.
const knownDevicesMax = 1024;

function mergeAddresses(a: Address[], b: Address[]): Address[] {
  const seen = new Map<string, Address>();
  for (const x of [...a, ...b]) seen.set(formatAddress(x), x);
  return [...seen.values()];
}

// Implementation constant: how soon a change of held relays is published.
const relayRepublishMs = 1000;
/** A published RTT that says "not measured" (the field is a list of numbers). */
const noRtt = 0xffff;

function withRelayReason(why: string | undefined, relay: string | undefined): string | undefined {
  return relay ? `${why ?? 'relayed'}; ${relay}` : why;
}

function isUnspecified(a: Address): boolean { return a.host === '0.0.0.0' || a.host === '::'; }

