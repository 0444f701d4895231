// Promotion with real processes on loopback: a node that has been up long enough (here
// --promote-after 0), and that another supernode reaches unsolicited, becomes a supernode; a
// new user can then use it as their only supernode. With --no-promote, or in a network whose
// login server says --no-promotion, it stays an ordinary node and says why.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRole, cli, stopAll, waitFor, api } from './processes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-promo-'));
after(async () => { await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });
const passwordFile = path.join(tmp, 'password');
fs.writeFileSync(passwordFile, 'correct horse battery\n');

async function network(name: string, loginFlags: string[] = []) {
  const login = await startRole(['login-server', '--listen', '127.0.0.1:0', '--db', path.join(tmp, `${name}-login.sqlite`), ...loginFlags]);
  const key = String(login.info.key);
  const sns: string[] = [];
  for (let i = 0; i < 3; i++) {
    const args = ['supernode', '--listen', '127.0.0.1:0', '--login', String(login.info.listen), '--login-key', key, '--data', path.join(tmp, `${name}-sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.join(','));
    sns.push(String((await startRole(args)).info.listen));
  }
  const node = async (user: string, bootstrap: string, extra: string[]) => {
    const n = await startRole(['node', '--data', path.join(tmp, `${name}-${user}`), '--login', String(login.info.listen), '--login-key', key,
      '--bootstrap', bootstrap, '--api', '127.0.0.1:0', ...extra]);
    const base = String(n.info.api);
    for (const cmd of ['register', 'login']) {
      const r = await cli([cmd, user, '--password-file', passwordFile, '--api', base, '--json']);
      assert.equal(r.code, 0, `${cmd} ${user}: ${r.stderr}`);
    }
    return base;
  };
  return { sns, node };
}

test('a reachable node that has been up long enough becomes a supernode that others can use; opted-out nodes and switched-off networks do not', { timeout: 240_000 }, async () => {
  const net = await network('open');
  const alice = await net.node('alice', net.sns[0], ['--promote-after', '0']);
  const promoted = await waitFor('alice to be promoted', async () => {
    const st = await api(alice, 'status');
    return st.promotion?.state === 'supernode' && st.promotion.supernode ? st.promotion : undefined;
  }, 60_000);
  assert.match(promoted.reason, /verified by 127\.0\.0\.1:\d+/);
  assert.notEqual(promoted.supernode, net.sns[0]);

  // Bob knows only alice's supernode: he registers, logs in and finds alice through it.
  const bob = await net.node('bob', promoted.supernode, []);
  const st = await api(bob, 'status');
  assert.equal(st.supernode, promoted.supernode);
  assert.equal(st.promotion.state, 'ordinary', 'bob has not been up for two hours');
  const found = await waitFor('bob to find alice', async () => {
    const r = await cli(['lookup', 'alice', '--api', bob, '--json']);
    return r.code === 0 ? r.json : undefined;
  }, 60_000);
  assert.equal(found.user, 'alice');

  const carol = await net.node('carol', net.sns[1], ['--promote-after', '0', '--no-promote']);
  const c = await api(carol, 'status');
  assert.equal(c.promotion.state, 'ordinary');
  assert.match(c.promotion.reason, /opted out/);

  const closed = await network('closed', ['--no-promotion']);
  const dave = await closed.node('dave', closed.sns[0], ['--promote-after', '0']);
  const d = await waitFor('dave to be told promotion is off', async () => {
    const s = await api(dave, 'status');
    return /turned off/.test(s.promotion?.reason ?? '') ? s.promotion : undefined;
  }, 60_000);
  assert.equal(d.state, 'ordinary');
});
