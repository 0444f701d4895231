// The supernodes a node keeps relay tokens at besides its own (decision 0027), sans-IO.
//
// A callee is reached through a relay when punching finds nothing; which relay is best depends
// on where the caller is, so the callee offers a few: its own supernode plus up to `extraMax`
// more, taken from its host cache lowest measured RTT first. At each it keeps a session open
// (keep-alives hold the NAT binding the relay sends to) and says Hello every probeMs: the
// answer is its relay token there, and the round trip — timed only on a session already up,
// so no handshake is counted — is the RTT it publishes with the token. A supernode that stops
// answering is dropped and another taken. The same measurements give a caller its own side of
// the sum (relay-choice.ts).
import { type Address, formatAddress } from '../wire/address.ts';
import { udpPath } from '../session/paths.ts';
import { Cmd } from '../wire/commands.ts';
import { Hello, HelloOk } from '../overlay/protocol.ts';
import type { Rpc } from '../session/rpc.ts';

export interface RelaySetConfig {
  request: Rpc['request'];
  isUp: (path: string) => boolean;
  now: () => number;
  /** Known supernodes, best first (the host cache), and their measured RTT if any. */
  ranked: (now: number) => Address[];
  rttOf: (a: Address) => number | undefined;
  /** Reports to the host cache. */
  measured: (a: Address, rttMs: number, now: number) => void;
  failed: (a: Address, now: number) => void;
  extraMax?: number;   // default 2
  probeMs?: number;    // default 20 s
}

export interface HeldRelay { supernode: Address; token: number; rttMs: number | undefined }

interface Member { address: Address; path: string; token: number | undefined; rttMs: number | undefined; nextProbeMs: number; inFlight: boolean }

// Implementation constants.
const probeTimeoutMs = 3000;

export class RelaySet {
  private readonly members = new Map<string, Member>();
  private primary: Address | undefined;
  private changed = false;
  private nextFillMs: number | undefined;
  private readonly extraMax: number;
  private readonly probeMs: number;

  constructor(private readonly cfg: RelaySetConfig) {
    this.extraMax = cfg.extraMax ?? 2;
    this.probeMs = cfg.probeMs ?? 20_000;
  }

  /** Our supernode is (now) `primary` (undefined: detached, or attached over TCP: hold nothing extra). */
  setPrimary(primary: Address | undefined, now: number) {
    this.primary = primary;
    if (!primary) { if (this.members.size) this.changed = true; this.members.clear(); this.nextFillMs = undefined; return; }
    if (this.members.delete(formatAddress(primary))) this.changed = true;
    this.fill(now);
  }

  /** Relays held besides the primary, with a token. */
  held(): HeldRelay[] {
    return [...this.members.values()].filter((m) => m.token !== undefined).map((m) => ({ supernode: m.address, token: m.token!, rttMs: m.rttMs }));
  }

  /** Our measured RTT to a supernode of the set. */
  rttOf(a: Address): number | undefined { return this.members.get(formatAddress(a))?.rttMs; }

  /** True once after the set's tokens or first measurements changed (re-publish presence). */
  takeChanged(): boolean { const c = this.changed; this.changed = false; return c; }

  handleTimeout(now: number) {
    if (this.nextFillMs !== undefined && now >= this.nextFillMs) this.fill(now);
    for (const m of this.members.values()) if (!m.inFlight && now >= m.nextProbeMs) this.probe(m, now);
  }

  pollTimeout(): number | undefined {
    let t = this.nextFillMs;
    for (const m of this.members.values()) if (!m.inFlight && (t === undefined || m.nextProbeMs < t)) t = m.nextProbeMs;
    return t;
  }

  /** Takes supernodes with the lowest measured RTT (then unmeasured ones, in cache order) until the set is full. */
  private fill(now: number) {
    const primary = this.primary;
    if (!primary) return;
    this.nextFillMs = now + this.probeMs;
    const skip = new Set([formatAddress(primary), ...this.members.keys()]);
    const byRtt = this.cfg.ranked(now).filter((a) => !skip.has(formatAddress(a)))
      .map((a, i) => ({ a, i, rtt: this.cfg.rttOf(a) }))
      .sort((x, y) => (x.rtt ?? Infinity) - (y.rtt ?? Infinity) || x.i - y.i);
    for (const { a } of byRtt) {
      if (this.members.size >= this.extraMax) break;
      const m: Member = { address: a, path: udpPath(a), token: undefined, rttMs: undefined, nextProbeMs: now, inFlight: false };
      this.members.set(formatAddress(a), m);
      this.probe(m, now);
    }
  }

  private probe(m: Member, now: number) {
    m.inFlight = true;
    // The first Hello also opens the session: its round trip includes the handshake, so only
    // its answer (the token) counts, and a second Hello follows at once to time the path.
    const timed = this.cfg.isUp(m.path);
    this.cfg.request(m.path, Hello.toBytes({}), now, (r) => {
      m.inFlight = false;
      const t = this.cfg.now();
      if (this.members.get(formatAddress(m.address)) !== m) return;
      const h = r.ok && r.value.message.command === Cmd.HelloOk ? HelloOk.decode(r.value.message.body) : undefined;
      if (!h?.ok) {
        this.members.delete(formatAddress(m.address));
        this.cfg.failed(m.address, t);
        this.changed = true;
        this.nextFillMs = t;   // take another at the next timeout
        return;
      }
      if (m.token !== h.value.relayToken) { m.token = h.value.relayToken; this.changed = true; }
      if (timed) {
        const rtt = t - now;
        if (m.rttMs === undefined) this.changed = true;
        m.rttMs = m.rttMs === undefined ? rtt : m.rttMs * 0.75 + rtt * 0.25;
        this.cfg.measured(m.address, rtt, t);
      }
      m.nextProbeMs = timed ? t + this.probeMs : t;
    }, { connect: { keepAlive: true }, timeoutMs: probeTimeoutMs });
  }
}
