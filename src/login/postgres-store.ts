// The networked account store: PostgreSQL through `pg` (node-postgres), for running several
// login-server processes on one database (docs/trust.md, "Scale-out").
//
// Every operation is one statement (or one short transaction), so any process may serve any
// request: no state lives in a process that another would need. Concurrency is settled by
// the database: primary keys for "exactly one registration wins", compare-and-swap on the
// password hash for changes and deletion, row locks taken by UPDATE under READ COMMITTED.
// The schema is a list of migrations like the SQLite store's; opening applies the missing ones
// under a transaction-scoped advisory lock, so processes starting together migrate once.
// Text columns use the "C" collation: names compare and sort byte for byte, as in SQLite.
import pg from 'pg';
import type { AccountStore, Account, Device, SupernodeEntry } from './store.ts';

// Append only: a migration that has shipped is never edited.
const migrations: readonly string[] = [
  `CREATE TABLE accounts (name TEXT COLLATE "C" PRIMARY KEY, password_hash TEXT NOT NULL, created_at_ms BIGINT NOT NULL);
   CREATE TABLE devices (name TEXT COLLATE "C" NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
     device_id TEXT COLLATE "C" NOT NULL, public_key BYTEA NOT NULL, added_at_ms BIGINT NOT NULL,
     last_login_at_ms BIGINT NOT NULL, PRIMARY KEY (name, device_id));
   CREATE TABLE supernodes (address TEXT COLLATE "C" PRIMARY KEY, public_key BYTEA NOT NULL, last_seen_ms BIGINT NOT NULL);
   CREATE INDEX supernodes_seen ON supernodes(last_seen_ms);
   CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);`,
  `CREATE TABLE deleted_names (name TEXT COLLATE "C" PRIMARY KEY, deleted_at_ms BIGINT NOT NULL);`,
];
export const postgresSchemaVersion = migrations.length;
const supernodesListedMax = 1000;
// Any fixed number; it names the lock that serialises migrations across processes.
const migrationLockId = 0x7469_6e63;

export class PostgresSchemaTooNewError extends Error {
  constructor(readonly version: number) {
    super(`the database has schema version ${version}; this version of tincan knows up to ${postgresSchemaVersion}`);
  }
}

export interface PostgresStoreOptions {
  /** Connections kept per process; default 10. */
  poolMax?: number;
  /** Reported when an idle connection fails (the server restarted); the next query reconnects. */
  onIdleError?: (e: Error) => void;
}

type AccountRow = { name: string; password_hash: string; created_at_ms: string };
type DeviceRow = { name: string; device_id: string; public_key: Buffer; added_at_ms: string; last_login_at_ms: string };
type SupernodeRow = { address: string; public_key: Buffer; last_seen_ms: string };

const bytes = (b: Buffer) => new Uint8Array(b);
// BIGINT arrives as a string (it may exceed 2^53); our times never do.
const ms = (s: string) => Number(s);

