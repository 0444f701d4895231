// The process's one clock and one source of randomness; cores get both passed in.
import { randomBytes } from 'node:crypto';

// Monotonic (performance.now never goes backwards) yet anchored to wall time at start, so the
// same `now` can stamp certificates and presence records that other machines compare.
const origin = performance.timeOrigin;
export const now = (): number => Math.floor(origin + performance.now());

export const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
