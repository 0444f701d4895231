// Account life cycle on the virtual network, through real cores: several devices per user,
// password change, device removal, account deletion, and certificate renewal (automatic before
// expiry; refused once the device is removed or the password changed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, loginAddress, type Testnet, type TestUser } from '../../src/sim/testnet.ts';
import { verifyCertificate } from '../../src/crypto/certificate.ts';
import { loginClient, type DeviceInfo } from '../../src/login/client.ts';
import { udpPath } from '../../src/session/paths.ts';
import type { LookupResult } from '../../src/node/types.ts';
import type { Presence } from '../../src/overlay/presence.ts';

const pw = 'a good password';
const pw2 = 'another good password';

async function login(t: Testnet, u: TestUser, user: string, password: string) {
  return t.settle(u, (now, cb) => u.node.login(user, password, now, cb));
}

function expiry(t: Testnet, u: TestUser): number {
  const c = verifyCertificate(u.node.certificateBytes()!, t.loginKey, t.net.now);
  assert.ok(c.ok, 'holds a valid certificate');
  return c.value.expiresAtMs;
}

/** Renewal on demand; its outcome. */
const renew = (t: Testnet, u: TestUser) => t.settle<void>(u, (now, cb) => u.node.renew(now, cb));

/** A renewal request with any certificate, straight through the node's Rpc. */
const renewWith = (t: Testnet, u: TestUser, certificate: Uint8Array) =>
  t.settle<unknown>(u, (now, cb) => loginClient.renew(u.node.rpc, udpPath(loginAddress), certificate, now, cb));

async function twoDevices(seed: number, lifetimeMs?: number) {
  const t = createTestnet({ seed, login: lifetimeMs ? { certificateLifetimeMs: lifetimeMs } : undefined });
  await t.meshed();
  const laptop = t.addUser(1), phone = t.addUser(2);
  await t.signUp(laptop, 'alice', pw);
  assert.ok((await login(t, phone, 'Alice', pw)).ok, 'the second device logs in to the same account');
  return { t, laptop, phone };
}

test('a user has several devices, each certified for its own key and device id', async () => {
  const { t, laptop, phone } = await twoDevices(21);
  const a = verifyCertificate(laptop.node.certificateBytes()!, t.loginKey, t.net.now);
  const b = verifyCertificate(phone.node.certificateBytes()!, t.loginKey, t.net.now);
  assert.ok(a.ok && b.ok);
  assert.equal(a.value.user, 'alice');
  assert.equal(b.value.user, 'alice');
  assert.notDeepEqual(a.value.deviceKey, b.value.deviceKey);
  assert.deepEqual([a.value.deviceId, b.value.deviceId], ['dev1', 'dev2']);
  assert.equal(a.value.expiresAtMs - a.value.issuedAtMs, 24 * 3600_000, 'default lifetime 24 h');
  const list = await t.settle<DeviceInfo[]>(laptop, (now, cb) => laptop.node.devices(pw, undefined, now, cb));
  assert.ok(list.ok);
  assert.deepEqual(list.value.map((d) => d.deviceId), ['dev1', 'dev2']);
  assert.deepEqual(list.value[1].key, b.value.deviceKey);
  const wrong = await t.settle<DeviceInfo[]>(laptop, (now, cb) => laptop.node.devices('not the password', undefined, now, cb));
  assert.ok(!wrong.ok && wrong.error.code === 'bad-credentials', 'listing devices needs the password');
});

test('certificates renew by themselves before expiry, and peers keep finding the user', async () => {
  const lifetimeMs = 10 * 60_000;
  const t = createTestnet({ seed: 22, login: { certificateLifetimeMs: lifetimeMs } });
  await t.meshed();
  const alice = t.addUser(1), bob = t.addUser(2);
  await t.signUp(alice, 'alice');
  await t.signUp(bob, 'bob');
  const first = expiry(t, alice);
  // Run past the first certificate's expiry: renewal at 3/4 of the lifetime must have happened.
  await t.net.runUntilAsync(() => t.net.now > first + 60_000, lifetimeMs + 120_000);
  const second = expiry(t, alice);
  assert.ok(second > first, 'a newer certificate replaced the first');
  assert.ok(alice.events.some((e) => e.type === 'log' && /certificate renewed/.test(e.line.message)));
  const seen = await t.settle<LookupResult & { presence: Presence }>(bob, (now, cb) => bob.node.lookup('alice', now, cb));
  assert.ok(seen.ok, `alice's presence carries the renewed certificate: ${JSON.stringify(!seen.ok && seen.error)}`);
  assert.ok(seen.value.presence.expiresAtMs <= second);
});

