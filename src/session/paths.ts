// Path names: how cores refer to a peer without knowing about sockets.
//   udp:HOST:PORT             a UDP address the driver can send to
//   relay:SNHOST:SNPORT#TOKEN a peer reached through a supernode's relay
//   fwd:SN1>SN2#TOKEN          a peer attached to SN2, reached by forwarding through SN1 (our own)
//   tcp:HOST:PORT              a TCP connection (fallback when UDP is blocked; runtime/tcp-links.ts)
//   sK/udp:HOST:PORT           a UDP address reached from the driver's extra socket K (birthday punching)
import { type Address, formatAddress, parseHostPort } from '../wire/address.ts';

export const udpPath = (a: Address): string => `udp:${formatAddress(a)}`;

export function addressOfUdpPath(path: string): Address | undefined {
  if (!path.startsWith('udp:')) return undefined;
  const a = parseHostPort(path.slice(4));
  return a.ok ? a.value : undefined;
}

export const relayPath = (supernode: Address, token: number): string => `relay:${formatAddress(supernode)}#${token}`;

export function parseRelayPath(path: string): { supernode: Address; token: number } | undefined {
  const m = /^relay:(.+)#(\d{1,10})$/.exec(path);
  if (!m) return undefined;
  const a = parseHostPort(m[1]);
  const token = Number(m[2]);
  return a.ok && token <= 0xffffffff ? { supernode: a.value, token } : undefined;
}

export const forwardPath = (first: Address, second: Address, token: number): string =>
  `fwd:${formatAddress(first)}>${formatAddress(second)}#${token}`;

export function parseForwardPath(path: string): { first: Address; second: Address; token: number } | undefined {
  const m = /^fwd:([^>]+)>(.+)#(\d{1,10})$/.exec(path);
  if (!m) return undefined;
  const a = parseHostPort(m[1]), b = parseHostPort(m[2]);
  const token = Number(m[3]);
  return a.ok && b.ok && token <= 0xffffffff ? { first: a.value, second: b.value, token } : undefined;
}

/** Paths that go through supernodes rather than straight to the peer. */
export const isRelayedPath = (path: string): boolean => path.startsWith('relay:') || path.startsWith('fwd:');

/** A UDP path sent from one of the driver's extra sockets (many sockets for birthday punching). */
export const socketPath = (socket: number, address: Address): string => `s${socket}/${udpPath(address)}`;

export function parseSocketPath(path: string): { socket: number; address: Address } | undefined {
  const m = /^s(\d{1,4})\/(udp:.+)$/.exec(path);
  if (!m) return undefined;
  const a = addressOfUdpPath(m[2]);
  return a ? { socket: Number(m[1]), address: a } : undefined;
}

/** Paths a UDP driver sends itself (one of its sockets), as opposed to relay paths a core wraps. */
export const isDriverPath = (path: string): boolean => path.startsWith('udp:') || path.startsWith('tcp:') || /^s\d{1,4}\/udp:/.test(path);

export const tcpPath = (a: Address): string => `tcp:${formatAddress(a)}`;

export function addressOfTcpPath(path: string): Address | undefined {
  if (!path.startsWith('tcp:')) return undefined;
  const a = parseHostPort(path.slice(4));
  return a.ok ? a.value : undefined;
}
