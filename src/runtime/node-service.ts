// The user's daemon: the UserNode core bound to a UDP socket, a data directory, audio files
// and timers, offered to the local API as a NodeControl. Everything here is glue; protocol
// decisions live in the core.
import fs from 'node:fs';
import { UserNode, type UserNodeEvent } from '../node/user-node.ts';
import { UdpDriver } from './udp-driver.ts';
import { defaultGateway, localAddressToward } from './gateway.ts';
import { PortMappingIo } from './port-mapping-io.ts';
import type { MappingProtocol } from '../nat/port-mapper.ts';
import { bindIpv6 } from './ipv6.ts';
import { DataDir } from './data-dir.ts';
import { PromotionRunner } from './promotion-runner.ts';
import { WavPlayer, WavRecorder, readWavMono48k } from './audio.ts';
import { now as clockNow } from './clock.ts';
import { capacityMeter } from './capacity.ts';
import { ConferenceService } from './conference-service.ts';
import type { ConferenceInfo } from '../calls/conference-manager.ts';
import { random } from './clock.ts';
import { toBase64Url, fromBase64Url } from '../crypto/bytes.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import type { Result } from '../wire/result.ts';
import {
  ApiError, type NodeControl, type AudioBridge, type NodeEvent, type NodeStatus, type LookupResult, type Contact, type ChatMessage,
  type CallInfo, type CallOptions, type DeviceSummary, type ProfileFields, type SearchResult,
} from '../api/node-control.ts';

export interface NodeServiceOptions {
  data: string;
  login: Address;
  loginKey?: Uint8Array;
  bootstrap: Address[];
  listen?: Address;
  /** IPv6 beside IPv4 (src/runtime/ipv6.ts): --listen6, or found on the interfaces unless --no-ipv6. */
  listen6?: Address;
  noIpv6?: boolean;
  autoAnswer: boolean;
  play?: string;
  record?: string;
  noDirect: boolean;
  /** The uplink the user declares for hosting conferences; default 1000 kb/s. */
  uplinkKbps?: number;
  bindingLadderMs?: number[];
  /** --no-promote: never become a supernode; promoteAfterMs: uptime needed first (default 2 h). */
  noPromote?: boolean;
  promoteAfterMs?: number;
  /** --port-mapping: the protocols to ask the gateway with (default all; [] for none). */
  portMapping?: MappingProtocol[];
  log?: (level: string, message: string) => void;
}

// Implementation constants.
const contactRefreshMs = 20_000;
const historyMax = 1000;

export class NodeService implements NodeControl {
  private readonly listeners = new Set<(e: NodeEvent) => void>();
  private readonly players = new Map<string, WavPlayer>();
  private readonly recorders = new Map<string, WavRecorder>();
  private readonly audioSinks = new Map<string, Set<(pcm: Int16Array) => void>>();
  private readonly callOptions = new Map<string, CallOptions>();
  private readonly contactList = new Map<string, Contact>();
  private readonly historyList: ChatMessage[] = [];
  private contactTimer: NodeJS.Timeout | undefined;
  private savedCertificate: Uint8Array | undefined;
  private savedHostCache = '';
  private readonly conf: ConferenceService;
  private stopMeter = () => {};
  private promotion: PromotionRunner | undefined;
  private portMapIo: PortMappingIo | undefined;

  private constructor(private readonly node: UserNode, private readonly driver: UdpDriver,
    private readonly data: DataDir, private readonly opts: NodeServiceOptions) {
    const mutate = <T>(fn: (now: number) => T): T => { let out: T | undefined; driver.mutate((now) => { out = fn(now); }); return out as T; };
    this.conf = new ConferenceService(node, mutate, { playFile: opts.play, recordFile: opts.record }, (l, m) => opts.log?.(l, m));
  }

