// NAT classification in the style of RFC 5780, as a pure function of what we observed.
//
// Mapping: the public address our one socket was seen at by servers on different IP addresses
// and ports. The same everywhere → endpoint-independent; the same per server IP → address-
// dependent; different per server port → address-and-port-dependent ("symmetric").
// Filtering: which unsolicited answers got through — from another IP (endpoint-independent),
// only from the same IP but another port (address-dependent), or neither (address-and-port).
import { type Address, formatAddress } from '../wire/address.ts';
import type { BindingResult } from './binding-timeout.ts';

export type Mapping = 'none' | 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';
export type Filtering = 'none' | 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';
/** 'cone': one mapping for every destination, filtering not measured. */
export type NatKind = 'public' | 'cone' | 'full-cone' | 'address-restricted' | 'port-restricted' | 'symmetric' | 'udp-blocked' | 'unknown';

/** One answer: which server (address) saw us at which public address. */
export interface MappingSample { server: Address; observed: Address }
/** Did an answer sent from another address than we wrote to reach us? */
export interface FilteringSample { fromOtherIp: boolean; fromOtherPort: boolean; received: boolean }

export interface NatReport {
  kind: NatKind;
  mapping: Mapping;
  filtering: Filtering;
  publicAddresses: string[];
  /** Endpoint-dependent mapping: the peer must learn our address from where our packets arrive. */
  needsBirthday: boolean;
  /** How long the NAT keeps an idle binding, and the keep-alive interval chosen from it (binding-timeout.ts). */
  binding?: BindingResult;
}

export function classifyNat(local: Address, mappings: MappingSample[], filtering: FilteringSample[] = []): NatReport {
  const publicAddresses = [...new Set(mappings.map((m) => formatAddress(m.observed)))];
  if (mappings.length === 0) {
    return { kind: 'udp-blocked', mapping: 'unknown', filtering: 'unknown', publicAddresses, needsBirthday: false };
  }
  const mapping = classifyMapping(local, mappings);
  const filter = mapping === 'none' ? 'none' : classifyFiltering(filtering);
  return { kind: kindOf(mapping, filter), mapping, filtering: filter, publicAddresses, needsBirthday: mapping === 'address-and-port-dependent' || mapping === 'address-dependent' };
}

function classifyMapping(local: Address, samples: MappingSample[]): Mapping {
  const seen = samples.map((s) => formatAddress(s.observed));
  if (samples.every((s) => formatAddress(s.observed) === formatAddress(local))) return 'none';
  if (new Set(seen).size === 1) {
    // One answer, or answers from one server only, cannot show a dependency.
    const servers = new Set(samples.map((s) => formatAddress(s.server)));
    return servers.size > 1 ? 'endpoint-independent' : 'unknown';
  }
  // Observed addresses differ: do they differ only between server IPs?
  const byIp = new Map<string, Set<string>>();
  for (const s of samples) {
    const k = s.server.host;
    if (!byIp.has(k)) byIp.set(k, new Set());
    byIp.get(k)!.add(formatAddress(s.observed));
  }
  // Address-dependent only when a server IP answered from two ports and saw one mapping; without
  // that evidence assume the stricter kind (both need birthday punching anyway).
  const portsPerIp = new Map<string, Set<number>>();
  for (const s of samples) portsPerIp.set(s.server.host, (portsPerIp.get(s.server.host) ?? new Set()).add(s.server.port));
  const proven = [...byIp].some(([ip, v]) => v.size === 1 && portsPerIp.get(ip)!.size > 1);
  return proven && [...byIp.values()].every((v) => v.size === 1) ? 'address-dependent' : 'address-and-port-dependent';
}

function classifyFiltering(samples: FilteringSample[]): Filtering {
  const otherIp = samples.filter((s) => s.fromOtherIp);
  const otherPort = samples.filter((s) => !s.fromOtherIp && s.fromOtherPort);
  if (otherIp.some((s) => s.received)) return 'endpoint-independent';
  if (otherPort.some((s) => s.received)) return 'address-dependent';
  if (otherIp.length > 0 && otherPort.length > 0) return 'address-and-port-dependent';
  return 'unknown';
}

function kindOf(m: Mapping, f: Filtering): NatKind {
  if (m === 'none') return 'public';
  if (m === 'address-and-port-dependent' || m === 'address-dependent') return 'symmetric';
  if (m === 'unknown') return 'unknown';
  if (f === 'endpoint-independent') return 'full-cone';
  if (f === 'address-dependent') return 'address-restricted';
  if (f === 'address-and-port-dependent') return 'port-restricted';
  return 'cone';
}
