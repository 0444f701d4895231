// The ordinary node's attachment to a supernode, kept alive (docs/host-cache.md), sans-IO.
//
// Attaching says Hello to the best supernodes of the host cache in turn; the first HelloOk
// wins. While attached, a Hello every probeMs is both the liveness check and the refresh of
// what the supernode tells us (our public address, our relay token, other supernodes): a probe
// that goes unanswered for probeTimeoutMs means the supernode is gone, and the link moves to
// the next best one at once. The owner hears `attached` each time the attachment is new or
// its relay token or public address changed, so it can re-publish presence.
import { earliest } from '../deadline.ts';
import type { Address } from '../wire/address.ts';
import { formatAddress } from '../wire/address.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { Cmd } from '../wire/commands.ts';
import { udpPath, tcpPath, addressOfUdpPath, addressOfTcpPath } from '../session/paths.ts';
import type { Rpc } from '../session/rpc.ts';
import { Hello, HelloOk } from '../overlay/protocol.ts';
import { HostCache } from './host-cache.ts';
import type { LogLine } from './core.ts';

export interface Attachment { path: string; address: Address; observed: Address; relayToken: number; address6?: Address }

export interface SupernodeLinkConfig {
  rpc: Pick<Rpc, 'request' | 'close'>;
  /** Whether a session is up on a path: a Hello that must first open one is not timed (its RTT would include the handshake). */
  isUp?: (path: string) => boolean;
  hosts: HostCache;
  /** The owner's time of the input being handled (rpc callbacks carry none). */
  now: () => number;
  log: (level: LogLine['level'], message: string) => void;
  /** A new attachment nobody was waiting for, or a changed relay token or public address: publish presence again. */
  attached: (a: Attachment, now: number) => void;
  /** The attachment was lost (a new one is being looked for). */
  detached: (now: number, lost: Attachment) => void;
  probeMs?: number;          // default 5000
  probeTimeoutMs?: number;   // default 3000
  retryMs?: number;          // default 5000: after every candidate failed
  candidatesMax?: number;    // default 8 per round
}

export class SupernodeLink {
  attachment: Attachment | undefined;
  private attaching = false;
  /**
   * How the last attachment went: over UDP; over TCP to the supernode's own address (UDP is
   * blocked here, so try that first); or over TCP to an advertised listener such as port 443
   * (only those get out here: try them first, and reach other supernodes on theirs).
   */
  tcpMode: 'udp' | 'tcp' | 'listener' = 'udp';
  /** Listener paths we reach supernodes on → the supernode (by its own address, as records name it). */
  private readonly listenerOwners = new Map<string, Address>();
  private wanted = false;
  private nextProbeMs: number | undefined;
  private nextRetryMs: number | undefined;
  private probing = false;
  private lastHeardMs = -Infinity;
  private readonly waiters: ((r: Result<Attachment>) => void)[] = [];
  private readonly probeMs: number;
  private readonly probeTimeoutMs: number;
  private readonly retryMs: number;
  private readonly candidatesMax: number;

  constructor(private readonly cfg: SupernodeLinkConfig) {
    this.probeMs = cfg.probeMs ?? 5000;
    this.probeTimeoutMs = cfg.probeTimeoutMs ?? 3000;
    this.retryMs = cfg.retryMs ?? 5000;
    this.candidatesMax = cfg.candidatesMax ?? 8;
  }

  get hosts(): HostCache { return this.cfg.hosts; }

  /** Attaches (or reports the current attachment); from now on the link keeps itself attached. */
  attach(now: number, cb?: (r: Result<Attachment>) => void) {
    this.wanted = true;
    if (this.attachment) return cb?.(ok(this.attachment));
    if (cb) this.waiters.push(cb);
    if (this.attaching) return;
    this.attaching = true;
    this.nextRetryMs = undefined;
    // UDP first; TCP to the same supernode when UDP gets no answer (UDP blocked, as Skype met
    // it) — TCP first once we have learned that UDP does not get through. Only a supernode that
    // answers on neither counts as failed in the host cache.
    const order = (sn: Address) => {
      const udp = udpPath(sn), tcp = tcpPath(sn), alt = this.cfg.hosts.tcpListeners(sn).map(tcpPath);
      return this.tcpMode === 'listener' ? [...alt, tcp, udp] : this.tcpMode === 'tcp' ? [tcp, ...alt, udp] : [udp, tcp, ...alt];
    };
    const candidates = this.cfg.hosts.ranked(now).slice(0, this.candidatesMax)
      .flatMap((sn) => order(sn).map((path, i, all) => ({ sn, path, last: i === all.length - 1 })));
    const tryNext = (at: number) => {
      const next = candidates.shift();
      if (!next) {
        this.attaching = false;
        this.nextRetryMs = at + this.retryMs;
        return this.settle(err('no-supernode', 'no supernode answered'));
      }
      const { sn, path, last } = next;
      this.hello(sn, path, at, (r, t) => {
        if (!r.ok) return tryNext(t);
        this.tcpMode = path === udpPath(sn) ? 'udp' : path === tcpPath(sn) ? 'tcp' : 'listener';
        if (this.tcpMode === 'listener') this.listenerOwners.set(path, sn);
        this.attaching = false;
        this.attachment = r.value;
        this.nextProbeMs = t + this.probeMs;
        const how = this.tcpMode === 'tcp' ? ' over TCP (no answer over UDP)' : this.tcpMode === 'listener' ? ` over TCP at ${path.slice(4)} (its advertised listener)` : '';
        this.cfg.log('info', `attached to supernode ${formatAddress(sn)}${how}; public address ${formatAddress(r.value.observed)}`);
        // Waiters are UserNode.attach, which publishes presence itself; a failover nobody waited for is announced.
        if (this.waiters.length) this.settle(ok(r.value)); else this.cfg.attached(r.value, t);
      }, 3000, last);
    };
    tryNext(now);
  }

