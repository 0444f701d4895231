// The login server core under concurrent requests (password checks are asynchronous): the
// per-account limit still counts every failed guess, and honest concurrent logins all succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginServer, type PendingRequest } from '../../src/login/server.ts';
import { LoginRequest } from '../../src/login/protocol.ts';
import { hashPassword } from '../../src/login/password.ts';
import { openSqliteStore } from '../../src/login/sqlite-store.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../../src/crypto/keys.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { ErrorReply } from '../../src/wire/replies.ts';
import { Cmd } from '../../src/wire/commands.ts';
import { prng } from '../helpers/prng.ts';

async function setUp() {
  const random = prng(5).bytes;
  const store = openSqliteStore(':memory:');
  await store.createAccount({ name: 'victim', passwordHash: hashPassword('the real password', random(16)), createdAtMs: 0 });
  const server = new LoginServer({ staticKey: x25519FromPrivate(random(32)), signingKey: ed25519FromSeed(random(32)), random, store });
  const request = (i: number, password: string): PendingRequest => {
    const m = decodeMessage(LoginRequest.toBytes({ user: 'victim', password, deviceId: `device${i}` }));
    assert.ok(m.ok);
    const key = ed25519FromSeed(random(32));
    return { path: `udp:198.51.100.${i}:5000`, id: i, message: m.value, peer: { role: 'node', staticKey: random(32), signingKey: key.publicKey } };
  };
  const outcome = async (r: PendingRequest) => {
    const m = decodeMessage(await server.handleRequest(r, 1000));
    assert.ok(m.ok);
    if (m.value.command === Cmd.LoginOk) return 'ok';
    const e = ErrorReply.decode(m.value.body);
    assert.ok(e.ok);
    return e.value.code;
  };
  return { store, request, outcome };
}

test('guesses sent all at once from many addresses are each counted against the account', async () => {
  const { store, request, outcome } = await setUp();
  const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome(request(i, `guess ${i} wrong`))));
  assert.equal(codes.filter((c) => c === 'bad-credentials').length, 5, `the burst of 5, no more: ${codes.join(' ')}`);
  assert.equal(codes.filter((c) => c === 'rate-limited').length, 7);
  await store.close();
});

test('honest logins to one account from several devices at once all succeed', async () => {
  const { store, request, outcome } = await setUp();
  const codes = await Promise.all(Array.from({ length: 4 }, (_, i) => outcome(request(i, 'the real password'))));
  assert.deepEqual(codes, ['ok', 'ok', 'ok', 'ok']);
  assert.equal((await store.getDevices('victim')).length, 4);
  await store.close();
});
