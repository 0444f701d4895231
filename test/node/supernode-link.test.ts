// The supernode link against a scripted rpc: order of attempts, probes, silence versus a busy
// supernode, relay token changes, and retry when nobody answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SupernodeLink, type Attachment } from '../../src/node/supernode-link.ts';
import { HostCache } from '../../src/node/host-cache.ts';
import { HelloOk } from '../../src/overlay/protocol.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { err, ok } from '../../src/wire/result.ts';
import { formatAddress, type Address } from '../../src/wire/address.ts';
import type { ReplyHandler } from '../../src/session/rpc.ts';

const sn = (i: number): Address => ({ host: '203.0.113.20', port: 7001 + i });
const observed: Address = { host: '198.51.100.1', port: 5000 };

function rig() {
  let now = 0;
  const sent: { path: string; cb: ReplyHandler; timeoutMs?: number }[] = [];
  const closed: string[] = [];
  const attached: Attachment[] = [];
  let detached = 0;
  const hosts = new HostCache();
  hosts.learn([sn(0), sn(1), sn(2)], 0);
  const link = new SupernodeLink({
    rpc: {
      request: (path, _bytes, _now, cb, opts) => { sent.push({ path, cb, timeoutMs: opts?.timeoutMs }); return sent.length; },
      close: (path) => { closed.push(path); },
    },
    hosts, now: () => now, log: () => {},
    attached: (a) => { attached.push(a); }, detached: () => { detached++; },
  });
  const answer = (token = 1, at = now) => {
    now = at;
    const m = decodeMessage(HelloOk.toBytes({ observed, relayToken: token, supernodes: [sn(3)] }));
    assert.ok(m.ok);
    sent.shift()!.cb(ok({ path: '', peer: {} as never, message: m.value }));
  };
  const fail = (at = now) => { now = at; sent.shift()!.cb(err('timeout', 'no answer')); };
  return { link, hosts, sent, closed, attached, get detached() { return detached; }, answer, fail, set now(t: number) { now = t; } };
}

test('supernode link: tries the best supernodes in turn, learns from HelloOk, probes after probeMs', () => {
  const r = rig();
  let result: any;
  r.link.attach(0, (x) => { result = x; });
  assert.equal(r.sent[0].path, `udp:${formatAddress(sn(0))}`);
  r.fail(3000);
  assert.equal(r.sent[0].path, `tcp:${formatAddress(sn(0))}`, 'UDP got no answer: the same supernode over TCP');
  r.fail(6000);
  assert.equal(r.sent[0].path, `udp:${formatAddress(sn(1))}`);
  r.answer(7, 6020);
  assert.ok(result.ok);
  assert.equal(result.value.relayToken, 7);
  assert.equal(r.attached.length, 0, 'the waiter publishes, not the hook');
  assert.equal(r.hosts.size, 4, 'learned sn 3 from HelloOk');
  assert.equal(formatAddress(r.hosts.ranked(6020)[0]), formatAddress(sn(1)));
  assert.equal(r.link.pollTimeout(), 6020 + 5000);
  r.link.handleTimeout(11_020);
  assert.equal(r.sent.length, 1, 'probe sent');
  assert.equal(r.sent[0].timeoutMs, 3000);
});

test('supernode link: an unanswered probe and silence mean the supernode is gone; the next one is announced', () => {
  const r = rig();
  r.link.attach(0, () => {});
  r.answer(1, 10);
  r.link.handleTimeout(5010);
  r.fail(8010);
  assert.equal(r.detached, 1);
  assert.deepEqual(r.closed, [`udp:${formatAddress(sn(0))}`]);
  assert.equal(r.sent[0].path, `udp:${formatAddress(sn(1))}`, 'the dead one is demoted, the next is tried');
  r.answer(9, 8030);
  assert.equal(r.attached.length, 1, 'a failover nobody waited for is announced (to re-publish)');
  assert.equal(r.attached[0].relayToken, 9);
  assert.equal(formatAddress(r.link.attachment!.address), formatAddress(sn(1)));
});

test('supernode link: a busy supernode that drops a probe but still sends us datagrams is kept', () => {
  const r = rig();
  r.link.attach(0, () => {});
  r.answer(1, 10);
  r.link.handleTimeout(5010);
  r.link.heard(6000);
  r.fail(8010);
  assert.equal(r.detached, 0);
  assert.equal(formatAddress(r.link.attachment!.address), formatAddress(sn(0)));
  assert.equal(r.link.pollTimeout(), 8010 + 5000, 'probes again later');
});

test('supernode link: a probe that shows a new relay token re-announces the attachment', () => {
  const r = rig();
  r.link.attach(0, () => {});
  r.answer(1, 10);
  r.link.handleTimeout(5010);
  r.answer(1, 5020);
  assert.equal(r.attached.length, 0, 'nothing changed');
  r.link.handleTimeout(10_020);
  r.answer(2, 10_030);
  assert.equal(r.attached.length, 1);
  assert.equal(r.attached[0].relayToken, 2);
});

