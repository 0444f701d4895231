import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostPort, formatAddress } from '../../src/wire/address.ts';

test('IPv4 and IPv6 host:port parse and format canonically', () => {
  const a = parseHostPort('203.0.113.5:4000');
  assert.ok(a.ok && a.value.host === '203.0.113.5' && a.value.port === 4000);
  const b = parseHostPort('[2001:DB8:0:0:0:0:0:1]:443');
  assert.ok(b.ok);
  assert.equal(formatAddress(b.value), '[2001:db8::1]:443');
  const c = parseHostPort('localhost:80');
  assert.ok(c.ok && c.value.host === '127.0.0.1');
});

test('bad addresses get a one-line reason', () => {
  for (const bad of ['', 'nohost', '1.2.3.4', '1.2.3.256:1', '1.2.3.4:70000', '[::1:1', 'a:b:c', '01.2.3.4:5', '[1::2::3]:4']) {
    const r = parseHostPort(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(!r.error.message.includes('\n'));
  }
});
