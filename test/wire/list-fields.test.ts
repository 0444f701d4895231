import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, f } from '../../src/wire/schema.ts';
import { encodeMessage } from '../../src/wire/object-list.ts';

// Lists of integers, byte strings and strings are written straight into the buffer; the bytes
// must be those of the generic path (the fields as a built object list), or signatures break.
const Lists = command(999, { n: f.uint(1), xs: f.uints(2, 2000), bs: f.bytesList(3, 2000).opt(), ss: f.strings(4, 2000, 64).opt(), tail: f.string(9) });

test('list fields written directly give the same bytes as the generic encoder', () => {
  const cases = [
    { n: 0, xs: [], tail: '' },
    { n: 5, xs: [0, 1, 127, 128, 2 ** 32 - 1, 2 ** 40], bs: [new Uint8Array(0), new Uint8Array(200).fill(9)], ss: ['a', 'é', 'x'.repeat(64)], tail: 'end' },
    { n: 7, xs: Array.from({ length: 1500 }, (_, i) => i * 7919), bs: Array.from({ length: 20 }, (_, i) => new Uint8Array(i)), ss: Array.from({ length: 20 }, (_, i) => `s${i}`), tail: 't' },
  ];
  for (const c of cases) {
    const direct = Lists.toBytes(c);
    assert.deepEqual(direct, encodeMessage(999, Lists.encode(c)));
    const back = Lists.decode(direct.subarray(2));
    assert.ok(back.ok);
    assert.deepEqual(back.value.xs, c.xs);
    assert.deepEqual(back.value.ss, c.ss);
  }
});

test('a nested list longer than the format allows is refused when written, as before', () => {
  const ss = Array.from({ length: 1025 }, () => 'a');
  assert.throws(() => Lists.toBytes({ n: 1, xs: [], ss, tail: '' }), RangeError);
  assert.throws(() => encodeMessage(999, Lists.encode({ n: 1, xs: [], ss, tail: '' })), RangeError);
});

test('list fields: the one-pass schema decoder accepts and refuses exactly what the object-list reader does, with the same values', async () => {
  const { decodeObjectList } = await import('../../src/wire/object-list.ts');
  const { Rng } = await import('../../src/sim/rng.ts');
  const Small = command(998, { bs: f.bytesList(1, 4, 8).opt(), ss: f.strings(2, 4, 6).opt(), n: f.uint(3).opt() });
  const Loose = command(997, { bs: f.bytesList(1, 10, 20).opt(), ss: f.strings(2, 10, 20).opt(), n: f.uint(3).opt() });
  const rng = new Rng(7);
  const seeds = [
    Small.toBytes({ bs: [new Uint8Array(3), new Uint8Array(8)], ss: ['ab', 'é'], n: 4 }),
    Small.toBytes({ bs: [new Uint8Array(2)], ss: ['abcdef', 'x', 'y', 'z'] }),
    Lists.toBytes({ n: 1, xs: [3], bs: [new Uint8Array(2)], ss: ['q'], tail: 'x' }),
    // Beyond Small's bounds: too many, too long.
    Loose.toBytes({ bs: [new Uint8Array(9)], ss: ['abcdefg'] }),
    Loose.toBytes({ bs: Array.from({ length: 5 }, () => new Uint8Array(1)), ss: ['a', 'b', 'c', 'd', 'e'] }),
  ].map((b) => b.subarray(2));
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const b = Uint8Array.from(seeds[i % seeds.length]);
    for (let k = rng.int(4); k > 0; k--) b[rng.int(b.length)] = rng.chance(0.5) ? rng.int(256) : rng.int(16);
    for (const s of [Small, Lists]) {
      const direct = s.decode(b);
      const list = decodeObjectList(b);
      const generic = list.ok ? s.decode(list.value) : list;
      assert.equal(direct.ok, generic.ok, `input ${Buffer.from(b).toString('hex')}`);
      if (direct.ok && generic.ok) { assert.deepEqual(direct.value, generic.value); accepted++; }
    }
  }
  assert.ok(accepted > 1000, `${accepted} accepted`);
});
