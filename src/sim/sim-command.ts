// `tincan sim`: one simulated run with a progress bar on stderr and the figures on stdout
// (one JSON object with --json). A run whose checkers fail prints its seed and exits 1.
import { parseArgs, UsageError } from '../cli/args.ts';
import { runScenario, faultDefaults, defaultThreads, type ScenarioOptions } from './scenario.ts';
import { churnModels, type ChurnModel } from './churn.ts';
import { overlayProtocol, kademliaProtocol } from './protocols.ts';
import { slotBitsFor } from '../overlay/ring.ts';
import type { Report } from './metrics.ts';

export const simUsage = `  sim          --supernodes N --users M [--churn none|skype|heavy] [--minutes T] [--seed S]
               [--protocol overlay|kademlia] [--kill PCT [--kill-at MIN]] [--partition-at MIN [--partition-for S]]
               [--clog PCT [--clog-at MIN] [--clog-for S]] [--loss RATE] [--no-mail] [--threads N] [--json]`;

const flags = {
  supernodes: 'string', users: 'string', churn: 'string', minutes: 'string', seed: 'string', protocol: 'string',
  kill: 'string', 'kill-at': 'string', clog: 'string', 'clog-at': 'string', 'clog-for': 'string', 'partition-at': 'string', 'partition-for': 'string', loss: 'string', 'no-mail': 'boolean', threads: 'string', json: 'boolean',
} as const;

