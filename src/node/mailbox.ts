// The node's side of offline mail (docs/overlay.md, "Offline mail"; docs/decisions/0018).
//
//  * While logged in, the node keeps a mail key entry ("k:USER", its static X25519 key signed
//    by its certified device key) in its slot: what senders seal to when it is offline.
//  * Sending to a user who cannot be reached: fetch their mail keys, check them, seal the signed
//    message to them and leave it in their slot (MailPut).
//  * At login and with every presence re-announcement: fetch our mail with a signed request,
//    open and verify each message, deliver it once (ids already seen are dropped), send the
//    sender a receipt when it is online, and acknowledge (a signed MailAck deletes it everywhere).
import type { KeyPair, RandomBytes } from '../crypto/keys.ts';
import { type Result, ok, err } from '../wire/result.ts';
import type { Message } from '../wire/object-list.ts';
import { Cmd } from '../wire/commands.ts';
import { Op, Status } from '../overlay/messages.ts';
import { signMailKey, verifyEntry, mailKeyName, entryTtlMaxMs } from '../overlay/entries.ts';
import { signMailAuth } from '../overlay/mail-auth.ts';
import { sealOfflineChat, openOfflineChat } from '../chat/offline-mail.ts';
import { ChatReceipt } from '../chat/protocol.ts';
import { sealedRecipientsMax } from '../crypto/sealed-box.ts';
import type { ChatMessage } from './types.ts';
import type { LogLine } from './core.ts';

export interface OverlayAnswer { status: Status; items: Uint8Array[] }

export interface MailboxHost {
  random: RandomBytes;
  signing: KeyPair;
  staticKey: KeyPair;
  now(): number;
  me(): { user: string; certificate: Uint8Array } | undefined;
  loginKey(): Uint8Array | undefined;
  /** A directory or mailbox request through our supernode (ClRequest). */
  overlay(op: Op, name: string, item: Uint8Array | undefined, ids: string[] | undefined, cb: (r: Result<OverlayAnswer>) => void): void;
  /** A request to a user's node, end to end (looked up and connected as for chat). */
  toUser(user: string, bytes: Uint8Array, cb: (r: Result<Message>) => void): void;
  deliver(m: ChatMessage): void;
  receipt(id: string, peer: string, deliveredAtMs: number): void;
  log(level: LogLine['level'], message: string): void;
}

// Implementation constants.
const republishKeyMs = 12 * 3600_000;
const seenMax = 4096;
const awaitingReceiptMax = 1024;
/** Specification: how long an offline message waits in the mailbox (the overlay's retention is the upper bound). */
export const mailLifetimeMs = 30 * 86_400_000;
const fetchChunk = 64;

export class Mailbox {
  /** Chat ids already delivered (direct or from the mailbox): each message reaches the user once. */
  private readonly seen = new Set<string>();
  /** Offline messages we sent, waiting for the reader's receipt: id → recipient. */
  private readonly awaiting = new Map<string, string>();
  private keyPublishedAtMs: number | undefined;
  private keyPublishedFor: string | undefined;
  private fetching = false;
  readonly stats = { sent: 0, delivered: 0, duplicates: 0, unreadable: 0 };

  constructor(private readonly h: MailboxHost) {}

  /** After every presence publication: keep our mail key fresh, collect waiting mail. */
  onPublished(now: number) {
    const me = this.h.me();
    if (!me) return;
    if (this.keyPublishedFor !== me.user || this.keyPublishedAtMs === undefined || now - this.keyPublishedAtMs >= republishKeyMs) this.publishKey(now);
    this.fetch(now);
  }

  /** A certificate renewal or new login: publish the key again under the new certificate. */
  forgetKey() { this.keyPublishedAtMs = undefined; }

  /** True the first time a chat id from `peer` is seen. */
  firstSight(peer: string, id: string): boolean {
    const k = `${peer} ${id}`;
    if (this.seen.has(k)) { this.stats.duplicates++; return false; }
    if (this.seen.size >= seenMax) this.seen.delete(this.seen.values().next().value!);
    this.seen.add(k);
    return true;
  }

