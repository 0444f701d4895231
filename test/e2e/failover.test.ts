// Failover with real processes on loopback: the supernode a user's node is attached to is
// killed; the node must re-attach to another supernode from its host cache within a bounded
// time (seen through `tincan status`), stay findable, and still look others up and chat.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { startRole, cli, stopAll, waitFor } from './processes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-failover-'));
after(async () => { await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });

const passwordFile = path.join(tmp, 'password');
fs.writeFileSync(passwordFile, 'correct horse battery\n');

// Probe every 5 s, 3 s to answer, then one Hello to the next supernode (docs/host-cache.md);
// the rest is slack for a loaded machine, not a speed claim.
const failoverBoundMs = 30_000;

test('a node whose supernode process is killed re-attaches elsewhere and stays reachable', async () => {
  const login = await startRole(['login-server', '--listen', '127.0.0.1:0', '--db', path.join(tmp, 'login.sqlite')]);
  const key = String(login.info.key);
  const sns: { listen: string; proc: import('node:child_process').ChildProcess }[] = [];
  for (let i = 0; i < 3; i++) {
    const args = ['supernode', '--listen', '127.0.0.1:0', '--login', String(login.info.listen), '--login-key', key, '--data', path.join(tmp, `sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.map((s) => s.listen).join(','));
    const s = await startRole(args);
    sns.push({ listen: String(s.info.listen), proc: s.proc });
  }
  const node = async (user: string, sn: string) => {
    const n = await startRole(['node', '--data', path.join(tmp, user), '--login', String(login.info.listen), '--login-key', key,
      '--bootstrap', sn, '--api', '127.0.0.1:0']);
    const base = String(n.info.api);
    for (const cmd of ['register', 'login']) {
      const r = await cli([cmd, user, '--password-file', passwordFile, '--api', base, '--json']);
      assert.equal(r.code, 0, `${cmd} ${user}: ${r.stderr}`);
    }
    return base;
  };
  const alice = await node('alice', sns[0].listen);
  const bob = await node('bob', sns[1].listen);
  const status = async (api: string) => { const r = await cli(['status', '--api', api, '--json']); return r.code === 0 ? r.json : undefined; };

  // Alice learns the other supernodes from her supernode's HelloOk.
  const before = await waitFor('alice to know all three supernodes', async () => {
    const st = await status(alice);
    return st?.supernode === sns[0].listen && st.hostCacheSize >= 3 ? st : undefined;
  });
  assert.equal(before.supernode, sns[0].listen);
  const text = await cli(['status', '--api', alice]);
  assert.match(text.stdout, /host cache: +3 supernodes/);

  // Kill her supernode outright (the process we started, by PID).
  const exited = once(sns[0].proc, 'exit');
  sns[0].proc.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  const after = await waitFor('alice to re-attach to another supernode', async () => {
    const st = await status(alice);
    return st?.supernode && st.supernode !== sns[0].listen ? st : undefined;
  }, failoverBoundMs);
  const tookMs = Date.now() - killedAt;
  assert.ok(sns.slice(1).some((s) => s.listen === after.supernode), `attached to ${after.supernode}`);
  process.stderr.write(`# failover took ${tookMs} ms of wall-clock time (bound ${failoverBoundMs} ms)\n`);

  // Bob finds alice's new record and chats with her; alice looks bob up through her new supernode.
  const found = await waitFor('bob to see alice at her new supernode', async () => {
    const r = await cli(['lookup', 'alice', '--api', bob, '--json']);
    return r.code === 0 && r.json.supernode === after.supernode ? r.json : undefined;
  });
  assert.equal(found.user, 'alice');
  const chat = await cli(['chat', 'alice', 'are you still there?', '--api', bob, '--json']);
  assert.equal(chat.code, 0, chat.stderr);
  assert.ok(chat.json.deliveredAtMs > 0);
  const back = await cli(['lookup', 'bob', '--api', alice, '--json']);
  assert.equal(back.code, 0, back.stderr);

  // The host cache is on disk, with the dead supernode demoted.
  const saved = JSON.parse(fs.readFileSync(path.join(tmp, 'alice', 'host-cache.json'), 'utf8'));
  assert.equal(saved.version, 1);
  assert.ok(saved.entries.some((e: any) => e.address === sns[0].listen && e.failures > 0), JSON.stringify(saved));
});
