// The embedded account store: one SQLite file (better-sqlite3), WAL mode, versioned schema.
import Database from 'better-sqlite3';
import type { AccountStore, Account, Device, SupernodeEntry } from './store.ts';

const migrations: string[] = [
  `CREATE TABLE accounts (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at_ms INTEGER NOT NULL);
   CREATE TABLE devices (name TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE, device_id TEXT NOT NULL,
     public_key BLOB NOT NULL, added_at_ms INTEGER NOT NULL, last_login_at_ms INTEGER NOT NULL, PRIMARY KEY (name, device_id));
   CREATE TABLE supernodes (address TEXT PRIMARY KEY, public_key BLOB NOT NULL, last_seen_ms INTEGER NOT NULL);
   CREATE INDEX supernodes_seen ON supernodes(last_seen_ms);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

export function openSqliteStore(path: string): AccountStore {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  let version = row?.version ?? 0;
  if (!row) db.prepare('INSERT INTO schema_version (version) VALUES (0)').run();
  for (; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]);
      db.prepare('UPDATE schema_version SET version = ?').run(version + 1);
    })();
  }

  const q = {
    insertAccount: db.prepare('INSERT INTO accounts (name, password_hash, created_at_ms) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING'),
    getAccount: db.prepare('SELECT name, password_hash, created_at_ms FROM accounts WHERE name = ?'),
    upsertDevice: db.prepare(`INSERT INTO devices (name, device_id, public_key, added_at_ms, last_login_at_ms) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(name, device_id) DO UPDATE SET public_key = excluded.public_key, last_login_at_ms = excluded.last_login_at_ms`),
    getDevices: db.prepare('SELECT name, device_id, public_key, added_at_ms, last_login_at_ms FROM devices WHERE name = ? ORDER BY added_at_ms'),
    upsertSupernode: db.prepare(`INSERT INTO supernodes (address, public_key, last_seen_ms) VALUES (?, ?, ?)
      ON CONFLICT(address) DO UPDATE SET public_key = excluded.public_key, last_seen_ms = excluded.last_seen_ms`),
    listSupernodes: db.prepare('SELECT address, public_key, last_seen_ms FROM supernodes WHERE last_seen_ms >= ? ORDER BY last_seen_ms DESC LIMIT ?'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };

  type AccountRow = { name: string; password_hash: string; created_at_ms: number };
  type DeviceRow = { name: string; device_id: string; public_key: Buffer; added_at_ms: number; last_login_at_ms: number };
  type SupernodeRow = { address: string; public_key: Buffer; last_seen_ms: number };

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
        name: r.name, deviceId: r.device_id, devicePublicKey: new Uint8Array(r.public_key), addedAtMs: r.added_at_ms, lastLoginAtMs: r.last_login_at_ms,
      }));
    },
    async upsertSupernode(s: SupernodeEntry) { q.upsertSupernode.run(s.address, Buffer.from(s.publicKey), s.lastSeenMs); },
    async listSupernodes(sinceMs: number, limit: number) {
      return (q.listSupernodes.all(sinceMs, limit) as SupernodeRow[]).map((r) => ({
        address: r.address, publicKey: new Uint8Array(r.public_key), lastSeenMs: r.last_seen_ms,
      }));
    },
    async getMeta(key: string) { return (q.getMeta.get(key) as { value: string } | undefined)?.value; },
    async setMeta(key: string, value: string) { q.setMeta.run(key, value); },
    async close() { db.close(); },
  };
}
