// Port mapping at the default gateway by whichever protocol it speaks, sans-IO: PCP
// (src/nat/pcp.ts), NAT-PMP (src/nat/port-mapping.ts) and UPnP-IGD (src/nat/upnp-igd.ts).
//
// Theory of operation. UPnP-IGD runs alongside the port-5351 protocols, which go one after the
// other as RFC 6887 §9 asks: PCP first, NAT-PMP when PCP ends without a mapping (the gateway
// answered "unsupported version", refused, or stayed silent ~2 s). Each protocol gives up on
// its own within ~3.5 s, so the whole search is bounded. The first mapping granted is kept and
// the others are cancelled; one granted later anyway is deleted unless it is the very same
// public address and port (one rule at the gateway: deleting it would delete ours). The kept
// mapping is renewed by its own protocol; release() deletes it at shutdown. result() says which
// protocol granted what, or what each said when none did.
//
//   commands: start(now), release(now)
//   inputs:   handleDatagram(path, bytes, now) → consumed?, handleSsdp(from, bytes, now),
//             handleHttp(id, reply, now), handleTimeout(now)
//   outputs:  pollTransmit() (UDP from the node's socket), pollRequest() (SSDP / HTTP for the
//             driver), pollTimeout(), result()
import type { Address } from '../wire/address.ts';
import type { RandomBytes } from '../crypto/keys.ts';
import { earliest } from '../deadline.ts';
import { NatPmpClient, type PortMappingResult, type PortMappingState } from './port-mapping.ts';
import { PcpClient } from './pcp.ts';
import { UpnpIgdClient, type HttpReply, type UpnpRequest } from './upnp-igd.ts';

export type MappingProtocol = 'pcp' | 'nat-pmp' | 'upnp-igd';
export const mappingProtocols: MappingProtocol[] = ['pcp', 'nat-pmp', 'upnp-igd'];
export const protocolNames: Record<MappingProtocol, string> = { pcp: 'PCP', 'nat-pmp': 'NAT-PMP', 'upnp-igd': 'UPnP-IGD' };

export interface PortMapperConfig {
  gateway: Address;
  /** Our address on the LAN (PCP and UPnP-IGD name it in the request). */
  internalHost: string;
  internalPort: number;
  random: RandomBytes;
  /** Which protocols to try; default all three. */
  protocols?: MappingProtocol[];
  lifetimeS?: number;
}

export interface MappingAttempt { protocol: MappingProtocol; state: PortMappingState | 'not needed'; error: string | undefined; publicAddress: string | undefined }

export interface PortMapperResult extends PortMappingResult {
  /** The protocol that granted the mapping we hold. */
  protocol: MappingProtocol | undefined;
  attempts: MappingAttempt[];
}

interface Client {
  start(now: number): void;
  release(now: number): void;
  cancel(): void;
  handleTimeout(now: number): void;
  pollTimeout(): number | undefined;
  result(): PortMappingResult;
}

export class PortMapper {
  private readonly clients = new Map<MappingProtocol, Client>();
  private readonly pcp: PcpClient | undefined;
  private readonly natPmp: NatPmpClient | undefined;
  private readonly upnp: UpnpIgdClient | undefined;
  private readonly started = new Set<MappingProtocol>();
  private readonly notNeeded = new Set<MappingProtocol>();
  private winner: MappingProtocol | undefined;
  private stopped = false;

  constructor(private readonly cfg: PortMapperConfig) {
    const want = new Set(cfg.protocols ?? mappingProtocols);
    const base = { gateway: cfg.gateway, internalPort: cfg.internalPort, lifetimeS: cfg.lifetimeS };
    if (want.has('pcp')) this.clients.set('pcp', this.pcp = new PcpClient({ ...base, internalHost: cfg.internalHost, nonce: cfg.random(12) }));
    if (want.has('nat-pmp')) this.clients.set('nat-pmp', this.natPmp = new NatPmpClient(base));
    if (want.has('upnp-igd')) {
      const r = cfg.random(2);
      this.clients.set('upnp-igd', this.upnp = new UpnpIgdClient({ ...base, internalHost: cfg.internalHost, otherPort: 20000 + (((r[0] << 8) | r[1]) % 40000) }));
    }
  }

