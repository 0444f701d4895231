// Presence records: "this user is online, reachable here, until T", signed by the user's
// device key. Supernodes store and serve them but cannot forge or alter one: a reader checks
// the certificate against the login server's key and the record's signature against the
// certified device key (DESIGN.md, rule 3).
import { schema, f, type Fields } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { verifyCertificate, signWithDomain, openSigned, Signed, type Certificate } from '../crypto/certificate.ts';
import { equalBytes } from '../crypto/bytes.ts';

export const PresenceBody = schema({
  user: f.string(1, 32),
  certificate: f.bytes(2, 2048),
  staticKey: f.key(3),
  /** Direct candidates; empty when the user forbids direct paths. */
  addresses: f.addresses(4, 8).opt(),
  /** The supernode that relays for this user, and the user's relay token there. */
  supernode: f.address(5).opt(),
  relayToken: f.uint(6, 0xffffffff).opt(),
  publishedAtMs: f.uint(7),
  expiresAtMs: f.uint(8),
  /**
   * Relays the user holds tokens at (decision 0027), parallel lists, its own supernode first:
   * where, the token, and the RTT the user measured to it (absent: not measured).
   */
  relays: f.addresses(9, 3).opt(),
  relayTokens: f.uints(10, 3).opt(),
  relayRttMs: f.uints(11, 3).opt(),
});
export type Presence = Fields<typeof PresenceBody.spec>;

// Specification: a record lives at most this long; the owner re-publishes well before.
export const presenceTtlMaxMs = 10 * 60_000;

const presenceDomain = new TextEncoder().encode('tincan presence v1\0');

export function signPresence(p: Presence, devicePrivateKey: Uint8Array): Uint8Array {
  const body = encodeObjectList(PresenceBody.encode(p));
  return encodeObjectList(Signed.encode({ body, signature: signWithDomain(presenceDomain, body, devicePrivateKey) }));
}

export interface VerifiedPresence { presence: Presence; certificate: Certificate; bytes: Uint8Array }

export function verifyPresence(bytes: Uint8Array, loginKey: Uint8Array, nowMs: number): Result<VerifiedPresence> {
  let cert: Certificate | undefined;
  const opened = openSigned(bytes, presenceDomain, (b) => {
    const list = decodeObjectList(b);
    if (!list.ok) return list;
    const p = PresenceBody.decode(list.value);
    if (!p.ok) return p;
    const c = verifyCertificate(p.value.certificate, loginKey, nowMs);
    if (!c.ok) return c;
    cert = c.value;
    return p;
  }, () => cert!.deviceKey);
  if (!opened.ok) return opened;
  const p = opened.value;
  if (p.user !== cert!.user) return err('user-mismatch', `record for ${p.user} carries a certificate for ${cert!.user}`);
  if (p.expiresAtMs <= nowMs) return err('expired-record', `presence of ${p.user} has expired`);
  if (p.expiresAtMs - p.publishedAtMs > presenceTtlMaxMs) return err('bad-ttl', 'presence lifetime too long');
  return ok({ presence: p, certificate: cert!, bytes });
}

/** Which of two valid records for a user wins: the newer publication, then the later expiry. */
export function newerPresence(a: Presence, b: Presence): boolean {
  if (a.publishedAtMs !== b.publishedAtMs) return a.publishedAtMs > b.publishedAtMs;
  return a.expiresAtMs > b.expiresAtMs && !equalBytes(a.staticKey, b.staticKey);
}
