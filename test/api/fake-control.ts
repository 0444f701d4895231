// An in-memory NodeControl for API and CLI tests.
import { ApiError, type NodeControl, type NodeEvent, type NodeStatus, type CallInfo, type ChatMessage, type Contact } from '../../src/api/node-control.ts';

export class FakeControl implements NodeControl {
  user: string | undefined;
  readonly listeners = new Set<(e: NodeEvent) => void>();
  readonly messages: ChatMessage[] = [];
  readonly callList: CallInfo[] = [];
  readonly contactList: Contact[] = [];
  readonly accounts = new Map<string, string>();

  status(): NodeStatus {
    return {
      user: this.user, loggedIn: !!this.user, certificateExpiresAtMs: undefined, supernode: '127.0.0.1:7710', publicAddress: '127.0.0.1:5000',
      listen: '127.0.0.1:5000', loginServer: '127.0.0.1:7700', loginServerKey: undefined, directAllowed: true, calls: this.callList,
    };
  }
  async register(user: string, password: string) {
    if (this.accounts.has(user)) throw new ApiError('name-taken', `the name ${user} is already registered`, 409);
    this.accounts.set(user, password);
  }
  async login(user: string, password: string) {
    if (this.accounts.get(user) !== password) throw new ApiError('bad-credentials', 'wrong user name or password', 409);
    this.user = user;
    this.emit({ type: 'status', status: this.status() });
    return this.status();
  }
  async logout() { this.user = undefined; }
  async changePassword(password: string, newPassword: string) {
    if (!this.user || this.accounts.get(this.user) !== password) throw new ApiError('bad-credentials', 'wrong user name or password', 409);
    this.accounts.set(this.user, newPassword);
  }
  async deleteAccount(password: string) {
    if (!this.user || this.accounts.get(this.user) !== password) throw new ApiError('bad-credentials', 'wrong user name or password', 409);
    this.accounts.delete(this.user);
    this.user = undefined;
  }
  async devices(password: string, remove?: string) {
    if (!this.user || this.accounts.get(this.user) !== password) throw new ApiError('bad-credentials', 'wrong user name or password', 409);
    const all = [{ deviceId: 'laptop', key: 'a'.repeat(43), addedAtMs: 1, lastLoginAtMs: 2, thisDevice: true },
      { deviceId: 'phone', key: 'b'.repeat(43), addedAtMs: 3, lastLoginAtMs: 4, thisDevice: false }];
    if (remove && !all.some((d) => d.deviceId === remove)) throw new ApiError('no-such-device', `no device ${remove}`, 409);
    return all.filter((d) => d.deviceId !== remove);
  }
  async lookup(user: string) {
    if (user !== 'bob') throw new ApiError('not-found', `${user} is not online`, 409);
    return { user, online: true, addresses: ['127.0.0.1:6000'], supernode: '127.0.0.1:7710', publishedAtMs: 1, expiresAtMs: 2 };
  }
  contacts() { return this.contactList; }
  async addContact(user: string) { const c: Contact = { user, presence: 'online', lastSeenMs: 1 }; this.contactList.push(c); return c; }
  async removeContact(user: string) { const i = this.contactList.findIndex((c) => c.user === user); if (i >= 0) this.contactList.splice(i, 1); }
  async chat(user: string, text: string) {
    const m: ChatMessage = { id: String(this.messages.length), peer: user, direction: 'out', text, sentAtMs: 1, deliveredAtMs: 2 };
    this.messages.push(m);
    this.emit({ type: 'receipt', id: m.id, peer: user, deliveredAtMs: 2 });
    return m;
  }
  history(peer?: string) { return this.messages.filter((m) => !peer || m.peer === peer); }
  async call(user: string) {
    const c: CallInfo = {
      id: `c${this.callList.length}`, peer: user, direction: 'out', state: 'active', path: 'direct', endReason: undefined,
      startedAtMs: 1, answeredAtMs: 2, endedAtMs: undefined,
      stats: {
        framesSent: 0, framesReceived: 0, framesConcealed: 0, framesRecoveredFec: 0, framesLate: 0, bytesSent: 0, bytesReceived: 0,
        sendKbps: 0, recvKbps: 0, lossPct: 0, jitterMs: 0, rttMs: undefined, jitterBufferMs: 0, mos: undefined, framesExpanded: 0, framesDropped: 0,
      },
    };
    this.callList.push(c);
    this.emit({ type: 'call', call: c });
    return c;
  }
  async answer(id: string) { return this.find(id); }
  async reject(id: string) { return this.end(id, 'rejected'); }
  async hold(id: string) { const c = this.find(id); c.state = 'on-hold'; this.emit({ type: 'call', call: c }); return c; }
  async resume(id: string) { const c = this.find(id); c.state = 'active'; this.emit({ type: 'call', call: c }); return c; }
  async hangup(id?: string) {
    return this.callList.filter((c) => c.state !== 'ended' && (!id || c.id === id)).map((c) => this.end(c.id, 'hung-up'));
  }
  calls() { return this.callList; }
  subscribe(l: (e: NodeEvent) => void) { this.listeners.add(l); return () => this.listeners.delete(l); }
  emit(e: NodeEvent) { for (const l of this.listeners) l(e); }
  private find(id: string) {
    const c = this.callList.find((x) => x.id === id);
    if (!c) throw new ApiError('no-such-call', `no call ${id}`, 404);
    return c;
  }
  private end(id: string, reason: CallInfo['endReason']) {
    const c = this.find(id);
    c.state = 'ended'; c.endReason = reason;
    this.emit({ type: 'call', call: c });
    return c;
  }
}
