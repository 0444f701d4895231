// A NAT-PMP client (RFC 6886), sans-IO: asks the home router to forward a public UDP port to our
// socket, so peers reach us without punching. The driver sends our datagrams to the gateway's
// port 5351 from the node's own socket (the mapping is for that socket's port) and hands back
// whatever comes from there.
//
// Theory of operation. Two requests: the gateway's public address (opcode 0) and a UDP mapping
// of our internal port (opcode 1, suggesting the same external port). Each is sent again after
// 250 ms, 500 ms, 1 s (RFC 6886 §3.1 doubles up to 64 s; a home gateway that has not answered in
// ~2 s is taken as absent, and the node goes on without a mapping). A granted mapping is renewed
// at half its lifetime; an answer whose epoch went backwards means the gateway restarted and
// lost its mappings, so we map again. release() deletes the mapping (lifetime 0, RFC 6886 §3.4).
// PCP (src/nat/pcp.ts) and UPnP-IGD (src/nat/upnp-igd.ts) are their own clients; the port mapper
// (src/nat/port-mapper.ts) runs them together.
//
//   commands: start(now), release(now), cancel()
//   inputs:   handleDatagram(fromPath, bytes, now) → consumed?, handleTimeout(now)
//   outputs:  pollTransmit() → { path, bytes }, pollTimeout(), result()
import { earliest } from '../deadline.ts';
import type { Address } from '../wire/address.ts';
import { udpPath } from '../session/paths.ts';

export const natPmpPort = 5351;

export type PortMappingState = 'idle' | 'trying' | 'mapped' | 'refused' | 'no-answer';

export interface PortMappingResult {
  state: PortMappingState;
  gateway: string;
  /** The gateway's public IPv4 address (opcode 0). */
  publicAddress: string | undefined;
  /** Our public UDP port on it, while mapped. */
  externalPort: number | undefined;
  lifetimeS: number | undefined;
  /** The gateway's words when it refused (RFC 6886 result codes). */
  error: string | undefined;
}

/** What every port-mapping client (NAT-PMP, PCP, UPnP-IGD) reports: port and lifetime only while mapped. */
export function mappingResult(state: PortMappingState, gateway: string, publicAddress: string | undefined,
  externalPort: number | undefined, grantedS: number | undefined, error: string | undefined): PortMappingResult {
  const mapped = state === 'mapped';
  return { state, gateway, publicAddress, externalPort: mapped ? externalPort : undefined, lifetimeS: mapped ? grantedS : undefined, error };
}

export interface PortMappingConfig { gateway: Address; internalPort: number; lifetimeS?: number }

const resultCodes: Record<number, string> = {
  1: 'unsupported version', 2: 'not authorized / refused', 3: 'network failure (the gateway has no public address)',
  4: 'out of resources', 5: 'unsupported opcode',
};
const firstRetryMs = 250;
const triesMax = 4;

interface Pending { op: 0 | 1; bytes: Uint8Array; tries: number; nextMs: number }

export class NatPmpClient {
  private readonly gatewayPath: string;
  private readonly lifetimeS: number;
  private readonly out: Uint8Array[] = [];
  private pending: Pending[] = [];
  private state: PortMappingState = 'idle';
  private publicAddress: string | undefined;
  private externalPort: number | undefined;
  private grantedS: number | undefined;
  private error: string | undefined;
  private renewAtMs: number | undefined;
  private epoch: { s: number; atMs: number } | undefined;

  constructor(private readonly cfg: PortMappingConfig) {
    this.gatewayPath = udpPath({ host: cfg.gateway.host, port: natPmpPort });
    this.lifetimeS = cfg.lifetimeS ?? 3600;
  }

  start(now: number) {
    this.state = 'trying';
    this.send(0, now);
    this.send(1, now);
  }

