// Object lists: the seed's wire format. A message is a command number followed by an object
// list; an object is (type, id, value) and the id says which parameter of the command it is.
//
//   message  = varint(command) objectList
//   list     = varint(count) object*          (count ≤ listObjectsMax, ids strictly increasing)
//   object   = varint(id << 3 | type) value   (one key, as protobuf's tag: most keys are one byte)
//   value    = UINT: varint | STRING: varint(len) utf8 | ADDRESS: u8(4|6) 4|16 bytes u16be(port)
//            | BYTES: varint(len) bytes | UINT_LIST: varint(n) varint* | LIST: list
//            | SINT: zigzag varint | U64: 8 bytes big-endian
// (the byte-level specification with test vectors is docs/wire.md)
//
// Encoding is canonical (ids sorted, minimal varints, duplicates refused) so that a signature
// over an encoded record verifies on every node. Decoding takes hostile bytes: every count and
// length is checked against what is left of the input before anything is allocated, and
// nesting is bounded; failures come back as typed errors, never as exceptions.
import { type Result, ok, err } from './result.ts';
import { type Address, parseIPv4, parseIPv6, formatIPv6 } from './address.ts';

export const enum ObjectType { Uint = 0, String = 1, Address = 2, Bytes = 3, UintList = 4, List = 5, Sint = 6, U64 = 7 }

/** A signed integer: a plain number would be ambiguous with an unsigned one. */
export class Sint {
  constructor(readonly value: number) {}
}

/** Signed integers are limited so that their zigzag form stays a safe integer. */
export const sintMax = 2 ** 52 - 1;
export const sintMin = -(2 ** 52);

export type WireValue = number | string | Address | Uint8Array | number[] | ObjectList | Sint | bigint;
export type ObjectList = Map<number, WireValue>;

