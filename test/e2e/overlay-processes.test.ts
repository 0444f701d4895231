// The overlay on the real network: a login server and 20 `tincan supernode` processes on
// loopback. Users (real UserNodes over real UDP sessions, in this process) register at
// different supernodes, look each other up and leave offline mail; then a third of the
// supernodes are killed (SIGKILL, by PID) and every record and every mail must still be there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRole, stopAll, waitFor, type Started } from './processes.ts';
import { UserNode } from '../../src/node/user-node.ts';
import { UdpDriver } from '../../src/runtime/udp-driver.ts';
import { random } from '../../src/runtime/clock.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../../src/crypto/keys.ts';
import { fromBase64Url } from '../../src/crypto/bytes.ts';
import { parseHostPort, type Address } from '../../src/wire/address.ts';
import { udpPath } from '../../src/session/paths.ts';
import { decodeObjectList, encodeObjectList } from '../../src/wire/object-list.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { ClRequest, ClAnswer, MailItem, Op, Status } from '../../src/overlay/messages.ts';
import type { Result } from '../../src/wire/result.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-overlay-'));
const drivers: UdpDriver[] = [];
after(async () => { for (const d of drivers) d.close(); await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });

const addr = (s: string): Address => { const a = parseHostPort(s); if (!a.ok) throw new Error(s); return a.value; };

// Each process and user gets its own loopback address: handshakes are throttled per source address.
let nextUserHost = 1;

async function user(login: Address, loginKey: Uint8Array, sn: Address) {
  const driver = await UdpDriver.bind({ host: `127.0.1.${nextUserHost++}`, port: 0 });
  drivers.push(driver);
  const node = new UserNode({
    staticKey: x25519FromPrivate(random(32)), signingKey: ed25519FromSeed(random(32)), random, deviceId: 'd',
    login, loginKey, bootstrap: [sn], listen: driver.address, directAllowed: true, autoAnswer: false,
  });
  driver.attach(node, () => { while (node.pollEvent()); });
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
  return { node, call, overlay };
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

  // Mail for users who are not online yet: held by their slots.
  const sender = await user(loginAddr, loginKey, survivors[0]);
  const mails = ['carol', 'dave', 'erin'].flatMap((to) => [1, 2].map((k) => ({ id: `${to}-${k}`, to })));
  for (const m of mails) {
    const item = encodeObjectList(MailItem.encode({ id: m.id, to: m.to, from: 'user0', body: new TextEncoder().encode(`hello ${m.to}`), expiresAtMs: Date.now() + 3_600_000 }));
    const r = await sender.overlay(Op.MailPut, m.to, item);
    assert.ok(r.ok && r.value.status === Status.Ok, `mail ${m.id}: ${JSON.stringify(r)}`);
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

  // The recipients log in at survivors and collect each mail exactly once.
  for (const [i, to] of ['carol', 'dave', 'erin'].entries()) {
    const u = await user(loginAddr, loginKey, survivors[2 + i]);
    const got = await eventually(`mail for ${to}`, async () => {
      const r = await u.overlay(Op.MailFetch, to);
      return r.ok && r.value.items.length === 2 ? r.value.items : undefined;
    });
    const ids = got.map((b) => { const l = decodeObjectList(b); assert.ok(l.ok); const m = MailItem.decode(l.value); assert.ok(m.ok); return m.value.id; }).sort();
    assert.deepEqual(ids, [`${to}-1`, `${to}-2`]);
    const ack = await u.overlay(Op.MailAck, to, undefined, ids);
    assert.ok(ack.ok && ack.value.status === Status.Ok);
    const again = await u.overlay(Op.MailFetch, to);
    assert.ok(again.ok);
    assert.equal(again.value.items.length, 0, 'acknowledged mail is gone');
  }
});
