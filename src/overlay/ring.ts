// The ring every supernode and every user name is placed on, and the seed's structure on it:
// 2^slotBits slots (a user's slot is the hash of the user name), grouped 8 to a block. A slot's
// replica group is the `replicas` supernodes whose ids follow the slot's start point, so a
// slot keeps ~10 holders at any network size (docs/overlay.md).
//
// Placement hashes are FNV-1a with a murmur finaliser: cheap, stable across versions, and
// not a security boundary (records are signed; a name placed on purpose gains nothing).

export interface RingParams {
  /** log2 of the slot count: a network constant, ≈ log2(supernodes / 10) and ≥ 3. */
  slotBits: number;
  /** Replica group size per slot. */
  replicas: number;
}

export const slotsPerBlockBits = 3; // 8 slots to a block, as in the seed

export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return mix32(h);
}

export function mix32(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const slotOfUser = (user: string, p: RingParams): number => hash32(user) >>> (32 - p.slotBits);
export const slotPoint = (slot: number, p: RingParams): number => p.slotBits === 0 ? 0 : (slot << (32 - p.slotBits)) >>> 0;
// Shifts, not 2 **: these run several times per message handled (Math.pow showed in profiles).
export const blockCount = (p: RingParams): number => p.slotBits <= slotsPerBlockBits ? 1 : 1 << (p.slotBits - slotsPerBlockBits);
export const blockOfSlot = (slot: number, p: RingParams): number => p.slotBits <= slotsPerBlockBits ? 0 : (slot >>> slotsPerBlockBits) & (blockCount(p) - 1);
export const blockOfId = (id: number, p: RingParams): number => p.slotBits <= slotsPerBlockBits ? 0 : (id >>> (32 - (p.slotBits - slotsPerBlockBits)));

/** The slot count that gives ~`replicas` supernodes per slot for a network of `n`. */
export function slotBitsFor(n: number, replicas = 10): number {
  return Math.max(slotsPerBlockBits, Math.round(Math.log2(Math.max(1, n / replicas))));
}

/** Index of the first element ≥ x in a sorted array (of its first `n` elements). */
export function lowerBound(sorted: ArrayLike<number>, x: number, n = sorted.length): number {
  let lo = 0, hi = n;
  while (lo < hi) { const mid = (lo + hi) >>> 1; if (sorted[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}
