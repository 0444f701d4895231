// Addresses as they travel in object lists: IPv4 or IPv6 plus a port. Parsing lives here,
// not in node:net, so the wire layer stays free of socket modules and can be fuzzed alone.
import { type Result, ok, err } from './result.ts';

export interface Address { host: string; port: number }

export function parseIPv4(host: string): Uint8Array | undefined {
  // By hand rather than split and a regex: every address a node encodes passes through here.
  if (host.length < 7 || host.length > 15) return undefined;
  const out = new Uint8Array(4);
  let part = 0, value = 0, digits = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i < host.length ? host.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0; digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined; // no leading zeros: one spelling per address
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

export function parseIPv6(host: string): Uint8Array | undefined {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h.length < 2 || h.length > 45) return undefined;
  const halves = h.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

export function formatIPv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/** Parses "1.2.3.4:5", "[::1]:5" into an Address; the host is normalised. */
export function parseHostPort(text: string): Result<Address> {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) return err('bad-address', `expected HOST:PORT or [IPv6]:PORT, got "${text}"`);
  const port = Number(m[2]);
  if (port > 65535) return err('bad-port', `port out of range in "${text}"`);
  let host = m[1];
  if (host === 'localhost') host = '127.0.0.1';
  const v4 = parseIPv4(host);
  if (v4) return ok({ host: [...v4].join('.'), port });
  const v6 = parseIPv6(host);
  if (v6) return ok({ host: formatIPv6(v6), port });
  return err('bad-address', `not an IPv4 or IPv6 address: "${host}"`);
}

export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