// Specification limits: a conforming decoder refuses anything beyond them.
export const listDepthMax = 8;
export const listObjectsMax = 1024;
export const idMax = 0xffff;
export const messageBytesMax = 1 << 20;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** One growable buffer reused by every encode: encoding is synchronous and never re-entered. */
export class Writer {
  private buf = new Uint8Array(4096);
  length = 0;
  reset() { this.length = 0; return this; }
  private ensure(n: number) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(b: number) { this.ensure(1); this.buf[this.length++] = b; }
  bytes(b: Uint8Array) { this.ensure(b.length); this.buf.set(b, this.length); this.length += b.length; }
  varint(n: number) {
    this.ensure(8);
    if (n >= 0 && n < 0x80000000 && (n | 0) === n) {
      while (n >= 0x80) { this.buf[this.length++] = (n & 0x7f) | 0x80; n >>>= 7; }
      this.buf[this.length++] = n;
      return;
    }
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varint out of range: ${n}`);
    while (n >= 0x80) { this.buf[this.length++] = (n % 0x80) | 0x80; n = Math.floor(n / 0x80); }
    this.buf[this.length++] = n;
  }
  /** varint(UTF-8 length) then the bytes; plain ASCII skips the TextEncoder. */
  string(v: string) {
    const n = v.length;
    let ascii = n < 128;
    for (let i = 0; ascii && i < n; i++) if (v.charCodeAt(i) >= 0x80) ascii = false;
    if (ascii) {
      this.ensure(1 + n);
      this.buf[this.length++] = n;
      for (let i = 0; i < n; i++) this.buf[this.length++] = v.charCodeAt(i);
      return;
    }
    const b = utf8.encode(v);
    this.varint(b.length);
    this.bytes(b);
  }
  result(): Uint8Array { return this.buf.slice(0, this.length); }
}

export const writer = new Writer();

function valueType(v: WireValue): ObjectType {
  if (typeof v === 'number') return ObjectType.Uint;
  if (typeof v === 'bigint') return ObjectType.U64;
  if (v instanceof Sint) return ObjectType.Sint;
  if (typeof v === 'string') return ObjectType.String;
  if (v instanceof Uint8Array) return ObjectType.Bytes;
  if (Array.isArray(v)) return ObjectType.UintList;
  if (v instanceof Map) return ObjectType.List;
  return ObjectType.Address;
}

function writeList(w: Writer, list: ObjectList, depth: number) {
  if (depth > listDepthMax) throw new RangeError('object list nested too deep');
  if (list.size > listObjectsMax) throw new RangeError('object list too long');
  let sorted = true, last = -1;
  for (const id of list.keys()) { if (id <= last) { sorted = false; break; } last = id; }
  const ids = sorted ? list.keys() : [...list.keys()].sort((a, b) => a - b);
  w.varint(list.size);
  for (const id of ids) writeObject(w, id, list.get(id)!, depth);
}

/** One object: key, then value. Values we built ourselves: a malformed one is a local bug, so it throws. */
export function writeObject(w: Writer, id: number, v: WireValue, depth: number) {
  if (!Number.isInteger(id) || id < 0 || id > idMax) throw new RangeError(`bad object id ${id}`);
  const t = valueType(v);
  w.varint(id * 8 + t);
  switch (t) {
    case ObjectType.Uint: w.varint(v as number); break;
    case ObjectType.String: w.string(v as string); break;
    case ObjectType.Bytes: w.varint((v as Uint8Array).length); w.bytes(v as Uint8Array); break;
    case ObjectType.UintList: { const xs = v as number[]; w.varint(xs.length); for (const x of xs) w.varint(x); break; }
    case ObjectType.List: writeList(w, v as ObjectList, depth + 1); break;
    case ObjectType.Sint: {
      const n = (v as Sint).value;
      if (!Number.isInteger(n) || n > sintMax || n < sintMin) throw new RangeError(`signed integer out of range: ${n}`);
      w.varint(n >= 0 ? n * 2 : -n * 2 - 1);
      break;
    }
    case ObjectType.U64: {
      const n = v as bigint;
      if (n < 0n || n >= 1n << 64n) throw new RangeError(`64-bit value out of range: ${n}`);
      for (let shift = 56n; shift >= 0n; shift -= 8n) w.byte(Number((n >> shift) & 0xffn));
      break;
    }
    case ObjectType.Address: {
      const a = v as Address;
      const v4 = parseIPv4(a.host);
      const raw = v4 ?? parseIPv6(a.host);
      if (!raw) throw new RangeError(`bad address host ${a.host}`);
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new RangeError(`bad port ${a.port}`);
      w.byte(v4 ? 4 : 6); w.bytes(raw); w.byte(a.port >> 8); w.byte(a.port & 0xff);
      break;
    }
  }
}

/** Encodes a list we built ourselves; a malformed list is a local bug, so it throws. */
export function encodeObjectList(list: ObjectList): Uint8Array {
  const w = writer.reset();
  writeList(w, list, 0);
  return w.result();
}

export function encodeMessage(command: number, list: ObjectList): Uint8Array {
  const w = writer.reset();
  w.varint(command);
  writeList(w, list, 0);
  return w.result();
}

/** Short plain-ASCII strings (most of ours) without the TextDecoder's per-call cost. */
function asciiString(b: Uint8Array): string | undefined {
  if (b.length > 64) return undefined;
  let out = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c >= 0x80) return undefined;
    out += String.fromCharCode(c);
  }
  return out;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get left() { return this.buf.length - this.pos; }
  varint(): number | undefined {
    let n = 0, mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) return undefined;
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * mul;
      if (b < 0x80) {
        // Minimal encoding only: a trailing zero byte would give one value two spellings.
        if (i > 0 && b === 0) return undefined;
        return Number.isSafeInteger(n) ? n : undefined;
      }
      mul *= 0x80;
    }
    return undefined;
  }
  take(n: number): Uint8Array | undefined {
    if (n > this.left) return undefined;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

type Decoded<T> = Result<T>;

function readList(r: Reader, depth: number): Decoded<ObjectList> {
  if (depth > listDepthMax) return err('too-deep', `object lists nested deeper than ${listDepthMax}`);
  const count = r.varint();
  if (count === undefined) return err('truncated', 'object count missing or malformed');
  // Each object takes at least 2 bytes, so a count larger than that is a lie we can refuse cheaply.
  if (count > listObjectsMax || count * 2 > r.left) return err('bad-count', `object count ${count} exceeds the input`);
  const list: ObjectList = new Map();
  let lastId = -1;
  for (let i = 0; i < count; i++) {
    const key = r.varint();
    if (key === undefined) return err('truncated', 'object key missing or malformed');
    const type = key % 8;
    const id = (key - type) / 8;
    if (id > idMax) return err('bad-id', `object id ${id} too large`);
    if (id <= lastId) return err('not-canonical', `object id ${id} out of order or repeated`);
    lastId = id;
    let value: WireValue;
    switch (type) {
      case ObjectType.Uint: {
        const n = r.varint();
        if (n === undefined) return err('bad-varint', `object ${id}: malformed integer`);
        value = n;
        break;
      }
      case ObjectType.String:
      case ObjectType.Bytes: {
        const len = r.varint();
        if (len === undefined) return err('truncated', `object ${id}: length missing`);
        const b = r.take(len);
        if (!b) return err('truncated', `object ${id}: ${len} bytes claimed, ${r.left} left`);
        if (type === ObjectType.Bytes) { value = b.slice(); break; }
        const ascii = asciiString(b);
        if (ascii !== undefined) { value = ascii; break; }
        try { value = utf8Strict.decode(b); } catch { return err('bad-utf8', `object ${id}: string is not UTF-8`); }
        break;
      }
      case ObjectType.Address: {
        const fam = r.take(1);
        if (!fam) return err('truncated', `object ${id}: address family missing`);
        const size = fam[0] === 4 ? 4 : fam[0] === 6 ? 16 : 0;
        if (!size) return err('bad-address', `object ${id}: address family ${fam[0]}`);
        const raw = r.take(size + 2);
        if (!raw) return err('truncated', `object ${id}: address truncated`);
        const host = size === 4 ? [...raw.subarray(0, 4)].join('.') : formatIPv6(raw.subarray(0, 16));
        value = { host, port: (raw[size] << 8) | raw[size + 1] };
        break;
      }
      case ObjectType.UintList: {
        const n = r.varint();
        if (n === undefined) return err('truncated', `object ${id}: count missing`);
        if (n > r.left) return err('bad-count', `object ${id}: ${n} integers claimed, ${r.left} bytes left`);
        const xs: number[] = [];
        for (let k = 0; k < n; k++) {
          const x = r.varint();
          if (x === undefined) return err('bad-varint', `object ${id}: malformed integer in list`);
          xs.push(x);
        }
        value = xs;
        break;
      }
      case ObjectType.List: {
        const inner = readList(r, depth + 1);
        if (!inner.ok) return inner;
        value = inner.value;
        break;
      }
      case ObjectType.Sint: {
        const z = r.varint();
        if (z === undefined || z > 2 * sintMax + 1) return err('bad-varint', `object ${id}: malformed signed integer`);
        value = new Sint(z % 2 === 0 ? z / 2 : -(z + 1) / 2);
        break;
      }
      case ObjectType.U64: {
        const b = r.take(8);
        if (!b) return err('truncated', `object ${id}: 64-bit value truncated`);
        let n = 0n;
        for (const x of b) n = (n << 8n) | BigInt(x);
        value = n;
        break;
      }
      default:
        return err('bad-type', `object ${id}: unknown type ${type}`);
    }
    list.set(id, value);
  }
  return ok(list);
}

export function decodeObjectList(bytes: Uint8Array): Decoded<ObjectList> {
  if (bytes.length > messageBytesMax) return err('too-large', `message of ${bytes.length} bytes`);
  const r = new Reader(bytes);
  const list = readList(r, 0);
  if (!list.ok) return list;
  if (r.left !== 0) return err('trailing-bytes', `${r.left} bytes after the object list`);
  return list;
}

export interface Message { command: number; body: ObjectList }

export function decodeMessage(bytes: Uint8Array): Decoded<Message> {
  if (bytes.length > messageBytesMax) return err('too-large', `message of ${bytes.length} bytes`);
  const r = new Reader(bytes);
  const command = r.varint();
  if (command === undefined) return err('truncated', 'command number missing or malformed');
  const body = readList(r, 0);
  if (!body.ok) return body;
  if (r.left !== 0) return err('trailing-bytes', `${r.left} bytes after the object list`);
  return ok({ command, body: body.value });
}