async function migrate(pool: pg.Pool) {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [migrationLockId]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const r = await c.query<{ version: number }>('SELECT version FROM schema_version');
    if (r.rows.length === 0) await c.query('INSERT INTO schema_version (version) VALUES (0)');
    const from = r.rows[0]?.version ?? 0;
    if (from > migrations.length) throw new PostgresSchemaTooNewError(from);
    for (let v = from; v < migrations.length; v++) await c.query(migrations[v]);
    await c.query('UPDATE schema_version SET version = $1', [migrations.length]);
    await c.query('COMMIT');
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/**
 * Connects to `url` (postgres://user:password@host:port/database), creating and migrating the
 * schema if needed. Rejects if the server cannot be reached or has a newer schema.
 */
export async function openPostgresStore(url: string, o: PostgresStoreOptions = {}): Promise<AccountStore> {
  const pool = new pg.Pool({ connectionString: url, max: o.poolMax ?? 10 });
  // Without a listener an idle connection's error would end the process.
  pool.on('error', (e) => o.onIdleError?.(e));
  try {
    await migrate(pool);
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  let closed = false;
  const query = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => pool.query<R>(text, values);

  return {
    async createAccount(a: Account) {
      const r = await query(`INSERT INTO accounts (name, password_hash, created_at_ms) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO NOTHING`, [a.name, a.passwordHash, a.createdAtMs]);
      return r.rowCount === 1 ? 'created' : 'exists';
    },
    async getAccount(name: string) {
      const r = await query<AccountRow>('SELECT name, password_hash, created_at_ms FROM accounts WHERE name = $1', [name]);
      const row = r.rows[0];
      return row && { name: row.name, passwordHash: row.password_hash, createdAtMs: ms(row.created_at_ms) };
    },
    async upsertDevice(d: Device) {
      await query(`INSERT INTO devices (name, device_id, public_key, added_at_ms, last_login_at_ms) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (name, device_id) DO UPDATE SET public_key = EXCLUDED.public_key, last_login_at_ms = EXCLUDED.last_login_at_ms`,
      [d.name, d.deviceId, Buffer.from(d.devicePublicKey), d.addedAtMs, d.lastLoginAtMs]);
    },
    async getDevices(name: string) {
      const r = await query<DeviceRow>(`SELECT name, device_id, public_key, added_at_ms, last_login_at_ms FROM devices
        WHERE name = $1 ORDER BY added_at_ms, device_id`, [name]);
      return r.rows.map((row) => ({
        name: row.name, deviceId: row.device_id, devicePublicKey: bytes(row.public_key),
        addedAtMs: ms(row.added_at_ms), lastLoginAtMs: ms(row.last_login_at_ms),
      }));
    },
    async removeDevice(name: string, deviceId: string) {
      return (await query('DELETE FROM devices WHERE name = $1 AND device_id = $2', [name, deviceId])).rowCount === 1;
    },
    async changePassword(name: string, oldHash: string, newHash: string, keepDeviceId: string | undefined) {
      // One statement, so the swap and the forgetting of devices commit together.
      const r = await query<{ n: number }>(`WITH swapped AS (
          UPDATE accounts SET password_hash = $3 WHERE name = $1 AND password_hash = $2 RETURNING name),
        dropped AS (DELETE FROM devices d USING swapped s WHERE d.name = s.name AND d.device_id IS DISTINCT FROM $4)
        SELECT count(*)::int AS n FROM swapped`, [name, oldHash, newHash, keepDeviceId ?? null]);
      return r.rows[0].n === 1;
    },
    async deleteAccount(name: string, expectedHash: string, nowMs: number) {
      const r = await query<{ n: number }>(`WITH gone AS (
          DELETE FROM accounts WHERE name = $1 AND password_hash = $2 RETURNING name),
        tomb AS (INSERT INTO deleted_names (name, deleted_at_ms) SELECT name, $3 FROM gone
          ON CONFLICT (name) DO UPDATE SET deleted_at_ms = EXCLUDED.deleted_at_ms)
        SELECT count(*)::int AS n FROM gone`, [name, expectedHash, nowMs]);
      return r.rows[0].n === 1;
    },
    async deletedAtMs(name: string) {
      const row = (await query<{ deleted_at_ms: string }>('SELECT deleted_at_ms FROM deleted_names WHERE name = $1', [name])).rows[0];
      return row && ms(row.deleted_at_ms);
    },
    async upsertSupernode(s: SupernodeEntry) {
      await query(`INSERT INTO supernodes (address, public_key, last_seen_ms) VALUES ($1, $2, $3)
        ON CONFLICT (address) DO UPDATE SET public_key = EXCLUDED.public_key, last_seen_ms = EXCLUDED.last_seen_ms`,
      [s.address, Buffer.from(s.publicKey), s.lastSeenMs]);
    },
    async listSupernodes(sinceMs: number, limit: number) {
      const n = Math.max(0, Math.min(supernodesListedMax, Math.floor(limit) || 0));
      const r = await query<SupernodeRow>(`SELECT address, public_key, last_seen_ms FROM supernodes
        WHERE last_seen_ms >= $1 ORDER BY last_seen_ms DESC, address LIMIT $2`, [sinceMs, n]);
      return r.rows.map((row) => ({ address: row.address, publicKey: bytes(row.public_key), lastSeenMs: ms(row.last_seen_ms) }));
    },
    async getMeta(key: string) {
      return (await query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0]?.value;
    },
    async setMeta(key: string, value: string) {
      await query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
    },
    async initMeta(key: string, value: string) {
      // Two statements on purpose: after waiting on a concurrent insert of the same key, only a
      // new statement (a new snapshot under READ COMMITTED) sees the value that won.
      await query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
      return (await query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])).rows[0].value;
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