test('a password change refuses the old password, keeps the changing device, and stops the others\' renewals', async () => {
  const { t, laptop, phone } = await twoDevices(23);
  const short = await t.settle<void>(laptop, (now, cb) => laptop.node.changePassword(pw, 'short', now, cb));
  assert.ok(!short.ok && short.error.code === 'password-too-short');
  const wrong = await t.settle<void>(laptop, (now, cb) => laptop.node.changePassword('not the password', pw2, now, cb));
  assert.ok(!wrong.ok && wrong.error.code === 'bad-credentials');
  const changed = await t.settle<void>(laptop, (now, cb) => laptop.node.changePassword(pw, pw2, now, cb));
  assert.ok(changed.ok, JSON.stringify(changed));

  const old = await login(t, t.addUser(3), 'alice', pw);
  assert.ok(!old.ok && old.error.code === 'bad-credentials', 'the old password no longer works');
  assert.ok((await renew(t, laptop)).ok, 'the device that changed the password keeps renewing');
  const refused = await renew(t, phone);
  assert.ok(!refused.ok && refused.error.code === 'renewal-refused', JSON.stringify(refused));
  assert.ok(phone.events.some((e) => e.type === 'log' && e.line.level === 'error' && /renewal refused/.test(e.line.message)));
  assert.ok((await login(t, phone, 'alice', pw2)).ok, 'the other device logs in again with the new password');
  assert.ok((await renew(t, phone)).ok, 'and renews from then on');
});

test('a removed device can no longer renew; removing an unknown device is an error', async () => {
  const { t, laptop, phone } = await twoDevices(24);
  const removed = await t.settle<DeviceInfo[]>(laptop, (now, cb) => laptop.node.devices(pw, 'dev2', now, cb));
  assert.ok(removed.ok);
  assert.deepEqual(removed.value.map((d) => d.deviceId), ['dev1']);
  const again = await t.settle<DeviceInfo[]>(laptop, (now, cb) => laptop.node.devices(pw, 'dev2', now, cb));
  assert.ok(!again.ok && again.error.code === 'no-such-device');
  const refused = await renew(t, phone);
  assert.ok(!refused.ok && refused.error.code === 'renewal-refused');
  assert.ok((await renew(t, laptop)).ok);
});

test('renewal is refused for an expired certificate and for another device\'s certificate', async () => {
  const { t, laptop, phone } = await twoDevices(25, 10 * 60_000);
  // The phone sends the laptop's (valid) certificate: its handshake proved another key.
  let out = await renewWith(t, phone, laptop.node.certificateBytes()!);
  assert.ok(!out.ok && out.error.code === 'renewal-refused' && /another device/.test(out.error.message), JSON.stringify(out));
  // Keep the laptop's first certificate and let it run out (the node itself renews meanwhile).
  const stale = laptop.node.certificateBytes()!;
  const staleExpiresAtMs = expiry(t, laptop);
  await t.net.runUntilAsync(() => t.net.now > staleExpiresAtMs, 20 * 60_000);
  out = await renewWith(t, laptop, stale);
  assert.ok(!out.ok && out.error.code === 'renewal-refused' && /expired/.test(out.error.message), JSON.stringify(out));
});

test('deleting an account needs the password, logs the node out, and reserves the name while its certificates live', async () => {
  const lifetimeMs = 10 * 60_000;
  const { t, laptop, phone } = await twoDevices(26, lifetimeMs);
  const wrong = await t.settle<void>(laptop, (now, cb) => laptop.node.deleteAccount('not the password', now, cb));
  assert.ok(!wrong.ok && wrong.error.code === 'bad-credentials');
  const deletedAtMs = t.net.now;
  const gone = await t.settle<void>(laptop, (now, cb) => laptop.node.deleteAccount(pw, now, cb));
  assert.ok(gone.ok, JSON.stringify(gone));
  assert.equal(laptop.node.status().loggedIn, false);
  const refused = await login(t, t.addUser(3), 'alice', pw);
  assert.ok(!refused.ok && refused.error.code === 'bad-credentials');
  const renewal = await renew(t, phone);
  assert.ok(!renewal.ok && renewal.error.code === 'renewal-refused', 'the other devices stop renewing');
  const fresh = t.addUser(4);
  const early = await t.settle<void>(fresh, (now, cb) => fresh.node.register('ALICE', pw2, now, cb));
  assert.ok(!early.ok && early.error.code === 'name-reserved', `nobody takes the name while old certificates are valid: ${JSON.stringify(early)}`);
  await t.net.runUntilAsync(() => t.net.now >= deletedAtMs + lifetimeMs + 1000, lifetimeMs + 60_000);
  await t.signUp(fresh, 'alice', pw2);
});
