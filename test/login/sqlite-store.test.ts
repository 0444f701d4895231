import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/login/sqlite-store.ts';
import { runStoreContract } from './store-contract.ts';

runStoreContract('sqlite in memory', async () => openSqliteStore(':memory:'));
let n = 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-store-'));
runStoreContract('sqlite file', async () => openSqliteStore(path.join(dir, `s${n++}.sqlite`)));

test('a SQLite file keeps its data across reopening', async () => {
  const file = path.join(dir, 'reopen.sqlite');
  const a = openSqliteStore(file);
  await a.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
  await a.close();
  const b = openSqliteStore(file);
  assert.equal((await b.getAccount('alice'))?.passwordHash, 'h');
  await b.close();
});
