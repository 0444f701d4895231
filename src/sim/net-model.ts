// The simulated Internet between cores: regions with a one-way latency matrix, jitter, random
// loss, a per-datagram serialisation delay for the sender's bandwidth, and partitions.
import type { Rng } from './rng.ts';

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

export class NetModel {
  /** Nodes in different partition sides cannot talk; side 0 is the default. */
  partitioned = false;
  private readonly sideOfRegion = [0, 0, 1, 1, 1];

  constructor(private readonly rng: Rng, readonly o: NetModelOptions) {}

  pickRegion(): number {
    let x = this.rng.float();
    for (let i = 0; i < weights.length; i++) { x -= weights[i]; if (x < 0) return i; }
    return 0;
  }

  /** Delay of one datagram, or -1 when it is lost. */
  delay(fromRegion: number, toRegion: number, bytes: number): number {
    if (this.partitioned && this.sideOfRegion[fromRegion] !== this.sideOfRegion[toRegion]) return -1;
    if (this.o.lossRate > 0 && this.rng.chance(this.o.lossRate)) return -1;
    const base = oneWayMs[fromRegion][toRegion] + 2 * this.o.accessMs;
    return base * (1 + this.o.jitter * this.rng.float()) + (bytes * 8 * 1000) / this.o.bandwidthBps;
  }
}