  static async start(opts: NodeServiceOptions): Promise<NodeService> {
    const data = new DataDir(opts.data);
    const keys = data.keys();
    const pinned = data.loginKey();
    if (opts.loginKey && pinned && toBase64Url(opts.loginKey) !== toBase64Url(pinned)) {
      opts.log?.('warn', 'the --login-key given differs from the key pinned in the data directory; using --login-key');
    }
    const meter = capacityMeter(opts.uplinkKbps ?? 1000);
    const driver = await UdpDriver.bind(opts.listen ?? { host: '127.0.0.1', port: 0 }, (e) => opts.log?.('error', `internal error: ${String(e)}`));
    driver.enableTcp(true);
    const listen6 = await bindIpv6(driver, { explicit: opts.listen6, off: opts.noIpv6 }, (l, m) => opts.log?.(l, m)).catch(async (e: Error) => {
      await driver.close();
      throw new Error(`cannot listen on ${formatAddress(opts.listen6!)}: ${e.message}`);
    });
    // Port mapping asks the default gateway; never from loopback (tests and demos stay off real networks).
    const gateway = driver.address.host.startsWith('127.') ? undefined : defaultGateway();
    const lanHost = driver.address.host === '0.0.0.0' && gateway ? localAddressToward(gateway) : driver.address.host;
    const node = new UserNode({
      staticKey: keys.static, signingKey: keys.signing, random, deviceId: keys.deviceId,
      login: opts.login, loginKey: opts.loginKey ?? pinned, bootstrap: opts.bootstrap, listen: driver.address, listen6,
      directAllowed: !opts.noDirect, autoAnswer: opts.autoAnswer, capacity: meter.capacity,
      hostCache: data.hostCache(clockNow(), (m) => opts.log?.('warn', m)),
      bindingLadderMs: opts.bindingLadderMs,
      gateway, portMapping: opts.portMapping, portMappingHost: lanHost,
    });
    const svc = new NodeService(node, driver, data, opts);
    svc.stopMeter = meter.stop;
    svc.loadState();
    if (gateway && lanHost) svc.portMapIo = new PortMappingIo(lanHost, (fn) => driver.mutate(fn), node);
    driver.attach(node, () => svc.drain());
    svc.restoreSession();
    svc.contactTimer = setInterval(() => svc.refreshContacts(), contactRefreshMs);
    svc.promotion = new PromotionRunner(node, driver, {
      data: opts.data, login: opts.login, loginKey: () => opts.loginKey ?? data.loginKey(), optedOut: opts.noPromote === true,
      minUptimeMs: opts.promoteAfterMs, log: (l, m) => opts.log?.(l, m),
    });
    return svc;
  }

  get listen(): Address { return this.driver.address; }
  get listen6(): Address | undefined { return this.driver.otherAddress; }

  async stop() {
    if (this.contactTimer) clearInterval(this.contactTimer);
    await this.promotion?.stop();
    await this.hangup().catch(() => {});
    this.conf.leaveAll();
    this.conf.stop();
    this.stopMeter();
    for (const p of this.players.values()) p.stop();
    this.saveHostCache();
    // Delete our port mapping at the gateway (bounded: a silent gateway does not hold us up).
    let held = false;
    this.driver.mutate((now) => { held = this.node.releasePortMapping(now); });
    await this.portMapIo?.settle(1500);
    // A datagram handed to the socket is sent a tick later; closing at once would cancel the deletion.
    if (held) await new Promise((r) => setTimeout(r, 100));
    this.portMapIo?.close();
    await this.driver.close();
  }

  // ---- NodeControl ----

  status(): NodeStatus { return { ...this.node.status(), ...(this.promotion ? { promotion: this.promotion.status() } : {}) }; }

  register(user: string, password: string, invite?: string): Promise<void> {
    return this.run<void>((now, cb) => this.node.register(user, password, now, cb, invite));
  }

  async login(user: string, password: string): Promise<NodeStatus> {
    const st = await this.run<NodeStatus>((now, cb) => this.node.login(user, password, now, cb));
    this.saveCertificate();
    this.refreshContacts();
    return st;
  }

  async logout(): Promise<void> {
    await this.hangup();
    try { fs.unlinkSync(this.data.file('certificate.json')); } catch { /* was not logged in */ }
    this.driver.mutate((now) => this.node.logout(now));
  }

