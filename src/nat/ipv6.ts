// What a node knows about its own IPv6, sans-IO: the global address its IPv6 socket is bound
// to (if any), and whether a supernode answered over IPv6 and where it saw us from.
//
// A node publishes IPv6 candidates only once a supernode has answered over IPv6: an address on
// an interface proves nothing (a broken upstream, a firewall dropping everything), and a peer
// that probes a dead address only loses time. Without NAT66 the address the supernode sees
// is our own; if it differs (a NAT66 or an NPTv6 prefix translator on the way) it is still the
// one peers must use, so it is what we publish.
//
//   commands: probing(supernode6), answered(observed), failed(why)
//   outputs:  ready, observed, report()
import { type Address, formatAddress } from '../wire/address.ts';

export type Ipv6State = 'none' | 'no-supernode' | 'probing' | 'works' | 'no-answer';

export interface Ipv6Report {
  state: Ipv6State;
  /** Our IPv6 socket's address. */
  local: string | undefined;
  /** Where a supernode saw us from over IPv6. */
  observed: string | undefined;
  /** The supernode asked over IPv6. */
  supernode: string | undefined;
  error: string | undefined;
}

export class Ipv6Status {
  private state: Ipv6State;
  private supernode: Address | undefined;
  private error: string | undefined;
  observed: Address | undefined;

  /** `local`: the global IPv6 address our IPv6 socket is bound to; none: IPv6 is off here. */
  constructor(readonly local: Address | undefined) {
    this.state = local ? 'no-supernode' : 'none';
  }

  /** IPv6 works here: a supernode answered over it. */
  get ready(): boolean { return this.state === 'works' && this.observed !== undefined; }

  /** Whether asking `supernode6` is worth it now (we have IPv6 and have not asked, or asking failed). */
  wants(supernode6: Address | undefined): boolean {
    return this.local !== undefined && supernode6 !== undefined && this.state !== 'probing' && this.state !== 'works';
  }

  probing(supernode6: Address) {
    this.state = 'probing';
    this.supernode = supernode6;
    this.error = undefined;
  }

  /** The supernode answered over IPv6; true when what we publish changes. */
  answered(observed: Address): boolean {
    const changed = !this.ready || formatAddress(observed) !== formatAddress(this.observed!);
    this.state = 'works';
    this.observed = observed;
    return changed;
  }

  failed(why: string) {
    this.state = 'no-answer';
    this.observed = undefined;
    this.error = why;
  }

  report(): Ipv6Report {
    return {
      state: this.state, local: this.local && formatAddress(this.local), observed: this.observed && formatAddress(this.observed),
      supernode: this.supernode && formatAddress(this.supernode), error: this.error,
    };
  }
}

/** IPv6 candidates go last in a candidate list: older peers and birthday punching take the first (IPv4) one. */
export function withIpv6Last(v4: Address[], v6: Address | undefined): Address[] {
  return v6 && !v4.some((a) => formatAddress(a) === formatAddress(v6)) ? [...v4, v6] : v4;
}
