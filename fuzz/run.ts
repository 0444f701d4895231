// `npm run fuzz -- TARGET [--seconds N] [--seed S]`: runs a fuzz campaign and prints, per target,
// the inputs tried and every input that threw, hung or allocated past its limits (hex), then a
// JSON line. Exit code 1 if anything failed.
import { fuzzWire } from './wire.ts';

const args = process.argv.slice(2);
const target = args.find((a) => !a.startsWith('--')) ?? 'wire';
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) { process.stderr.write(`fuzz: --${name} needs a number\n`); process.exit(2); }
  return v;
};
if (target !== 'wire') { process.stderr.write(`fuzz: unknown target "${target}" (known: wire)\n`); process.exit(2); }
const seconds = flag('seconds', 30);
const seed = flag('seed', Date.now() % 2 ** 31);
process.stdout.write(`fuzzing ${target} for ${seconds} s, seed ${seed}\n`);
const reports = fuzzWire({ seconds, seed });
let failures = 0;
for (const r of reports) {
  failures += r.failures.length;
  process.stdout.write(`${r.target.padEnd(16)} ${String(r.tried).padStart(9)} inputs  ${r.failures.length} failures\n`);
  for (const f of r.failures) process.stdout.write(`  ${f.problem}\n    input ${f.input}\n`);
}
process.stdout.write(JSON.stringify({ fuzz: target, seconds, seed, tried: reports.reduce((n, r) => n + r.tried, 0), failures }) + '\n');
process.exit(failures > 0 ? 1 : 0);
