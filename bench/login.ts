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

async function loginsPerSecond(store: AccountStore): Promise<number> {
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
  return rate(async (i) => {
    const reply = decodeMessage(await server.handleRequest(requests[i % users], now++));
    if (!reply.ok || reply.value.command !== Cmd.LoginOk) throw new Error('a login failed');
  });
}

const { N, r, p, keyBytes } = scryptParams;
const salt = random(16);
const scryptAsync = () => new Promise<void>((resolve, reject) =>
  crypto.scrypt(password, salt, keyBytes, { N, r, p, maxmem: 64 << 20 }, (e) => (e ? reject(e) : resolve())));

const reference = await rate(scryptAsync);
let single = 0;
{
  const start = performance.now();
  while (performance.now() - start < 1000) { crypto.scryptSync(password, salt, keyBytes, { N, r, p, maxmem: 64 << 20 }); single++; }
  single /= (performance.now() - start) / 1000;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-bench-login-'));
const results: { store: string; loginsPerSecond: number; vsScrypt: number }[] = [];
try {
  const sqlite = openSqliteStore(path.join(tmp, 'login.sqlite'));
  results.push({ store: 'sqlite', loginsPerSecond: await loginsPerSecond(sqlite), vsScrypt: 0 });
  await sqlite.close();
  const pg = await startPostgres({ unsafeFast: false });
  try {
    const store = await openPostgresStore(await pg.createDatabase());
    results.push({ store: 'postgresql', loginsPerSecond: await loginsPerSecond(store), vsScrypt: 0 });
    await store.close();
  } finally { await pg.stop(); }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
for (const x of results) x.vsScrypt = ratio(x.loginsPerSecond, reference);

printTable(`logins/s with ${concurrency} in flight (scrypt N=${N}, r=${r}, p=${p}; ${os.cpus().length} cores; reference: raw scrypt, same concurrency)`, [
  ...results.map((x) => ({ name: `login, ${x.store}`, 'ops/s': Math.round(x.loginsPerSecond), 'vs scrypt': x.vsScrypt })),
  { name: `raw scrypt, ${concurrency} in flight (reference)`, 'ops/s': Math.round(reference), 'vs scrypt': 1 },
  { name: 'raw scrypt, one thread (for scale)', 'ops/s': Math.round(single), 'vs scrypt': ratio(single, reference) },
]);
process.stdout.write(JSON.stringify({
  bench: 'login', concurrency, cores: os.cpus().length, scryptPerSecond: Math.round(reference), scryptOneThreadPerSecond: Math.round(single),
  results: results.map((x) => ({ store: x.store, loginsPerSecond: Math.round(x.loginsPerSecond), vsScrypt: x.vsScrypt })),
}) + '\n');
