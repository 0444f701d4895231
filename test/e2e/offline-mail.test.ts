// Offline messages with real processes on loopback: bob's node stops, alice writes with the
// CLI, bob's node starts again from its data directory (same device, saved certificate) and
// shows the message once; alice's history then shows it delivered (the receipt). Bob finds
// alice in the white pages by words of her display name and by her user name.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { startRole, cli, stopAll, waitFor, api } from './processes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-mail-'));
after(async () => { await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });
const passwordFile = path.join(tmp, 'password');
fs.writeFileSync(passwordFile, 'correct horse battery\n');

test('bob is offline, alice writes, bob comes back and gets the message exactly once; alice gets the receipt', { timeout: 240_000 }, async () => {
  const login = await startRole(['login-server', '--listen', '127.0.0.1:0', '--db', path.join(tmp, 'login.sqlite')]);
  const key = String(login.info.key);
  const sns: string[] = [];
  for (let i = 0; i < 3; i++) {
    const args = ['supernode', '--listen', '127.0.0.1:0', '--login', String(login.info.listen), '--login-key', key, '--data', path.join(tmp, `sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.join(','));
    sns.push(String((await startRole(args)).info.listen));
  }
  const start = (user: string, sn: string) => startRole(['node', '--data', path.join(tmp, user), '--login', String(login.info.listen), '--login-key', key,
    '--bootstrap', sn, '--api', '127.0.0.1:0']);
  const signUp = async (user: string, base: string) => {
    for (const cmd of ['register', 'login']) {
      const r = await cli([cmd, user, '--password-file', passwordFile, '--api', base, '--json']);
      assert.equal(r.code, 0, `${cmd} ${user}: ${r.stderr}`);
    }
  };
  const alice = String((await start('alice', sns[0])).info.api);
  await signUp('alice', alice);
  const prof = await cli(['profile', 'Alice', 'Pleasance', 'Liddell', '--city', 'Oxford', '--api', alice, '--json']);
  assert.equal(prof.code, 0, prof.stderr);
  assert.equal(prof.json.displayName, 'Alice Pleasance Liddell');
  const bobNode = await start('bob', sns[1]);
  await signUp('bob', String(bobNode.info.api));

  // Bob's node stops; his presence record still names it for a few minutes.
  const exited = once(bobNode.proc, 'exit');
  bobNode.proc.kill('SIGTERM');
  await exited;

  const sent = await cli(['chat', 'bob', 'are', 'you', 'there?', '--api', alice, '--json'], 90_000);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.json.offline, true);
  const human = await cli(['chat', 'bob', 'second', 'one', '--api', alice], 90_000);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /offline: the message waits, sealed, in their mailbox/);

  // Bob's node comes back with its saved certificate and collects the mail by itself.
  const bob = String((await start('bob', sns[2])).info.api);
  const inbox = await waitFor('bob to show both messages', async () => {
    const h: any[] = await api(bob, 'history?peer=alice');
    return h.filter((m) => m.direction === 'in').length >= 2 ? h : undefined;
  }, 60_000);
  assert.deepEqual(inbox.filter((m) => m.direction === 'in').map((m) => m.text).sort(), ['are you there?', 'second one']);
  assert.ok(inbox.every((m) => m.offline === true));

  await waitFor('alice to get the receipts', async () => {
    const h: any[] = await api(alice, 'history?peer=bob');
    return h.filter((m) => m.direction === 'out' && m.deliveredAtMs).length === 2 ? true : undefined;
  }, 60_000);

  // White pages, from another supernode: by words of the display name and by exact user name.
  for (const q of [['liddell'], ['alice', 'liddell'], ['alice']]) {
    const t0 = Date.now();
    const found = await cli(['search', ...q, '--api', bob, '--json']);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(found.json, [{ user: 'alice', displayName: 'Alice Pleasance Liddell', city: 'Oxford' }], q.join(' '));
    console.log(`# search "${q.join(' ')}" through the CLI: ${Date.now() - t0} ms (process start included)`);
  }
  const text = await cli(['search', 'pleasance', '--api', bob]);
  assert.match(text.stdout, /alice "Alice Pleasance Liddell" \(Oxford\)/);

  // Later re-announcements (and a fresh login) bring nothing twice.
  const again = await cli(['login', 'bob', '--password-file', passwordFile, '--api', bob, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const st = await api(bob, 'status');
  assert.equal(st.loggedIn, true);
  const h: any[] = await api(bob, 'history?peer=alice');
  assert.equal(h.filter((m) => m.direction === 'in').length, 2, 'each message exactly once');
});
