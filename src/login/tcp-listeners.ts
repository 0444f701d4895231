// Supernodes' extra TCP listeners (decision 0026): a supernode always takes TCP on its UDP
// address, and may also listen elsewhere — port 443 for nodes on networks that let only HTTPS
// out. Supernodes announce them to the login server, which hands them out with its list of
// supernodes (LoginOk, SupernodeList); supernodes pass on what they know in HelloOk. On the wire
// they travel as two parallel lists, `tcpOf` (the supernode, by its UDP address) and `tcpAt`.
import { type Address, formatAddress } from '../wire/address.ts';

export interface TcpListenerLists { tcpOf?: Address[]; tcpAt?: Address[] }

// Implementation limits: listeners kept per supernode, supernodes remembered.
export const listenersPerSupernodeMax = 4;
const supernodesMax = 4096;

/** A bounded map supernode → its extra TCP listeners. */
export class TcpListeners {
  private readonly map = new Map<string, Address[]>();

  set(owner: Address, listeners: Address[]) {
    const k = formatAddress(owner);
    const usable = listeners.filter((a) => a.port > 0 && a.host !== '0.0.0.0' && a.host !== '::').slice(0, listenersPerSupernodeMax);
    this.map.delete(k);
    if (usable.length === 0) return;
    if (this.map.size >= supernodesMax) this.map.delete(this.map.keys().next().value!);
    this.map.set(k, usable);
  }

  get(owner: Address): Address[] { return this.map.get(formatAddress(owner)) ?? []; }

  /** Adds what a message lists (mismatched lists are ignored). */
  learn(l: TcpListenerLists) {
    const { tcpOf, tcpAt } = l;
    if (!tcpOf || !tcpAt || tcpOf.length !== tcpAt.length) return;
    const by = new Map<string, { owner: Address; at: Address[] }>();
    for (let i = 0; i < tcpOf.length; i++) {
      const k = formatAddress(tcpOf[i]);
      const e = by.get(k) ?? { owner: tcpOf[i], at: [] };
      e.at.push(tcpAt[i]);
      by.set(k, e);
    }
    for (const e of by.values()) this.set(e.owner, e.at);
  }

  /** The parallel lists for the given supernodes (those with listeners), at most `max` pairs. */
  lists(owners: Address[], max = 64): TcpListenerLists {
    const tcpOf: Address[] = [], tcpAt: Address[] = [];
    for (const o of owners) for (const a of this.get(o)) { if (tcpOf.length < max) { tcpOf.push(o); tcpAt.push(a); } }
    return tcpOf.length ? { tcpOf, tcpAt } : {};
  }
}
