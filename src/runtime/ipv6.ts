// Dual stack for a role's UDP driver: which IPv6 address to bind beside the IPv4 socket, from
// --listen6 or found on the host's interfaces, and binding it.
import os from 'node:os';
import type { UdpDriver } from './udp-driver.ts';
import { type Address, formatAddress, parseIPv6 } from '../wire/address.ts';

/**
 * A global unicast IPv6 address of this host: not loopback, not link-local (fe80::/10), not
 * unique-local (fc00::/7, not reachable across the internet), not IPv4-mapped.
 */
export function globalIpv6Address(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv6' || i.internal) continue;
      const b = parseIPv6(i.address);
      if (!b || isSpecial(b)) continue;
      return i.address;
    }
  }
  return undefined;
}

function isSpecial(b: Uint8Array): boolean {
  if (b.every((x, i) => i === 15 ? x <= 1 : x === 0)) return true;                  // :: and ::1
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return true;                           // link-local
  if ((b[0] & 0xfe) === 0xfc) return true;                                            // unique-local
  if (b[0] === 0xff) return true;                                                     // multicast
  return b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;  // ::ffff:a.b.c.d
}

export interface Ipv6Choice { explicit?: Address; off?: boolean }

/**
 * Binds the driver's IPv6 socket: at --listen6 when given (failure is the caller's error), else
 * at a global address of the host on the IPv4 socket's port (another port if that is taken).
 * Never beside a loopback IPv4 socket unless asked: tests and demos stay off real networks.
 */
export async function bindIpv6(driver: UdpDriver, choice: Ipv6Choice, log: (level: string, message: string) => void): Promise<Address | undefined> {
  if (choice.off) return undefined;
  if (choice.explicit) return driver.bindOther(choice.explicit);
  const v4 = driver.address;
  if (v4.host.includes(':') || v4.host.startsWith('127.')) return undefined;
  const host = globalIpv6Address();
  if (!host) return undefined;
  for (const port of [v4.port, 0]) {
    try { return await driver.bindOther({ host, port }); } catch (e) {
      if (port === 0) log('warn', `IPv6: cannot listen on ${formatAddress({ host, port })}: ${(e as Error).message}; IPv4 only`);
    }
  }
  return undefined;
}
