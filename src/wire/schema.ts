// Schemas: each command's object list is declared once, and its TypeScript type, encoder and
// decoder follow from the declaration. Unknown ids are skipped (newer peers may add
// parameters); a missing required id, a wrong type or a value beyond its bound is a typed error.
import { type Result, ok, err } from './result.ts';
import type { Address } from './address.ts';
import { type ObjectList, type WireValue, type Writer, type Reader, ObjectType, Sint, Bad, writeObject, listObjectsMax, readCount, readKey, readValue } from './object-list.ts';
import { type CompiledField, compileDecoder, compileEncoder } from './schema-compile.ts';

/** A field check returns the typed value, or an Invalid saying why (no allocation when valid). */
class Invalid { constructor(readonly why: string) {} }
type Checked<T> = T | Invalid;
const good = <T>(value: T): Checked<T> => value;
const bad = (why: string): Invalid => new Invalid(why);

interface Field<T, Optional extends boolean> {
  readonly id: number;
  readonly optional: Optional;
  check(v: WireValue): Checked<T>;
  /**
   * For list fields: reads the nested list straight into the typed value, accepting and
   * refusing exactly what reading it as an object list and then `check` would.
   */
  readList?: (r: Reader) => Checked<T> | Bad;
  toWire(v: T): WireValue;
  /** Writes key and value straight into the buffer (the encoder's hot path). */
  write(w: Writer, v: T): void;
  /** The same field, allowed to be absent. */
  opt(): Field<T, true>;
}

/** Plain values whose wire form is the value itself get a writer that skips type dispatch. */
const directWriters: Partial<Record<ObjectType, (w: Writer, v: any) => void>> = {
  [ObjectType.Uint]: (w, v: number) => w.varint(v),
  [ObjectType.String]: (w, v: string) => w.string(v),
  [ObjectType.Bytes]: (w, v: Uint8Array) => { w.varint(v.length); w.bytes(v); },
};

function field<T>(id: number, check: (v: WireValue) => Checked<T>,
  toWire: (v: T) => WireValue = (v) => v as WireValue, direct?: ObjectType, writeValue?: (w: Writer, v: T) => void,
  readList?: (r: Reader) => Checked<T> | Bad): Field<T, false> {
  const valueWriter = writeValue ?? (direct === undefined ? undefined : directWriters[direct]);
  const key = id * 8 + (direct ?? 0);
  const write = valueWriter
    ? (w: Writer, v: T) => { w.varint(key); valueWriter(w, v); }
    : (w: Writer, v: T) => writeObject(w, id, toWire(v), 0);
  const make = <O extends boolean>(optional: O): Field<T, O> => ({
    id, optional, check, toWire, write, readList, opt: () => make(true),
  });
  return make(false);
}

// Lists of strings or addresses travel as nested lists with ids 0..n-1.
const asList = (xs: WireValue[]): WireValue => new Map(xs.map((x, i) => [i, x]));

/**
 * The same bytes as writing asList(xs), without building the Map: the nested list's count,
 * then each element keyed by its index (ids 0..n-1 are in canonical order by construction).
 * Lists of integers, byte strings and strings are most of the overlay's traffic.
 */
function listWriter<T>(type: ObjectType, writeOne: (w: Writer, x: T) => void) {
  return (w: Writer, xs: T[]) => {
    if (xs.length > listObjectsMax) throw new RangeError('object list too long');
    w.varint(xs.length);
    for (let i = 0; i < xs.length; i++) { w.varint(i * 8 + type); writeOne(w, xs[i]); }
  };
}
const writeBytesList = listWriter<Uint8Array>(ObjectType.Bytes, (w, b) => { w.varint(b.length); w.bytes(b); });
const writeStringList = listWriter<string>(ObjectType.String, (w, x) => w.string(x));
const writeUints = (w: Writer, xs: number[]) => { w.varint(xs.length); for (let i = 0; i < xs.length; i++) w.varint(xs[i]); };

/**
 * A reader for a nested list of `count ≤ countMax` elements, each kept when `keep` says so: the
 * object-list reader's rules (bounded count, increasing ids, every value well-formed) without
 * building its Map. A list with too many elements, or an element `keep` refuses, is Invalid once
 * the whole list has been read, as the generic path's check would find.
 */
