// A PCP client (RFC 6887, MAP opcode), sans-IO: asks the home router to forward a public UDP
// port to our socket. Same shape as the NAT-PMP client (src/nat/port-mapping.ts), and the same
// server port: the driver sends from the node's own socket to the gateway's port 5351.
//
// Theory of operation. One MAP request for our internal port (suggesting the same external
// port), carrying a 12-byte nonce that the answer must echo (so an answer for another client or
// an old request is not taken for ours). Retries after 250 ms, 500 ms, 1 s: a gateway silent
// for ~2 s is taken as absent. A NAT-PMP-only gateway answers in NAT-PMP format with "unsupported
// version" (RFC 6887 §9): that ends PCP at once, and the caller falls back to NAT-PMP. A granted
// mapping is renewed at half its lifetime with the same nonce; an epoch that went backwards means
// the gateway restarted and lost it, so we map again. release() asks for lifetime 0 (deletion).
//
//   commands: start(now), release(now), cancel()
//   inputs:   handleDatagram(fromPath, bytes, now) → consumed?, handleTimeout(now)
//   outputs:  pollTransmit() → { path, bytes }, pollTimeout(), result()
import type { Address } from '../wire/address.ts';
import { udpPath } from '../session/paths.ts';
import { earliest } from '../deadline.ts';
import { natPmpPort, mappingResult, type PortMappingResult, type PortMappingState } from './port-mapping.ts';

export interface PcpConfig {
  gateway: Address;
  /** Our address on the LAN, as the gateway sees it (the PCP client address field must match). */
  internalHost: string;
  internalPort: number;
  nonce: Uint8Array;
  lifetimeS?: number;
}

export const pcpVersion = 2;
const opMap = 1;
const udpProtocol = 17;
const requestBytes = 60;
const firstRetryMs = 250;
const triesMax = 4;

const resultCodes: Record<number, string> = {
  1: 'unsupported version', 2: 'not authorized', 3: 'malformed request', 4: 'unsupported opcode', 5: 'unsupported option',
  6: 'malformed option', 7: 'network failure', 8: 'no resources', 9: 'unsupported protocol', 10: 'user exceeded quota',
  11: 'cannot provide external', 12: 'address mismatch (the gateway sees us at another address)', 13: 'excessive remote peers',
};

/** A MAP request (RFC 6887 §7.1 header + §11.1 MAP body), for UDP, IPv4 addresses IPv4-mapped. */
export function encodeMapRequest(r: { internalHost: string; internalPort: number; externalPort: number; lifetimeS: number; nonce: Uint8Array }): Uint8Array {
  const b = new Uint8Array(requestBytes);
  const v = new DataView(b.buffer);
  b[0] = pcpVersion;
  b[1] = opMap;
  v.setUint32(4, r.lifetimeS);
  b.set(mappedV4(r.internalHost), 8);
  b.set(r.nonce.subarray(0, 12), 24);
  b[36] = udpProtocol;
  v.setUint16(40, r.internalPort);
  v.setUint16(42, r.externalPort);
  b.set(mappedV4('0.0.0.0'), 44);
  return b;
}

export interface MapResponse { result: number; lifetimeS: number; epochS: number; nonce: Uint8Array; protocol: number; internalPort: number; externalPort: number; externalHost: string }

/** A MAP response, or undefined when the bytes are not one (short, wrong version or opcode). */
export function decodeMapResponse(b: Uint8Array): MapResponse | undefined {
  if (b.length < requestBytes || b.length > 1100 || b[0] !== pcpVersion || b[1] !== (0x80 | opMap)) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ip = b.subarray(44, 60);
  const v4 = ip.subarray(0, 10).every((x) => x === 0) && ip[10] === 0xff && ip[11] === 0xff;
  return {
    result: b[3], lifetimeS: v.getUint32(4), epochS: v.getUint32(8), nonce: b.slice(24, 36), protocol: b[36],
    internalPort: v.getUint16(40), externalPort: v.getUint16(42), externalHost: v4 ? `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}` : '(IPv6)',
  };
}

function mappedV4(host: string): Uint8Array {
  const b = new Uint8Array(16);
  b[10] = 0xff; b[11] = 0xff;
  const o = host.split('.').map(Number);
  if (o.length === 4 && o.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) b.set(o, 12);
  return b;
}

