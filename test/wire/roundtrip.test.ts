import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, decodeMessageList, encodeObjectList, decodeObjectList } from '../../src/wire/object-list.ts';
import { formatIPv6, parseIPv6 } from '../../src/wire/address.ts';
import { randomObjectList } from '../helpers/random-objects.ts';
import { prng } from '../helpers/prng.ts';

/** Addresses come back in canonical form; compare after normalising ours the same way. */
function canonical(v: any): any {
  if (v instanceof Map) return new Map([...v.entries()].map(([k, x]) => [k, canonical(x)]));
  if (v && typeof v === 'object' && 'host' in v && 'port' in v) {
    return v.host.includes(':') ? { host: formatIPv6(parseIPv6(v.host)!), port: v.port } : v;
  }
  return v;
}

test('property: every random object list (all types, IPv6, edge values) round-trips, and re-encodes identically', () => {
  const rng = prng(42);
  for (let i = 0; i < 2000; i++) {
    const list = randomObjectList(rng, 3);
    const bytes = encodeMessage(rng.int(1000), list);
    const d = decodeMessageList(bytes);
    assert.ok(d.ok, JSON.stringify(!d.ok && d.error));
    assert.deepEqual(d.value.body, canonical(list));
    assert.deepEqual(encodeMessage(d.value.command, d.value.body), bytes, 'canonical: one byte string per value');
  }
});

test('property: decoding then encoding any accepted byte string gives it back (no second spelling)', () => {
  const rng = prng(43);
  for (let i = 0; i < 3000; i++) {
    const good = encodeObjectList(randomObjectList(rng, 2));
    const mutated = good.map((b) => (rng.int(20) === 0 ? rng.u32() & 0xff : b));
    const d = decodeObjectList(mutated);
    if (d.ok) assert.deepEqual(encodeObjectList(d.value), mutated);
  }
});