  /** Leaves a message in `to`'s mailbox, sealed to the device keys they published. */
  send(to: string, m: ChatMessage, cb: (r: Result<ChatMessage>) => void) {
    const me = this.h.me();
    const loginKey = this.h.loginKey();
    if (!me || !loginKey) return cb(err('not-logged-in', 'log in first'));
    this.h.overlay(Op.Lookup, mailKeyName(to), undefined, undefined, (r) => {
      if (!r.ok) return cb(r);
      const now = this.h.now();
      const keys = new Map<string, Uint8Array>();
      for (const bytes of r.value.items) {
        // Supernodes are not trusted: every key must be signed by a device certified for `to`.
        const v = verifyEntry(bytes, loginKey, now);
        if (v.ok && v.value.kind === 'mail-key' && v.value.key.user === to) keys.set(Buffer.from(v.value.key.staticKey).toString('hex'), v.value.key.staticKey);
      }
      if (keys.size === 0) return cb(err('not-found', `${to} is offline and has not been online in the last ${entryTtlMaxMs / 3600_000} h to receive messages`));
      const item = sealOfflineChat({ id: m.id, from: me.user, to, text: m.text, sentAtMs: m.sentAtMs },
        { certificate: me.certificate, signing: this.h.signing }, [...keys.values()].slice(0, sealedRecipientsMax), now + mailLifetimeMs, this.h.random);
      if (!item.ok) return cb(item);
      this.h.overlay(Op.MailPut, to, item.value, undefined, (p) => {
        if (!p.ok) return cb(p);
        if (p.value.status !== Status.Ok) return cb(err('not-stored', `${to}'s mailbox did not take the message (it holds at most 1000)`));
        this.stats.sent++;
        if (this.awaiting.size >= awaitingReceiptMax) this.awaiting.delete(this.awaiting.keys().next().value!);
        this.awaiting.set(m.id, to);
        cb(ok({ ...m, offline: true }));
      });
    });
  }

  /** A receipt from a user for one of our offline messages: true when it was one (answer it). */
  consumeReceipt(peer: string, m: Message): boolean {
    const q = ChatReceipt.decode(m.body);
    if (!q.ok) return false;
    if (this.awaiting.get(q.value.id) !== peer) return true;
    this.awaiting.delete(q.value.id);
    this.h.receipt(q.value.id, peer, q.value.receivedAtMs);
    return true;
  }

  /** Collects our mail, chunk by chunk, until the mailbox is empty. */
  fetch(now: number) {
    const me = this.h.me();
    const loginKey = this.h.loginKey();
    if (!me || !loginKey || this.fetching) return;
    this.fetching = true;
    const auth = signMailAuth({ user: me.user, certificate: me.certificate, op: Op.MailFetch, atMs: now, ids: [] }, this.h.signing.privateKey);
    this.h.overlay(Op.MailFetch, me.user, auth, undefined, (r) => {
      if (!r.ok || r.value.status !== Status.Ok) {
        this.fetching = false;
        if (!r.ok) this.h.log('warn', `could not collect offline messages: ${r.error.message}`);
        else if (r.value.status === Status.Rejected) this.h.log('warn', 'the mailbox refused our signed request (clock off by more than 5 minutes?)');
        return;
      }
      const items = r.value.items;
      if (items.length === 0) { this.fetching = false; return; }
      const t = this.h.now();
      const ids: string[] = [];
      for (const item of items) {
        const o = openOfflineChat(item, { user: me.user, staticKey: this.h.staticKey }, loginKey, t);
        if (o.id) ids.push(o.id);
        if (!o.message) { this.stats.unreadable++; this.h.log('warn', `dropped an offline message we cannot read: ${o.error}`); continue; }
        const msg = o.message;
        if (!this.firstSight(msg.from, msg.id)) continue;
        this.stats.delivered++;
        this.h.deliver({ id: msg.id, peer: msg.from, direction: 'in', text: msg.text, sentAtMs: msg.sentAtMs, deliveredAtMs: t, offline: true });
        // The receipt reaches the sender only if it is online now; otherwise it is not kept.
        this.h.toUser(msg.from, ChatReceipt.toBytes({ id: msg.id, receivedAtMs: t }), () => {});
      }
      // Acknowledged after delivery: a crash in between shows the message again at the next login (ids dedupe it here).
      const ack = signMailAuth({ user: me.user, certificate: me.certificate, op: Op.MailAck, atMs: t, ids }, this.h.signing.privateKey);
      this.h.overlay(Op.MailAck, me.user, ack, ids, (a) => {
        this.fetching = false;
        if (!a.ok || a.value.status !== Status.Ok) return this.h.log('warn', 'could not acknowledge offline messages; they will be fetched again');
        if (items.length >= fetchChunk) this.fetch(this.h.now());
      });
    });
  }

  private publishKey(now: number) {
    const me = this.h.me();
    if (!me) return;
    this.keyPublishedAtMs = now;
    this.keyPublishedFor = me.user;
    const entry = signMailKey({ user: me.user, certificate: me.certificate, staticKey: this.h.staticKey.publicKey, publishedAtMs: now, expiresAtMs: now + entryTtlMaxMs }, this.h.signing.privateKey);
    this.h.overlay(Op.Publish, mailKeyName(me.user), entry, undefined, (r) => {
      if (r.ok && r.value.status === Status.Ok) return;
      this.keyPublishedAtMs = undefined;
      this.h.log('warn', `could not publish our mail key: ${r.ok ? `status ${r.value.status}` : r.error.message}`);
    });
  }
}

export const isReceipt = (m: Message) => m.command === Cmd.ChatReceipt;
