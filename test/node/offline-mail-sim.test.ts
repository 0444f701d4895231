// Offline mail on the virtual network, with the real cores: bob is offline, alice writes, bob
// logs in later and gets the message exactly once, with a receipt back to alice; nobody else
// can read or delete bob's mailbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, type Testnet, type TestUser } from '../../src/sim/testnet.ts';
import type { UserNodeEvent } from '../../src/node/user-node.ts';
import type { ChatMessage } from '../../src/node/types.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { udpPath } from '../../src/session/paths.ts';
import { ClRequest, ClAnswer, Op, Status } from '../../src/overlay/messages.ts';
import { signMailAuth } from '../../src/overlay/mail-auth.ts';
import type { Result } from '../../src/wire/result.ts';

const chats = (u: TestUser) => u.events.filter((e): e is Extract<UserNodeEvent, { type: 'chat' }> => e.type === 'chat').map((e) => e.message);

async function chat(w: Testnet, from: TestUser, to: string, text: string) {
  return w.settle<ChatMessage>(from, (now, cb) => from.node.chat(to, text, now, cb), 120_000);
}

/** Bob registers and logs in once (publishing his mail key), then logs out and his presence runs out. */
async function bobGoesOffline(w: Testnet, bob: TestUser) {
  await w.signUp(bob, 'bob');
  await w.net.runUntilAsync(() => false, 2_000);
  w.net.mutate(bob.address, (now) => bob.node.logout(now));
  await w.net.runUntilAsync(() => false, 6 * 60_000);
  const l = await w.settle(bob, (now, cb) => bob.node.lookup('bob', now, cb));
  assert.ok(!l.ok, 'bob is offline');
}

test('virtual network: a message to an offline user is sealed into their mailbox and delivered once at login, with a receipt', async () => {
  const w = createTestnet({ seed: 41 });
  await w.meshed();
  const alice = w.addUser(1, { supernode: 0 });
  const bob = w.addUser(2, { supernode: 1 });
  await w.signUp(alice, 'alice');
  await bobGoesOffline(w, bob);

  const sent = await chat(w, alice, 'bob', 'see you tomorrow');
  assert.ok(sent.ok, JSON.stringify(sent));
  assert.equal(sent.value.offline, true);
  assert.equal(sent.value.deliveredAtMs, undefined);
  // What the supernodes hold is sealed: the text appears nowhere in their stores.
  const held = w.supernodes.flatMap((s) => [...s.overlay.core.stores.values()].flatMap((st) => st.allMails()));
  assert.ok(held.length >= 1, 'the mail is held by bob\'s slot');
  for (const m of held) assert.ok(!Buffer.from(m.bytes).toString('latin1').includes('tomorrow'), 'the mail is sealed');
  for (const m of held) assert.ok(!Buffer.from(m.bytes).toString('latin1').includes('alice'), 'the sender is sealed too');

  const login = await w.settle(bob, (now, cb) => bob.node.login('bob', 'a good password', now, cb));
  assert.ok(login.ok);
  await w.net.runUntilAsync(() => chats(bob).length > 0, 30_000);
  await w.net.runUntilAsync(() => alice.events.some((e) => e.type === 'receipt'), 30_000);
  const got = chats(bob);
  assert.equal(got.length, 1);
  assert.equal(got[0].text, 'see you tomorrow');
  assert.equal(got[0].peer, 'alice');
  assert.equal(got[0].offline, true);
  const receipt = alice.events.find((e) => e.type === 'receipt');
  assert.ok(receipt && receipt.type === 'receipt' && receipt.id === sent.value.id && receipt.peer === 'bob');

  // Acknowledged: gone from every replica, and later re-announcements deliver nothing again.
  await w.net.runUntilAsync(() => false, 6 * 60_000);
  assert.equal(chats(bob).length, 1, 'delivered exactly once');
  const left = w.supernodes.flatMap((s) => [...s.overlay.core.stores.values()].flatMap((st) => st.allMails()));
  assert.equal(left.length, 0, 'acknowledged mail is deleted on every replica');
});

test('virtual network: a third party can neither fetch nor acknowledge someone else\'s mail', async () => {
  const w = createTestnet({ seed: 42 });
  await w.meshed();
  const alice = w.addUser(1, { supernode: 0 });
  const bob = w.addUser(2, { supernode: 1 });
  const mallory = w.addUser(3, { supernode: 2 });
  await w.signUp(alice, 'alice');
  await w.signUp(mallory, 'mallory');
  await bobGoesOffline(w, bob);
  assert.ok((await chat(w, alice, 'bob', 'for bob only')).ok);

  const ask = (op: Op, item?: Uint8Array, ids?: string[]) => w.settle<{ status: number; items: Uint8Array[] }>(mallory, (now, cb) => {
    mallory.node.rpc.request(udpPath(w.addresses[2]), ClRequest.toBytes({ op, req: 7, user: 'bob', item, ids }), now, (r) => {
      if (!r.ok || r.value.message.command !== Cmd.ClAnswer) return cb({ ok: false, error: { code: 'x', message: 'no answer' } } as Result<never>);
      const a = ClAnswer.decode(r.value.message.body);
      cb(a.ok ? { ok: true, value: { status: a.value.status, items: a.value.items ?? [] } } : a);
    });
  });
  const malloryCert = mallory.node.certificateBytes()!;
  // Mallory's key and certificate, claiming bob's mailbox; and an unsigned request.
  const cfg = (mallory.node as unknown as { cfg: { signingKey: { privateKey: Uint8Array } } }).cfg;
  const forged = (op: Op, ids: string[]) => signMailAuth({ user: 'bob', certificate: malloryCert, op, atMs: w.net.now, ids }, cfg.signingKey.privateKey);
  for (const item of [undefined, forged(Op.MailFetch, [])]) {
    const r = await ask(Op.MailFetch, item);
    assert.ok(r.ok);
    assert.equal(r.value.status, Status.Rejected);
    assert.equal(r.value.items.length, 0);
  }
  const mailIds = w.supernodes.flatMap((s) => [...s.overlay.core.stores.values()].flatMap((st) => st.allMails().map((m) => m.id)));
  assert.ok(mailIds.length > 0);
  const ack = await ask(Op.MailAck, forged(Op.MailAck, [mailIds[0]]), [mailIds[0]]);
  assert.ok(ack.ok);
  assert.equal(ack.value.status, Status.Rejected);

  const login = await w.settle(bob, (now, cb) => bob.node.login('bob', 'a good password', now, cb));
  assert.ok(login.ok);
  await w.net.runUntilAsync(() => chats(bob).length > 0, 30_000);
  assert.deepEqual(chats(bob).map((m) => m.text), ['for bob only']);
});

test('virtual network: a user who never logged in cannot get offline messages, and the sender is told', async () => {
  const w = createTestnet({ seed: 43 });
  await w.meshed();
  const alice = w.addUser(1, { supernode: 0 });
  await w.signUp(alice, 'alice');
  const r = await chat(w, alice, 'nobody', 'hello?');
  assert.ok(!r.ok);
  assert.equal(r.error.code, 'not-found');
  assert.match(r.error.message, /last 72 h/);
});
