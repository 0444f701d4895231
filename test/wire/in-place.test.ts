// Hot paths read a message's command in place and decode its body from byte 1 (smallCommand,
// schema.decode(bytes, 1)); this must accept and refuse exactly what decodeMessage and a
// decode of the body view do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, f } from '../../src/wire/schema.ts';
import { decodeMessage, smallCommand } from '../../src/wire/object-list.ts';
import { OvRoute, OvReplicate, OvEvents } from '../../src/overlay/messages.ts';

test('smallCommand reads one-byte commands with a body, and nothing else', () => {
  assert.equal(smallCommand(Uint8Array.of(103, 0)), 103);
  assert.equal(smallCommand(Uint8Array.of(103)), -1, 'no body');
  assert.equal(smallCommand(new Uint8Array(0)), -1);
  assert.equal(smallCommand(Uint8Array.of(0x80, 0x01, 0)), -1, 'a two-byte command is not ours');
});

test('decoding a body in place gives what decoding its view gives, for valid and damaged messages', () => {
  const Big = command(120, { n: f.uint(1) });
  const samples = [
    OvRoute.toBytes({ op: 2, slot: 17, origin: 0xfedcba98, req: 9, hops: 1, user: 'alice', item: Uint8Array.of(1, 2, 3) }),
    OvReplicate.toBytes({ slot: 3, records: [Uint8Array.of(9, 9), Uint8Array.of(7)], tombs: ['m1', 'm2'] }),
    OvEvents.toBytes({ ids: [1, 2, 0xffffffff], incs: [1, 1, 2], alive: [1, 0, 1] }),
    Big.toBytes({ n: 5 }),
  ];
  let seed = 99;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (const good of samples) {
    const variants = [good];
    for (let k = 0; k < 300; k++) {
      const b = good.slice(0, 1 + (rnd() % good.length));
      if (rnd() & 1) b[rnd() % b.length] ^= 1 << (rnd() % 8);
      variants.push(b);
    }
    for (const bytes of variants) {
      for (const schema of [OvRoute, OvReplicate, OvEvents, Big]) {
        const m = decodeMessage(bytes);
        const viaView = m.ok && m.value.command === schema.command ? schema.decode(m.value.body) : undefined;
        const inPlace = smallCommand(bytes) === schema.command ? schema.decode(bytes, 1) : undefined;
        assert.deepEqual(inPlace, viaView);
      }
    }
  }
});
