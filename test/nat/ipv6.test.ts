// What a node knows about its IPv6 (src/nat/ipv6.ts): candidates only once a supernode answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ipv6Status, withIpv6Last } from '../../src/nat/ipv6.ts';

const sn6 = { host: '2001:db8::10', port: 7001 };
const me6 = { host: '2001:db8:1::10', port: 5000 };

test('no IPv6 socket: nothing to ask, never ready', () => {
  const s = new Ipv6Status(undefined);
  assert.equal(s.wants(sn6), false);
  assert.equal(s.ready, false);
  assert.equal(s.report().state, 'none');
});

test('an IPv6 socket is not enough: ready only once a supernode answered over IPv6', () => {
  const s = new Ipv6Status(me6);
  assert.equal(s.wants(undefined), false, 'a supernode without IPv6 cannot be asked');
  assert.equal(s.wants(sn6), true);
  s.probing(sn6);
  assert.equal(s.wants(sn6), false, 'one question at a time');
  assert.equal(s.ready, false);
  assert.equal(s.answered(me6), true, 'what we publish changes');
  assert.equal(s.ready, true);
  assert.equal(s.answered(me6), false, 'the same answer again changes nothing');
  assert.deepEqual(s.report(), { state: 'works', local: '[2001:db8:1::10]:5000', observed: '[2001:db8:1::10]:5000', supernode: '[2001:db8::10]:7001', error: undefined });
});

test('no answer over IPv6: not ready, asked again at the next attachment', () => {
  const s = new Ipv6Status(me6);
  s.probing(sn6);
  s.failed('no answer over IPv6: timeout');
  assert.equal(s.ready, false);
  assert.equal(s.wants(sn6), true);
  assert.equal(s.report().state, 'no-answer');
});

test('IPv6 candidates go last (birthday punching and older peers take the first, IPv4 one)', () => {
  const v4 = [{ host: '203.0.113.21', port: 5000 }];
  assert.deepEqual(withIpv6Last(v4, me6), [...v4, me6]);
  assert.deepEqual(withIpv6Last(v4, undefined), v4);
  assert.deepEqual(withIpv6Last([...v4, me6], me6), [...v4, me6], 'no duplicate');
});
