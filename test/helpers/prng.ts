// A seeded PRNG for tests (xorshift32): hostile-input loops must replay the same bytes.
export function prng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  return {
    u32: next,
    int: (n: number) => next() % n,
    bytes: (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = next() & 0xff; return b; },
  };
}
