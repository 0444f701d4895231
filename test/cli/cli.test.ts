// The tincan command as a user runs it: real process, real HTTP to an API server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { parseArgs, UsageError } from '../../src/cli/args.ts';
import { FakeControl } from '../api/fake-control.ts';
import { cli } from '../e2e/processes.ts';

let server: ApiServer;
let api = '';
const control = new FakeControl();
before(async () => { server = await startApiServer(control, { host: '127.0.0.1', port: 0 }); api = `127.0.0.1:${server.address.port}`; });
after(() => server.close());

test('the flag parser takes --flag value, --flag=value and booleans, and refuses the rest', () => {
  const p = parseArgs(['bob', '--api', '1.2.3.4:5', '--json', '--seconds=3'], { api: 'string', json: 'boolean', seconds: 'string' });
  assert.deepEqual(p, { flags: { api: '1.2.3.4:5', json: true, seconds: '3' }, positionals: ['bob'] });
  assert.throws(() => parseArgs(['--frob'], {}), UsageError);
  assert.throws(() => parseArgs(['--api'], { api: 'string' }), /needs a value/);
  assert.throws(() => parseArgs(['--json=1'], { json: 'boolean' }), /takes no value/);
});

test('status --json prints one JSON object', async () => {
  const r = await cli(['status', '--api', api, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.listen, '127.0.0.1:5000');
});

test('register and login read the password from a file; a failure is one line and exit 1', async () => {
  const pw = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-cli-')), 'pw');
  fs.writeFileSync(pw, 'long enough\n');
  assert.equal((await cli(['register', 'carol', '--password-file', pw, '--api', api])).code, 0);
  const again = await cli(['register', 'carol', '--password-file', pw, '--api', api]);
  assert.equal(again.code, 1);
  assert.equal(again.stderr.trim().split('\n').length, 1);
  assert.match(again.stderr, /^tincan: .*already registered/);
  const login = await cli(['login', 'carol', '--password-file', pw, '--api', api, '--json']);
  assert.equal(login.code, 0, login.stderr);
  assert.equal(login.json.user, 'carol');
});

test('a bad flag or command is one line and exit 2', async () => {
  for (const args of [['status', '--frob'], ['nonsense'], ['node', '--login', 'not-an-address', '--data', '/tmp/x'], ['chat'],
    ['conference'], ['conference', 'frob'], ['conference', 'create'], ['conference', 'leave'],
    ['node', '--login', '127.0.0.1:1', '--data', '/tmp/x', '--uplink-kbps', 'lots'],
    ['supernode', '--login', '127.0.0.1:9', '--relay-user-kbps', 'lots'],
    ['node', '--login', '127.0.0.1:1', '--data', '/tmp/x', '--listen6', '127.0.0.1:5000'],
    ['supernode', '--login', '127.0.0.1:9', '--listen6', '[::1]:7001', '--no-ipv6']]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('an unreachable node API is exit 3 with a hint', async () => {
  const free = await new Promise<number>((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
  const r = await cli(['status', '--api', `127.0.0.1:${free}`]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /is `tincan node` running/);
});

test('passwd, devices and delete-account: passwords from files or piped stdin; delete-account asks for --yes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-cli-acct-'));
  try {
    const old = path.join(dir, 'old'), neu = path.join(dir, 'new');
    fs.writeFileSync(old, 'first password\n');
    fs.writeFileSync(neu, 'second password\n');
    assert.equal((await cli(['register', 'dora', '--password-file', old, '--api', api])).code, 0);
    assert.equal((await cli(['login', 'dora', '--password-file', old, '--api', api])).code, 0);
    const wrong = await cli(['passwd', '--password-file', neu, '--new-password-file', neu, '--api', api]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^tincan: wrong user name or password/);
    const changed = await cli(['passwd', '--password-file', old, '--new-password-file', neu, '--api', api, '--json']);
    assert.equal(changed.code, 0, changed.stderr);
    assert.deepEqual(changed.json, { changed: true });
    const list = await cli(['devices', '--password-file', neu, '--api', api, '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json.map((d: { deviceId: string }) => d.deviceId), ['laptop', 'phone']);
    const removed = await cli(['devices', '--password-file', neu, '--remove', 'phone', '--api', api]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed phone/);
    const unconfirmed = await cli(['delete-account', '--password-file', neu, '--api', api]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /--yes/);
    const deleted = await cli(['delete-account', '--yes', '--password-file', neu, '--api', api, '--json']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(control.user, undefined);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('answer, reject, hold, resume and calls: the call id may be left out when one call fits; status shows end reasons', async () => {
  const placed = await control.call('dave');
  const held = await cli(['hold', '--api', api]);
  assert.equal(held.code, 0, held.stderr);
  assert.match(held.stdout, /on hold \(by us\) with dave/);
  const resumed = await cli(['resume', placed.id, '--api', api, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(resumed.json.state, 'active');
  const none = await cli(['answer', '--api', api]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no call to answer/);
  await control.hangup(placed.id);
  const st = await cli(['status', '--api', api]);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`${placed.id} +call to dave ended: hung-up`));
  const list = await cli(['calls', '--api', api, '--json']);
  assert.equal(list.json.find((c: any) => c.id === placed.id).endReason, 'hung-up');
});