  changePassword(password: string, newPassword: string): Promise<void> {
    return this.run<void>((now, cb) => this.node.changePassword(password, newPassword, now, cb));
  }

  async deleteAccount(password: string): Promise<void> {
    await this.run<void>((now, cb) => this.node.deleteAccount(password, now, cb));
    try { fs.unlinkSync(this.data.file('certificate.json')); } catch { /* none saved */ }
  }

  async devices(password: string, remove?: string): Promise<DeviceSummary[]> {
    const list = await this.run<{ deviceId: string; key: Uint8Array; addedAtMs: number; lastLoginAtMs: number }[]>(
      (now, cb) => this.node.devices(password, remove, now, cb));
    const own = this.data.keys().deviceId;
    return list.map((d) => ({ deviceId: d.deviceId, key: toBase64Url(d.key), addedAtMs: d.addedAtMs, lastLoginAtMs: d.lastLoginAtMs, thisDevice: d.deviceId === own }));
  }

  async lookup(user: string): Promise<LookupResult> {
    const r = await this.run<LookupResult & { presence?: unknown }>((now, cb) => this.node.lookup(user, now, cb));
    const { presence: _p, ...out } = r;
    return out;
  }

  contacts(): Contact[] { return [...this.contactList.values()]; }

  async addContact(user: string): Promise<Contact> {
    const c: Contact = this.contactList.get(user) ?? { user, presence: 'unknown', lastSeenMs: undefined };
    this.contactList.set(user, c);
    this.saveContacts();
    await this.refreshContact(user);
    return this.contactList.get(user)!;
  }

  async removeContact(user: string): Promise<void> {
    this.contactList.delete(user);
    this.saveContacts();
  }

  async chat(user: string, text: string): Promise<ChatMessage> {
    if (text.length === 0) throw new ApiError('empty-message', 'the message is empty');
    const m = await this.run<ChatMessage>((now, cb) => this.node.chat(user, text, now, cb));
    this.remember(m);
    return m;
  }

  history(peer?: string): ChatMessage[] { return this.historyList.filter((m) => !peer || m.peer === peer); }

  profile(): ProfileFields | undefined { return this.node.whitePages.profile; }

  async setProfile(p: ProfileFields): Promise<ProfileFields> {
    const out = await this.run<ProfileFields>((now, cb) => this.node.setProfile(p, now, cb));
    this.data.writeJson('profile.json', out);
    return out;
  }

  search(query: string): Promise<SearchResult[]> { return this.run<SearchResult[]>((now, cb) => this.node.search(query, now, cb)); }

  async call(user: string, options: CallOptions): Promise<CallInfo> {
    if (options.playFile) {
      try { readWavMono48k(options.playFile); } catch (e) { throw new ApiError('bad-audio-file', (e as Error).message); }
    }
    return this.run<CallInfo>((now, cb) => {
      const id = this.node.call(user, now, cb);
      if (id) this.callOptions.set(id, options);
    });
  }

  async answer(callId: string, options?: CallOptions): Promise<CallInfo> {
    if (options) this.callOptions.set(callId, options);
    return this.unwrap(this.mutateCalls((c, now) => c.answer(callId, now)));
  }

  async reject(callId: string): Promise<CallInfo> { return this.unwrap(this.mutateCalls((c, now) => c.reject(callId, now))); }
  async hold(callId: string): Promise<CallInfo> { return this.unwrap(this.mutateCalls((c, now) => c.hold(callId, now))); }
  async resume(callId: string): Promise<CallInfo> { return this.unwrap(this.mutateCalls((c, now) => c.resume(callId, now))); }

  async hangup(callId?: string): Promise<CallInfo[]> {
    const ids = callId ? [callId] : this.calls().filter((c) => c.state !== 'ended').map((c) => c.id);
    const out: CallInfo[] = [];
    for (const id of ids) out.push(this.unwrap(this.mutateCalls((c, now) => c.hangup(id, now))));
    return out;
  }

