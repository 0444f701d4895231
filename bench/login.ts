// Logins per second through the login server core (request decode, rate limits, account read,
// scrypt verification, device upsert, certificate signature, supernode list) on SQLite and on a
// real PostgreSQL (fsync on, as in production), against the hardware limit measured in the same
// run: raw scrypt verifications per second with the same parameters and the same concurrency.
// Noise handshakes are not included (npm run bench -- crypto measures those).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LoginServer, type PendingRequest } from '../src/login/server.ts';
import { LoginRequest } from '../src/login/protocol.ts';
import { hashPassword, scryptParams } from '../src/login/password.ts';
import { openSqliteStore } from '../src/login/sqlite-store.ts';
import { openPostgresStore } from '../src/login/postgres-store.ts';
import type { AccountStore } from '../src/login/store.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../src/crypto/keys.ts';
import { decodeMessage } from '../src/wire/object-list.ts';
import { Cmd } from '../src/wire/commands.ts';
import { startPostgres } from '../test/helpers/postgres-server.ts';
import { printTable, ratio } from './harness.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
// Logins in flight at once: enough to keep libuv's scrypt threads (4 by default) busy.
const concurrency = 8;
const users = 64;
const password = 'correct horse battery staple';
const random = (n: number) => new Uint8Array(crypto.randomBytes(n));

/** Runs `op` with `concurrency` in flight for `seconds`; completed operations per second. */
async function rate(op: (i: number) => Promise<void>): Promise<number> {
  for (let i = 0; i < concurrency; i++) await op(i);   // warm-up
  let done = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = w; performance.now() < end; i += concurrency) { await op(i); done++; }
  }));
  return done / ((performance.now() - start) / 1000);
}

/** A login server core on `store` with accounts ready; one login per call. */
async function loginBench(store: AccountStore): Promise<(i: number) => Promise<void>> {
  // One hash for every account: each login still runs a full scrypt verification.
  const hash = hashPassword(password);
  for (let i = 0; i < users; i++) await store.createAccount({ name: `user${i}`, passwordHash: hash, createdAtMs: 1 });
  const unlimited = { burst: 1e12, perMinute: 1e12 };
  const server = new LoginServer({
    staticKey: x25519FromPrivate(random(32)), signingKey: ed25519FromSeed(random(32)), random, store,
    rateLimits: { perAddress: unlimited, perAccount: unlimited },
  });
  const devices = Array.from({ length: users }, () => ed25519FromSeed(random(32)));
  const requests: PendingRequest[] = devices.map((d, i) => {
    const m = decodeMessage(LoginRequest.toBytes({ user: `user${i}`, password, deviceId: `device${i}` }));
    if (!m.ok) throw new Error('cannot decode our own request');
    return { path: `udp:198.51.100.${i}:5000`, id: i, message: m.value, peer: { role: 'node', staticKey: random(32), signingKey: d.publicKey } };
  });
  let now = 1_764_000_000_000;
  return async (i) => {
    const reply = decodeMessage(await server.handleRequest(requests[i % users], now++));
    if (!reply.ok || reply.value.command !== Cmd.LoginOk) throw new Error('a login failed');
  };
}

/** The store's share of one login alone (what the database must sustain per login). */
function storeBench(store: AccountStore): (i: number) => Promise<void> {
  const key = random(32);
  return async (i) => {
    const name = `user${i % users}`;
    await store.getAccount(name);
    const existing = (await store.getDevices(name)).find((d) => d.deviceId === 'bench');
    await store.upsertDevice({ name, deviceId: 'bench', devicePublicKey: key, addedAtMs: existing?.addedAtMs ?? i, lastLoginAtMs: i });
    await store.listSupernodes(0, 64);
  };
}

const { N, r, p, keyBytes } = scryptParams;
const salt = random(16);
const scryptAsync = () => new Promise<void>((resolve, reject) =>
  crypto.scrypt(password, salt, keyBytes, { N, r, p, maxmem: 64 << 20 }, (e) => (e ? reject(e) : resolve())));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-bench-login-'));
const pg = await startPostgres({ unsafeFast: false });
const sqliteStore = openSqliteStore(path.join(tmp, 'login.sqlite'));
const pgStore = await openPostgresStore(await pg.createDatabase());
// Rounds alternate reference and stores, so a machine whose load changes (shared, as ours is)
// shifts all three alike; each ratio is the median of its rounds.
const rounds = 3;
const samples = { scrypt: [] as number[], sqlite: [] as number[], postgresql: [] as number[], sqliteStore: [] as number[], postgresqlStore: [] as number[] };
let single = 0;
try {
  const ops = {
    scrypt: scryptAsync, sqlite: await loginBench(sqliteStore), postgresql: await loginBench(pgStore),
    sqliteStore: storeBench(sqliteStore), postgresqlStore: storeBench(pgStore),
  };
  for (let round = 0; round < rounds; round++) {
    for (const k of Object.keys(samples) as (keyof typeof samples)[]) samples[k].push(await rate(ops[k]));
  }
  const start = performance.now();
  while (performance.now() - start < 1000) { crypto.scryptSync(password, salt, keyBytes, { N, r, p, maxmem: 64 << 20 }); single++; }
  single /= (performance.now() - start) / 1000;
} finally {
  await sqliteStore.close();
  await pgStore.close();
  await pg.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const reference = median(samples.scrypt);
const results = (['sqlite', 'postgresql', 'sqliteStore', 'postgresqlStore'] as const).map((store) => ({
  store, loginsPerSecond: median(samples[store]),
  vsScrypt: median(samples[store].map((x, i) => ratio(x, samples.scrypt[i]))),
}));

const round1 = (x: number) => Math.round(x * 10) / 10;
printTable(`logins/s with ${concurrency} in flight (scrypt N=${N}, r=${r}, p=${p}; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; reference: raw scrypt, same concurrency)`, [
  ...results.map((x) => ({ name: x.store.endsWith('Store') ? `store work of a login only, ${x.store.replace('Store', '')}` : `login, ${x.store}`, 'ops/s': round1(x.loginsPerSecond), 'vs scrypt': x.vsScrypt })),
  { name: `raw scrypt, ${concurrency} in flight (reference)`, 'ops/s': round1(reference), 'vs scrypt': 1 },
  { name: 'raw scrypt, one thread (for scale)', 'ops/s': round1(single), 'vs scrypt': ratio(single, reference) },
]);
process.stdout.write(JSON.stringify({
  bench: 'login', concurrency, cores: os.cpus().length, loadAverage: os.loadavg()[0], rounds,
  scryptPerSecond: round1(reference), scryptOneThreadPerSecond: round1(single),
  results: results.map((x) => ({
    store: x.store.replace('Store', ''), measure: x.store.endsWith('Store') ? 'store work of one login, per s' : 'logins/s',
    perSecond: round1(x.loginsPerSecond), vsScrypt: x.vsScrypt,
  })),
}) + '\n');
