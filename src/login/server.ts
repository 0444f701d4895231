// Login server core: the network's one authority (DESIGN.md, "Trust").
//
// Theory of operation. Clients reach the server over the same secure sessions as everything
// else, so a password only ever travels inside Noise, to the server's key the client pinned.
// A request arrives as an event from the sans-IO Rpc; its handler may wait on the account
// store (SQLite or PostgreSQL), so handling is asynchronous: handleRequest() resolves to the
// reply bytes, and the driver applies `respond` as one more mutation when it does.
// The certificate binds the user name to the device key the client *proved* in the
// handshake, never to a key named in a field.
// No request depends on state kept in this process except the rate limiters (per process, by
// design: docs/trust.md, "Scale-out"), so any number of servers may share one database.
// Renewal needs no password: it is granted while the store still lists the device with the
// key that proved itself; changing the password or removing the device ends it.
import { Rpc, type RpcEvent } from '../session/rpc.ts';
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { createIdentityProof, consumeIdentityProof, type ProvenIdentity } from '../crypto/identity-proof.ts';
import { issueCertificate, verifyCertificate } from '../crypto/certificate.ts';
import { toBase64Url, equalBytes } from '../crypto/bytes.ts';
import { parseHostPort, formatAddress, type Address } from '../wire/address.ts';
import type { Message } from '../wire/object-list.ts';
import { Cmd } from '../wire/commands.ts';
import { OkReply, errorBytes } from '../wire/replies.ts';
import {
  RegisterRequest, LoginRequest, LoginOk, SupernodeAnnounce, SupernodeList, RenewRequest, ChangePasswordRequest,
  DeleteAccountRequest, DevicesRequest, DeviceList,
} from './protocol.ts';
import { normaliseUserName } from './names.ts';
import { hashPasswordAsync, verifyPasswordAsync, checkPasswordPolicy } from './password.ts';
import type { AccountStore, Account } from './store.ts';
import { RateLimiter, type RateLimitConfig } from '../session/rate-limiter.ts';
import { addressOfUdpPath, addressOfTcpPath } from '../session/paths.ts';
import { ErrorReply } from '../wire/replies.ts';
import type { DatagramCore } from '../node/core.ts';
import { TcpListeners } from './tcp-listeners.ts';

export interface LoginServerConfig {
  /** Sees every message this core sends, before compression (recording corpora, debugging). */
  tap?: (raw: Uint8Array) => void;
  staticKey: KeyPair;
  signingKey: KeyPair;
  random: RandomBytes;
  store: AccountStore;
  certificateLifetimeMs?: number;    // default 24 h
  supernodeFreshMs?: number;         // supernodes announced within this are handed out; default 5 min
  /** Who may register: anyone, holders of an invite code, or nobody (accounts made by operators). */
  registration?: RegistrationPolicy; // default open
  rateLimits?: RateLimitConfig;
  /** false: ordinary nodes are not promoted to supernodes anywhere in the network (told to supernodes with their list). */
  promotion?: boolean;
}

// Implementation limit: bounds the device list a reply carries and a stolen password's reach.
const devicesPerAccountMax = 64;

export type RegistrationPolicy = { mode: 'open' } | { mode: 'closed' } | { mode: 'invite'; codes: ReadonlySet<string> };

export interface PendingRequest { path: string; id: number; peer: ProvenIdentity; message: Message }

export class LoginServer implements DatagramCore {
  readonly rpc: Rpc;
  private readonly requests: PendingRequest[] = [];
  private readonly lifetimeMs: number;
  private readonly freshMs: number;
  private readonly limits: RateLimiter;
  /** Per account: the tail of its queue of password checks (oneAtATime). */
  private readonly accountChecks = new Map<string, Promise<void>>();
  /** Supernodes' extra TCP listeners as they announced them (per process: they re-announce every minute). */
  private readonly tcpListeners = new TcpListeners();

