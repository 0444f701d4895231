// The behaviour every AccountStore must have (src/login/store.ts). Each implementation's test
// file calls runStoreContract with a function that opens a fresh, empty store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccountStore } from '../../src/login/store.ts';

const key = (fill: number) => new Uint8Array(32).fill(fill);

export function runStoreContract(name: string, open: () => Promise<AccountStore>) {
  async function withStore(fn: (s: AccountStore) => Promise<void>) {
    const s = await open();
    try { await fn(s); } finally { await s.close(); }
  }

  test(`${name}: accounts are created once and read back`, () => withStore(async (s) => {
    assert.equal(await s.createAccount({ name: 'alice', passwordHash: 'h1', createdAtMs: 1 }), 'created');
    assert.equal(await s.createAccount({ name: 'alice', passwordHash: 'h2', createdAtMs: 2 }), 'exists');
    assert.deepEqual(await s.getAccount('alice'), { name: 'alice', passwordHash: 'h1', createdAtMs: 1 });
    assert.equal(await s.getAccount('bob'), undefined);
  }));

  test(`${name}: names are compared exactly; normalising is the caller's job`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
    assert.equal(await s.getAccount('Alice'), undefined);
    assert.equal(await s.getAccount('alice '), undefined);
  }));

  test(`${name}: of concurrent registrations of one name, exactly one is created`, () => withStore(async (s) => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      s.createAccount({ name: 'carol', passwordHash: `h${i}`, createdAtMs: i })));
    assert.equal(results.filter((r) => r === 'created').length, 1);
    const winner = results.indexOf('created');
    assert.equal((await s.getAccount('carol'))?.passwordHash, `h${winner}`);
  }));

  test(`${name}: times up to 2^53 survive the round trip`, () => withStore(async (s) => {
    await s.createAccount({ name: 'dave', passwordHash: 'h', createdAtMs: Number.MAX_SAFE_INTEGER });
    assert.equal((await s.getAccount('dave'))?.createdAtMs, Number.MAX_SAFE_INTEGER);
  }));

  test(`${name}: devices are per user and updated in place`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
    await s.createAccount({ name: 'bob', passwordHash: 'h', createdAtMs: 1 });
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: key(1), addedAtMs: 1, lastLoginAtMs: 1 });
    await s.upsertDevice({ name: 'alice', deviceId: 'phone', devicePublicKey: key(1), addedAtMs: 2, lastLoginAtMs: 2 });
    await s.upsertDevice({ name: 'bob', deviceId: 'laptop', devicePublicKey: key(3), addedAtMs: 3, lastLoginAtMs: 3 });
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: key(2), addedAtMs: 9, lastLoginAtMs: 5 });
    const d = await s.getDevices('alice');
    assert.deepEqual(d.map((x) => x.deviceId), ['laptop', 'phone'], 'oldest first');
    assert.deepEqual(d[0], { name: 'alice', deviceId: 'laptop', devicePublicKey: key(2), addedAtMs: 1, lastLoginAtMs: 5 },
      'key and last login replaced, first-seen time kept');
    assert.deepEqual((await s.getDevices('bob')).map((x) => x.devicePublicKey), [key(3)]);
    assert.deepEqual(await s.getDevices('nobody'), []);
  }));

  test(`${name}: device keys come back byte for byte as plain Uint8Array copies`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
    const k = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 255) & 0xff);
    k[0] = 0;   // a leading zero byte must survive (no string conversion on the way)
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: k, addedAtMs: 1, lastLoginAtMs: 1 });
    const expected = k.slice();
    k.fill(9);
    const [got] = await s.getDevices('alice');
    assert.deepEqual(got.devicePublicKey, expected);
    assert.equal(Object.getPrototypeOf(got.devicePublicKey), Uint8Array.prototype);
  }));

  test(`${name}: a device of an unknown account is refused`, () => withStore(async (s) => {
    await assert.rejects(s.upsertDevice({ name: 'ghost', deviceId: 'x', devicePublicKey: key(1), addedAtMs: 1, lastLoginAtMs: 1 }));
    assert.deepEqual(await s.getDevices('ghost'), []);
  }));

  test(`${name}: supernodes are listed newest first, only when fresh`, () => withStore(async (s) => {
    await s.upsertSupernode({ address: '203.0.113.1:1', publicKey: key(1), lastSeenMs: 100 });
    await s.upsertSupernode({ address: '203.0.113.2:2', publicKey: key(2), lastSeenMs: 200 });
    await s.upsertSupernode({ address: '203.0.113.1:1', publicKey: key(3), lastSeenMs: 300 });
    const fresh = await s.listSupernodes(150, 10);
    assert.deepEqual(fresh, [
      { address: '203.0.113.1:1', publicKey: key(3), lastSeenMs: 300 },
      { address: '203.0.113.2:2', publicKey: key(2), lastSeenMs: 200 },
    ]);
    assert.deepEqual((await s.listSupernodes(250, 10)).map((x) => x.address), ['203.0.113.1:1']);
    assert.deepEqual((await s.listSupernodes(200, 10)).map((x) => x.address), ['203.0.113.1:1', '203.0.113.2:2'], 'sinceMs is inclusive');
    assert.deepEqual(await s.listSupernodes(301, 10), []);
  }));

  test(`${name}: the supernode list honours its limit`, () => withStore(async (s) => {
    for (let i = 0; i < 20; i++) await s.upsertSupernode({ address: `198.51.100.${i}:7000`, publicKey: key(i), lastSeenMs: 1000 + i });
    const top = await s.listSupernodes(0, 3);
    assert.deepEqual(top.map((x) => x.lastSeenMs), [1019, 1018, 1017]);
    assert.deepEqual(await s.listSupernodes(0, 0), []);
    assert.deepEqual(await s.listSupernodes(0, -1), [], 'a negative limit is not "unlimited"');
    assert.equal((await s.listSupernodes(0, 1000)).length, 20);
  }));

  test(`${name}: meta values are kept per key and replaced`, () => withStore(async (s) => {
    assert.equal(await s.getMeta('k'), undefined);
    await s.setMeta('k', 'v1');
    await s.setMeta('other', 'x');
    await s.setMeta('k', 'v2');
    assert.equal(await s.getMeta('k'), 'v2');
    assert.equal(await s.getMeta('other'), 'x');
    await s.setMeta('empty', '');
    assert.equal(await s.getMeta('empty'), '', 'an empty value is not a missing one');
  }));

  test(`${name}: removing a device forgets only that device`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: key(1), addedAtMs: 1, lastLoginAtMs: 1 });
    await s.upsertDevice({ name: 'alice', deviceId: 'phone', devicePublicKey: key(2), addedAtMs: 2, lastLoginAtMs: 2 });
    assert.equal(await s.removeDevice('alice', 'phone'), true);
    assert.equal(await s.removeDevice('alice', 'phone'), false, 'already gone');
    assert.equal(await s.removeDevice('bob', 'laptop'), false);
    assert.deepEqual((await s.getDevices('alice')).map((d) => d.deviceId), ['laptop']);
  }));

  test(`${name}: a password change swaps the hash only from the expected one and forgets the other devices`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h1', createdAtMs: 1 });
    await s.createAccount({ name: 'bob', passwordHash: 'h1', createdAtMs: 1 });
    for (const [i, id] of ['laptop', 'phone', 'tablet'].entries()) {
      await s.upsertDevice({ name: 'alice', deviceId: id, devicePublicKey: key(i), addedAtMs: i, lastLoginAtMs: i });
    }
    await s.upsertDevice({ name: 'bob', deviceId: 'phone', devicePublicKey: key(7), addedAtMs: 1, lastLoginAtMs: 1 });
    assert.equal(await s.changePassword('alice', 'wrong', 'h2', 'phone'), false, 'not from an outdated hash');
    assert.equal((await s.getAccount('alice'))?.passwordHash, 'h1');
    assert.equal((await s.getDevices('alice')).length, 3, 'a refused change forgets nothing');
    assert.equal(await s.changePassword('alice', 'h1', 'h2', 'phone'), true);
    assert.equal((await s.getAccount('alice'))?.passwordHash, 'h2');
    assert.deepEqual((await s.getDevices('alice')).map((d) => d.deviceId), ['phone']);
    assert.equal((await s.getDevices('bob')).length, 1, 'other accounts keep their devices');
    assert.equal(await s.changePassword('alice', 'h2', 'h3', undefined), true);
    assert.deepEqual(await s.getDevices('alice'), [], 'no device kept');
    assert.equal(await s.changePassword('nobody', 'h1', 'h2', undefined), false);
  }));

  test(`${name}: of concurrent password changes from one hash, exactly one wins`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h0', createdAtMs: 1 });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => s.changePassword('alice', 'h0', `n${i}`, undefined)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await s.getAccount('alice'))?.passwordHash, `n${results.indexOf(true)}`);
  }));

  test(`${name}: deleting an account needs its current hash and takes its devices along`, () => withStore(async (s) => {
    await s.createAccount({ name: 'alice', passwordHash: 'h1', createdAtMs: 1 });
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: key(1), addedAtMs: 1, lastLoginAtMs: 1 });
    assert.equal(await s.deleteAccount('alice', 'h0', 10), false);
    assert.ok(await s.getAccount('alice'));
    assert.equal(await s.deletedAtMs('alice'), undefined, 'a refused deletion leaves no mark');
    assert.equal(await s.deleteAccount('alice', 'h1', 10), true);
    assert.equal(await s.getAccount('alice'), undefined);
    assert.deepEqual(await s.getDevices('alice'), []);
    assert.equal(await s.deletedAtMs('alice'), 10, 'the deletion time is kept');
    assert.equal(await s.deleteAccount('alice', 'h1', 11), false, 'already gone');
    assert.equal(await s.deletedAtMs('alice'), 10);
    assert.equal(await s.createAccount({ name: 'alice', passwordHash: 'h9', createdAtMs: 5 }), 'created', 'the store does not reserve names (the server does)');
    assert.deepEqual(await s.getDevices('alice'), [], 'a new account starts with no devices');
    assert.equal(await s.deleteAccount('alice', 'h9', Number.MAX_SAFE_INTEGER), true);
    assert.equal(await s.deletedAtMs('alice'), Number.MAX_SAFE_INTEGER, 'the latest deletion counts');
    assert.equal(await s.deletedAtMs('bob'), undefined);
  }));

  test(`${name}: initMeta keeps the first value, also under concurrent calls`, () => withStore(async (s) => {
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => s.initMeta('signing-key', `seed${i}`)));
    assert.equal(new Set(got).size, 1, 'everyone sees the same value');
    assert.equal(await s.getMeta('signing-key'), got[0]);
    assert.equal(await s.initMeta('signing-key', 'later'), got[0]);
  }));
}
