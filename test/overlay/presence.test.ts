import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signPresence, verifyPresence, type Presence } from '../../src/overlay/presence.ts';
import { SlotStore, devicesPerUserMax } from '../../src/overlay/slot-store.ts';
import { toBase64Url } from '../../src/crypto/bytes.ts';
import { testIdentity, testCertificate } from '../helpers/identities.ts';
import { prng } from '../helpers/prng.ts';

const now = 1_700_000_000_000;
const login = testIdentity(100);
const alice = testIdentity(1);
const mallory = testIdentity(2);

function record(over: Partial<Presence> = {}, signer = alice.signing, certFor = alice.signing, certUser = 'alice', issuer = login.signing) {
  return signPresence({
    user: 'alice', certificate: testCertificate(issuer, certUser, certFor, now), staticKey: alice.static.publicKey,
    addresses: [{ host: '203.0.113.9', port: 5000 }], supernode: { host: '198.51.100.1', port: 7000 }, relayToken: 42,
    publishedAtMs: now, expiresAtMs: now + 60_000, ...over,
  }, signer.privateKey);
}

test('a record signed by its certified user verifies', () => {
  const v = verifyPresence(record(), login.signing.publicKey, now + 1);
  assert.ok(v.ok, JSON.stringify(!v.ok && v.error));
  assert.equal(v.value.presence.user, 'alice');
  assert.equal(v.value.presence.relayToken, 42);
});

test('a forged record (signed by someone else) is rejected', () => {
  const v = verifyPresence(record({}, mallory.signing), login.signing.publicKey, now + 1);
  assert.ok(!v.ok);
  assert.equal(v.error.code, 'bad-signature');
});

test("a record carrying another user's certificate is rejected", () => {
  const v = verifyPresence(record({}, mallory.signing, mallory.signing, 'mallory'), login.signing.publicKey, now + 1);
  assert.ok(!v.ok);
  assert.equal(v.error.code, 'user-mismatch');
});

test('a certificate signed by another key than the login server is rejected', () => {
  const v = verifyPresence(record({}, alice.signing, alice.signing, 'alice', mallory.signing), login.signing.publicKey, now + 1);
  assert.ok(!v.ok);
  assert.equal(v.error.code, 'untrusted-certificate');
});

test('expired records and over-long lifetimes are rejected', () => {
  assert.ok(!verifyPresence(record(), login.signing.publicKey, now + 61_000).ok);
  assert.ok(!verifyPresence(record({ expiresAtMs: now + 24 * 3600_000 }), login.signing.publicKey, now + 1).ok);
});

test('a tampered record is rejected, and hostile bytes never throw', () => {
  const good = record();
  const rng = prng(9);
  for (let i = 0; i < 2000; i++) {
    const bad = i % 2 ? good.map((b) => (rng.int(50) === 0 ? b ^ (1 + rng.int(255)) : b)) : rng.bytes(rng.int(300));
    if (bad.every((b, j) => b === good[j]) && bad.length === good.length) continue;
    const v = verifyPresence(bad, login.signing.publicKey, now + 1);
    assert.equal(v.ok, false);
  }
});

/** What a supernode's overlay stores for a record (overlay-link.ts verifies, the slot store keeps). */
function meta(bytes: Uint8Array, at: number) {
  const v = verifyPresence(bytes, login.signing.publicKey, at);
  assert.ok(v.ok);
  const p = v.value.presence;
  return { user: p.user, device: toBase64Url(v.value.certificate.deviceKey), publishedAtMs: p.publishedAtMs, expiresAtMs: p.expiresAtMs };
}

test('a slot keeps the newest record of each device', () => {
  const store = new SlotStore();
  assert.equal(store.putRecord(meta(record(), now + 1), record()), true);
  const newer = record({ publishedAtMs: now + 10, expiresAtMs: now + 60_000 });
  assert.equal(store.putRecord(meta(newer, now + 11), newer), true);
  assert.equal(store.putRecord(meta(record(), now + 12), record()), false, 'an older record is stale');
  assert.equal(store.getRecords('alice', now + 30)[0].publishedAtMs, now + 10);
  assert.deepEqual(store.getRecords('alice', now + 70_000), [], 'expired records are not served');
});

test('a slot keeps one record per device of a user, newest first, at most devicesPerUserMax', () => {
  const store = new SlotStore();
  const devices = Array.from({ length: devicesPerUserMax + 2 }, (_, i) => testIdentity(500 + i));
  devices.forEach((d, i) => {
    const r = record({ publishedAtMs: now + i, expiresAtMs: now + 60_000 }, d.signing, d.signing);
    assert.equal(store.putRecord(meta(r, now + 20), r), true);
  });
  const all = store.getRecords('alice', now + 30);
  assert.equal(all.length, devicesPerUserMax, 'the oldest devices gave way');
  assert.deepEqual(all.map((v) => v.publishedAtMs), Array.from({ length: devicesPerUserMax }, (_, i) => now + devicesPerUserMax + 1 - i));
  // A device re-publishing replaces its own record only.
  const again = record({ publishedAtMs: now + 40, expiresAtMs: now + 60_000 }, devices[5].signing, devices[5].signing);
  assert.equal(store.putRecord(meta(again, now + 41), again), true);
  assert.equal(store.getRecords('alice', now + 42).length, devicesPerUserMax);
  assert.equal(store.recordCount, devicesPerUserMax);
  store.sweep(now + 70_000);
  assert.equal(store.recordCount, 0);
  assert.equal(store.count, 0, 'the digest forgot them too');
});