function num(v: unknown, name: string, min: number, max: number, fallback?: number): number {
  if (v === undefined) { if (fallback === undefined) throw new UsageError(`--${name} is required`); return fallback; }
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, not "${String(v)}"`);
  return n;
}

export function parseSimArgs(argv: string[]): ScenarioOptions & { json: boolean } {
  const { flags: f, positionals } = parseArgs(argv, flags);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const churn = String(f.churn ?? 'skype');
  if (!churnModels.includes(churn as ChurnModel)) throw new UsageError(`--churn must be one of ${churnModels.join(', ')}, not "${churn}"`);
  const protocol = String(f.protocol ?? 'overlay');
  if (protocol !== 'overlay' && protocol !== 'kademlia') throw new UsageError(`--protocol must be overlay or kademlia, not "${protocol}"`);
  const supernodes = Math.floor(num(f.supernodes, 'supernodes', 2, 1_000_000));
  const minutes = num(f.minutes, 'minutes', 1, 24 * 60, 10);
  const kill = f.kill !== undefined ? num(f.kill, 'kill', 0, 90) / 100 : undefined;
  return {
    supernodes, users: Math.floor(num(f.users, 'users', 0, 20_000_000)), minutes,
    seed: Math.floor(num(f.seed, 'seed', 0, 0xffffffff, 1)), churn: churn as ChurnModel,
    protocol: protocol === 'overlay' ? overlayProtocol({ slotBits: slotBitsFor(supernodes), replicas: 10 }) : kademliaProtocol(),
    killFraction: kill, killAtMin: f['kill-at'] !== undefined ? num(f['kill-at'], 'kill-at', 0, minutes) : undefined,
    partitionAtMin: f['partition-at'] !== undefined ? num(f['partition-at'], 'partition-at', 0, minutes) : undefined,
    partitionForS: f['partition-for'] !== undefined ? num(f['partition-for'], 'partition-for', 1, 86_400) : undefined,
    clogFraction: f.clog !== undefined ? num(f.clog, 'clog', 0, 90) / 100 : undefined,
    clogAtMin: f['clog-at'] !== undefined ? num(f['clog-at'], 'clog-at', 0, minutes) : undefined,
    clogForS: f['clog-for'] !== undefined ? num(f['clog-for'], 'clog-for', 1, 3600) : undefined,
    lossRate: f.loss !== undefined ? num(f.loss, 'loss', 0, 0.5) : undefined,
    mail: protocol === 'overlay' && !f['no-mail'], json: Boolean(f.json),
    threads: Math.floor(num(f.threads, 'threads', 1, 64, defaultThreads(supernodes))),
  };
}

/** The checkers: what a correct run must show (issue 5, "done when"). */
export function checkReport(r: Report, o: ScenarioOptions): string[] {
  const bad: string[] = [];
  if (r.mailsLost > 0) bad.push(`${r.mailsLost} offline messages lost`);
  if (r.mailsDuplicated > 0) bad.push(`${r.mailsDuplicated} offline messages delivered twice`);
  if (o.killFraction && r.recoveredAfterS === null) bad.push('look-ups never came back to 99.9 % after the kill');
  if (o.clogFraction && r.recoveredAfterClogS === null) bad.push('look-ups never came back to 99.9 % after the clog');
  if (o.partitionAtMin !== undefined && r.recoveredAfterPartitionS === null) bad.push('look-ups never came back to 99.9 % after the partition healed');
  if (!o.killFraction && !o.clogFraction && o.partitionAtMin === undefined && r.lookupSuccess < 0.999) bad.push(`look-up success ${(r.lookupSuccess * 100).toFixed(3)} % < 99.9 %`);
  return bad;
}

export function formatReport(r: Report, o: ScenarioOptions): string {
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
  const lines = [
    `protocol ${o.protocol.name}, seed ${o.seed}: ${r.supernodes} supernodes (${r.supernodesAtEnd} at the end), ${o.users} users, churn ${o.churn}, ${o.minutes} min`,
    `look-ups           ${r.lookups}, success ${pct(r.lookupSuccess)} (worst 10 s window ${pct(r.worstWindowSuccess)})${r.lookupsAbandoned ? `; ${r.lookupsAbandoned} more abandoned (the asker logged out first)` : ''}`,
    `hops               p50 ${r.hopsP50}, p99 ${r.hopsP99}`,
    `look-up latency    p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms`,
    `upkeep             ${r.upkeepBytesPerSupernodeS} B/s per supernode (${Object.entries(r.upkeepByCommand).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    `offline messages   ${r.mailsAccepted} accepted, ${r.mailsLost} lost, ${r.mailsDuplicated} delivered twice`,
  ];
  if (r.killed !== undefined) lines.push(`kill               ${r.killed} supernodes at once; back to ≥ 99.9 % ${r.recoveredAfterS === null ? 'never' : `after ${r.recoveredAfterS} s`}`);
  if (r.recoveredAfterPartitionS !== undefined) lines.push(`partition          ${o.partitionForS ?? faultDefaults.partitionForS} s; back to ≥ 99.9 % ${r.recoveredAfterPartitionS === null ? 'never' : `${r.recoveredAfterPartitionS} s after it healed`}`);
  if (r.clogged !== undefined) lines.push(`clog               ${r.clogged} supernodes held for ${o.clogForS ?? faultDefaults.clogForS} s; back to ≥ 99.9 % ${r.recoveredAfterClogS === null ? 'never' : `${r.recoveredAfterClogS} s after it ended`}`);
  lines.push(`churn              ${r.churnDeaths} supernode deaths (replaced by joiners)`);
  const threads = o.threads ?? 1;
  lines.push(`simulator          ${r.events} events in ${r.wallS} s on ${threads === 1 ? '1 thread' : `${threads} threads (waiting for each other ${(r.threadWait * 100).toFixed(0)} % of the time)`} = ${r.eventsPerS} events/s (${r.eventsPerCpuS} per CPU second), peak RSS ${r.peakRssMiB} MiB, heap ${r.heapPerSupernodeKiB} KiB per supernode after setup`);
  return lines.join('\n');
}

export function runSimCommand(argv: string[]): number {
  const o = parseSimArgs(argv);
  const tty = process.stderr.isTTY;
  let last = 0;
  o.onProgress = (fr, ev) => {
    if (!tty) return;
    const t = Date.now();
    if (t - last < 500) return;
    last = t;
    const w = 30, k = Math.round(fr * w);
    process.stderr.write(`\r[${'#'.repeat(k)}${'-'.repeat(w - k)}] ${(fr * 100).toFixed(0)} % ${ev} events`);
  };
  const m = runScenario(o);
  if (tty) process.stderr.write('\r' + ' '.repeat(60) + '\r');
  const r = m.report;
  const bad = checkReport(r, o);
  process.stdout.write(o.json ? JSON.stringify({ ...r, protocol: o.protocol.name, seed: o.seed, churn: o.churn, minutes: o.minutes, failures: bad }) + '\n' : formatReport(r, o) + '\n');
  if (bad.length) { process.stderr.write(`sim: checks failed (${bad.join('; ')}); replay with --seed ${o.seed}\n`); return 1; }
  return 0;
}
