// The embedded account store: one SQLite file through better-sqlite3.
//
// WAL mode so reads do not wait behind the writer; foreign keys on, so a device cannot exist
// without its account. The schema is a list of migrations; `schema_version` holds how many have
// run. Opening applies the missing ones in one IMMEDIATE transaction, so two processes opening
// the same new file cannot both migrate it, and a crash mid-way leaves the old version intact.
// A file written by newer code (a higher version) is refused rather than guessed at.
//
// better-sqlite3 is synchronous; the methods are async only to share AccountStore with the
// PostgreSQL store. Names are stored as given: normalising them is the caller's job.
import Database from 'better-sqlite3';
import type { AccountStore, Account, Device, SupernodeEntry } from './store.ts';

// Append only: a migration that has shipped is never edited.
const migrations: readonly string[] = [
  `CREATE TABLE accounts (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at_ms INTEGER NOT NULL);
   CREATE TABLE devices (name TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE, device_id TEXT NOT NULL,
     public_key BLOB NOT NULL, added_at_ms INTEGER NOT NULL, last_login_at_ms INTEGER NOT NULL, PRIMARY KEY (name, device_id));
   CREATE TABLE supernodes (address TEXT PRIMARY KEY, public_key BLOB NOT NULL, last_seen_ms INTEGER NOT NULL);
   CREATE INDEX supernodes_seen ON supernodes(last_seen_ms);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  `CREATE TABLE deleted_names (name TEXT PRIMARY KEY, deleted_at_ms INTEGER NOT NULL);`,
];
export const sqliteSchemaVersion = migrations.length;
// A caller asking for more is served this many; the server asks for 64.
const supernodesListedMax = 1000;

export class SchemaTooNewError extends Error {
  constructor(readonly path: string, readonly version: number) {
    super(`${path} has schema version ${version}; this version of tincan knows up to ${sqliteSchemaVersion}`);
  }
}

function migrate(db: Database.Database, path: string) {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    if (!row) db.prepare('INSERT INTO schema_version (version) VALUES (0)').run();
    const from = row?.version ?? 0;
    if (from > migrations.length) throw new SchemaTooNewError(path, from);
    for (let v = from; v < migrations.length; v++) db.exec(migrations[v]);
    db.prepare('UPDATE schema_version SET version = ?').run(migrations.length);
  }).immediate();
}

type AccountRow = { name: string; password_hash: string; created_at_ms: number };
type DeviceRow = { name: string; device_id: string; public_key: Buffer; added_at_ms: number; last_login_at_ms: number };
type SupernodeRow = { address: string; public_key: Buffer; last_seen_ms: number };

// Plain Uint8Array copies: callers compare and keep keys, and a Buffer from the driver is neither.
const bytes = (b: Buffer) => new Uint8Array(b);

/**
 * Opens (creating and migrating if needed) the store at `path`; ':memory:' gives a private
 * in-memory database. Throws if the file cannot be opened or has a newer schema (SchemaTooNewError):
 * this runs once at start-up, where refusing to start is the right answer.
 */
export function openSqliteStore(path: string): AccountStore {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, path);
  } catch (e) {
    db.close();
    throw e;
  }

  const q = {
    insertAccount: db.prepare('INSERT INTO accounts (name, password_hash, created_at_ms) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING'),
    getAccount: db.prepare('SELECT name, password_hash, created_at_ms FROM accounts WHERE name = ?'),
    // added_at_ms is kept from the first insert: it records when the device was first seen.
    upsertDevice: db.prepare(`INSERT INTO devices (name, device_id, public_key, added_at_ms, last_login_at_ms) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(name, device_id) DO UPDATE SET public_key = excluded.public_key, last_login_at_ms = excluded.last_login_at_ms`),
    getDevices: db.prepare(`SELECT name, device_id, public_key, added_at_ms, last_login_at_ms FROM devices
      WHERE name = ? ORDER BY added_at_ms, device_id`),
    upsertSupernode: db.prepare(`INSERT INTO supernodes (address, public_key, last_seen_ms) VALUES (?, ?, ?)
      ON CONFLICT(address) DO UPDATE SET public_key = excluded.public_key, last_seen_ms = excluded.last_seen_ms`),
    listSupernodes: db.prepare(`SELECT address, public_key, last_seen_ms FROM supernodes
      WHERE last_seen_ms >= ? ORDER BY last_seen_ms DESC, address LIMIT ?`),
    removeDevice: db.prepare('DELETE FROM devices WHERE name = ? AND device_id = ?'),
    swapHash: db.prepare('UPDATE accounts SET password_hash = ? WHERE name = ? AND password_hash = ?'),
    dropOtherDevices: db.prepare('DELETE FROM devices WHERE name = ? AND device_id IS NOT ?'),
    deleteAccount: db.prepare('DELETE FROM accounts WHERE name = ? AND password_hash = ?'),
    tombstone: db.prepare(`INSERT INTO deleted_names (name, deleted_at_ms) VALUES (?, ?)
      ON CONFLICT(name) DO UPDATE SET deleted_at_ms = excluded.deleted_at_ms`),
    deletedAt: db.prepare('SELECT deleted_at_ms FROM deleted_names WHERE name = ?'),
    initMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };

  const changePassword = db.transaction((name: string, oldHash: string, newHash: string, keep: string | null) => {
    if (q.swapHash.run(newHash, name, oldHash).changes !== 1) return false;
    q.dropOtherDevices.run(name, keep);
    return true;
  });
  const deleteAccount = db.transaction((name: string, expectedHash: string, nowMs: number) => {
    // Devices go with the account (ON DELETE CASCADE).
    if (q.deleteAccount.run(name, expectedHash).changes !== 1) return false;
    q.tombstone.run(name, nowMs);
    return true;
  });
  const initMeta = db.transaction((key: string, value: string) => {
    q.initMeta.run(key, value);
    return (q.getMeta.get(key) as { value: string }).value;
  });

  return {
    async createAccount(a: Account) {
      return q.insertAccount.run(a.name, a.passwordHash, a.createdAtMs).changes === 1 ? 'created' : 'exists';
    },
    async getAccount(name: string) {
      const r = q.getAccount.get(name) as AccountRow | undefined;
      return r && { name: r.name, passwordHash: r.password_hash, createdAtMs: r.created_at_ms };
    },
    async upsertDevice(d: Device) {
      q.upsertDevice.run(d.name, d.deviceId, Buffer.from(d.devicePublicKey), d.addedAtMs, d.lastLoginAtMs);
    },
    async getDevices(name: string) {
      return (q.getDevices.all(name) as DeviceRow[]).map((r) => ({
        name: r.name, deviceId: r.device_id, devicePublicKey: bytes(r.public_key), addedAtMs: r.added_at_ms, lastLoginAtMs: r.last_login_at_ms,
      }));
    },
    async removeDevice(name: string, deviceId: string) {
      return q.removeDevice.run(name, deviceId).changes === 1;
    },
    async changePassword(name: string, oldHash: string, newHash: string, keepDeviceId: string | undefined) {
      return changePassword.immediate(name, oldHash, newHash, keepDeviceId ?? null);
    },
    async deleteAccount(name: string, expectedHash: string, nowMs: number) {
      return deleteAccount.immediate(name, expectedHash, nowMs);
    },
    async deletedAtMs(name: string) {
      return (q.deletedAt.get(name) as { deleted_at_ms: number } | undefined)?.deleted_at_ms;
    },
    async upsertSupernode(s: SupernodeEntry) {
      q.upsertSupernode.run(s.address, Buffer.from(s.publicKey), s.lastSeenMs);
    },
    async listSupernodes(sinceMs: number, limit: number) {
      // SQLite reads a negative LIMIT as "no limit"; clamp so every query stays bounded.
      const n = Math.max(0, Math.min(supernodesListedMax, Math.floor(limit) || 0));
      return (q.listSupernodes.all(sinceMs, n) as SupernodeRow[]).map((r) => ({
        address: r.address, publicKey: bytes(r.public_key), lastSeenMs: r.last_seen_ms,
      }));
    },
    async getMeta(key: string) {
      return (q.getMeta.get(key) as { value: string } | undefined)?.value;
    },
    async setMeta(key: string, value: string) {
      q.setMeta.run(key, value);
    },
    async initMeta(key: string, value: string) {
      return initMeta.immediate(key, value);
    },
    async close() {
      if (db.open) db.close();
    },
  };
}
