// Scale-out: two login-server processes on one PostgreSQL database are interchangeable. One
// client (one device identity, one Rpc) alternates between them: register on one, log in on
// the other, change the password on one, and the other refuses the old password at once.
// Both processes started together end up with the same keys (created once in the database).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRole, stopAll, cli } from '../e2e/processes.ts';
import { startPostgres, pgSkipReason, type PgServer } from '../helpers/postgres-server.ts';
import { Rpc } from '../../src/session/rpc.ts';
import { UdpDriver } from '../../src/runtime/udp-driver.ts';
import { random } from '../../src/runtime/clock.ts';
import { createIdentityProof, consumeIdentityProof } from '../../src/crypto/identity-proof.ts';
import { verifyCertificate } from '../../src/crypto/certificate.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../../src/crypto/keys.ts';
import { fromBase64Url, equalBytes } from '../../src/crypto/bytes.ts';
import { err, type Result } from '../../src/wire/result.ts';
import { parseHostPort } from '../../src/wire/address.ts';
import { udpPath } from '../../src/session/paths.ts';
import { loginClient, type Callback, type Grant, type DeviceInfo } from '../../src/login/client.ts';

const skip = pgSkipReason();
let pgServer: PgServer | undefined;
let driver: UdpDriver | undefined;
before(async () => { if (!skip) pgServer = await startPostgres(); });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-scale-out-'));
after(async () => { await stopAll(); await driver?.close(); await pgServer?.stop(); fs.rmSync(tmp, { recursive: true, force: true }); });

test('two login servers on one PostgreSQL serve one client interchangeably', { skip }, async () => {
  const db = await pgServer!.createDatabase();
  const [a, b] = await Promise.all([0, 1].map(() => startRole(['login-server', '--listen', '127.0.0.1:0', '--db', db])));
  assert.equal(a.info.key, b.info.key, 'both processes sign with the one key kept in the database');
  assert.ok(!String(a.info.db).includes('postgres@'), 'the database user is not printed');
  const loginKey = fromBase64Url(String(a.info.key))!;
  const paths = [a, b].map((s) => { const p = parseHostPort(String(s.info.listen)); assert.ok(p.ok); return udpPath(p.value); });

  // One device: one key pair, one Rpc, one socket; the login role must show the shared key.
  const signing = ed25519FromSeed(random(32)), stat = x25519FromPrivate(random(32));
  const rpc = new Rpc({
    staticKey: stat, random, identityPayload: createIdentityProof('node', signing, stat.publicKey),
    verifyPeer: (payload, rs, _path, now) => {
      const p = consumeIdentityProof(payload, rs, undefined, now);
      if (p.ok && (p.value.role !== 'login' || !equalBytes(p.value.signingKey, loginKey))) return err('not-login', 'not our login server');
      return p;
    },
  });
  driver = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  const d = driver;
  d.attach(rpc, () => { while (rpc.pollEvent()); });
  const on = <T>(server: 0 | 1, fn: (path: string, now: number, cb: Callback<T>) => void) =>
    new Promise<Result<T>>((resolve) => d.mutate((now) => fn(paths[server], now, resolve)));
  const device = { deviceId: 'laptop' };

  const reg = await on<void>(0, (p, now, cb) => loginClient.register(rpc, p, { user: 'Alice', password: 'first password', ...device }, now, cb));
  assert.ok(reg.ok, JSON.stringify(reg));
  const taken = await on<void>(1, (p, now, cb) => loginClient.register(rpc, p, { user: 'alice', password: 'first password', ...device }, now, cb));
  assert.ok(!taken.ok && taken.error.code === 'name-taken', 'the other server sees the registration');

  const first = await on<Grant>(1, (p, now, cb) => loginClient.login(rpc, p, { user: 'alice', password: 'first password', ...device }, now, cb));
  assert.ok(first.ok, JSON.stringify(first));
  const cert = verifyCertificate(first.value.certificate, loginKey, Date.now());
  assert.ok(cert.ok && cert.value.user === 'alice' && equalBytes(cert.value.deviceKey, signing.publicKey));

  const renewed = await on<Grant>(0, (p, now, cb) => loginClient.renew(rpc, p, first.value.certificate, now, cb));
  assert.ok(renewed.ok, 'a certificate from one server is renewed by the other');

  const changed = await on<void>(0, (p, now, cb) =>
    loginClient.changePassword(rpc, p, { user: 'alice', password: 'first password', newPassword: 'second password' }, now, cb));
  assert.ok(changed.ok, JSON.stringify(changed));
  const old = await on<Grant>(1, (p, now, cb) => loginClient.login(rpc, p, { user: 'alice', password: 'first password', ...device }, now, cb));
  assert.ok(!old.ok && old.error.code === 'bad-credentials', 'the other server refuses the old password at once');
  const fresh = await on<Grant>(1, (p, now, cb) => loginClient.login(rpc, p, { user: 'alice', password: 'second password', ...device }, now, cb));
  assert.ok(fresh.ok, JSON.stringify(fresh));

  const list = await on<DeviceInfo[]>(0, (p, now, cb) => loginClient.devices(rpc, p, { user: 'alice', password: 'second password' }, now, cb));
  assert.ok(list.ok && list.value.length === 1 && list.value[0].deviceId === 'laptop');
  const removed = await on<DeviceInfo[]>(1, (p, now, cb) => loginClient.devices(rpc, p, { user: 'alice', password: 'second password', remove: 'laptop' }, now, cb));
  assert.ok(removed.ok && removed.value.length === 0);
  const refused = await on<Grant>(0, (p, now, cb) => loginClient.renew(rpc, p, fresh.value.certificate, now, cb));
  assert.ok(!refused.ok && refused.error.code === 'renewal-refused', 'a device removed on one server is not renewed by the other');

  const deleted = await on<void>(1, (p, now, cb) => loginClient.deleteAccount(rpc, p, { user: 'alice', password: 'second password' }, now, cb));
  assert.ok(deleted.ok);
  const gone = await on<Grant>(0, (p, now, cb) => loginClient.login(rpc, p, { user: 'alice', password: 'second password', ...device }, now, cb));
  assert.ok(!gone.ok && gone.error.code === 'bad-credentials');
});