export class PcpClient {
  private readonly gatewayPath: string;
  private readonly lifetimeS: number;
  private readonly out: Uint8Array[] = [];
  private pending: { bytes: Uint8Array; tries: number; nextMs: number } | undefined;
  private state: PortMappingState = 'idle';
  private publicAddress: string | undefined;
  private externalPort: number | undefined;
  private grantedS: number | undefined;
  private error: string | undefined;
  private renewAtMs: number | undefined;
  private epoch: { s: number; atMs: number } | undefined;
  /** The gateway speaks NAT-PMP only (it answered our PCP request in NAT-PMP format). */
  unsupported = false;

  constructor(private readonly cfg: PcpConfig) {
    this.gatewayPath = udpPath({ host: cfg.gateway.host, port: natPmpPort });
    this.lifetimeS = cfg.lifetimeS ?? 3600;
  }

  start(now: number) { this.state = 'trying'; this.send(this.lifetimeS, now); }

  /** Deletes the mapping at the gateway (one datagram; nothing waits for the answer). */
  release(now: number) {
    if (this.state !== 'mapped') return this.cancel();
    this.out.push(this.request(0));
    this.cancel();
    void now;
  }

  /** Stops asking and renewing (another protocol got the mapping, or we are shutting down). */
  cancel() { this.pending = undefined; this.renewAtMs = undefined; }

  handleDatagram(path: string, b: Uint8Array, now: number): boolean {
    if (path !== this.gatewayPath || b.length < 4) return false;
    // A NAT-PMP server's "unsupported version" (RFC 6886 §3.5) to our version-2 request.
    if (b[0] === 0 && b[1] >= 128 && b.length >= 4 && b[2] === 0 && b[3] === 1) {
      if (this.state !== 'trying') return true;
      this.pending = undefined;
      this.unsupported = true;
      this.state = 'refused';
      this.error = 'the gateway speaks NAT-PMP only';
      return true;
    }
    if (b[0] !== pcpVersion) return false;
    const r = decodeMapResponse(b);
    if (!r) return true;
    if (!sameBytes(r.nonce, this.cfg.nonce) || r.internalPort !== this.cfg.internalPort || r.protocol !== udpProtocol) return true;
    this.pending = undefined;
    const restarted = this.epoch !== undefined && r.epochS < this.epoch.s + ((now - this.epoch.atMs) / 1000) * 7 / 8 - 2;
    this.epoch = { s: r.epochS, atMs: now };
    if (r.result !== 0) {
      this.error = resultCodes[r.result] ?? `result ${r.result}`;
      this.state = 'refused';
      this.externalPort = undefined;
      this.renewAtMs = undefined;
      return true;
    }
    if (r.lifetimeS === 0) { this.state = 'refused'; this.externalPort = undefined; this.renewAtMs = undefined; return true; }
    this.publicAddress = r.externalHost;
    this.externalPort = r.externalPort;
    this.grantedS = r.lifetimeS;
    this.error = undefined;
    this.state = 'mapped';
    this.renewAtMs = now + r.lifetimeS * 500;
    if (restarted) this.send(this.lifetimeS, now);
    return true;
  }

  handleTimeout(now: number) {
    const p = this.pending;
    if (p && now >= p.nextMs) {
      if (p.tries >= triesMax) {
        this.pending = undefined;
        if (this.state === 'trying') this.state = 'no-answer';
      } else {
        p.tries++;
        p.nextMs = now + firstRetryMs * 2 ** (p.tries - 1);
        this.out.push(p.bytes);
      }
    }
    if (this.renewAtMs !== undefined && now >= this.renewAtMs) { this.renewAtMs = undefined; this.send(this.lifetimeS, now); }
  }

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined {
    const bytes = this.out.shift();
    return bytes && { path: this.gatewayPath, bytes };
  }

  pollTimeout(): number | undefined {
    return earliest(this.pending?.nextMs, this.renewAtMs);
  }

  result(): PortMappingResult { return mappingResult(this.state, this.cfg.gateway.host, this.publicAddress, this.externalPort, this.grantedS, this.error); }

  private request(lifetimeS: number): Uint8Array {
    return encodeMapRequest({ internalHost: this.cfg.internalHost, internalPort: this.cfg.internalPort, externalPort: this.externalPort ?? this.cfg.internalPort, lifetimeS, nonce: this.cfg.nonce });
  }

  private send(lifetimeS: number, now: number) {
    const bytes = this.request(lifetimeS);
    this.pending = { bytes, tries: 1, nextMs: now + firstRetryMs };
    this.out.push(bytes);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
