// Two cores on real UDP sockets on loopback, through the real driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { UdpDriver } from '../../src/runtime/udp-driver.ts';
import { Rpc } from '../../src/session/rpc.ts';
import { udpPath } from '../../src/session/paths.ts';
import { encodeMessage, decodeObjectList } from '../../src/wire/object-list.ts';

const field1 = (body: Uint8Array) => { const l = decodeObjectList(body); return l.ok ? l.value.get(1) : l.error; };
import { random } from '../../src/runtime/clock.ts';
import { testIdentity, endpointConfig } from '../helpers/identities.ts';

test('a request crosses real sockets and garbage on the socket does not disturb it', async () => {
  const da = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  const db = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  const a = new Rpc(endpointConfig(testIdentity(1), random));
  const b = new Rpc(endpointConfig(testIdentity(2), random));
  da.attach(a, () => { while (a.pollEvent()); });
  db.attach(b, () => {
    for (let e = b.pollEvent(); e; e = b.pollEvent()) if (e.type === 'request') b.respond(e.path, e.id, encodeMessage(2, e.message.body), Date.now());
  });
  // Garbage first, from a third socket.
  const noise = dgram.createSocket('udp4');
  for (let i = 0; i < 50; i++) noise.send(Buffer.from(random(1 + (i % 90))), db.address.port, '127.0.0.1');
  const reply = await new Promise<any>((resolve) => {
    da.mutate((now) => a.request(udpPath(db.address), encodeMessage(1, new Map([[1, 'over udp']])), now, resolve));
  });
  assert.ok(reply.ok, JSON.stringify(reply));
  assert.equal(field1(reply.value.message.body), 'over udp');
  assert.equal(db.stats.coreErrors, 0);
  noise.close();
  await Promise.all([da.close(), db.close()]);
});

test('binding a port that is taken fails with an error, not a crash', async () => {
  const d = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  await assert.rejects(UdpDriver.bind({ host: '127.0.0.1', port: d.address.port }));
  await d.close();
});

test('dual stack: a second, IPv6 socket beside IPv4 carries the IPv6 paths of the same core', async () => {
  const da = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  const db = await UdpDriver.bind({ host: '127.0.0.1', port: 0 });
  const b6 = await db.bindOther({ host: '::1', port: 0 });
  assert.deepEqual(db.otherAddress, b6);
  await assert.rejects(db.bindOther({ host: '::1', port: 0 }), 'one second socket, of the other family');
  const a6 = await da.bindOther({ host: '::1', port: 0 });
  const a = new Rpc(endpointConfig(testIdentity(1), random));
  const b = new Rpc(endpointConfig(testIdentity(2), random));
  const seenAt: string[] = [];
  da.attach(a, () => { while (a.pollEvent()); });
  db.attach(b, () => {
    for (let e = b.pollEvent(); e; e = b.pollEvent()) if (e.type === 'request') { seenAt.push(e.path); b.respond(e.path, e.id, encodeMessage(2, e.message.body), Date.now()); }
  });
  const ask = (to: string) => new Promise<any>((resolve) => da.mutate((now) => a.request(to, encodeMessage(1, new Map([[1, to]])), now, resolve)));
  const over6 = await ask(udpPath(b6));
  const over4 = await ask(udpPath(db.address));
  assert.ok(over6.ok && over4.ok);
  assert.deepEqual(seenAt, [udpPath(a6), udpPath(da.address)], 'each request came from the socket of its family');
  await Promise.all([da.close(), db.close()]);
});
