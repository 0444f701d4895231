// Seeded randomness for the simulator (xorshift128+ folded to 32 bits): one stream per
// purpose, so adding a draw in one place does not reshuffle every other part of a run.
export class Rng {
  private s0: number; private s1: number; private s2: number; private s3: number;
  constructor(seed: number, stream = 0) {
    let x = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0 || 1;
    const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
  }
  /** Uniform u32 (xoshiro128**). */
  u32 = (): number => {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t; this.s3 = rotl(this.s3, 11);
    return r;
  };
  /** Uniform in [0, 1). */
  float(): number { return this.u32() / 4294967296; }
  int(n: number): number { return Math.floor(this.float() * n); }
  exp(mean: number): number { return -Math.log(1 - this.float()) * mean; }
  chance(p: number): boolean { return this.float() < p; }
}

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