  constructor(private readonly cfg: LoginServerConfig) {
    this.limits = new RateLimiter(cfg.rateLimits);
    this.lifetimeMs = cfg.certificateLifetimeMs ?? 24 * 3600_000;
    this.freshMs = cfg.supernodeFreshMs ?? 5 * 60_000;
    this.rpc = new Rpc({
      staticKey: cfg.staticKey,
      random: cfg.random,
      tap: cfg.tap,
      identityPayload: createIdentityProof('login', cfg.signingKey, cfg.staticKey.publicKey),
      // Anyone may talk to the login server; what they may do is decided per request.
      verifyPeer: (payload, rs, _path, now) => consumeIdentityProof(payload, rs, undefined, now),
    });
  }

  get publicKey(): string { return toBase64Url(this.cfg.signingKey.publicKey); }

  handleDatagram(path: string, bytes: Uint8Array, now: number) { this.rpc.handleDatagram(path, bytes, now); this.drain(); }
  handleTimeout(now: number) { this.rpc.handleTimeout(now); this.drain(); }
  pollTransmit() { return this.rpc.pollTransmit(); }
  pollTimeout() { return this.rpc.pollTimeout(); }

  /** Requests waiting for the driver to run handleRequest on them. */
  pollRequest(): PendingRequest | undefined { return this.requests.shift(); }

  respond(r: PendingRequest, reply: Uint8Array, now: number) { this.rpc.respond(r.path, r.id, reply, now); }

  private drain() {
    for (let e: RpcEvent | undefined = this.rpc.pollEvent(); e; e = this.rpc.pollEvent()) {
      if (e.type === 'request') this.requests.push({ path: e.path, id: e.id, peer: e.peer, message: e.message });
    }
  }

  /** Produces the reply to one request; never rejects (failures become error replies). */
  async handleRequest(r: PendingRequest, now: number): Promise<Uint8Array> {
    try {
      switch (r.message.command) {
        case Cmd.Register: return await this.register(r, now);
        case Cmd.Login: return await this.login(r, now);
        case Cmd.SupernodeAnnounce: return await this.announce(r, now);
        case Cmd.Renew: return await this.renew(r, now);
        case Cmd.ChangePassword: return await this.changePassword(r, now);
        case Cmd.DeleteAccount: return await this.deleteAccount(r, now);
        case Cmd.Devices: return await this.devices(r, now);
        default: return errorBytes('unknown-command', `the login server does not answer command ${r.message.command}`);
      }
    } catch (e) {
      return errorBytes('server-error', `login server failed: ${(e as Error).message}`);
    }
  }

  /** One token from the sender's address bucket, or the error reply that says when to retry. */
  private limitAddress(r: PendingRequest, now: number): Uint8Array | undefined {
    const host = (addressOfUdpPath(r.path) ?? addressOfTcpPath(r.path))?.host ?? r.path;
    const waitMs = this.limits.take(`addr:${host}`, this.limits.addressSpec, now);
    return waitMs > 0 ? rateLimited(waitMs) : undefined;
  }

  private async register(r: PendingRequest, now: number): Promise<Uint8Array> {
    const q = RegisterRequest.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    const limited = this.limitAddress(r, now);
    if (limited) return limited;
    const who = this.cfg.registration ?? { mode: 'open' };
    if (who.mode === 'closed') return errorBytes('registration-closed', 'this network does not take new registrations');
    if (who.mode === 'invite' && !(q.value.invite && who.codes.has(q.value.invite))) {
      return errorBytes('invite-required', 'registering on this network needs a valid invite code');
    }
    const name = normaliseUserName(q.value.user);
    if (!name.ok) return errorBytes(name.error.code, name.error.message);
    const policy = checkPasswordPolicy(q.value.password);
    if (!policy.ok) return errorBytes(policy.error.code, policy.error.message);
    // Certificates issued to a deleted account stay valid until they expire; until then nobody
    // else may take the name and show certificates that peers would confuse with them.
    const deletedAtMs = await this.cfg.store.deletedAtMs(name.value);
    if (deletedAtMs !== undefined && now < deletedAtMs + this.lifetimeMs) {
      return ErrorReply.toBytes({
        code: 'name-reserved', message: `the name ${name.value} was deleted recently and is free again in ${Math.ceil((deletedAtMs + this.lifetimeMs - now) / 3600_000)} h`,
        retryAfterMs: deletedAtMs + this.lifetimeMs - now,
      });
    }
    const created = await this.cfg.store.createAccount({
      name: name.value, passwordHash: await hashPasswordAsync(q.value.password, this.cfg.random(16)), createdAtMs: now,
    });
    if (created === 'exists') return errorBytes('name-taken', `the name ${name.value} is already registered`);
    return OkReply.toBytes({});
  }

