// The default IPv4 gateway from the kernel's routing table (Linux /proc/net/route), for port
// mapping (src/nat/port-mapper.ts). Undefined elsewhere or without a default route.
import fs from 'node:fs';
import os from 'node:os';
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

/** Our IPv4 address on the gateway's subnet: what PCP and UPnP-IGD name when we listen on every address. */
export function localAddressToward(gateway: Address): string | undefined {
  const n = (ip: string) => ip.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv4' || i.internal) continue;
      const mask = n(i.netmask);
      if (((n(i.address) & mask) >>> 0) === ((n(gateway.host) & mask) >>> 0)) return i.address;
    }
  }
  return undefined;
}
