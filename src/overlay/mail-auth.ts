// Who may read or delete a mailbox: only its owner. A fetch or acknowledgement carries a
// timestamped statement signed by a device key the login server certified for the mailbox's
// user; for an acknowledgement it also covers the exact mail ids. Every replica checks it
// itself (supernodes are not trusted to have checked), so a third party — another user, or a
// supernode on the way — can neither read nor delete someone's mail (docs/decisions/0018).
//
// A replayed statement is accepted within its window; it gains the replayer nothing: it can
// only be replayed by a supernode that already carried it, which sees the (sealed) mail
// anyway, and an acknowledgement deletes only the ids its owner already deleted.
import crypto from 'node:crypto';
import { schema, f } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { verifyCertificate, signWithDomain, openSigned, Signed, type Certificate } from '../crypto/certificate.ts';
import { equalBytes } from '../crypto/bytes.ts';
import { Op } from './messages.ts';

const MailAuthBody = schema({
  user: f.string(1, 32), certificate: f.bytes(2, 2048), op: f.uint(3, 15), atMs: f.uint(4), ids: f.bytes(5, 32, 32),
});

const domain = new TextEncoder().encode('tincan mailbox v1\0');
// Specification: how far a statement's time may be from the replica's clock.
export const mailAuthWindowMs = 5 * 60_000;

function idsDigest(ids: string[]): Uint8Array {
  const h = crypto.createHash('sha256');
  for (const id of ids) h.update(`${id.length}:${id}`);
  return new Uint8Array(h.digest());
}

export function signMailAuth(a: { user: string; certificate: Uint8Array; op: Op; atMs: number; ids: string[] }, devicePrivateKey: Uint8Array): Uint8Array {
  const body = encodeObjectList(MailAuthBody.encode({ user: a.user, certificate: a.certificate, op: a.op, atMs: a.atMs, ids: idsDigest(a.ids) }));
  return encodeObjectList(Signed.encode({ body, signature: signWithDomain(domain, body, devicePrivateKey) }));
}

/** Whether `auth` lets its signer do `op` on `user`'s mailbox (with these `ids`) now. */
export function checkMailAuth(auth: Uint8Array | undefined, op: Op, user: string, ids: string[], loginKey: Uint8Array, nowMs: number): Result<void> {
  if (!auth) return err('unauthorised', 'mailbox requests must be signed by the mailbox owner');
  let cert: Certificate | undefined;
  const opened = openSigned(auth, domain, (b) => {
    const l = decodeObjectList(b);
    if (!l.ok) return l;
    const body = MailAuthBody.decode(l.value);
    if (!body.ok) return body;
    const c = verifyCertificate(body.value.certificate, loginKey, nowMs);
    if (!c.ok) return c;
    cert = c.value;
    return body;
  }, () => cert!.deviceKey);
  if (!opened.ok) return opened;
  const a = opened.value;
  if (a.user !== user || cert!.user !== user) return err('unauthorised', `not signed by ${user}`);
  if (a.op !== op) return err('unauthorised', 'signed for another operation');
  if (Math.abs(a.atMs - nowMs) > mailAuthWindowMs) return err('stale-request', 'the signed request is too old or from the future');
  if (!equalBytes(a.ids, idsDigest(ids))) return err('unauthorised', 'signed for other mail ids');
  return ok(undefined);
}