  /** UDP did not get through elsewhere (to the login server): try TCP first from now on — listeners first if only those got out. */
  preferTcp(listenersFirst: boolean) { this.tcpMode = listenersFirst ? 'listener' : 'tcp'; }

  /** The path to a supernode over the transport that gets out here (relays, forwarding). */
  pathTo(sn: Address): string {
    const a = this.attachment;
    if (a && formatAddress(a.address) === formatAddress(sn)) return a.path;
    if (this.tcpMode === 'udp') return udpPath(sn);
    const alt = this.tcpMode === 'listener' ? this.cfg.hosts.tcpListeners(sn)[0] : undefined;
    if (!alt) return tcpPath(sn);
    const path = tcpPath(alt);
    if (this.listenerOwners.size >= 1024) this.listenerOwners.clear();
    this.listenerOwners.set(path, sn);
    return path;
  }

  /** The supernode a path leads to, by the address records name it by (a listener path maps back to it). */
  supernodeOf(path: string): Address | undefined {
    return this.listenerOwners.get(path) ?? addressOfUdpPath(path) ?? addressOfTcpPath(path);
  }

  private settle(r: Result<Attachment>) {
    for (const cb of this.waiters.splice(0)) cb(r);
  }

  /** A datagram came from the attached supernode: it is alive, whatever the probe says. */
  heard(now: number) { this.lastHeardMs = now; }

  /** Stops keeping an attachment (logged out). */
  stop() { this.wanted = false; this.nextProbeMs = undefined; this.nextRetryMs = undefined; }

  /**
   * Something else found the supernode unresponsive (a request sent at `since` timed out). If
   * anything came from it after `since`, it is busy rather than gone, and stays.
   */
  lost(now: number, why: string, since = now) {
    const a = this.attachment;
    if (!a || this.lastHeardMs >= since) return;
    this.cfg.hosts.failure(a.address, now);
    this.cfg.log('warn', `supernode ${formatAddress(a.address)} lost (${why}); moving to the next one`);
    this.attachment = undefined;
    this.nextProbeMs = undefined;
    this.cfg.rpc.close(a.path, now);
    this.cfg.detached(now, a);
    if (this.wanted) this.attach(now);
  }

  /** The session to a path closed; if it was our supernode's, attach elsewhere. */
  pathClosed(path: string, now: number) {
    if (this.attachment?.path === path) this.lost(now, 'session closed', Infinity);
  }

  handleTimeout(now: number) {
    if (this.nextRetryMs !== undefined && now >= this.nextRetryMs && this.wanted && !this.attachment) this.attach(now);
    if (this.nextProbeMs !== undefined && now >= this.nextProbeMs && this.attachment && !this.probing) this.probe(now);
  }

  pollTimeout(): number | undefined {
    return earliest(this.probing ? undefined : this.nextProbeMs, this.nextRetryMs);
  }

  private probe(now: number) {
    const a = this.attachment!;
    this.probing = true;
    this.hello(a.address, a.path, now, (r, t) => {
      this.probing = false;
      if (this.attachment !== a) return;
      // A busy supernode may drop a Hello yet still relay our calls: only silence is death.
      if (!r.ok && this.lastHeardMs < now) return this.lost(t, r.error.message, now);
      this.nextProbeMs = t + this.probeMs;
      if (!r.ok) return;
      if (r.value.relayToken !== a.relayToken || formatAddress(r.value.observed) !== formatAddress(a.observed)) {
        this.attachment = r.value;
        this.cfg.log('info', `supernode ${formatAddress(a.address)} now sees us as ${formatAddress(r.value.observed)} (relay token ${r.value.relayToken})`);
        this.cfg.attached(r.value, t);
      }
    }, this.probeTimeoutMs, true);
  }

  /** One Hello on a path to the supernode; successes, and failures when `countFailure`, go into the host cache. */
  private hello(sn: Address, path: string, now: number, cb: (r: Result<Attachment>, now: number) => void, timeoutMs: number,
    countFailure: boolean) {
    const sentAt = now;
    const timed = this.cfg.isUp?.(path) ?? true;
    const failure = (t: number) => { if (countFailure) this.cfg.hosts.failure(sn, t); };
    let done = false;
    this.cfg.rpc.request(path, Hello.toBytes({}), now, (r) => {
      if (done) return;
      done = true;
      const t = this.cfg.now();
      if (!r.ok) { failure(t); return cb(err('supernode-unreachable', r.error.message), t); }
      if (r.value.message.command !== Cmd.HelloOk) { failure(t); return cb(err('refused', 'supernode refused Hello'), t); }
      const h = HelloOk.decode(r.value.message.body);
      if (!h.ok) { failure(t); return cb(err('bad-reply', h.error.message), t); }
      this.cfg.hosts.success(sn, timed ? t - sentAt : undefined, t);
      this.cfg.hosts.learn(h.value.supernodes, t);
      this.cfg.hosts.learnTcp(h.value);
      cb(ok({ path, address: sn, observed: h.value.observed, relayToken: h.value.relayToken, address6: h.value.address6 }), t);
    }, { connect: { keepAlive: true }, timeoutMs });
  }
}
