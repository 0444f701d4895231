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

// Media timestamps: 32-bit counts of 48 kHz samples, wrapping every 24.9 hours.
export const timestampModulo = 2 ** 32;

/** b - a in samples, in the shortest direction. */
export function timestampDiff(a: number, b: number): number {
  return ((b - a) | 0);
}

/** Extends a wrapping timestamp to a counter, relative to the last extended one. */
export function unwrapTimestamp(lastExtended: number, ts: number): number {
  return lastExtended + timestampDiff(lastExtended >>> 0, ts >>> 0);
}

/** Low 32 bits of a millisecond clock, for echoing times in reports (RTT); differences wrap. */
export const clock32 = (ms: number) => Math.floor(ms) >>> 0;
export const clock32Diff = (a: number, b: number) => ((b - a) | 0);
