// The overlay on the real network: a login server and 20 `tincan supernode` processes on
// loopback. Users (real UserNodes over real UDP sessions, in this process) register at
// different supernodes, look each other up and leave sealed offline messages for users who
// went offline; then a third of the supernodes are killed (SIGKILL, by PID) and every record
// and every message must still be there, delivered once when its recipient comes back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRole, stopAll, waitFor, type Started } from './processes.ts';
import { UserNode, type UserNodeEvent } from '../../src/node/user-node.ts';
import type { ChatMessage } from '../../src/node/types.ts';
import { mailKeyName } from '../../src/overlay/entries.ts';
import { signMailAuth } from '../../src/overlay/mail-auth.ts';
import { UdpDriver } from '../../src/runtime/udp-driver.ts';
import { random } from '../../src/runtime/clock.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../../src/crypto/keys.ts';
import { fromBase64Url } from '../../src/crypto/bytes.ts';
import { parseHostPort, type Address } from '../../src/wire/address.ts';
import { udpPath } from '../../src/session/paths.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { ClRequest, ClAnswer, Op, Status } from '../../src/overlay/messages.ts';
import type { Result } from '../../src/wire/result.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-overlay-'));
const drivers: UdpDriver[] = [];
after(async () => { for (const d of drivers) d.close(); await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });

const addr = (s: string): Address => { const a = parseHostPort(s); if (!a.ok) throw new Error(s); return a.value; };

// Each process and user gets its own loopback address: handshakes are throttled per source address.
let nextUserHost = 1;

/** A user's node; `keys` from an earlier node make it the same device coming back. */
async function user(login: Address, loginKey: Uint8Array, sn: Address, keys = { s: random(32), e: random(32) }) {
  const driver = await UdpDriver.bind({ host: `127.0.1.${nextUserHost++}`, port: 0 });
  drivers.push(driver);
  const node = new UserNode({
    staticKey: x25519FromPrivate(keys.s), signingKey: ed25519FromSeed(keys.e), random, deviceId: 'd',
    login, loginKey, bootstrap: [sn], listen: driver.address, directAllowed: true, autoAnswer: false,
  });
  const events: UserNodeEvent[] = [];
  driver.attach(node, () => { for (let e = node.pollEvent(); e; e = node.pollEvent()) events.push(e); });
  const call = <T>(start: (now: number, cb: (r: Result<T>) => void) => void, ms = 20_000) => new Promise<Result<T>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no answer')), ms);
    driver.mutate((now) => start(now, (r) => { clearTimeout(t); resolve(r); }));
  });
  /** An overlay request (offline mail) to our supernode over our session with it. */
  const overlay = (op: Op, name: string, item?: Uint8Array, ids?: string[]) => call<{ status: number; items: Uint8Array[] }>((now, cb) => {
    node.rpc.request(udpPath(sn), ClRequest.toBytes({ op, req: 1, user: name, item, ids }), now, (r) => {
      if (!r.ok) return cb(r);
      if (r.value.message.command !== Cmd.ClAnswer) return cb({ ok: false, error: { code: 'bad', message: `command ${r.value.message.command}` } });
      const a = ClAnswer.decode(r.value.message.body);
      cb(a.ok ? { ok: true, value: { status: a.value.status, items: a.value.items ?? [] } } : a);
    }, { timeoutMs: 15_000 });
  });
  return { node, call, overlay, driver, keys, events };
}

/** Retries a step that depends on the overlay converging (membership gossip, failure detection); bounded in time. */
const eventually = <T>(what: string, step: () => Promise<T | undefined>) => waitFor(what, step, 90_000);

