// Directory entries (mail keys, profiles and their word index), signed mailbox requests and
// sealed offline messages: what a replica or a reader accepts, and what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signMailKey, signProfile, verifyEntry, entryMeta, isEntry, wordsOf, mailKeyName, entryTtlMaxMs, type Profile } from '../../src/overlay/entries.ts';
import { signMailAuth, checkMailAuth } from '../../src/overlay/mail-auth.ts';
import { signPresence } from '../../src/overlay/presence.ts';
import { seal, open } from '../../src/crypto/sealed-box.ts';
import { sealOfflineChat, openOfflineChat } from '../../src/chat/offline-mail.ts';
import { Op } from '../../src/overlay/messages.ts';
import { testIdentity, testCertificate } from '../helpers/identities.ts';
import { prng } from '../helpers/prng.ts';

const now = 1_700_000_000_000;
const login = testIdentity(100);
const alice = testIdentity(1);
const bob = testIdentity(2);
const bobPhone = testIdentity(3);
const mallory = testIdentity(4);
const lk = login.signing.publicKey;
const cert = (user: string, id = alice, at = now) => testCertificate(login.signing, user, id.signing, at);
const random = prng(7).bytes;

const profile = (over: Partial<Profile> = {}): Profile => ({
  user: 'alice', certificate: cert('alice'), displayName: 'Alice Smith-Jones', city: 'Tallinn', publishedAtMs: now, expiresAtMs: now + 3600_000, ...over,
});

test('a profile is filed under the user and each word of its display name, and verifies there', () => {
  assert.deepEqual(wordsOf('Alice  Smith-Jones, Ⅻ é'), ['alice', 'smith', 'jones', 'xii']);
  const filed = signProfile(profile(), alice.signing.privateKey);
  assert.deepEqual(filed.map((e) => e.name), ['p:alice', 'w:alice', 'w:smith', 'w:jones']);
  for (const e of filed) {
    assert.ok(isEntry(e.bytes));
    const v = verifyEntry(e.bytes, lk, now + 1);
    assert.ok(v.ok && v.value.kind === 'profile' && v.value.profile.city === 'Tallinn', JSON.stringify(!v.ok && v.error));
    const meta = entryMeta(v.value);
    assert.equal(meta.user, e.name);
    if (e.name.startsWith('w:')) assert.equal(meta.device, 'alice');
  }
});

test('entries that lie are refused: wrong word, forged signer, too long a life, expired', () => {
  const [, w] = signProfile(profile(), alice.signing.privateKey);
  // Re-filed under a word that is not in the name: the envelope's name is not signed, the check is by content.
  const other = signProfile(profile({ displayName: 'Zed' }), alice.signing.privateKey);
  const refiled = Buffer.from(other[1].bytes).toString('latin1').replace('w:zed', 'w:bob');
  assert.ok(!verifyEntry(new Uint8Array(Buffer.from(refiled, 'latin1')), lk, now).ok);
  assert.ok(verifyEntry(w.bytes, lk, now).ok);
  assert.ok(!verifyEntry(signProfile(profile(), mallory.signing.privateKey)[0].bytes, lk, now).ok, 'signed by a key the certificate does not name');
  assert.ok(!verifyEntry(signProfile(profile({ certificate: cert('mallory', alice) }), alice.signing.privateKey)[0].bytes, lk, now).ok, 'a certificate for another user');
  assert.ok(!verifyEntry(signProfile(profile({ expiresAtMs: now + entryTtlMaxMs + 1 }), alice.signing.privateKey)[0].bytes, lk, now).ok);
  assert.ok(!verifyEntry(w.bytes, lk, now + 3600_000).ok, 'expired');
  // Valid after the 24 h certificate ran out: it was certified when published.
  const long = signProfile(profile({ expiresAtMs: now + 48 * 3600_000 }), alice.signing.privateKey)[0];
  assert.ok(verifyEntry(long.bytes, lk, now + 30 * 3600_000).ok);
  // A presence record is not an entry.
  assert.ok(!isEntry(signPresence({ user: 'alice', certificate: cert('alice'), staticKey: alice.static.publicKey, publishedAtMs: now, expiresAtMs: now + 1000 }, alice.signing.privateKey)));
});

test('mail keys are per device and name their user', () => {
  const k = signMailKey({ user: 'bob', certificate: cert('bob', bob), staticKey: bob.static.publicKey, publishedAtMs: now, expiresAtMs: now + 3600_000 }, bob.signing.privateKey);
  const v = verifyEntry(k, lk, now);
  assert.ok(v.ok && v.value.kind === 'mail-key');
  assert.equal(entryMeta(v.value).user, mailKeyName('bob'));
  assert.ok(entryMeta(v.value).device);
  const stolen = signMailKey({ user: 'bob', certificate: cert('bob', bob), staticKey: mallory.static.publicKey, publishedAtMs: now, expiresAtMs: now + 3600_000 }, mallory.signing.privateKey);
  assert.ok(!verifyEntry(stolen, lk, now).ok);
});

