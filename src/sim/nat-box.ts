// A NAT as RFC 4787 describes it, sans-IO: the simulator's virtual network asks it, per
// datagram, which public source an outgoing one leaves with and whether an incoming one gets
// in. Time comes in with every call; the box holds no clock and no socket.
//
// Mapping (RFC 4787 §4.1) decides when an outgoing flow reuses a binding: for any destination
// (endpoint-independent), per destination IP (address-dependent), or per destination IP and
// port (address-and-port-dependent, "symmetric"). Filtering (§5) decides which outside sources
// may send in through a binding: anyone, IPs the inside host sent to, or exactly the IP:port
// pairs it sent to. Only outbound traffic refreshes a binding or a permission (REQ-6 allows
// inbound refresh; not refreshing on it is the stricter, common choice, and what keep-alives
// must survive). Ports are not preserved and hairpinning is off: the hardest common case, so a
// traversal that works here does not lean on a kind NAT.
import { type Address, formatAddress } from '../wire/address.ts';
import type { Mapping, Filtering } from '../nat/classify.ts';
import { Rng } from './rng.ts';

/** What a NAT actually does (classify.ts's names, minus its 'none'/'unknown' verdicts). */
export type NatMapping = Exclude<Mapping, 'none' | 'unknown'>;
export type NatFiltering = Exclude<Filtering, 'none' | 'unknown'>;

export interface NatBehaviour {
  mapping: NatMapping;
  filtering: NatFiltering;
  /** Idle time after which a binding (and each permission) is gone; default 120 s (RFC 4787 REQ-5's minimum). */
  bindingTimeoutMs?: number;
  /** 'sequential' from a seeded start, or 'random' (Linux's masquerade fully-random, which the NAT lab's symmetric type uses). */
  portAllocation?: 'sequential' | 'random';
}

/** The NAT lab's vocabulary (test/system/natlab), as classify.ts reports the kinds. */
export type NatPreset = 'full-cone' | 'address-restricted' | 'port-restricted' | 'symmetric';

export const natPresets: Record<NatPreset, NatBehaviour> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent' },
  'address-restricted': { mapping: 'endpoint-independent', filtering: 'address-dependent' },
  'port-restricted': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' },
  'symmetric': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: 'random' },
};

export type InboundDrop = 'no-binding' | 'expired' | 'filtered';

interface Binding {
  key: string;
  inside: Address;
  publicPort: number;
  lastOutMs: number;
  /** Outside endpoints the inside host sent to, by filtering key, with when it last did. */
  permits: Map<string, number>;
}

const portLow = 1024;
const portHigh = 65535;

export class NatBox {
  readonly behaviour: Required<NatBehaviour>;
  readonly stats = { bindings: 0, translatedOut: 0, translatedIn: 0, hairpinDropped: 0, noBinding: 0, expired: 0, filtered: 0 };
  /** Why the last inbound datagram was dropped (for tests and traces). */
  lastDrop: InboundDrop | undefined;
  private readonly byKey = new Map<string, Binding>();
  private readonly byPort = new Map<number, Binding>();
  private readonly rng: Rng;
  private nextPort: number;

  constructor(readonly publicHost: string, behaviour: NatBehaviour | NatPreset, seed = 1) {
    const b = typeof behaviour === 'string' ? natPresets[behaviour] : behaviour;
    this.behaviour = { bindingTimeoutMs: 120_000, portAllocation: 'sequential', ...b };
    this.rng = new Rng(seed, 0x4e4154);
    this.nextPort = 20_000 + this.rng.int(40_000);
  }

  /** The public source a datagram from `inside` to `to` leaves with; undefined when dropped (to our own public address: no hairpinning). */
  outbound(inside: Address, to: Address, now: number): Address | undefined {
    if (to.host === this.publicHost) { this.stats.hairpinDropped++; return undefined; }
    const key = `${formatAddress(inside)}|${this.mappingKey(to)}`;
    let b = this.byKey.get(key);
    if (b && this.expired(b, now)) { this.drop(b); b = undefined; }
    b ??= this.bind(key, inside);
    b.lastOutMs = now;
    b.permits.set(this.filterKey(to), now);
    this.stats.translatedOut++;
    return { host: this.publicHost, port: b.publicPort };
  }

  /** Where a datagram from `from` to our public address goes inside; undefined when the NAT drops it (lastDrop says why). */
  inbound(publicTo: Address, from: Address, now: number): Address | undefined {
    const b = publicTo.host === this.publicHost ? this.byPort.get(publicTo.port) : undefined;
    if (!b) return this.refuse('no-binding');
    if (this.expired(b, now)) { this.drop(b); return this.refuse('expired'); }
    if (this.behaviour.filtering !== 'endpoint-independent') {
      const since = b.permits.get(this.filterKey(from));
      if (since === undefined || now >= since + this.behaviour.bindingTimeoutMs) return this.refuse('filtered');
    }
    this.lastDrop = undefined;
    this.stats.translatedIn++;
    return b.inside;
  }

  /** Live bindings (expired ones linger until traffic touches them). */
  get size(): number { return this.byKey.size; }

  private mappingKey(to: Address): string {
    switch (this.behaviour.mapping) {
      case 'endpoint-independent': return '*';
      case 'address-dependent': return to.host;
      case 'address-and-port-dependent': return formatAddress(to);
    }
  }

  private filterKey(from: Address): string {
    return this.behaviour.filtering === 'address-dependent' ? from.host : formatAddress(from);
  }

  private expired(b: Binding, now: number): boolean { return now >= b.lastOutMs + this.behaviour.bindingTimeoutMs; }

  private bind(key: string, inside: Address): Binding {
    const b: Binding = { key, inside, publicPort: this.allocatePort(), lastOutMs: 0, permits: new Map() };
    this.byKey.set(key, b);
    this.byPort.set(b.publicPort, b);
    this.stats.bindings++;
    return b;
  }

  private drop(b: Binding) {
    this.byKey.delete(b.key);
    this.byPort.delete(b.publicPort);
  }

  private allocatePort(): number {
    const span = portHigh - portLow + 1;
    if (this.byPort.size >= span) throw new Error(`NAT ${this.publicHost}: every public port is bound`);
    for (;;) {
      const port = this.behaviour.portAllocation === 'random' ? portLow + this.rng.int(span)
        : (this.nextPort = this.nextPort >= portHigh ? portLow : this.nextPort + 1);
      if (!this.byPort.has(port)) return port;
    }
  }

  private refuse(why: InboundDrop): undefined {
    this.lastDrop = why;
    this.stats[why === 'no-binding' ? 'noBinding' : why]++;
    return undefined;
  }
}
