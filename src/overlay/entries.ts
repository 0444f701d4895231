// Directory entries besides presence, stored in the overlay as ordinary slot records under a
// name that no user name can take (user names have no ":"; docs/overlay.md, "White pages"):
//
//   k:USER  one per device: the device's static X25519 key, for sealing offline mail to it
//   p:USER  the user's white-pages profile (display name, optional city and language)
//   w:WORD  the same signed profile again, once per word of its display name: the search index
//
// Each is signed by a device key the login server certified for the user. A replica checks
// the signature, that the name fits the content (the word is in the display name), and the
// lifetime, so a supernode can neither forge an entry nor file a real one under a wrong name.
// The certificate must have been valid when the entry was published: entries outlive the 24 h
// certificates (a user offline for two days still gets mail and is still found).
import { schema, f, type Fields } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList, type ObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { verifyCertificate, signWithDomain, openSigned, Signed, type Certificate } from '../crypto/certificate.ts';
import { toBase64Url } from '../crypto/bytes.ts';
import type { RecordMeta } from './slot-store.ts';

/** The envelope: the name it is filed under, and the signed entry. Ids 9/10 keep it apart from a presence record. */
const DirEntry = schema({ name: f.string(9, 64), signed: f.bytes(10, 4096) });

export const MailKeyBody = schema({
  user: f.string(1, 32), certificate: f.bytes(2, 2048), staticKey: f.key(3), publishedAtMs: f.uint(4), expiresAtMs: f.uint(5),
});
export type MailKey = Fields<typeof MailKeyBody.spec>;

export const ProfileBody = schema({
  user: f.string(1, 32), certificate: f.bytes(2, 2048), displayName: f.string(3, 64),
  city: f.string(4, 64).opt(), language: f.string(5, 32).opt(), publishedAtMs: f.uint(6), expiresAtMs: f.uint(7),
});
export type Profile = Fields<typeof ProfileBody.spec>;

// Specification: the longest an entry lives; owners re-publish at login and every day. 72 h is
// the seed's "anyone online in the last 72 h can be found".
export const entryTtlMaxMs = 72 * 3600_000;
// Specification: a word's slot keeps this many profiles; past it the oldest publication gives way.
export const indexEntriesPerWordMax = 64;
// Specification: words of a display name that are indexed, and their length bounds.
export const indexWordsMax = 8;
const wordLengthMin = 2;
const wordLengthMax = 32;
// Clock skew tolerated between a publisher and a replica.
const skewMs = 5 * 60_000;

const keyDomain = new TextEncoder().encode('tincan mail key v1\0');
const profileDomain = new TextEncoder().encode('tincan profile v1\0');

export const mailKeyName = (user: string) => `k:${user}`;
export const profileName = (user: string) => `p:${user}`;
export const wordName = (word: string) => `w:${word}`;
export const isEntryName = (name: string) => /^[kpw]:/.test(name);

/** The searchable words of a display name or query: NFKC, lower case, split on anything not a letter or digit. */
export function wordsOf(text: string): string[] {
  const words = text.normalize('NFKC').toLowerCase().split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length >= wordLengthMin && w.length <= wordLengthMax);
  return [...new Set(words)].slice(0, indexWordsMax);
}

export function signMailKey(k: MailKey, devicePrivateKey: Uint8Array): Uint8Array {
  return envelope(mailKeyName(k.user), keyDomain, encodeObjectList(MailKeyBody.encode(k)), devicePrivateKey);
}

/** The profile filed under the user's name and under each word of its display name. */
export function signProfile(p: Profile, devicePrivateKey: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const body = encodeObjectList(ProfileBody.encode(p));
  return [profileName(p.user), ...wordsOf(p.displayName).map(wordName)]
    .map((name) => ({ name, bytes: envelope(name, profileDomain, body, devicePrivateKey) }));
}

function envelope(name: string, domain: Uint8Array, body: Uint8Array, key: Uint8Array): Uint8Array {
  const signed = encodeObjectList(Signed.encode({ body, signature: signWithDomain(domain, body, key) }));
  return encodeObjectList(DirEntry.encode({ name, signed }));
}