  /** Deletes the mapping at the gateway (one datagram; nothing waits for the answer). */
  release(now: number) {
    if (this.state === 'mapped') this.out.push(mappingRequest(this.cfg.internalPort, 0, 0));
    this.cancel();
    void now;
  }

  /** Stops asking and renewing (another protocol got the mapping, or we are shutting down). */
  cancel() { this.pending = []; this.renewAtMs = undefined; }

  handleDatagram(path: string, b: Uint8Array, now: number): boolean {
    if (path !== this.gatewayPath || b.length < 8 || b[0] !== 0 || b[1] < 128) return false;
    const op = b[1] - 128;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const result = v.getUint16(2);
    const epochS = v.getUint32(4);
    if (op !== 0 && op !== 1) return true;
    this.pending = this.pending.filter((p) => p.op !== op);
    // Epoch (seconds since the gateway started) going backwards: it restarted and forgot us.
    // RFC 6886 §3.6: it must have advanced by at least 7/8 of our elapsed time, less 2 s.
    const restarted = this.epoch !== undefined && epochS < this.epoch.s + ((now - this.epoch.atMs) / 1000) * 7 / 8 - 2;
    this.epoch = { s: epochS, atMs: now };
    if (restarted && this.state === 'mapped' && op === 0) this.send(1, now);
    if (result !== 0) {
      this.error = resultCodes[result] ?? `result ${result}`;
      if (op === 1) { this.state = 'refused'; this.externalPort = undefined; this.renewAtMs = undefined; }
      return true;
    }
    if (op === 0 && b.length >= 12) this.publicAddress = `${b[8]}.${b[9]}.${b[10]}.${b[11]}`;
    if (op === 1 && b.length >= 16) {
      const internal = v.getUint16(8);
      if (internal !== this.cfg.internalPort) return true;
      this.externalPort = v.getUint16(10);
      this.grantedS = v.getUint32(12);
      this.error = undefined;
      // A lifetime of 0 is the answer to a deletion: the mapping is gone.
      this.state = this.grantedS > 0 ? 'mapped' : 'refused';
      this.renewAtMs = this.grantedS > 0 ? now + this.grantedS * 500 : undefined;
    }
    return true;
  }

  handleTimeout(now: number) {
    for (const p of this.pending) {
      if (now < p.nextMs) continue;
      if (p.tries >= triesMax) {
        this.pending = this.pending.filter((x) => x !== p);
        if (p.op === 1 && this.state === 'trying') this.state = 'no-answer';
        continue;
      }
      p.tries++;
      p.nextMs = now + firstRetryMs * 2 ** (p.tries - 1);
      this.out.push(p.bytes);
    }
    if (this.renewAtMs !== undefined && now >= this.renewAtMs) { this.renewAtMs = undefined; this.send(1, now); }
  }

  pollTransmit(): { path: string; bytes: Uint8Array } | undefined {
    const bytes = this.out.shift();
    return bytes && { path: this.gatewayPath, bytes };
  }

  pollTimeout(): number | undefined {
    return earliest(...this.pending.map((p) => p.nextMs), this.renewAtMs);
  }

  result(): PortMappingResult { return mappingResult(this.state, this.cfg.gateway.host, this.publicAddress, this.externalPort, this.grantedS, this.error); }

  private send(op: 0 | 1, now: number) {
    const bytes = op === 0 ? Uint8Array.of(0, 0) : mappingRequest(this.cfg.internalPort, this.lifetimeS);
    this.pending = [...this.pending.filter((p) => p.op !== op), { op, bytes, tries: 1, nextMs: now + firstRetryMs }];
    this.out.push(bytes);
  }
}

/** Opcode 1 (UDP): version, opcode, reserved, internal port, suggested external port, lifetime. */
function mappingRequest(port: number, lifetimeS: number, externalPort = port): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  b[1] = 1;
  v.setUint16(4, port);
  v.setUint16(6, externalPort);
  v.setUint32(8, lifetimeS);
  return b;
}
