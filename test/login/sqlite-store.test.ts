import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, sqliteSchemaVersion, SchemaTooNewError } from '../../src/login/sqlite-store.ts';
import { runStoreContract } from './store-contract.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-store-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = () => path.join(dir, `store-${files++}.sqlite`);

runStoreContract('sqlite in memory', async () => openSqliteStore(':memory:'));
runStoreContract('sqlite file', async () => openSqliteStore(freshFile()));

test('a SQLite file keeps its data across reopening', async () => {
  const file = freshFile();
  const a = openSqliteStore(file);
  await a.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
  await a.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: new Uint8Array(32).fill(5), addedAtMs: 1, lastLoginAtMs: 2 });
  await a.setMeta('signing-key', 'seed');
  await a.close();
  const b = openSqliteStore(file);
  assert.equal((await b.getAccount('alice'))?.passwordHash, 'h');
  assert.equal((await b.getDevices('alice'))[0].lastLoginAtMs, 2);
  assert.equal(await b.getMeta('signing-key'), 'seed');
  await b.close();
});

test('a new file is migrated to the current schema, in WAL mode with foreign keys', async () => {
  const file = freshFile();
  await openSqliteStore(file).close();
  await openSqliteStore(file).close();   // reopening runs no migration twice
  const db = new Database(file, { readonly: true });
  try {
    assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: sqliteSchemaVersion }]);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const fks = db.prepare("SELECT * FROM pragma_foreign_key_list('devices')").all();
    assert.equal(fks.length, 1);
  } finally {
    db.close();
  }
});

test('a file from a newer schema is refused, not guessed at', async () => {
  const file = freshFile();
  await openSqliteStore(file).close();
  const db = new Database(file);
  db.prepare('UPDATE schema_version SET version = ?').run(sqliteSchemaVersion + 1);
  db.close();
  assert.throws(() => openSqliteStore(file), SchemaTooNewError);
});

test('two stores on one file see each other\'s writes', async () => {
  const file = freshFile();
  const a = openSqliteStore(file), b = openSqliteStore(file);
  assert.equal(await a.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 }), 'created');
  assert.equal(await b.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 }), 'exists');
  await a.close();
  await b.close();
});

test('closing twice is harmless', async () => {
  const s = openSqliteStore(':memory:');
  await s.close();
  await s.close();
});