  calls(): CallInfo[] { return this.node.callList(); }

  audio(callId: string, sink: (pcm: Int16Array) => void): AudioBridge | undefined {
    if (this.node.calls.get(callId)?.state !== 'active') return undefined;
    const sinks = this.audioSinks.get(callId) ?? new Set();
    sinks.add(sink);
    this.audioSinks.set(callId, sinks);
    return {
      push: (pcm) => this.mutateCalls((c, now) => c.pushAudio(callId, pcm, now)),
      close: () => { sinks.delete(sink); if (sinks.size === 0) this.audioSinks.delete(callId); },
    };
  }

  conferences(): ConferenceInfo[] { return this.conf.list(); }
  conference(id: string): ConferenceInfo { return this.conf.get(id); }
  async createConference(invite: string[], options: CallOptions): Promise<ConferenceInfo> { return this.conf.create(invite, options); }
  async inviteToConference(id: string, user: string): Promise<ConferenceInfo> { return this.conf.invite(id, user); }
  async joinConference(id: string, options?: CallOptions): Promise<ConferenceInfo> { return this.conf.join(id, options); }
  async leaveConference(id: string): Promise<ConferenceInfo> { return this.conf.leave(id); }

  subscribe(listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- glue ----

  private run<T>(fn: (now: number, cb: (r: Result<T>) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      this.driver.mutate((now) => fn(now, (r) => r.ok ? resolve(r.value) : reject(new ApiError(r.error.code, r.error.message, 409))));
    });
  }

  private mutateCalls<T>(fn: (calls: UserNode['calls'], now: number) => T): T {
    let out: T | undefined;
    this.driver.mutate((now) => { out = this.node.withCalls(now, (c) => fn(c, now)); });
    return out as T;
  }

  private unwrap<T>(r: Result<T>): T {
    if (!r.ok) throw new ApiError(r.error.code, r.error.message, r.error.code === 'no-such-call' ? 404 : 409);
    return r.value;
  }

  private emit(e: NodeEvent) { for (const l of this.listeners) { try { l(e); } catch { /* a listener's bug is its own */ } } }

  private drain() {
    for (let r = this.node.pollPortMapRequest(); r; r = this.node.pollPortMapRequest()) this.portMapIo?.perform(r);
    for (let e: UserNodeEvent | undefined = this.node.pollEvent(); e; e = this.node.pollEvent()) {
      switch (e.type) {
        case 'log': this.opts.log?.(e.line.level, e.line.message); if (e.line.level !== 'info') this.emit({ type: 'warning', message: e.line.message }); break;
        case 'login-key': this.data.pinLoginKey(e.key, formatAddress(this.opts.login)); break;
        case 'status':
          // A renewal replaces the certificate by itself: keep the new one for the next start.
          if (this.node.certificateBytes() && this.node.certificateBytes() !== this.savedCertificate) this.saveCertificate();
          this.saveHostCache();
          this.emit({ type: 'status', status: this.status() });
          break;
        case 'chat': if (this.remember(e.message)) this.emit({ type: 'chat', message: e.message }); break;
        case 'receipt': {
          // A receipt for a message left in an offline mailbox: the history shows it delivered.
          const m = this.historyList.find((x) => x.id === e.id && x.peer === e.peer && x.direction === 'out');
          if (m && m.deliveredAtMs === undefined) m.deliveredAtMs = e.deliveredAtMs;
          this.emit(e);
          break;
        }
        case 'audio':
          this.recorders.get(e.callId)?.push(e.pcm);
          for (const sink of this.audioSinks.get(e.callId) ?? []) sink(e.pcm);
          break;
        case 'call': this.onCall(e.call); break;
        case 'conference': this.conf.onConference(e.conference); this.emit(e); break;
        case 'conference-audio': this.conf.onAudio(e.confId, e.pcm); break;
      }
    }
  }

