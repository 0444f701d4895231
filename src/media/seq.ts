// 16-bit sequence numbers wrap every 21 minutes at 50 frames/s; all arithmetic on them lives here.
export const seqModulo = 0x10000;

/** b - a in the shortest direction: positive when b is after a. */
export function seqDiff(a: number, b: number): number {
  const d = (b - a) & 0xffff;
  return d >= 0x8000 ? d - seqModulo : d;
}

export const seqLess = (a: number, b: number) => seqDiff(a, b) > 0;

/** Extends a wrapping sequence number to a counter, relative to the last extended one. */
export function unwrapSeq(lastExtended: number, seq: number): number {
  return lastExtended + seqDiff(lastExtended & 0xffff, seq);
}