  get idle(): boolean { return this.started.size === 0 && !this.stopped; }

  start(now: number) {
    if (!this.idle) return;
    for (const p of ['upnp-igd', 'pcp'] as const) this.begin(p, now);
    // NAT-PMP goes first only when PCP is not tried.
    if (!this.pcp) this.begin('nat-pmp', now);
  }

  /** Deletes the mapping we hold, and stops every protocol (shutdown). */
  release(now: number) {
    this.stopped = true;
    for (const c of this.clients.values()) c.release(now);
  }

  handleDatagram(path: string, bytes: Uint8Array, now: number): boolean {
    const used = (this.pcp?.handleDatagram(path, bytes, now) || this.natPmp?.handleDatagram(path, bytes, now)) ?? false;
    if (used) this.settle(now);
    return used;
  }

  handleSsdp(from: Address, bytes: Uint8Array, now: number) { this.upnp?.handleSsdp(from, bytes, now); this.settle(now); }

  handleHttp(id: number, reply: HttpReply, now: number) { this.upnp?.handleHttp(id, reply, now); this.settle(now); }

  handleTimeout(now: number) {
    for (const c of this.clients.values()) c.handleTimeout(now);
    this.settle(now);
  }

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined { return this.pcp?.pollTransmit() ?? this.natPmp?.pollTransmit(); }

  pollRequest(): UpnpRequest | undefined { return this.upnp?.pollRequest(); }

  pollTimeout(): number | undefined {
    return earliest(...[...this.clients.values()].map((c) => c.pollTimeout()));
  }

  result(): PortMapperResult {
    const attempts: MappingAttempt[] = [...this.clients].filter(([p]) => this.started.has(p)).map(([protocol, c]) => {
      const r = c.result();
      return { protocol, state: this.notNeeded.has(protocol) ? 'not needed' : r.state, error: r.error, publicAddress: r.publicAddress };
    });
    const win = this.winner && this.clients.get(this.winner)!.result();
    if (win && win.state === 'mapped') return { ...win, protocol: this.winner, attempts };
    const states = attempts.map((a) => a.state);
    const state: PortMappingState = this.started.size === 0 ? 'idle' : states.includes('trying') || this.pcpPending() ? 'trying'
      : states.includes('refused') ? 'refused' : 'no-answer';
    const errors = attempts.filter((a) => a.error).map((a) => `${protocolNames[a.protocol]}: ${a.error}`);
    return {
      state, gateway: this.cfg.gateway.host, publicAddress: attempts.find((a) => a.publicAddress)?.publicAddress,
      externalPort: undefined, lifetimeS: undefined, error: errors.length ? errors.join('; ') : undefined, protocol: undefined, attempts,
    };
  }

  private pcpPending(): boolean { return !!this.natPmp && !!this.pcp && !this.started.has('nat-pmp') && !this.stopped; }

  private begin(p: MappingProtocol, now: number) {
    const c = this.clients.get(p);
    if (!c || this.started.has(p)) return;
    this.started.add(p);
    c.start(now);
  }

  /** After any input: fall back from PCP to NAT-PMP, pick the winner, stand the others down. */
  private settle(now: number) {
    if (this.stopped) return;
    const pcp = this.pcp?.result().state;
    if (this.winner === undefined && pcp && pcp !== 'trying' && pcp !== 'mapped') this.begin('nat-pmp', now);
    if (this.winner === undefined) {
      for (const [p, c] of this.clients) if (this.winner === undefined && this.started.has(p) && c.result().state === 'mapped') this.winner = p;
    }
    if (this.winner === undefined) return;
    const w = this.clients.get(this.winner)!.result();
    for (const [p, c] of this.clients) {
      if (p === this.winner || this.notNeeded.has(p) || !this.started.has(p)) continue;
      const r = c.result();
      if (r.state !== 'trying' && r.state !== 'mapped') continue;
      // The same public port is the same rule at the gateway: forget it rather than delete ours.
      if (r.state === 'mapped' && (r.publicAddress !== w.publicAddress || r.externalPort !== w.externalPort)) c.release(now);
      else c.cancel();
      this.notNeeded.add(p);
    }
  }
}