test('20 supernode processes: users register, find each other and get their offline mail after a third of the supernodes die', { timeout: 600_000 }, async () => {
  const login = await startRole(['login-server', '--listen', '127.0.0.2:0', '--db', path.join(tmp, 'login.sqlite')]);
  const loginAddr = addr(String(login.info.listen));
  const loginKey = fromBase64Url(String(login.info.key))!;
  const sns: Started[] = [];
  for (let i = 0; i < 20; i++) {
    const args = ['supernode', '--listen', `127.0.0.${10 + i}:0`, '--login', String(login.info.listen), '--login-key', String(login.info.key), '--data', path.join(tmp, `sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.slice(-2).map((s) => String(s.info.listen)).join(','));
    sns.push(await startRole(args));
  }
  const snAddr = sns.map((s) => addr(String(s.info.listen)));
  const doomed = sns.slice(0, 7);           // a third, killed below
  const survivors = snAddr.slice(7);

  // Users attach to supernodes across the network, the doomed ones included.
  const names = Array.from({ length: 10 }, (_, i) => `user${i}`);
  const users = [];
  for (const [i, name] of names.entries()) {
    const u = await user(loginAddr, loginKey, snAddr[(i * 2) % 20]);
    const reg = await u.call<void>((now, cb) => u.node.register(name, 'a good password', now, cb));
    assert.ok(reg.ok, `register ${name}: ${!reg.ok && reg.error.message}`);
    const li = await u.call((now, cb) => u.node.login(name, 'a good password', now, cb));
    assert.ok(li.ok, `login ${name}: ${!li.ok && li.error.message}`);
    users.push(u);
  }

  // Recipients log in once (publishing their mail keys), then their nodes stop: they are offline.
  const recipients = ['carol', 'dave', 'erin'];
  const gone = [];
  for (const [i, to] of recipients.entries()) {
    const u = await user(loginAddr, loginKey, snAddr[(i * 5 + 1) % 20]);
    assert.ok((await u.call<void>((now, cb) => u.node.register(to, 'a good password', now, cb))).ok);
    assert.ok((await u.call((now, cb) => u.node.login(to, 'a good password', now, cb))).ok);
    await eventually(`${to}'s mail key`, async () => {
      const r = await u.overlay(Op.Lookup, mailKeyName(to));
      return r.ok && r.value.status === Status.Ok ? true : undefined;
    });
    u.driver.close();
    gone.push(u);
  }
  // Messages for them: their (stale) presence leads nowhere, so the messages go sealed into their slots.
  const sender = await user(loginAddr, loginKey, survivors[0]);
  assert.ok((await sender.call<void>((now, cb) => sender.node.register('sender', 'a good password', now, cb))).ok);
  assert.ok((await sender.call((now, cb) => sender.node.login('sender', 'a good password', now, cb))).ok);
  for (const to of recipients) {
    for (const k of [1, 2]) {
      const r = await sender.call<ChatMessage>((now, cb) => sender.node.chat(to, `hello ${to} ${k}`, now, cb), 60_000);
      assert.ok(r.ok && r.value.offline, `mail for ${to}: ${JSON.stringify(r)}`);
    }
  }

  // Everyone is findable from a supernode that will survive.
  const looker = await user(loginAddr, loginKey, survivors[1]);
  assert.ok((await looker.call<void>((now, cb) => looker.node.register('looker', 'a good password', now, cb))).ok);
  assert.ok((await looker.call((now, cb) => looker.node.login('looker', 'a good password', now, cb))).ok);
  const lookAll = async () => {
    for (const name of names) {
      await eventually(`look up ${name}`, async () => {
        const r = await looker.call((now, cb) => looker.node.lookup(name, now, cb));
        return r.ok ? true : undefined;
      });
    }
  };
  await lookAll();

  for (const s of doomed) s.proc.kill('SIGKILL');

  // The records of users whose supernodes died are still in the directory (their slots had other holders).
  await lookAll();

  // Nobody but the owner may read a mailbox, even through a supernode that survives.
  const stranger = await sender.overlay(Op.MailFetch, 'carol');
  assert.ok(stranger.ok && stranger.value.status === Status.Rejected && stranger.value.items.length === 0);

  // The recipients come back (same devices) at survivors and get each message exactly once.
  const texts = (u: { events: UserNodeEvent[] }) => u.events.flatMap((e) => (e.type === 'chat' ? [e.message.text] : [])).sort();
  for (const [i, to] of recipients.entries()) {
    const u = await user(loginAddr, loginKey, survivors[2 + i], gone[i].keys);
    await eventually(`${to} logs in again`, async () => ((await u.call((now, cb) => u.node.login(to, 'a good password', now, cb))).ok ? true : undefined));
    await eventually(`mail for ${to}`, async () => (texts(u).length >= 2 ? true : undefined));
    assert.deepEqual(texts(u), [`hello ${to} 1`, `hello ${to} 2`]);
    // Acknowledged: the mailbox is empty for the owner's own signed fetch too.
    await eventually(`${to}'s mailbox emptied`, async () => {
      const auth = signMailAuth({ user: to, certificate: u.node.certificateBytes()!, op: Op.MailFetch, atMs: Date.now(), ids: [] }, u.keys.e);
      const r = await u.overlay(Op.MailFetch, to, auth);
      return r.ok && r.value.status === Status.Ok && r.value.items.length === 0 ? true : undefined;
    });
    assert.deepEqual(texts(u), [`hello ${to} 1`, `hello ${to} 2`], 'nothing delivered twice');
  }
});
