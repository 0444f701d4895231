// A throwaway PostgreSQL server for tests and benchmarks: Debian's postgresql binaries, a
// cluster in a fresh temporary folder, listening on a free loopback port with its socket in
// that folder, stopped (by its own pg_ctl, i.e. its PID file) and removed afterwards.
//
// The server refuses to run as root, so under root (CI) it runs as the `postgres` user that
// Debian's package creates. A missing server is an error, never a silent skip: .ci/run installs
// it. Only TINCAN_SKIP_POSTGRES=1 skips, on purpose, with a message (see pgSkipReason).
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const run = promisify(execFile);

export interface PgServer {
  /** A URL for `database` on this server (created by createDatabase). */
  url(database?: string): string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

export interface PgServerOptions {
  /** Turns off fsync and synchronous commit: fine for tests, wrong for benchmarks. Default true. */
  unsafeFast?: boolean;
}

/** Set when the caller asked to skip the PostgreSQL tests; undefined means "run them". */
export function pgSkipReason(): string | undefined {
  return process.env.TINCAN_SKIP_POSTGRES === '1'
    ? 'TINCAN_SKIP_POSTGRES=1: PostgreSQL tests skipped on request (CI never sets this)' : undefined;
}

function findBinDir(): string {
  const fromEnv = process.env.TINCAN_PG_BINDIR;
  if (fromEnv) {
    if (!fs.existsSync(path.join(fromEnv, 'initdb'))) throw new Error(`TINCAN_PG_BINDIR=${fromEnv} has no initdb`);
    return fromEnv;
  }
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) {
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian\'s postgresql ' +
      '(`apt-get install postgresql`, as .ci/run does), set TINCAN_PG_BINDIR, or set TINCAN_SKIP_POSTGRES=1 to skip these tests knowingly');
  }
  return path.join(root, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(o: PgServerOptions = {}): Promise<PgServer> {
  const bin = findBinDir();
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-pg-'));
  const data = path.join(dir, 'data');
  fs.chmodSync(dir, 0o700);
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
      throw new Error('running as root but there is no `postgres` user to run the server as (Debian\'s postgresql package creates it)');
    });
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    fs.chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (cmd: string, args: string[]) => asRoot
    ? run('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args])
    : run(path.join(bin, cmd), args);

  try {
    await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(e as Error).message}`);
  }
  const fast = o.unsafeFast ?? true ? ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off' : '';
  let port = 0;
  let started = false;
  // A port found free may be taken before the server binds it; try a few.
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    port = await freePort();
    try {
      await as('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60',
        '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c max_connections=200${fast}`, 'start']);
      started = true;
    } catch (e) {
      if (attempt === 2) {
        const log = fs.existsSync(path.join(dir, 'server.log')) ? fs.readFileSync(path.join(dir, 'server.log'), 'utf8') : '';
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${(e as Error).message}\n${log}`);
      }
    }
  }

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let databases = 0;
  let stopped = false;
  // If the test process ends without stop() (a crash, the runner's timeout), take the server
  // down with it rather than leave it running on the machine.
  const onExit = () => {
    if (stopped) return;
    const ctl = [path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'];
    if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', ...ctl]); else spawnSync(ctl[0], ctl.slice(1));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return {
    url,
    async createDatabase() {
      const name = `t${databases++}`;
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try { await c.query(`CREATE DATABASE ${name}`); } finally { await c.end(); }
      return url(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', onExit);
      try { await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']); } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
