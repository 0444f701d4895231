// How a call's path reads to a person: direct (UDP, maybe from a birthday socket) or relayed via
// which supernode(s), over UDP or TCP. Paths are the session layer's names (session/paths.ts).
import { formatAddress } from '../wire/address.ts';
import { parseRelayPath, parseForwardPath, parseSocketPath, addressOfUdpPath, addressOfTcpPath } from '../session/paths.ts';

export function describeRoute(path: string | undefined, overTcp: boolean): string | undefined {
  if (!path) return undefined;
  const transport = overTcp ? 'tcp' : 'udp';
  const s = parseSocketPath(path);
  if (s) return `direct udp ${formatAddress(s.address)} (birthday socket ${s.socket})`;
  const u = addressOfUdpPath(path);
  if (u) return `direct udp ${formatAddress(u)}${u.host.includes(':') ? ' (IPv6)' : ''}`;
  const t = addressOfTcpPath(path);
  if (t) return `direct tcp ${formatAddress(t)}`;
  const r = parseRelayPath(path);
  if (r) return `relay via ${formatAddress(r.supernode)} over ${transport}`;
  const f = parseForwardPath(path);
  if (f) return `relay via ${formatAddress(f.first)} → ${formatAddress(f.second)} over ${transport}`;
  return path;
}