test('concurrent registrations of one name on two servers: exactly one wins', { skip }, async () => {
  const db = await pgServer!.createDatabase();
  const servers = await Promise.all([0, 1].map(() => startRole(['login-server', '--listen', '127.0.0.1:0', '--db', db])));
  const paths = servers.map((s) => { const p = parseHostPort(String(s.info.listen)); assert.ok(p.ok); return udpPath(p.value); });
  const signing = ed25519FromSeed(random(32)), stat = x25519FromPrivate(random(32));
  const rpc = new Rpc({
    staticKey: stat, random, identityPayload: createIdentityProof('node', signing, stat.publicKey),
    verifyPeer: (payload, rs, _path, now) => consumeIdentityProof(payload, rs, undefined, now),
  });
  const d = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  try {
    d.attach(rpc, () => { while (rpc.pollEvent()); });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => new Promise<Result<void>>((resolve) => d.mutate((now) =>
      loginClient.register(rpc, paths[i % 2], { user: 'carol', password: `password number ${i}`, deviceId: 'x' }, now, resolve)))));
    assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
    assert.ok(results.every((r) => r.ok || r.error.code === 'name-taken'));
  } finally { await d.close(); }
});

test('a user\'s two nodes on two login servers: devices, passwd and delete-account from the CLI', { skip }, async () => {
  const db = await pgServer!.createDatabase();
  const [a, b] = await Promise.all([0, 1].map(() => startRole(['login-server', '--listen', '127.0.0.1:0', '--db', db])));
  const key = String(a.info.key);
  const sn = await startRole(['supernode', '--listen', '127.0.0.1:0', '--login', String(a.info.listen), '--login-key', key, '--data', path.join(tmp, 'sn')]);
  const node = (name: string, login: string) => startRole(['node', '--data', path.join(tmp, name), '--login', login, '--login-key', key,
    '--bootstrap', String(sn.info.listen), '--api', '127.0.0.1:0', '--quiet']);
  const [laptop, phone] = await Promise.all([node('laptop', String(a.info.listen)), node('phone', String(b.info.listen))]);
  const first = path.join(tmp, 'first'), second = path.join(tmp, 'second');
  fs.writeFileSync(first, 'first password\n');
  fs.writeFileSync(second, 'second password\n');
  const run = async (n: typeof laptop, args: string[], code = 0) => {
    const r = await cli([...args, '--api', String(n.info.api), '--json']);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  await run(laptop, ['register', 'alice', '--password-file', first]);
  await run(laptop, ['login', 'alice', '--password-file', first]);
  await run(phone, ['login', 'alice', '--password-file', first]);
  const devices = (await run(laptop, ['devices', '--password-file', first])).json as { deviceId: string; thisDevice: boolean }[];
  assert.equal(devices.length, 2);
  assert.equal(devices.filter((d) => d.thisDevice).length, 1);
  const phoneId = devices.find((d) => !d.thisDevice)!.deviceId;

  await run(laptop, ['passwd', '--password-file', first, '--new-password-file', second]);
  const old = await run(phone, ['login', 'alice', '--password-file', first], 1);
  assert.match(old.stderr, /wrong user name or password/, 'the phone\'s server refuses the old password');
  const after = (await run(phone, ['devices', '--password-file', second])).json as { deviceId: string }[];
  assert.deepEqual(after.map((d) => d.deviceId), devices.filter((d) => d.thisDevice).map((d) => d.deviceId), 'the password change forgot the phone');
  await run(phone, ['login', 'alice', '--password-file', second]);
  const removed = (await run(laptop, ['devices', '--password-file', second, '--remove', phoneId])).json as unknown[];
  assert.equal(removed.length, 1);

  await run(phone, ['delete-account', '--yes', '--password-file', second]);
  assert.equal((await run(phone, ['status'])).json.loggedIn, false);
  await run(laptop, ['login', 'alice', '--password-file', second], 1);
});
