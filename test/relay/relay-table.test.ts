import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayTable } from '../../src/relay/relay-table.ts';
import { prng } from '../helpers/prng.ts';

test('tokens name paths one to one and are forgotten with the path', () => {
  const t = new RelayTable(prng(1).bytes);
  const a = t.tokenFor('udp:203.0.113.1:1'), b = t.tokenFor('udp:203.0.113.2:2');
  assert.notEqual(a, b);
  assert.equal(t.tokenFor('udp:203.0.113.1:1'), a);
  assert.equal(t.pathFor(b), 'udp:203.0.113.2:2');
  t.forget('udp:203.0.113.2:2');
  assert.equal(t.pathFor(b), undefined);
});

test('a sender over its packet or byte quota is dropped until the next second', () => {
  const t = new RelayTable(prng(2).bytes, { packetsPerSecondMax: 3, bytesPerSecondMax: 1000 });
  assert.ok(t.admit('p', 100, 0) && t.admit('p', 100, 10) && t.admit('p', 100, 20));
  assert.equal(t.admit('p', 100, 30), false);
  assert.equal(t.admit('q', 900, 30), true, 'quotas are per sender');
  assert.equal(t.admit('q', 200, 40), false, 'byte quota');
  assert.equal(t.admit('p', 100, 1000), true, 'a new second restores the quota');
  assert.equal(t.stats.overQuota, 2);
});
