// The default IPv4 gateway from the kernel's routing table (Linux /proc/net/route), for the
// NAT-PMP client (src/nat/port-mapping.ts). Undefined elsewhere or without a default route.
import fs from 'node:fs';
import type { Address } from '../wire/address.ts';

export function defaultGateway(): Address | undefined {
  let text: string;
  try { text = fs.readFileSync('/proc/net/route', 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n').slice(1)) {
    const [, dest, gw, flags] = line.trim().split(/\s+/);
    // RTF_UP | RTF_GATEWAY, destination 0.0.0.0; the table is in host (little-endian) byte order.
    if (dest !== '00000000' || !gw || (parseInt(flags, 16) & 3) !== 3) continue;
    const n = parseInt(gw, 16);
    return { host: [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'), port: 0 };
  }
  return undefined;
}
