// The store contract against a real PostgreSQL server started for this file (test/helpers/
// postgres-server.ts), plus what only a networked store has: migrations by several processes
// at once, and a clear failure when the server is not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresStore, postgresSchemaVersion, PostgresSchemaTooNewError } from '../../src/login/postgres-store.ts';
import { startPostgres, pgSkipReason, type PgServer } from '../helpers/postgres-server.ts';
import { runStoreContract } from './store-contract.ts';

test('a PostgreSQL server that cannot be found is a clear error, never a silent skip', async () => {
  const saved = process.env.TINCAN_PG_BINDIR;
  process.env.TINCAN_PG_BINDIR = '/nonexistent/tincan/pg/bin';
  try {
    await assert.rejects(startPostgres(), /TINCAN_PG_BINDIR=\/nonexistent\/tincan\/pg\/bin has no initdb/);
  } finally {
    if (saved === undefined) delete process.env.TINCAN_PG_BINDIR; else process.env.TINCAN_PG_BINDIR = saved;
  }
});

const skip = pgSkipReason();
if (skip) {
  test('postgresql store', { skip }, () => {});
} else {
  let server: PgServer;
  before(async () => { server = await startPostgres(); });
  after(async () => { await server?.stop(); });

  runStoreContract('postgresql', async () => openPostgresStore(await server.createDatabase(), { poolMax: 4 }));

  test('postgresql: stores opened at once on a new database migrate it once, and share data', async () => {
    const url = await server.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(url, { poolMax: 2 })));
    try {
      assert.equal(await stores[0].createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 }), 'created');
      assert.equal(await stores[3].createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 }), 'exists');
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        assert.deepEqual((await c.query('SELECT version FROM schema_version')).rows, [{ version: postgresSchemaVersion }]);
      } finally { await c.end(); }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('postgresql: a database from a newer schema is refused', async () => {
    const url = await server.createDatabase();
    await (await openPostgresStore(url)).close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('UPDATE schema_version SET version = $1', [postgresSchemaVersion + 1]);
    await c.end();
    await assert.rejects(openPostgresStore(url), PostgresSchemaTooNewError);
  });

  test('postgresql: a server that is not there is a rejected open, not a hang or a crash', async () => {
    const url = await server.createDatabase();
    const port = Number(new URL(url).port);
    // Port 1 on loopback: nothing listens there.
    await assert.rejects(openPostgresStore(url.replace(`:${port}/`, ':1/')), /ECONNREFUSED|connect/);
  });

  test('postgresql: closing twice is harmless', async () => {
    const s = await openPostgresStore(await server.createDatabase());
    await s.close();
    await s.close();
  });
}
