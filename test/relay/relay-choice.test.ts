// The relay chosen from given RTTs: the smallest sum of the caller's and the callee's measured
// RTTs to each relay; unmeasured relays are not compared; with nothing measured, the callee's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseRelay, type RelayOption } from '../../src/relay/relay-choice.ts';
import { formatAddress, type Address } from '../../src/wire/address.ts';

const sn = (i: number): Address => ({ host: `203.0.113.${10 + i}`, port: 7001 });
const rtts = (m: Record<number, number>) => (a: Address) => { const i = Number(a.host.split('.')[3]) - 10; return m[i]; };

test('relay choice: the lowest sum of both sides\' RTTs wins, not the lowest on either side', () => {
  const options: RelayOption[] = [
    { supernode: sn(0), token: 1, calleeRttMs: 5 },    // the callee's own: close to it, far from us
    { supernode: sn(1), token: 2, calleeRttMs: 30 },
    { supernode: sn(2), token: 3, calleeRttMs: 60 },
  ];
  const c = chooseRelay(options, rtts({ 0: 200, 1: 40, 2: 3 }));
  assert.ok(c);
  assert.equal(formatAddress(c.supernode), formatAddress(sn(2)));
  assert.equal(c.token, 3);
  assert.equal(c.totalMs, 63);
  assert.equal(c.reason, 'relay 203.0.113.12:7001: RTT 3 ms from us + 60 ms from the callee = 63 ms, the lowest of 3 relays (203.0.113.10:7001 205 ms, 203.0.113.11:7001 70 ms)');
});

test('relay choice: relays unmeasured on either side are not compared', () => {
  const options: RelayOption[] = [
    { supernode: sn(0), token: 1, calleeRttMs: 50 },
    { supernode: sn(1), token: 2, calleeRttMs: undefined },   // the callee could not measure it
    { supernode: sn(2), token: 3, calleeRttMs: 1 },           // we never talked to it
  ];
  const c = chooseRelay(options, rtts({ 0: 50, 1: 1 }));
  assert.ok(c);
  assert.equal(c.token, 1);
  assert.match(c.reason, /^relay 203\.0\.113\.10:7001 \(the callee's own supernode\): RTT 50 ms from us \+ 50 ms from the callee = 100 ms/);
  assert.match(c.reason, /203\.0\.113\.11:7001 \(1 ms from us, callee's unmeasured\)/);
  assert.match(c.reason, /203\.0\.113\.12:7001 \(our RTT unmeasured, 1 ms from the callee\)/);
});

test('relay choice: nothing measured — the callee\'s own supernode; ties keep the published order', () => {
  const options: RelayOption[] = [{ supernode: sn(0), token: 1, calleeRttMs: undefined }, { supernode: sn(1), token: 2, calleeRttMs: 10 }];
  const none = chooseRelay(options, () => undefined);
  assert.ok(none);
  assert.equal(none.token, 1);
  assert.equal(none.totalMs, undefined);
  assert.match(none.reason, /the callee's own supernode: no relay has measured RTTs on both sides/);
  const tie = chooseRelay([{ supernode: sn(0), token: 1, calleeRttMs: 10 }, { supernode: sn(1), token: 2, calleeRttMs: 10 }], () => 10);
  assert.equal(tie?.token, 1);
  assert.equal(chooseRelay([], () => 1), undefined);
  const one = chooseRelay([{ supernode: sn(0), token: 1, calleeRttMs: 7 }], () => 8);
  assert.equal(one?.reason, "relay 203.0.113.10:7001 (the callee's own supernode): RTT 8 ms from us + 7 ms from the callee = 15 ms");
});
