// A chat message left in an offline user's mailbox (docs/decisions/0018). The sender signs
// the message with its certified device key — naming the recipient inside, so it cannot be
// forwarded to someone else as if written to them — then seals it for every device key the
// recipient published (src/overlay/entries.ts, "k:USER"). Supernodes hold only the sealed
// bytes, the recipient's name and an id: not the sender, not the text.
import { schema, f } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { verifyCertificate, signWithDomain, openSigned, Signed, type Certificate } from '../crypto/certificate.ts';
import { seal, open } from '../crypto/sealed-box.ts';
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { MailItem, mailBodyMax } from '../overlay/messages.ts';
import { chatTextMax } from './protocol.ts';

const OfflineChatBody = schema({
  id: f.string(1, 64), from: f.string(2, 32), to: f.string(3, 32), certificate: f.bytes(4, 2048),
  text: f.string(5, chatTextMax), sentAtMs: f.uint(6),
});
const domain = new TextEncoder().encode('tincan offline chat v1\0');
const adOf = (id: string, to: string) => new TextEncoder().encode(`${id}\0${to}`);
// Clock skew tolerated between the sender and the reader.
const skewMs = 5 * 60_000;

export interface OfflineChat { id: string; from: string; to: string; text: string; sentAtMs: number }

/** The mail item to leave in `to`'s slot, or an error when the message does not fit a mail. */
export function sealOfflineChat(m: OfflineChat, sender: { certificate: Uint8Array; signing: KeyPair }, recipientKeys: Uint8Array[],
  expiresAtMs: number, random: RandomBytes): Result<Uint8Array> {
  const body = encodeObjectList(OfflineChatBody.encode({ ...m, certificate: sender.certificate }));
  const signed = encodeObjectList(Signed.encode({ body, signature: signWithDomain(domain, body, sender.signing.privateKey) }));
  const sealed = seal(recipientKeys, signed, adOf(m.id, m.to), random);
  if (!sealed.ok) return sealed;
  if (sealed.value.length > mailBodyMax) return err('too-long-for-mail', `${m.to} is offline and the message is too long to leave for later (at most about ${mailBodyMax - 1200} bytes)`);
  // The sender's name stays inside the seal: the slot's replicas need not know who writes to whom.
  return ok(encodeObjectList(MailItem.encode({ id: m.id, to: m.to, from: '', body: sealed.value, expiresAtMs })));
}

export interface OpenedMail { id: string; message?: OfflineChat; error?: string }

/** Opens a mail item from our mailbox: the message when it is sealed for us and signed by a certified sender. */
export function openOfflineChat(item: Uint8Array, me: { user: string; staticKey: KeyPair }, loginKey: Uint8Array, nowMs: number): OpenedMail {
  const l = decodeObjectList(item);
  const m = l.ok ? MailItem.decode(l.value) : l;
  if (!m.ok) return { id: '', error: `malformed mail: ${m.error.message}` };
  const { id, to, body } = m.value;
  if (to !== me.user) return { id, error: `mail for ${to} in our mailbox` };
  const plain = open(body, me.staticKey, adOf(id, to));
  if (!plain.ok) return { id, error: plain.error.message };
  let cert: Certificate | undefined;
  const opened = openSigned(plain.value, domain, (b) => {
    const bl = decodeObjectList(b);
    if (!bl.ok) return bl;
    const c = OfflineChatBody.decode(bl.value);
    if (!c.ok) return c;
    // The sender was certified when it wrote; its 24 h certificate may have run out since.
    const v = verifyCertificate(c.value.certificate, loginKey, c.value.sentAtMs);
    if (!v.ok) return v;
    cert = v.value;
    return c;
  }, () => cert!.deviceKey);
  if (!opened.ok) return { id, error: `sender not verified: ${opened.error.message}` };
  const c = opened.value;
  if (c.from !== cert!.user) return { id, error: `signed by ${cert!.user} in the name of ${c.from}` };
  if (c.to !== me.user || c.id !== id) return { id, error: 'the signed message was written for another mail' };
  if (c.sentAtMs > nowMs + skewMs) return { id, error: 'sent in the future' };
  return { id, message: { id, from: c.from, to: c.to, text: c.text, sentAtMs: c.sentAtMs } };
}