function listReader<T>(countMax: number, keep: (v: WireValue) => T | undefined, why: string) {
  return (r: Reader): Checked<T[]> | Bad => {
    const count = readCount(r, 1);
    if (count instanceof Bad) return count;
    const out: T[] = [];
    let lastId = -1, refused = count > countMax;
    for (let i = 0; i < count; i++) {
      const key = readKey(r, lastId);
      if (key instanceof Bad) return key;
      const type = key % 8;
      lastId = (key - type) / 8;
      const v = readValue(r, type, lastId, 1);
      if (v instanceof Bad) return v;
      const x = refused ? undefined : keep(v);
      if (x === undefined) refused = true; else out.push(x);
    }
    return refused ? bad(why) : good(out);
  };
}

const isAddress = (v: WireValue): v is Address =>
  typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Map) && !Array.isArray(v) && !(v instanceof Sint);

export const f = {
  uint: (id: number, max = Number.MAX_SAFE_INTEGER) =>
    field<number>(id, (v) => typeof v !== 'number' ? bad('expected an integer') : v > max ? bad(`integer above ${max}`) : good(v),
      undefined, ObjectType.Uint),
  sint: (id: number) =>
    field<number>(id, (v) => v instanceof Sint ? good(v.value) : bad('expected a signed integer'), (n) => new Sint(n)),
  u64: (id: number) => field<bigint>(id, (v) => typeof v === 'bigint' ? good(v) : bad('expected a 64-bit value')),
  bool: (id: number) =>
    field<boolean>(id, (v) => v === 0 ? good(false) : v === 1 ? good(true) : bad('expected 0 or 1'), (b) => b ? 1 : 0),
  string: (id: number, lengthMax = 1024) =>
    field<string>(id, (v) => typeof v !== 'string' ? bad('expected a string') : v.length > lengthMax ? bad(`string longer than ${lengthMax}`) : good(v),
      undefined, ObjectType.String),
  bytes: (id: number, lengthMax = 65535, lengthMin = 0) =>
    field<Uint8Array>(id, (v) => !(v instanceof Uint8Array) ? bad('expected bytes')
      : v.length > lengthMax || v.length < lengthMin ? bad(`expected ${lengthMin}..${lengthMax} bytes, got ${v.length}`) : good(v),
      undefined, ObjectType.Bytes),
  key: (id: number) =>
    field<Uint8Array>(id, (v) => v instanceof Uint8Array && v.length === 32 ? good(v) : bad('expected a 32-byte key'),
      undefined, ObjectType.Bytes),
  address: (id: number) => field<Address>(id, (v) => isAddress(v) ? good(v) : bad('expected an address')),
  addresses: (id: number, countMax = 16) =>
    field<Address[]>(id, (v) => {
      if (!(v instanceof Map) || v.size > countMax) return bad(`expected a list of at most ${countMax} addresses`);
      const out: Address[] = [];
      for (const a of v.values()) { if (!isAddress(a)) return bad('expected a list of addresses'); out.push(a); }
      return good(out);
    }, asList),
  uints: (id: number, countMax = 1024) =>
    field<number[]>(id, (v) => !Array.isArray(v) ? bad('expected a list of integers') : v.length > countMax ? bad(`more than ${countMax} integers`) : good(v),
      undefined, ObjectType.UintList, writeUints),
  list: (id: number) => field<ObjectList>(id, (v) => v instanceof Map ? good(v) : bad('expected an object list')),
  bytesList: (id: number, countMax = 256, lengthMax = 4096) =>
    field<Uint8Array[]>(id, (v) => {
      if (!(v instanceof Map) || v.size > countMax) return bad(`expected a list of at most ${countMax} byte strings`);
      const out: Uint8Array[] = [];
      for (const x of v.values()) {
        if (!(x instanceof Uint8Array) || x.length > lengthMax) return bad('expected a list of byte strings');
        out.push(x);
      }
      return good(out);
    }, asList, ObjectType.List, writeBytesList,
    listReader(countMax, (x) => (x instanceof Uint8Array && x.length <= lengthMax ? x : undefined), `expected a list of at most ${countMax} byte strings of ≤ ${lengthMax} bytes`)),
  strings: (id: number, countMax = 256, lengthMax = 1024) =>
    field<string[]>(id, (v) => {
      if (!(v instanceof Map) || v.size > countMax) return bad(`expected a list of at most ${countMax} strings`);
      const out: string[] = [];
      for (const x of v.values()) {
        if (typeof x !== 'string' || x.length > lengthMax) return bad('expected a list of strings');
        out.push(x);
      }
      return good(out);
    }, asList, ObjectType.List, writeStringList,
    listReader(countMax, (x) => (typeof x === 'string' && x.length <= lengthMax ? x : undefined), `expected a list of at most ${countMax} strings of ≤ ${lengthMax} characters`)),
};

