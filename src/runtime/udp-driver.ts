// Binds one sans-IO core to one UDP socket and the process's timers (DESIGN.md, rule 1).
// The run loop: apply exactly one mutation (a datagram, a timer, a command), then drain the
// core's transmits, let the owner drain its events, and re-arm the single timer.
import dgram from 'node:dgram';
import type { DatagramCore } from '../node/core.ts';
import { type Address, parseIPv4 } from '../wire/address.ts';
import { udpPath, addressOfUdpPath, socketPath, parseSocketPath } from '../session/paths.ts';
import { now as clockNow } from './clock.ts';
import { TcpLinks } from './tcp-links.ts';

export interface DriverStats { received: number; sent: number; sendErrors: number; coreErrors: number }

const timerMaxMs = 2 ** 31 - 1;
// Extra sockets for birthday punching (paths sK/udp:…), opened on first use.
const extraSocketsMax = 512;

export class UdpDriver {
  private core: DatagramCore | undefined;
  private timer: NodeJS.Timeout | undefined;
  private afterMutation: () => void = () => {};
  private closed = false;
  private readonly extra = new Map<number, dgram.Socket>();
  /** A second socket of the other address family (dual stack): udp: paths of that family go through it. */
  private other: dgram.Socket | undefined;
  /** TCP fallback links (tcp: paths), when the role has them. */
  tcp: TcpLinks | undefined;
  readonly stats: DriverStats = { received: 0, sent: 0, sendErrors: 0, coreErrors: 0 };

  private constructor(private readonly socket: dgram.Socket, readonly onError: (e: unknown) => void) {}

  /** `recvBufferBytes`: a relay takes bursts of many flows at once (the kernel caps it at net.core.rmem_max). */
  static bind(listen: Address, onError: (e: unknown) => void = () => {}, opts: { recvBufferBytes?: number } = {}): Promise<UdpDriver> {
    const socket = dgram.createSocket({ type: parseIPv4(listen.host) ? 'udp4' : 'udp6', reuseAddr: false, recvBufferSize: opts.recvBufferBytes });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(listen.port, listen.host, () => {
        socket.off('error', reject);
        const d = new UdpDriver(socket, onError);
        socket.on('error', (e) => onError(e));
        d.receive(socket);
        resolve(d);
      });
    });
  }

  private receive(socket: dgram.Socket) {
    socket.on('message', (msg, rinfo) => {
      this.stats.received++;
      const host = rinfo.address.includes('%') ? rinfo.address.replace(/%.*$/, '') : rinfo.address;
      this.mutate((now) => this.core?.handleDatagram(udpPath({ host, port: rinfo.port }), new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), now));
    });
  }

  get address(): Address {
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  /**
   * Binds a second socket of the other address family (an IPv6 one beside IPv4): the core keeps
   * one set of paths, and each datagram leaves through the socket of its address's family.
   */
  bindOther(listen: Address): Promise<Address> {
    const v6 = !parseIPv4(listen.host);
    if (this.other || v6 === (this.socket.address().family === 'IPv6')) return Promise.reject(new Error('a second socket must be of the other address family'));
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: false, ipv6Only: v6 });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(listen.port, listen.host, () => {
        socket.off('error', reject);
        socket.on('error', (e) => this.onError(e));
        this.receive(socket);
        this.other = socket;
        this.otherV6 = v6;
        const a = socket.address();
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** The second socket's address (see bindOther), if there is one. */
  get otherAddress(): Address | undefined {
    const a = this.other?.address();
    return a && { host: a.address, port: a.port };
  }

  /** Starts driving the core; `afterMutation` runs after every mutation to drain its events. */
  attach(core: DatagramCore, afterMutation: () => void = () => {}) {
    this.core = core;
    this.afterMutation = afterMutation;
    this.mutate(() => {});
  }

  /** Applies one mutation to the core, then flushes its output. A throw is a bug: logged, survived. */
  mutate(fn: (now: number) => void) {
    if (this.closed) return;
    const now = clockNow();
    try { fn(now); } catch (e) { this.stats.coreErrors++; this.onError(e); }
    this.flush();
  }

  private flush() {
    const core = this.core;
    if (!core || this.closed) return;
    try {
      // The owner's event handling may queue more packets (a reply); a few rounds settle it.
      for (let round = 0; round < 8; round++) {
        this.afterMutation();
        if (this.sendAll(core) === 0) break;
      }
    } catch (e) { this.stats.coreErrors++; this.onError(e); }
    this.arm(core.pollTimeout());
  }

  private sendAll(core: DatagramCore): number {
    let n = 0;
    for (let t = core.pollTransmit(); t; t = core.pollTransmit()) {
      if (t.path.startsWith('tcp:')) { n++; this.stats.sent++; this.tcp?.send(t.path, t.bytes); continue; }
      const extra = t.path.startsWith('udp:') ? undefined : parseSocketPath(t.path);
      const to = extra?.address ?? this.addressOf(t.path);
      const socket = extra ? this.extraSocket(extra.socket) : to && this.other && this.isOtherFamily(to) ? this.other : this.socket;
      if (!to || !socket) continue;
      n++;
      this.stats.sent++;
      socket.send(t.bytes, to.port, to.host, (e) => { if (e) this.stats.sendErrors++; });
    }
    return n;
  }

  private otherV6 = false;
  private isOtherFamily(a: Address): boolean { return a.host.includes(':') === this.otherV6; }

  /** Adds TCP links: datagrams on tcp: paths go through them; listen() on them for a TCP listener. */
  enableTcp(dialOut: boolean): TcpLinks {
    this.tcp ??= new TcpLinks((path, bytes) => { this.stats.received++; this.mutate((now) => this.core?.handleDatagram(path, bytes, now)); }, this.onError, dialOut);
    return this.tcp;
  }

  /** One of the extra sockets, bound like the main one (any port) the first time it is used. */
  private extraSocket(k: number): dgram.Socket | undefined {
    if (k >= extraSocketsMax) return undefined;
    let s = this.extra.get(k);
    if (s) return s;
    const main = this.socket.address();
    s = dgram.createSocket(main.family === 'IPv6' ? 'udp6' : 'udp4');
    s.on('error', (e) => this.onError(e));
    s.on('message', (msg, rinfo) => {
      this.stats.received++;
      const host = rinfo.address.replace(/%.*$/, '');
      this.mutate((now) => this.core?.handleDatagram(socketPath(k, { host, port: rinfo.port }), new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), now));
    });
    s.bind(0, main.address);
    this.extra.set(k, s);
    return s;
  }

  // Parsing a path per datagram shows in a relay's profile: remember the last few thousand.
  private readonly addresses = new Map<string, Address | undefined>();
  private addressOf(path: string): Address | undefined {
    if (this.addresses.has(path)) return this.addresses.get(path);
    const a = addressOfUdpPath(path);
    if (this.addresses.size >= 4096) this.addresses.clear();
    this.addresses.set(path, a);
    return a;
  }

  private armedFor: number | undefined;

  private arm(deadline: number | undefined) {
    // Re-arming a timer per datagram costs more than the relaying itself: keep one that is still right.
    if (this.timer && deadline === this.armedFor) return;
    this.armedFor = deadline;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (deadline === undefined || this.closed) return;
    const delay = Math.min(Math.max(0, deadline - clockNow()), timerMaxMs);
    this.timer = setTimeout(() => { this.timer = undefined; this.mutate((now) => this.core?.handleTimeout(now)); }, delay);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.extra.values()) s.close();
    this.other?.close();
    this.tcp?.close();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
