// Every sans-IO core answers pollTimeout() with the soonest of its own deadlines and those of
// the cores it composes; this is that "soonest, if any" in one place.

/** The soonest of some deadlines, ignoring the absent ones; undefined when none is set. */
export function earliest(...ts: (number | undefined)[]): number | undefined {
  let m: number | undefined;
  for (const t of ts) if (t !== undefined && (m === undefined || t < m)) m = t;
  return m;
}
