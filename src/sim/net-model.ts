// The simulated Internet between cores: regions with a one-way latency matrix, jitter, random
// loss, a per-datagram serialisation delay for the sender's bandwidth, and partitions. A
// datagram's fate is a hash of the run's seed and the datagram's own key (its sender and the
// sender's sequence number, agenda.ts): it depends on nothing else that happened in the run —
// nor on which thread simulates it — and costs no random state per sender (docs/decisions/0033).
import { mix32 } from '../overlay/ring.ts';

export const regions = ['north-america', 'europe', 'asia', 'south-america', 'oceania'] as const;
const weights = [0.3, 0.3, 0.25, 0.1, 0.05];
// One-way milliseconds between region cores (public RTT tables, halved and rounded).
const oneWayMs = [
  [20, 45, 80, 70, 90],
  [45, 15, 110, 100, 140],
  [80, 110, 30, 150, 60],
  [70, 100, 150, 40, 150],
  [90, 140, 60, 150, 20],
];

export interface NetModelOptions { lossRate: number; jitter: number; bandwidthBps: number; accessMs: number }

/** Regions by the top byte of a hash: the weights above in 256ths. */
const regionByByte = (() => {
  const t = new Uint8Array(256);
  let at = 0;
  weights.forEach((w, r) => { const end = r === weights.length - 1 ? 256 : at + Math.round(w * 256); t.fill(r, at, end); at = end; });
  return t;
})();

/** The region of a host, from a hash of what names it (an id, a user number) and the run's seed. */
export function regionOf(name: number, seed: number): number {
  return regionByByte[mix32((name ^ Math.imul(seed, 0x9e3779b9)) >>> 0) >>> 24];
}

export class NetModel {
  /** Nodes in different partition sides cannot talk; side 0 is the default. */
  partitioned = false;
  private readonly sideOfRegion = [0, 0, 1, 1, 1];

  private readonly salt: number;
  constructor(seed: number, readonly o: NetModelOptions) { this.salt = mix32(seed ^ 0x6e657400); }

  /** No datagram arrives sooner than this after it was sent: how far threads may run apart. */
  minDelayMs(): number {
    let min = Infinity;
    for (const row of oneWayMs) for (const x of row) min = Math.min(min, x);
    return min + 2 * this.o.accessMs;
  }

  /** Delay of the datagram that sender `src` sends as its `seq`-th event, or -1 when it is lost. */
  delay(fromRegion: number, toRegion: number, bytes: number, src: number, seq: number): number {
    if (this.partitioned && this.sideOfRegion[fromRegion] !== this.sideOfRegion[toRegion]) return -1;
    const h = mix32(mix32((src ^ this.salt) >>> 0) ^ Math.imul(seq, 0x9e3779b1) ^ Math.floor(src / 2 ** 32) ^ Math.floor(seq / 2 ** 32));
    if (this.o.lossRate > 0 && mix32(h ^ 0x10ee) / 4294967296 < this.o.lossRate) return -1;
    const base = oneWayMs[fromRegion][toRegion] + 2 * this.o.accessMs;
    return base * (1 + this.o.jitter * (mix32(h ^ 0x717e) / 4294967296)) + (bytes * 8 * 1000) / this.o.bandwidthBps;
  }
}
