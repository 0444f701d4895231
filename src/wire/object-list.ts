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
import { type Result, type DecodeError, ok, err } from './result.ts';
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
    if (n < 128) {
      this.ensure(1 + n);
      const buf = this.buf;
      const at = this.length + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) { buf[at - 1] = n; this.length = at + n; return; }
    }
    const b = utf8.encode(v);
    this.varint(b.length);
    this.bytes(b);
  }
  /** A copy of what was written. Mid-sized results are carved from a shared slab, as Node's
   *  Buffer pool does: allocating a fresh ArrayBuffer per message costs more than encoding it. */
  result(): Uint8Array {
    const n = this.length;
    if (n <= 64 || n > slabResultMax) return this.buf.slice(0, n);
    if (slabUsed + n > slabBytes) { slab = new ArrayBuffer(slabBytes); slabUsed = 0; }
    const out = new Uint8Array(slab, slabUsed, n);
    const buf = this.buf;
    if (n <= 256) for (let i = 0; i < n; i++) out[i] = buf[i]; // cheaper than a subarray view to set() from
    else out.set(buf.subarray(0, n));
    slabUsed += (n + 7) & ~7;
    return out;
  }
}

// Implementation constants of the result slab: a retained result pins at most one slab.
const slabBytes = 16 * 1024;
const slabResultMax = 2048;
let slab = new ArrayBuffer(slabBytes);
let slabUsed = 0;

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

/** A command and its object list (built, or already encoded as a received Message's body). */
export function encodeMessage(command: number, list: ObjectList | Uint8Array): Uint8Array {
  const w = writer.reset();
  w.varint(command);
  if (list instanceof Uint8Array) w.bytes(list);
  else writeList(w, list, 0);
  return w.result();
}

// Node's native Latin-1 slice makes a string from plain-ASCII bytes (where Latin-1 and UTF-8
// agree) several times faster than building it in JavaScript; it is not part of the documented
// API, so a plain loop stands in if it ever disappears.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, from: number, to: number) => string }).latin1Slice;

/** Plain-ASCII strings (most of ours) without the TextDecoder's per-call cost. */
function asciiString(buf: Uint8Array, from: number, to: number): string | undefined {
  for (let i = from; i < to; i++) if (buf[i] >= 0x80) return undefined;
  if (latin1Slice) return latin1Slice.call(buf, from, to);
  let out = '';
  for (let i = from; i < to; i++) out += String.fromCharCode(buf[i]);
  return out;
}

export class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get left() { return this.buf.length - this.pos; }
  varint(): number | undefined {
    const buf = this.buf;
    let n = 0, mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= buf.length) return undefined;
      const b = buf[this.pos++];
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
  /** Advances by n bytes and returns where they start, or -1 when fewer are left. */
  skip(n: number): number {
    if (n > this.buf.length - this.pos) return -1;
    const at = this.pos;
    this.pos += n;
    return at;
  }
  take(n: number): Uint8Array | undefined {
    const at = this.skip(n);
    return at < 0 ? undefined : this.buf.subarray(at, at + n);
  }
}

/**
 * A decoding failure. Readers return `value | Bad` rather than a Result so that the hot path
 * allocates nothing but the values themselves; public functions convert at their boundary.
 */
export class Bad {
  constructor(readonly error: DecodeError) {}
  static of(code: string, message: string) { return new Bad({ code, message }); }
}

const failed = (b: Bad): Result<never> => ({ ok: false, error: b.error });

/** Reads one value of `type` for object `id`; shared by the generic list reader and schemas. */
export function readValue(r: Reader, type: number, id: number, depth: number): WireValue | Bad {
  switch (type) {
    case ObjectType.Uint: {
      const n = r.varint();
      return n === undefined ? Bad.of('bad-varint', `object ${id}: malformed integer`) : n;
    }
    case ObjectType.String:
    case ObjectType.Bytes: {
      const len = r.varint();
      if (len === undefined) return Bad.of('truncated', `object ${id}: length missing`);
      const at = r.skip(len);
      if (at < 0) return Bad.of('truncated', `object ${id}: ${len} bytes claimed, ${r.left} left`);
      // A view, not a copy: decoded inputs are never written to after, and a copy per field
      // costs more than the rest of the decode.
      if (type === ObjectType.Bytes) return r.buf.subarray(at, at + len);
      const ascii = asciiString(r.buf, at, at + len);
      if (ascii !== undefined) return ascii;
      try { return utf8Strict.decode(r.buf.subarray(at, at + len)); } catch { return Bad.of('bad-utf8', `object ${id}: string is not UTF-8`); }
    }
    case ObjectType.Address: {
      const fam = r.skip(1);
      if (fam < 0) return Bad.of('truncated', `object ${id}: address family missing`);
      const size = r.buf[fam] === 4 ? 4 : r.buf[fam] === 6 ? 16 : 0;
      if (!size) return Bad.of('bad-address', `object ${id}: address family ${r.buf[fam]}`);
      const at = r.skip(size + 2);
      if (at < 0) return Bad.of('truncated', `object ${id}: address truncated`);
      const b = r.buf;
      const host = size === 4 ? `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}` : formatIPv6(b.subarray(at, at + 16));
      return { host, port: (b[at + size] << 8) | b[at + size + 1] };
    }
    case ObjectType.UintList: {
      const n = r.varint();
      if (n === undefined) return Bad.of('truncated', `object ${id}: count missing`);
      if (n > r.left) return Bad.of('bad-count', `object ${id}: ${n} integers claimed, ${r.left} bytes left`);
      const xs: number[] = [];
      for (let k = 0; k < n; k++) {
        const x = r.varint();
        if (x === undefined) return Bad.of('bad-varint', `object ${id}: malformed integer in list`);
        xs.push(x);
      }
      return xs;
    }
    case ObjectType.List: return readList(r, depth + 1);
    case ObjectType.Sint: {
      const z = r.varint();
      if (z === undefined || z > 2 * sintMax + 1) return Bad.of('bad-varint', `object ${id}: malformed signed integer`);
      return new Sint(z % 2 === 0 ? z / 2 : -(z + 1) / 2);
    }
    case ObjectType.U64: {
      const at = r.skip(8);
      if (at < 0) return Bad.of('truncated', `object ${id}: 64-bit value truncated`);
      let n = 0n;
      for (let k = at; k < at + 8; k++) n = (n << 8n) | BigInt(r.buf[k]);
      return n;
    }
    default:
      return Bad.of('bad-type', `object ${id}: unknown type ${type}`);
  }
}

