// The behaviour every AccountStore must have; each implementation's test runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccountStore } from '../../src/login/store.ts';

export function runStoreContract(name: string, open: () => Promise<AccountStore>) {
  test(`${name}: accounts are created once and read back`, async () => {
    const s = await open();
    assert.equal(await s.createAccount({ name: 'alice', passwordHash: 'h1', createdAtMs: 1 }), 'created');
    assert.equal(await s.createAccount({ name: 'alice', passwordHash: 'h2', createdAtMs: 2 }), 'exists');
    assert.deepEqual(await s.getAccount('alice'), { name: 'alice', passwordHash: 'h1', createdAtMs: 1 });
    assert.equal(await s.getAccount('bob'), undefined);
    await s.close();
  });

  test(`${name}: devices are per user and updated in place`, async () => {
    const s = await open();
    await s.createAccount({ name: 'alice', passwordHash: 'h', createdAtMs: 1 });
    const key = new Uint8Array(32).fill(1);
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: key, addedAtMs: 1, lastLoginAtMs: 1 });
    await s.upsertDevice({ name: 'alice', deviceId: 'phone', devicePublicKey: key, addedAtMs: 2, lastLoginAtMs: 2 });
    await s.upsertDevice({ name: 'alice', deviceId: 'laptop', devicePublicKey: new Uint8Array(32).fill(2), addedAtMs: 9, lastLoginAtMs: 5 });
    const d = await s.getDevices('alice');
    assert.deepEqual(d.map((x) => x.deviceId), ['laptop', 'phone']);
    assert.equal(d[0].devicePublicKey[0], 2);
    assert.equal(d[0].lastLoginAtMs, 5);
    assert.equal(d[0].addedAtMs, 1, 'first-seen time is kept');
    await s.close();
  });

  test(`${name}: supernodes are listed newest first, only when fresh`, async () => {
    const s = await open();
    await s.upsertSupernode({ address: '203.0.113.1:1', publicKey: new Uint8Array(32), lastSeenMs: 100 });
    await s.upsertSupernode({ address: '203.0.113.2:2', publicKey: new Uint8Array(32), lastSeenMs: 200 });
    await s.upsertSupernode({ address: '203.0.113.1:1', publicKey: new Uint8Array(32), lastSeenMs: 300 });
    assert.deepEqual((await s.listSupernodes(150, 10)).map((x) => x.address), ['203.0.113.1:1', '203.0.113.2:2']);
    assert.deepEqual((await s.listSupernodes(250, 10)).map((x) => x.address), ['203.0.113.1:1']);
    assert.equal((await s.listSupernodes(0, 1)).length, 1);
    await s.close();
  });

  test(`${name}: meta values persist`, async () => {
    const s = await open();
    assert.equal(await s.getMeta('k'), undefined);
    await s.setMeta('k', 'v1');
    await s.setMeta('k', 'v2');
    assert.equal(await s.getMeta('k'), 'v2');
    await s.close();
  });
}
