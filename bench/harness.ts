// Shared benchmark plumbing: time a function for a while, print a table of figures next to the
// same run's references as ratios, and end with one JSON line.

export type BenchClock = 'wall' | 'cpu';
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/**
 * Operations per second of `fn`, measured for about `ms` after a warm-up. With the 'cpu' clock,
 * per second of this process's CPU time: on a machine shared with other work that is the
 * steadier figure for code that never waits.
 */
export function opsPerSecond(fn: () => void, ms = 700, batch = 500, clock: BenchClock = 'wall'): number {
  for (let i = 0; i < batch * 4; i++) fn();
  const read = clock === 'cpu' ? cpuMs : () => performance.now();
  let n = 0;
  const start = read();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    now = read();
  }
  return n / ((now - start) / 1000);
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

/**
 * Operations per second of several functions measured in alternation (rounds × ms each) and
 * the best round of each kept: on a shared machine, load that comes and goes then hits every
 * contender alike instead of whichever happened to run during it.
 */
export function opsPerSecondInterleaved<K extends string>(fns: Record<K, () => void>, rounds = 5, ms = 300, batch = 500,
  clock: BenchClock = 'wall'): Record<K, number> {
  const best = {} as Record<K, number>;
  for (const k of Object.keys(fns) as K[]) best[k] = 0;
  for (let r = 0; r < rounds; r++) {
    for (const k of Object.keys(fns) as K[]) best[k] = Math.max(best[k], opsPerSecond(fns[k], ms, batch, clock));
  }
  return best;
}
