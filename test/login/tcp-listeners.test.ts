// Supernodes' extra TCP listeners (port 443) travel supernode → login server → nodes: the
// announcement carries them, and the login server hands them out with its list of supernodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginServer } from '../../src/login/server.ts';
import { openSqliteStore } from '../../src/login/sqlite-store.ts';
import { SupernodeAnnounce, SupernodeList, RegisterRequest, LoginRequest, LoginOk } from '../../src/login/protocol.ts';
import { TcpListeners } from '../../src/login/tcp-listeners.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { formatAddress, type Address } from '../../src/wire/address.ts';
import { testIdentity } from '../helpers/identities.ts';
import { prng } from '../helpers/prng.ts';

const sn = { host: '203.0.113.10', port: 7001 };
const l443 = { host: '203.0.113.12', port: 443 };

test('tcp listeners: the login server hands out what supernodes announce, paired with each supernode', async () => {
  const rng = prng(7);
  const id = testIdentity(1);
  const server = new LoginServer({ staticKey: id.static, signingKey: id.signing, random: (n) => rng.bytes(n), store: openSqliteStore(':memory:') });
  const ask = async (bytes: Uint8Array, role: 'supernode' | 'node', key: Uint8Array) => {
    const m = decodeMessage(bytes);
    assert.ok(m.ok);
    const reply = decodeMessage(await server.handleRequest({ path: 'tcp:203.0.113.21:40000', id: 1, peer: { role, signingKey: key } as never, message: m.value }, 1000));
    assert.ok(reply.ok);
    return reply.value;
  };
  const snKey = testIdentity(2).signing.publicKey;
  const list = await ask(SupernodeAnnounce.toBytes({ address: sn, tcp: [l443] }), 'supernode', snKey);
  const l = SupernodeList.decode(list.body);
  assert.ok(l.ok);
  assert.deepEqual([l.value.tcpOf?.map(formatAddress), l.value.tcpAt?.map(formatAddress)], [['203.0.113.10:7001'], ['203.0.113.12:443']]);
  const device = testIdentity(3).signing.publicKey;
  await ask(RegisterRequest.toBytes({ user: 'tess', password: 'a good password', deviceId: 'd' }), 'node', device);
  const grant = await ask(LoginRequest.toBytes({ user: 'tess', password: 'a good password', deviceId: 'd' }), 'node', device);
  const g = LoginOk.decode(grant.body);
  assert.ok(g.ok, 'logged in (over a tcp: path: rate limits count its host)');
  assert.deepEqual(g.value.supernodes.map(formatAddress), ['203.0.113.10:7001']);
  assert.deepEqual([g.value.tcpOf?.map(formatAddress), g.value.tcpAt?.map(formatAddress)], [['203.0.113.10:7001'], ['203.0.113.12:443']]);
});

test('tcp listeners: bounded per supernode, unusable addresses dropped, lists paired', () => {
  const t = new TcpListeners();
  const many: Address[] = Array.from({ length: 6 }, (_, i) => ({ host: `203.0.113.${40 + i}`, port: 443 }));
  t.set(sn, [{ host: '::', port: 443 }, { host: '203.0.113.50', port: 0 }, ...many]);
  assert.equal(t.get(sn).length, 4);
  assert.equal(formatAddress(t.get(sn)[0]), '203.0.113.40:443');
  const other = { host: '203.0.113.11', port: 7001 };
  t.learn({ tcpOf: [other, other], tcpAt: [l443, { host: '203.0.113.13', port: 443 }] });
  assert.deepEqual(t.get(other).map(formatAddress), ['203.0.113.12:443', '203.0.113.13:443']);
  assert.deepEqual(t.lists([other]), { tcpOf: [other, other], tcpAt: t.get(other) });
  assert.deepEqual(t.lists([{ host: '203.0.113.99', port: 1 }]), {}, 'nothing to say: the fields stay out');
  t.set(other, []);
  assert.deepEqual(t.get(other), []);
});
