// The overlay's messages, supernode ↔ supernode and node ↔ supernode (docs/overlay.md).
// The same bytes travel inside Noise sessions on the real network and straight between cores
// in the simulator (docs/decisions/0014).
import { command, schema, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';

const ids = (id: number) => f.uints(id, 1 << 16);
const items = (id: number) => f.bytesList(id, 256, 4096);

// ---- membership ----
/** A supernode asking to join, through any member. `inc` orders its successive lives. */
export const OvJoin = command(Cmd.OvJoin, { id: f.uint(1, 0xffffffff), inc: f.uint(2), addr: f.string(3, 64).opt() });
/** The members of the joiner's neighbourhood and one contact per block; addrs parallel to ids. */
export const OvMembers = command(Cmd.OvMembers, { ids: ids(1), incs: ids(2), addrs: f.strings(3, 1024, 64).opt(), reply: f.bool(4).opt() });
/** Membership events, pushed epidemically: alive[i] = 1 joined, 0 left or failed. */
export const OvEvents = command(Cmd.OvEvents, { ids: ids(1), incs: ids(2), alive: ids(3), addrs: f.strings(4, 1024, 64).opt() });
export const OvPing = command(Cmd.OvPing, { nonce: f.uint(1, 0xffffffff) });
export const OvPong = command(Cmd.OvPong, { nonce: f.uint(1, 0xffffffff) });
/** Neighbourhood anti-entropy: a hash of the ids a member believes alive around it. */
export const OvMemberDigest = command(Cmd.OvMemberDigest, { hash: f.uint(1, 0xffffffff), count: f.uint(2) });

// ---- routed requests ----
export const enum Op { Publish = 1, Lookup = 2, MailPut = 3, MailFetch = 4, MailAck = 5 }
/** A request on its way to the replica group of `slot`; answered straight to `origin`. */
export const OvRoute = command(Cmd.OvRoute, {
  op: f.uint(1, 5), slot: f.uint(2, 0xffffffff), origin: f.uint(3, 0xffffffff), req: f.uint(4, 0xffffffff),
  hops: f.uint(5, 16), user: f.string(6, 64), item: f.bytes(7, 4096).opt(), ids: f.strings(8, 256, 64).opt(),
});
export const OvAnswer = command(Cmd.OvAnswer, {
  req: f.uint(1, 0xffffffff), status: f.uint(2, 3), hops: f.uint(3, 16), items: items(4).opt(),
});
export const enum Status { Ok = 0, NotFound = 1, Rejected = 2, Failed = 3 }

// ---- replication ----
/** Items for a slot's co-replicas: presence records, mails, and acknowledged mail ids. */
export const OvReplicate = command(Cmd.OvReplicate, {
  slot: f.uint(1, 0xffffffff), records: items(2).opt(), mails: items(3).opt(), tombs: f.strings(4, 1024, 64).opt(),
  /** Anti-entropy: digest buckets (bit mask) the receiver should answer with what it holds in. */
  wantBack: f.uint(5, 0xffff).opt(),
});
/** A replica's per-bucket item hashes for a slot (see SlotStore.buckets). */
export const OvSlotDigest = command(Cmd.OvSlotDigest, { slot: f.uint(1, 0xffffffff), hashes: f.uints(2, 16) });

// ---- node ↔ supernode ----
export const ClRequest = command(Cmd.ClRequest, {
  op: f.uint(1, 5), req: f.uint(2, 0xffffffff), user: f.string(3, 64), item: f.bytes(4, 4096).opt(), ids: f.strings(5, 256, 64).opt(),
});
export const ClAnswer = command(Cmd.ClAnswer, {
  req: f.uint(1, 0xffffffff), status: f.uint(2, 3), hops: f.uint(3, 16), items: items(4).opt(),
});

/** Specification: the largest mail body (a sealed message, src/chat/offline-mail.ts); a MailItem fits a request's 4 KiB item. */
export const mailBodyMax = 3584;
/** An offline message, held by the recipient's slot until acknowledged or expired. */
export const MailItem = schema({
  id: f.string(1, 64), to: f.string(2, 64), from: f.string(3, 64), body: f.bytes(4, mailBodyMax), expiresAtMs: f.uint(5),
});
