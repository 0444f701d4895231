// `npm run bench -- search`: white-pages search latency on the real network on loopback — a
// login server and 10 `tincan supernode` processes forming the overlay, 40 users (real
// UserNodes over real UDP sessions, in this process) with profiles. Each search is timed from
// the call to the answer, by words of a display name and by exact user name; the reference in
// the same run is a presence look-up (one overlay request) through the same supernodes.
// Bounded: 60 searches of each kind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { UserNode } from '../src/node/user-node.ts';
import { UdpDriver } from '../src/runtime/udp-driver.ts';
import { random } from '../src/runtime/clock.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../src/crypto/keys.ts';
import { fromBase64Url } from '../src/crypto/bytes.ts';
import { parseHostPort, type Address } from '../src/wire/address.ts';
import type { Result } from '../src/wire/result.ts';
import { printTable, ratio } from './harness.ts';

const bin = path.resolve(import.meta.dirname, '../bin/tincan.js');
const supernodes = 10;
const users = 40;
const searches = 60;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-bench-search-'));
const procs: ChildProcess[] = [];

function role(args: string[]): Promise<Record<string, any>> {
  const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${args[0]} not ready`)), 30_000);
    p.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{') && l.includes('"ready"'));
      if (line) { clearTimeout(t); resolve(JSON.parse(line)); }
    });
  });
}

const addr = (s: string): Address => { const a = parseHostPort(s); if (!a.ok) throw new Error(s); return a.value; };
const pct = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

const first = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi'];
const last = ['Smith', 'Jones', 'Tamm', 'Saar', 'Sepp'];

try {
  const login = await role(['login-server', '--listen', '127.0.0.2:0', '--db', path.join(tmp, 'login.sqlite')]);
  const sns: string[] = [];
  for (let i = 0; i < supernodes; i++) {
    const args = ['supernode', '--listen', `127.0.0.${10 + i}:0`, '--login', String(login.listen), '--login-key', String(login.key), '--data', path.join(tmp, `sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.slice(-2).join(','));
    sns.push(String((await role(args)).listen));
  }
  const nodes: { node: UserNode; call: <T>(f: (now: number, cb: (r: Result<T>) => void) => void) => Promise<Result<T>> }[] = [];
  for (let i = 0; i < users; i++) {
    const driver = await UdpDriver.bind({ host: `127.0.1.${i + 1}`, port: 0 });
    const node = new UserNode({
      staticKey: x25519FromPrivate(random(32)), signingKey: ed25519FromSeed(random(32)), random, deviceId: 'd',
      login: addr(String(login.listen)), loginKey: fromBase64Url(String(login.key)), bootstrap: [addr(sns[i % supernodes])],
      listen: driver.address, directAllowed: true, autoAnswer: false,
    });
    driver.attach(node, () => { while (node.pollEvent()); });
    const call = <T>(f: (now: number, cb: (r: Result<T>) => void) => void) => new Promise<Result<T>>((resolve) => driver.mutate((now) => f(now, resolve)));
    const name = `user${i}`;
    for (const step of [(n: number, cb: any) => node.register(name, 'a good password', n, cb), (n: number, cb: any) => node.login(name, 'a good password', n, cb),
      (n: number, cb: any) => node.setProfile({ displayName: `${first[i % first.length]} ${last[i % last.length]} ${name}` }, n, cb)]) {
      const r = await call(step);
      if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
    }
    nodes.push({ node, call });
  }
  const timed = async (f: (u: typeof nodes[0], k: number) => Promise<boolean>) => {
    const ms: number[] = [];
    let failed = 0;
    for (let k = 0; k < searches; k++) {
      const u = nodes[(k * 7) % users];
      const t0 = performance.now();
      if (!(await f(u, k))) failed++;
      ms.push(performance.now() - t0);
    }
    return { ms, failed };
  };
  const words = await timed(async (u, k) => {
    const r = await u.call<any[]>((n, cb) => u.node.search(`${first[k % first.length]} ${last[k % last.length]}`, n, cb));
    return r.ok && r.value.length > 0;
  });
  const exact = await timed(async (u, k) => {
    const r = await u.call<any[]>((n, cb) => u.node.search(`user${(k * 3) % users}`, n, cb));
    return r.ok && r.value.length === 1;
  });
  const lookup = await timed(async (u, k) => (await u.call((n, cb) => u.node.lookup(`user${(k * 3) % users}`, n, cb))).ok);
  const rows = [
    { name: 'search by words', p50_ms: pct(words.ms, 0.5), p99_ms: pct(words.ms, 0.99), failed: words.failed, vs_lookup_p50: ratio(pct(words.ms, 0.5), pct(lookup.ms, 0.5)) },
    { name: 'search by user name', p50_ms: pct(exact.ms, 0.5), p99_ms: pct(exact.ms, 0.99), failed: exact.failed, vs_lookup_p50: ratio(pct(exact.ms, 0.5), pct(lookup.ms, 0.5)) },
    { name: 'presence look-up (reference)', p50_ms: pct(lookup.ms, 0.5), p99_ms: pct(lookup.ms, 0.99), failed: lookup.failed, vs_lookup_p50: 1 },
  ];
  printTable(`white pages on loopback: ${supernodes} supernode processes, ${users} users, ${searches} searches each`, rows);
  process.stdout.write(JSON.stringify({ bench: 'search', supernodes, users, searches, rows }) + '\n');
  stop(0);
} catch (e) {
  process.stderr.write(`bench search: ${(e as Error).message}\n`);
  stop(1);
}

function stop(code: number) {
  for (const p of procs) p.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}
