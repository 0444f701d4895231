// The virtual network with a NAT in it: what cores on either side see (translated sources,
// extra sockets as the UDP driver names them), and what the NAT keeps out (counted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualNet } from '../../src/sim/virtual-net.ts';
import type { DatagramCore } from '../../src/node/core.ts';

/** A core that records what it receives and sends what it is told to. */
class Probe implements DatagramCore {
  readonly got: string[] = [];
  private readonly out: { path: string; bytes: Uint8Array }[] = [];
  send(path: string) { this.out.push({ path, bytes: new Uint8Array([1]) }); }
  handleDatagram(path: string) { this.got.push(path); }
  handleTimeout() {}
  pollTransmit() { return this.out.shift(); }
  pollTimeout() { return undefined; }
}

function lan(nat: 'port-restricted' | 'symmetric' | 'full-cone' = 'port-restricted') {
  const net = new VirtualNet({ seed: 9, latencyMs: 10 });
  const box = net.addNat('198.51.100.7', nat);
  const inside = new Probe(), server = new Probe(), other = new Probe(), neighbour = new Probe();
  const me = { host: '100.64.7.10', port: 5000 };
  net.add(me, inside, undefined, { behind: box });
  net.add({ host: '100.64.7.11', port: 5000 }, neighbour, undefined, { behind: box });
  net.add({ host: '203.0.113.20', port: 7001 }, server);
  net.add({ host: '203.0.113.21', port: 7001 }, other);
  return { net, box, inside, server, other, neighbour, me };
}

test('the outside sees the NAT\'s public address; its answer reaches the inside host from the outside address', () => {
  const { net, inside, server, me } = lan();
  net.mutate(me, () => inside.send('udp:203.0.113.20:7001'));
  net.run(50);
  assert.equal(server.got.length, 1);
  assert.match(server.got[0], /^udp:198\.51\.100\.7:\d+$/);
  assert.notEqual(server.got[0], 'udp:198.51.100.7:5000', 'no port preservation');
  net.mutate({ host: '203.0.113.20', port: 7001 }, () => server.send(server.got[0]));
  net.run(50);
  assert.deepEqual(inside.got, ['udp:203.0.113.20:7001']);
});

test('unsolicited datagrams are filtered and counted; the private address is unreachable from outside', () => {
  const { net, inside, server, other, me } = lan();
  net.mutate(me, () => inside.send('udp:203.0.113.20:7001'));
  net.run(50);
  net.mutate({ host: '203.0.113.21', port: 7001 }, () => { other.send(server.got[0]); other.send('udp:100.64.7.10:5000'); });
  net.run(50);
  assert.deepEqual(inside.got, []);
  assert.equal(net.stats.filtered, 1);
  assert.equal(net.stats.undeliverable, 1);
});

test('hosts behind the same NAT reach each other on their private addresses; not through the public one (no hairpinning)', () => {
  const { net, inside, neighbour, me } = lan('full-cone');
  net.mutate(me, () => { inside.send('udp:100.64.7.11:5000'); inside.send('udp:198.51.100.7:20000'); });
  net.run(50);
  assert.deepEqual(neighbour.got, ['udp:100.64.7.10:5000']);
  assert.equal(net.stats.undeliverable, 1);
});

test('extra sockets (birthday punching) leave on mappings of their own and receive on sK/udp: paths', () => {
  const { net, inside, server, me } = lan('symmetric');
  net.mutate(me, () => { inside.send('udp:203.0.113.20:7001'); inside.send('s3/udp:203.0.113.20:7001'); });
  net.run(50);
  assert.equal(new Set(server.got).size, 2, `two public sources: ${server.got}`);
  net.mutate({ host: '203.0.113.20', port: 7001 }, () => server.send(server.got[1]));
  net.run(50);
  assert.deepEqual(inside.got, ['s3/udp:203.0.113.20:7001']);
});
