// Shared benchmark plumbing: time a function for a while, print a table of figures next to the
// same run's references as ratios, and end with one JSON line.

/** Operations per second of `fn`, measured for about `ms` after a warm-up. */
export function opsPerSecond(fn: () => void, ms = 700): number {
  for (let i = 0; i < 2000; i++) fn();
  return timeSlice(fn, ms);
}

function timeSlice(fn: () => void, ms: number): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

/**
 * Ops/s of several functions measured in interleaved slices, keeping each one's best slice:
 * on a shared machine the load changes from second to second, and timing the candidates one
 * after the other would put that change into their ratio.
 */
export function compareOps<K extends string>(fns: Record<K, () => void>, rounds = 9, sliceMs = 80): Record<K, number> {
  const names = Object.keys(fns) as K[];
  for (const k of names) for (let i = 0; i < 3000; i++) fns[k]();
  const best = Object.fromEntries(names.map((k) => [k, 0])) as Record<K, number>;
  for (let r = 0; r < rounds; r++) {
    for (const k of names) best[k] = Math.max(best[k], timeSlice(fns[k], sliceMs));
  }
  return best;
}

export interface Row { name: string; [column: string]: string | number }

export function printTable(title: string, rows: Row[]) {
  const cols = Object.keys(rows[0] ?? {});
  const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 0)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(cols.map((c, i) => c.padEnd(widths[i])).join('  ') + '\n');
  for (const r of rows) process.stdout.write(cols.map((c, i) => cell(r[c]).padEnd(widths[i])).join('  ') + '\n');
}

export const ratio = (ours: number, ref: number) => (ref === 0 ? 0 : Math.round((ours / ref) * 100) / 100);