  /**
   * The account, if `password` is its password; otherwise the reply to send. Limited per source
   * address and, for failures, per account, with one answer for "no such user" and "wrong
   * password" so names cannot be probed this way.
   */
  private async authenticate(r: PendingRequest, user: string, password: string, now: number): Promise<Account | Uint8Array> {
    const limited = this.limitAddress(r, now);
    if (limited) return limited;
    const name = normaliseUserName(user);
    // Guessing one account's password from many addresses is limited per account.
    const accountKey = `acct:${name.ok ? name.value : user}`;
    return this.oneAtATime(accountKey, () => this.checkPassword(accountKey, name.ok ? name.value : undefined, password, now));
  }

  /**
   * Runs password checks of one account one after another. Verification is asynchronous, so
   * without this, many guesses sent at once would all pass the account's rate limit before the
   * first failure was counted.
   */
  private oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.accountChecks.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(() => {}, () => {});
    this.accountChecks.set(key, tail);
    void tail.then(() => { if (this.accountChecks.get(key) === tail) this.accountChecks.delete(key); });
    return run;
  }

  private async checkPassword(accountKey: string, name: string | undefined, password: string, now: number): Promise<Account | Uint8Array> {
    const accountWait = this.limits.wait(accountKey, this.limits.accountSpec, now);
    if (accountWait > 0) return rateLimited(accountWait);
    const account = name !== undefined ? await this.cfg.store.getAccount(name) : undefined;
    if (!account || !(await verifyPasswordAsync(password, account.passwordHash))) {
      this.limits.take(accountKey, this.limits.accountSpec, now);
      return errorBytes('bad-credentials', 'wrong user name or password');
    }
    return account;
  }

  private async login(r: PendingRequest, now: number): Promise<Uint8Array> {
    const q = LoginRequest.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    const account = await this.authenticate(r, q.value.user, q.value.password, now);
    if (account instanceof Uint8Array) return account;
    return this.grant(account.name, q.value.deviceId, r.peer.signingKey, now);
  }

  /** Records the device's login and certifies its key. */
  private async grant(name: string, deviceId: string, deviceKey: Uint8Array, now: number): Promise<Uint8Array> {
    const devices = await this.cfg.store.getDevices(name);
    const existing = devices.find((d) => d.deviceId === deviceId);
    if (!existing && devices.length >= devicesPerAccountMax) {
      return errorBytes('too-many-devices', `an account has at most ${devicesPerAccountMax} devices; remove one first (tincan devices --remove ID)`);
    }
    await this.cfg.store.upsertDevice({
      name, deviceId, devicePublicKey: deviceKey, addedAtMs: existing?.addedAtMs ?? now, lastLoginAtMs: now,
    });
    const certificate = issueCertificate({
      user: name, deviceKey, deviceId, issuedAtMs: now,
      expiresAtMs: now + this.lifetimeMs, issuerKey: this.cfg.signingKey.publicKey,
    }, this.cfg.signingKey.privateKey);
    const supernodes = await this.supernodes(now);
    return LoginOk.toBytes({ user: name, certificate, supernodes, ...this.tcpListeners.lists(supernodes) });
  }

  private async renew(r: PendingRequest, now: number): Promise<Uint8Array> {
    const q = RenewRequest.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    const limited = this.limitAddress(r, now);
    if (limited) return limited;
    // An expired certificate is not renewed: the device logs in again with its password.
    const cert = verifyCertificate(q.value.certificate, this.cfg.signingKey.publicKey, now);
    if (!cert.ok) return errorBytes('renewal-refused', `cannot renew: ${cert.error.message}; log in again`);
    if (!equalBytes(cert.value.deviceKey, r.peer.signingKey)) {
      return errorBytes('renewal-refused', 'cannot renew a certificate for another device\'s key');
    }
    const device = (await this.cfg.store.getDevices(cert.value.user)).find((d) => d.deviceId === cert.value.deviceId);
    if (!device || !equalBytes(device.devicePublicKey, r.peer.signingKey)) {
      return errorBytes('renewal-refused', 'this device is no longer registered (removed, or the password changed); log in again');
    }
    return this.grant(cert.value.user, cert.value.deviceId, r.peer.signingKey, now);
  }

  private async changePassword(r: PendingRequest, now: number): Promise<Uint8Array> {
    const q = ChangePasswordRequest.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    const policy = checkPasswordPolicy(q.value.newPassword);
    if (!policy.ok) return errorBytes(policy.error.code, policy.error.message);
    const account = await this.authenticate(r, q.value.user, q.value.password, now);
    if (account instanceof Uint8Array) return account;
    // The device asking keeps its registration (and so its renewals), if it has one.
    const own = (await this.cfg.store.getDevices(account.name)).find((d) => equalBytes(d.devicePublicKey, r.peer.signingKey));
    const newHash = await hashPasswordAsync(q.value.newPassword, this.cfg.random(16));
    if (!(await this.cfg.store.changePassword(account.name, account.passwordHash, newHash, own?.deviceId))) {
      return errorBytes('conflict', 'the account changed meanwhile (another password change or deletion); try again');
    }
    return OkReply.toBytes({});
  }

  private async deleteAccount(r: PendingRequest, now: number): Promise<Uint8Array> {
    const q = DeleteAccountRequest.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    const account = await this.authenticate(r, q.value.user, q.value.password, now);
    if (account instanceof Uint8Array) return account;
    if (!(await this.cfg.store.deleteAccount(account.name, account.passwordHash, now))) {
      return errorBytes('conflict', 'the account changed meanwhile (a password change or deletion); try again');
    }
    return OkReply.toBytes({});
  }

  private async devices(r: PendingRequest, now: number): Promise<Uint8Array> {
    const q = DevicesRequest.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    const account = await this.authenticate(r, q.value.user, q.value.password, now);
    if (account instanceof Uint8Array) return account;
    if (q.value.remove !== undefined && !(await this.cfg.store.removeDevice(account.name, q.value.remove))) {
      return errorBytes('no-such-device', `${account.name} has no device ${q.value.remove}`);
    }
    const list = (await this.cfg.store.getDevices(account.name)).slice(0, 256);
    return DeviceList.toBytes({
      deviceIds: list.map((d) => d.deviceId), keys: list.map((d) => d.devicePublicKey),
      addedAtMs: list.map((d) => d.addedAtMs), lastLoginAtMs: list.map((d) => d.lastLoginAtMs),
    });
  }

  private async announce(r: PendingRequest, now: number): Promise<Uint8Array> {
    if (r.peer.role !== 'supernode') return errorBytes('not-a-supernode', 'only supernodes announce themselves');
    const q = SupernodeAnnounce.decode(r.message.body);
    if (!q.ok) return errorBytes('bad-request', q.error.message);
    await this.cfg.store.upsertSupernode({
      address: formatAddress(q.value.address), publicKey: r.peer.signingKey, lastSeenMs: now,
    });
    this.tcpListeners.set(q.value.address, q.value.tcp ?? []);
    const supernodes = await this.supernodes(now);
    return SupernodeList.toBytes({ supernodes, promotion: this.cfg.promotion === false ? false : undefined, ...this.tcpListeners.lists(supernodes) });
  }

  private async supernodes(now: number): Promise<Address[]> {
    const list = await this.cfg.store.listSupernodes(now - this.freshMs, 64);
    const out: Address[] = [];
    for (const s of list) { const a = parseHostPort(s.address); if (a.ok) out.push(a.value); }
    return out;
  }
}

function rateLimited(waitMs: number): Uint8Array {
  return ErrorReply.toBytes({
    code: 'rate-limited', message: `too many attempts; retry in ${Math.ceil(waitMs / 1000)} s`, retryAfterMs: waitMs,
  });
}