test('supernode link: when no supernode answers, the round is retried after retryMs', () => {
  const r = rig();
  let result: any;
  r.link.attach(0, (x) => { result = x; });
  for (let i = 1; i <= 6; i++) r.fail(3000 * i);   // three supernodes, over UDP and then TCP
  assert.equal(result.ok, false);
  assert.equal(result.error.code, 'no-supernode');
  assert.equal(r.link.pollTimeout(), 23_000);
  r.link.handleTimeout(23_000);
  assert.equal(r.sent.length, 1, 'a new round began');
  r.link.stop();
  assert.equal(r.link.pollTimeout(), undefined);
});

test('supernode link: a node whose UDP is blocked attaches over TCP, and tries TCP first after that', () => {
  const r = rig();
  let result: any;
  r.link.attach(0, (x) => { result = x; });
  r.fail(3000);
  assert.equal(r.sent[0].path, `tcp:${formatAddress(sn(0))}`);
  r.answer(4, 3010);
  assert.ok(result.ok);
  assert.equal(result.value.path, `tcp:${formatAddress(sn(0))}`);
  assert.equal(formatAddress(r.hosts.ranked(3010)[0]), formatAddress(sn(0)), 'UDP alone failing is no failure of the supernode');
  r.link.handleTimeout(8010);
  assert.equal(r.sent[0].path, `tcp:${formatAddress(sn(0))}`, 'probes go where the attachment is');
  r.fail(11_010);
  assert.equal(r.sent[0].path, `tcp:${formatAddress(sn(1))}`, 'the next supernode is tried over TCP first');
});

test('supernode link: a timed-out request loses the supernode only if nothing came from it after the request', () => {
  const r = rig();
  r.link.attach(0, () => {});
  r.answer(1, 10);
  r.link.heard(100);
  r.link.lost(6100, 'lookup timed out', 50);
  assert.equal(r.detached, 0, 'heard from it after the request was sent');
  r.link.lost(6200, 'lookup timed out', 200);
  assert.equal(r.detached, 1);
  r.answer(1, 6210);
  r.link.heard(7000);
  r.link.pathClosed(r.link.attachment!.path, 7000);
  assert.equal(r.detached, 2, 'a closed session is final');
});

test('supernode link: advertised TCP listeners (port 443) are tried after UDP and TCP to the supernode itself', () => {
  const r = rig();
  const l0 = { host: '203.0.113.120', port: 443 }, l1 = { host: '203.0.113.121', port: 443 };
  r.hosts.learnTcp({ tcpOf: [sn(0), sn(1)], tcpAt: [l0, l1] });
  let result: any;
  r.link.attach(0, (x) => { result = x; });
  assert.equal(r.sent[0].path, `udp:${formatAddress(sn(0))}`);
  r.fail(3000);
  assert.equal(r.sent[0].path, `tcp:${formatAddress(sn(0))}`);
  r.fail(6000);
  assert.equal(r.sent[0].path, 'tcp:203.0.113.120:443', 'only the listener is left');
  r.answer(5, 6010);
  assert.ok(result.ok);
  assert.equal(formatAddress(result.value.address), formatAddress(sn(0)), 'the attachment names the supernode by its own address');
  assert.equal(r.link.tcpMode, 'listener');
  assert.equal(formatAddress(r.hosts.ranked(6010)[0]), formatAddress(sn(0)), 'no failure counted: the last way worked');
  // Relays at other supernodes are reached on their listeners too, and traffic from them maps back.
  assert.equal(r.link.pathTo(sn(0)), 'tcp:203.0.113.120:443');
  assert.equal(r.link.pathTo(sn(1)), 'tcp:203.0.113.121:443');
  assert.equal(r.link.pathTo(sn(2)), `tcp:${formatAddress(sn(2))}`, 'no listener known: its own address');
  assert.equal(formatAddress(r.link.supernodeOf('tcp:203.0.113.121:443')!), formatAddress(sn(1)));
  assert.equal(formatAddress(r.link.supernodeOf(`udp:${formatAddress(sn(2))}`)!), formatAddress(sn(2)));
  // Lost: the next supernode is tried on its listener first.
  r.link.handleTimeout(11_010);
  r.fail(14_010);
  assert.equal(r.sent[0].path, 'tcp:203.0.113.121:443');
});

test('supernode link: told that only port 443 got out (login), listeners go first; HelloOk teaches listeners', () => {
  const r = rig();
  r.hosts.learnTcp({ tcpOf: [sn(0)], tcpAt: [{ host: '203.0.113.120', port: 443 }] });
  r.link.preferTcp(true);
  r.link.attach(0, () => {});
  assert.equal(r.sent[0].path, 'tcp:203.0.113.120:443');
  const m = decodeMessage(HelloOk.toBytes({ observed, relayToken: 1, supernodes: [sn(3)], tcpOf: [sn(3)], tcpAt: [{ host: '203.0.113.123', port: 443 }] }));
  assert.ok(m.ok);
  r.sent.shift()!.cb(ok({ path: '', peer: {} as never, message: m.value }));
  assert.deepEqual(r.hosts.tcpListeners(sn(3)).map(formatAddress), ['203.0.113.123:443']);
  assert.equal(r.link.pathTo(sn(3)), 'tcp:203.0.113.123:443');
});