test('a mailbox request counts only when its owner signed it, for that operation, those ids, recently', () => {
  const a = (over: { user?: string; op?: Op; atMs?: number; ids?: string[] } = {}, id = bob, user = 'bob') =>
    signMailAuth({ user: over.user ?? user, certificate: cert(user, id), op: over.op ?? Op.MailAck, atMs: over.atMs ?? now, ids: over.ids ?? ['m1', 'm2'] }, id.signing.privateKey);
  assert.ok(checkMailAuth(a(), Op.MailAck, 'bob', ['m1', 'm2'], lk, now).ok);
  assert.ok(!checkMailAuth(undefined, Op.MailFetch, 'bob', [], lk, now).ok);
  assert.ok(!checkMailAuth(a(), Op.MailAck, 'bob', ['m1', 'm3'], lk, now).ok, 'other ids');
  assert.ok(!checkMailAuth(a({ op: Op.MailFetch, ids: [] }), Op.MailAck, 'bob', [], lk, now).ok, 'other operation');
  assert.ok(!checkMailAuth(a({ atMs: now - 6 * 60_000 }), Op.MailAck, 'bob', ['m1', 'm2'], lk, now).ok, 'stale');
  assert.ok(!checkMailAuth(a({ user: 'bob' }, mallory, 'mallory'), Op.MailAck, 'bob', ['m1', 'm2'], lk, now).ok, 'another user');
});

test('sealed boxes open for each recipient key only, and bind their associated data', () => {
  const msg = new TextEncoder().encode('hello');
  const ad = new TextEncoder().encode('id\0bob');
  const box = seal([bob.static.publicKey, bobPhone.static.publicKey], msg, ad, random);
  assert.ok(box.ok);
  for (const k of [bob.static, bobPhone.static]) { const o = open(box.value, k, ad); assert.ok(o.ok && Buffer.from(o.value).toString() === 'hello'); }
  assert.equal((open(box.value, mallory.static, ad) as any).error.code, 'not-for-us');
  assert.ok(!open(box.value, bob.static, new TextEncoder().encode('id\0eve')).ok);
  const tampered = box.value.slice(); tampered[tampered.length - 3] ^= 1;
  assert.ok(!open(tampered, bob.static, ad).ok);
});

test('an offline chat opens only for its addressee and names its certified sender', () => {
  const m = { id: 'abc', from: 'alice', to: 'bob', text: 'later!', sentAtMs: now };
  const item = sealOfflineChat(m, { certificate: cert('alice'), signing: alice.signing }, [bob.static.publicKey], now + 86_400_000, random);
  assert.ok(item.ok);
  const o = openOfflineChat(item.value, { user: 'bob', staticKey: bob.static }, lk, now + 40 * 3600_000);
  assert.deepEqual(o.message, m);
  assert.ok(!openOfflineChat(item.value, { user: 'bob', staticKey: mallory.static }, lk, now).message);
  // Mallory writing in alice's name: her own certificate, alice's name in the body.
  const forged = sealOfflineChat(m, { certificate: cert('mallory', mallory), signing: mallory.signing }, [bob.static.publicKey], now + 1000, random);
  assert.ok(forged.ok);
  assert.match(openOfflineChat(forged.value, { user: 'bob', staticKey: bob.static }, lk, now).error!, /in the name of alice/);
  const long = sealOfflineChat({ ...m, text: 'x'.repeat(4000) }, { certificate: cert('alice'), signing: alice.signing }, [bob.static.publicKey], now + 1000, random);
  assert.ok(!long.ok && long.error.code === 'too-long-for-mail');
});

test('hostile bytes into the entry, mailbox-statement, sealed-box and offline-chat readers never throw', () => {
  const r = prng(99);
  const good = [
    signProfile(profile(), alice.signing.privateKey)[1].bytes,
    signMailAuth({ user: 'bob', certificate: cert('bob', bob), op: Op.MailFetch, atMs: now, ids: [] }, bob.signing.privateKey),
    sealOfflineChat({ id: 'x', from: 'alice', to: 'bob', text: 'hi', sentAtMs: now }, { certificate: cert('alice'), signing: alice.signing }, [bob.static.publicKey], now + 1000, random),
  ].map((x) => (x instanceof Uint8Array ? x : (x as { ok: true; value: Uint8Array }).value));
  for (let i = 0; i < 3000; i++) {
    const base = good[i % good.length];
    const b = i % 4 === 0 ? r.bytes(r.int(300)) : base.slice();
    if (i % 4) for (let k = 0; k < 1 + (i % 5); k++) b[r.int(b.length)] ^= 1 << r.int(8);
    assert.doesNotThrow(() => {
      verifyEntry(b, lk, now);
      checkMailAuth(b, Op.MailFetch, 'bob', [], lk, now);
      open(b, bob.static, new Uint8Array(0));
      openOfflineChat(b, { user: 'bob', staticKey: bob.static }, lk, now);
    });
  }
});