type AnyField = Field<any, boolean>;
export type Spec = Record<string, AnyField>;
type ValueOf<F> = F extends Field<infer T, any> ? T : never;
type RequiredKeys<S extends Spec> = { [K in keyof S]: S[K] extends Field<any, false> ? K : never }[keyof S];
type OptionalKeys<S extends Spec> = Exclude<keyof S, RequiredKeys<S>>;
export type Fields<S extends Spec> =
  { [K in RequiredKeys<S>]: ValueOf<S[K]> } & { [K in OptionalKeys<S>]?: ValueOf<S[K]> };

export interface Schema<S extends Spec> {
  readonly spec: S;
  encode(fields: Fields<S>): ObjectList;
  /** From a built list, or straight from an encoded object list (a received Message's body, or a whole message's bytes from `from`). */
  decode(list: ObjectList | Uint8Array, from?: number): Result<Fields<S>>;
}

interface Entry { name: string; field: AnyField }

export function schema<S extends Spec>(spec: S): Schema<S> {
  const entries: Entry[] = Object.entries(spec).map(([name, field]) => ({ name, field }));
  const ids = new Set(entries.map((e) => e.field.id));
  if (ids.size !== entries.length) throw new Error('schema has two fields with one id');
  const compiled = (): CompiledField[] => entries.map((e) => ({
    name: e.name, id: e.field.id, optional: e.field.optional, check: e.field.check, write: e.field.write, readList: e.field.readList,
  }));
  // One pass over the encoded list: each object is checked by the generic rules (canonical
  // order, bounded lengths, UTF-8) and by its field, and lands in the result without an
  // intermediate Map. Unknown ids are validated and skipped (forward compatibility).
  const decodeBytes = compileDecoder<Fields<S>>(compiled(), (x): x is Invalid => x instanceof Invalid);

  return {
    spec,
    encode(fields) {
      const list: ObjectList = new Map();
      for (const { name, field: fl } of entries) {
        const v = (fields as Record<string, unknown>)[name];
        if (v === undefined) {
          if (!fl.optional) throw new Error(`required field ${name} missing`);
          continue;
        }
        list.set(fl.id, fl.toWire(v));
      }
      return list;
    },
    decode(list, from) {
      if (list instanceof Uint8Array) return decodeBytes(list, from);
      const out: Record<string, unknown> = {};
      for (const { name, field: fl } of entries) {
        const v = list.get(fl.id);
        if (v === undefined) {
          if (!fl.optional) return err('missing-field', `required field ${name} (id ${fl.id}) missing`);
          continue;
        }
        const checked = fl.check(v);
        if (checked instanceof Invalid) return err('bad-field', `field ${name} (id ${fl.id}): ${checked.why}`);
        out[name] = checked;
      }
      return ok(out as Fields<S>);
    },
  };
}

/** A command: its number and its schema, so callers never pair the wrong two. */
export interface Command<S extends Spec> extends Schema<S> {
  readonly command: number;
  toBytes(fields: Fields<S>): Uint8Array;
}

export function command<S extends Spec>(number: number, spec: S): Command<S> {
  const s = schema(spec);
  // Fields in id order, written straight into the buffer: no intermediate list.
  const toBytes = compileEncoder<Fields<S>>(number, Object.entries(spec).map(([name, fl]) => ({
    name, id: fl.id, optional: fl.optional, check: fl.check, write: fl.write,
  })));
  return { ...s, command: number, toBytes };
}