  private onCall(call: CallInfo) {
    const opts = this.callOptions.get(call.id) ?? (call.direction === 'in' ? { playFile: this.opts.play, recordFile: this.opts.record } : {});
    if (call.state === 'active' && !this.players.has(call.id) && !this.recorders.has(call.id)) {
      if (opts.recordFile) this.recorders.set(call.id, new WavRecorder(opts.recordFile));
      if (opts.playFile) {
        try {
          const pcm = readWavMono48k(opts.playFile);
          // The player's timer is a mutation like any other: push, then flush.
          this.players.set(call.id, new WavPlayer(pcm, (frame) => this.mutateCalls((c, now) => c.pushAudio(call.id, frame, now))));
        } catch (e) { this.opts.log?.('error', (e as Error).message); }
      }
    }
    if (call.state === 'ended') {
      this.audioSinks.delete(call.id);
      this.players.get(call.id)?.stop();
      this.players.delete(call.id);
      const rec = this.recorders.get(call.id);
      this.recorders.delete(call.id);
      this.callOptions.delete(call.id);
      try { rec?.finish(); } catch (e) { this.opts.log?.('error', `cannot write the recording: ${(e as Error).message}`); }
    }
    this.emit({ type: 'call', call });
  }

  /** False for an incoming message already in the history (delivered again after a crash before the mailbox acknowledgement). */
  private remember(m: ChatMessage): boolean {
    if (m.direction === 'in' && this.historyList.some((x) => x.id === m.id && x.peer === m.peer && x.direction === 'in')) return false;
    this.historyList.push(m);
    if (this.historyList.length > historyMax) this.historyList.shift();
    try { fs.appendFileSync(this.data.file('history.jsonl'), JSON.stringify(m) + '\n', { mode: 0o600 }); } catch { /* history is best effort */ }
    return true;
  }

  private loadState() {
    const profile = this.data.readJson<ProfileFields>('profile.json');
    if (profile?.displayName) this.node.whitePages.profile = profile;
    for (const u of this.data.readJson<string[]>('contacts.json') ?? []) this.contactList.set(u, { user: u, presence: 'unknown', lastSeenMs: undefined });
    try {
      const lines = fs.readFileSync(this.data.file('history.jsonl'), 'utf8').trim().split('\n').slice(-historyMax);
      for (const l of lines) { try { this.historyList.push(JSON.parse(l) as ChatMessage); } catch { /* skip a torn line */ } }
    } catch { /* no history yet */ }
  }

  /** After a restart: keep using a still-valid certificate instead of asking for the password. */
  private restoreSession() {
    const saved = this.data.readJson<{ certificate: string }>('certificate.json');
    const cert = saved && fromBase64Url(saved.certificate);
    if (!cert) return;
    this.driver.mutate((now) => {
      if (this.node.restore(cert, now).ok) this.node.attach(now);
    });
  }

  private saveCertificate() {
    const st = this.node.status();
    const cert = this.node.certificateBytes();
    if (cert) this.data.writeJson('certificate.json', { user: st.user, certificate: toBase64Url(cert) });
    this.savedCertificate = cert;
  }

  /** Written when the attachment changes (status events) and at exit, if anything changed. */
  private saveHostCache() {
    const s = this.node.link.hosts.snapshot();
    const text = JSON.stringify(s);
    if (text === this.savedHostCache) return;
    try { this.data.saveHostCache(s); this.savedHostCache = text; } catch (e) { this.opts.log?.('warn', `cannot save the host cache: ${(e as Error).message}`); }
  }

  private saveContacts() { this.data.writeJson('contacts.json', [...this.contactList.keys()]); }

  private refreshContacts() { for (const u of this.contactList.keys()) void this.refreshContact(u); }

  private async refreshContact(user: string) {
    const c = this.contactList.get(user);
    if (!c || !this.node.status().loggedIn) return;
    const before = c.presence;
    try {
      await this.lookup(user);
      c.presence = 'online';
      c.lastSeenMs = clockNow();
    } catch { c.presence = 'offline'; }
    if (c.presence !== before) this.emit({ type: 'presence', user, presence: c.presence });
  }
}