/** Reads a list's count, refusing one the input cannot hold before anything is allocated. */
export function readCount(r: Reader, depth: number): number | Bad {
  if (depth > listDepthMax) return Bad.of('too-deep', `object lists nested deeper than ${listDepthMax}`);
  const count = r.varint();
  if (count === undefined) return Bad.of('truncated', 'object count missing or malformed');
  // Each object takes at least 2 bytes, so a count larger than that is a lie we can refuse cheaply.
  if (count > listObjectsMax || count * 2 > r.left) return Bad.of('bad-count', `object count ${count} exceeds the input`);
  return count;
}

/** Reads an object's key (id << 3 | type); ids must strictly increase (canonical form). */
export function readKey(r: Reader, lastId: number): number | Bad {
  const key = r.varint();
  if (key === undefined) return Bad.of('truncated', 'object key missing or malformed');
  const id = Math.floor(key / 8);
  if (id > idMax) return Bad.of('bad-id', `object id ${id} too large`);
  if (id <= lastId) return Bad.of('not-canonical', `object id ${id} out of order or repeated`);
  return key;
}

function readList(r: Reader, depth: number): ObjectList | Bad {
  const count = readCount(r, depth);
  if (count instanceof Bad) return count;
  const list: ObjectList = new Map();
  let lastId = -1;
  for (let i = 0; i < count; i++) {
    const key = readKey(r, lastId);
    if (key instanceof Bad) return key;
    const type = key % 8;
    const id = lastId = (key - type) / 8;
    const value = readValue(r, type, id, depth);
    if (value instanceof Bad) return value;
    list.set(id, value);
  }
  return list;
}

/** Checks a value's structure by the same rules as readValue, building nothing it can avoid. */
export function skipValue(r: Reader, type: number, id: number, depth: number): Bad | undefined {
  switch (type) {
    case ObjectType.Uint:
      return r.varint() === undefined ? Bad.of('bad-varint', `object ${id}: malformed integer`) : undefined;
    case ObjectType.Bytes: {
      const len = r.varint();
      return len === undefined || r.skip(len) < 0 ? Bad.of('truncated', `object ${id}: bytes truncated`) : undefined;
    }
    case ObjectType.List: {
      const count = readCount(r, depth + 1);
      if (count instanceof Bad) return count;
      let lastId = -1;
      for (let i = 0; i < count; i++) {
        const key = readKey(r, lastId);
        if (key instanceof Bad) return key;
        const t = key % 8;
        lastId = (key - t) / 8;
        const e = skipValue(r, t, lastId, depth + 1);
        if (e) return e;
      }
      return undefined;
    }
    case ObjectType.U64: return r.skip(8) < 0 ? Bad.of('truncated', `object ${id}: 64-bit value truncated`) : undefined;
    default: {
      // Strings (UTF-8 check), addresses, integer lists and signed integers: validated by reading.
      const v = readValue(r, type, id, depth);
      return v instanceof Bad ? v : undefined;
    }
  }
}

export function decodeObjectList(bytes: Uint8Array): Result<ObjectList> {
  if (bytes.length > messageBytesMax) return err('too-large', `message of ${bytes.length} bytes`);
  const r = new Reader(bytes);
  const list = readList(r, 0);
  if (list instanceof Bad) return failed(list);
  if (r.left !== 0) return err('trailing-bytes', `${r.left} bytes after the object list`);
  return ok(list);
}

/**
 * A message as it arrives: its command number, and its object list still encoded. The
 * command's schema decodes and validates `body` in one pass straight into typed fields
 * (wire/schema.ts); decodeMessageList decodes it generically.
 */
export interface Message { command: number; body: Uint8Array }

export function decodeMessage(bytes: Uint8Array): Result<Message> {
  if (bytes.length > messageBytesMax) return err('too-large', `message of ${bytes.length} bytes`);
  const r = new Reader(bytes);
  const command = r.varint();
  if (command === undefined) return err('truncated', 'command number missing or malformed');
  if (r.left === 0) return err('truncated', 'object list missing');
  return ok({ command, body: bytes.subarray(r.pos) });
}

/**
 * The command of a message whose command number is one byte (every command we define is below
 * 128; a longer one is unknown here anyway) and whose body starts at byte 1, or -1. The hot
 * paths (overlay cores) then decode the body in place, with `schema.decode(bytes, 1)`, instead
 * of allocating a Message and a view of its body.
 */
export function smallCommand(bytes: Uint8Array): number {
  return bytes.length >= 2 && bytes.length <= messageBytesMax && bytes[0] < 0x80 ? bytes[0] : -1;
}

/** A message with its object list decoded generically (tests, tools, fuzzing). */
export function decodeMessageList(bytes: Uint8Array): Result<{ command: number; body: ObjectList }> {
  const m = decodeMessage(bytes);
  if (!m.ok) return m;
  const body = decodeObjectList(m.value.body);
  return body.ok ? ok({ command: m.value.command, body: body.value }) : body;
}
