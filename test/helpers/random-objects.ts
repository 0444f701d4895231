// Random object lists for round-trip property tests and fuzzing: every type, edge values.
import { type ObjectList, type WireValue, Sint, sintMax, sintMin } from '../../src/wire/object-list.ts';

type Rng = { int(n: number): number; u32(): number; bytes(n: number): Uint8Array };

const edgeUints = [0, 1, 127, 128, 16_383, 16_384, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
const edgeSints = [0, -1, 1, -64, 63, -65, 64, sintMax, sintMin];
const edgeU64 = [0n, 1n, 2n ** 63n, 2n ** 64n - 1n];

export function randomValue(rng: Rng, depth: number): WireValue {
  switch (rng.int(depth > 0 ? 9 : 8)) {
    case 0: return rng.int(3) === 0 ? edgeUints[rng.int(edgeUints.length)] : rng.u32() * rng.int(1000);
    case 1: return randomString(rng);
    case 2: return rng.int(2) === 0
      ? { host: `${rng.int(256)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`, port: rng.int(65536) }
      : { host: randomIPv6(rng), port: rng.int(65536) };
    case 3: return rng.bytes(rng.int(80));
    case 4: return Array.from({ length: rng.int(6) }, () => edgeUints[rng.int(edgeUints.length)]);
    case 5: return new Sint(rng.int(3) === 0 ? edgeSints[rng.int(edgeSints.length)] : rng.int(2_000_000) - 1_000_000);
    case 6: return rng.int(2) === 0 ? edgeU64[rng.int(edgeU64.length)] : (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());
    case 7: return '';
    default: return randomObjectList(rng, depth - 1);
  }
}

export function randomObjectList(rng: Rng, depth: number): ObjectList {
  const list: ObjectList = new Map();
  const n = rng.int(8);
  for (let i = 0; i < n; i++) list.set(rng.int(3) === 0 ? rng.int(70_000) % 65_536 : rng.int(20), randomValue(rng, depth));
  return list;
}

function randomString(rng: Rng): string {
  const alphabet = ['a', 'b', 'z', ' ', 'é', 'ж', '中', '😀', '\u0000', '"'];
  return Array.from({ length: rng.int(20) }, () => alphabet[rng.int(alphabet.length)]).join('');
}

function randomIPv6(rng: Rng): string {
  const groups = Array.from({ length: 8 }, () => (rng.int(3) === 0 ? 0 : rng.int(65536)).toString(16));
  return groups.join(':');
}