export type VerifiedEntry =
  | { kind: 'mail-key'; name: string; key: MailKey; certificate: Certificate }
  | { kind: 'profile'; name: string; profile: Profile; certificate: Certificate };

/** True when the bytes are a directory entry (and not, say, a presence record). */
export function isEntry(bytes: Uint8Array): boolean {
  const l = decodeObjectList(bytes);
  return l.ok && DirEntry.decode(l.value).ok;
}

export function verifyEntry(bytes: Uint8Array, loginKey: Uint8Array, nowMs: number): Result<VerifiedEntry> {
  const l = decodeObjectList(bytes);
  if (!l.ok) return l;
  const e = DirEntry.decode(l.value);
  if (!e.ok) return e;
  const { name, signed } = e.value;
  const kind = name.slice(0, 2);
  if (kind === 'k:') {
    const v = openBody(signed, keyDomain, MailKeyBody, loginKey);
    if (!v.ok) return v;
    const { body: key, cert } = v.value;
    if (mailKeyName(key.user) !== name) return err('wrong-name', `a mail key of ${key.user} filed under ${name}`);
    const life = lifetime(key, nowMs);
    return life.ok ? ok({ kind: 'mail-key', name, key, certificate: cert }) : life;
  }
  if (kind === 'p:' || kind === 'w:') {
    const v = openBody(signed, profileDomain, ProfileBody, loginKey);
    if (!v.ok) return v;
    const { body: profile, cert } = v.value;
    const fits = kind === 'p:' ? profileName(profile.user) === name : wordsOf(profile.displayName).some((w) => wordName(w) === name);
    if (!fits) return err('wrong-name', `a profile of ${profile.user} filed under ${name}`);
    const life = lifetime(profile, nowMs);
    return life.ok ? ok({ kind: 'profile', name, profile, certificate: cert }) : life;
  }
  return err('unknown-entry', `no entries are filed under ${name}`);
}

/** What a slot replica stores the entry as (the core's verifyRecord hook). */
export function entryMeta(v: VerifiedEntry): RecordMeta {
  const t = v.kind === 'mail-key' ? v.key : v.profile;
  const base = { user: v.name, publishedAtMs: t.publishedAtMs, expiresAtMs: t.expiresAtMs };
  if (v.kind === 'mail-key') return { ...base, device: toBase64Url(v.certificate.deviceKey) };
  // One profile per user: under p:USER the newest wins; under a word, one per user of it.
  return v.name.startsWith('w:') ? { ...base, device: v.profile.user, keepMax: indexEntriesPerWordMax } : base;
}

type Timed = { user: string; certificate: Uint8Array; publishedAtMs: number; expiresAtMs: number };

function openBody<T extends Timed>(signed: Uint8Array, domain: Uint8Array,
  s: { decode(l: ObjectList): Result<T> }, loginKey: Uint8Array): Result<{ body: T; cert: Certificate }> {
  let cert: Certificate | undefined;
  const opened = openSigned(signed, domain, (b) => {
    const list = decodeObjectList(b);
    if (!list.ok) return list;
    const body = s.decode(list.value);
    if (!body.ok) return body;
    // Certified when it was published (later expiry of the 24 h certificate does not matter).
    const c = verifyCertificate(body.value.certificate, loginKey, body.value.publishedAtMs);
    if (!c.ok) return c;
    if (c.value.issuedAtMs > body.value.publishedAtMs + skewMs) return err('bad-time', 'published before its certificate was issued');
    cert = c.value;
    return body;
  }, () => cert!.deviceKey);
  if (!opened.ok) return opened;
  if (opened.value.user !== cert!.user) return err('user-mismatch', `entry for ${opened.value.user} carries a certificate for ${cert!.user}`);
  return ok({ body: opened.value, cert: cert! });
}

function lifetime(t: Timed, nowMs: number): Result<void> {
  if (t.expiresAtMs <= nowMs) return err('expired-entry', 'the entry has expired');
  if (t.publishedAtMs > nowMs + skewMs) return err('bad-time', 'the entry is published in the future');
  if (t.expiresAtMs - t.publishedAtMs > entryTtlMaxMs) return err('bad-ttl', 'entry lifetime too long');
  return ok(undefined);
}
