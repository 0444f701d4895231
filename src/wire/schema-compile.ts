// Schemas compiled to straight-line code, as protobufjs does. A generic decoder that stores
// fields by name (`out[name] = v`) turns every property store megamorphic once a few
// schemas have gone through it, and costs more than reading the bytes. Each schema instead
// gets its own small function, generated once at start-up from the declaration, whose stores
// and loads name their properties and so stay monomorphic. The generated code calls the same
// readers and field checks as everything else: it adds no wire rules of its own.
//
// Only identifiers from our own schema declarations reach the generated source (checked
// below); nothing from the network does.
import type { Result } from './result.ts';
import { type Writer, Reader, Bad, ObjectType, readCount, readKey, readValue, skipValue, messageBytesMax, writer } from './object-list.ts';

export interface CompiledField {
  name: string;
  id: number;
  optional: boolean;
  /** Returns the typed value, or an object with `why` when the wire value does not fit. */
  check(v: unknown): unknown;
  /** A list field's direct reader (schema.ts), used when the value arrives as a list. */
  readList?: (r: Reader) => unknown;
  write(w: Writer, v: unknown): void;
}

/** `from`: where the object list starts in `bytes` (after a message's command), so a caller needs no subarray. */
export type Decoder<T> = (bytes: Uint8Array, from?: number) => Result<T>;
export type Encoder<T> = (fields: T) => Uint8Array;

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function checkNames(fields: CompiledField[]) {
  for (const f of fields) {
    if (!identifier.test(f.name)) throw new Error(`schema field name ${JSON.stringify(f.name)} is not an identifier`);
    if (!Number.isInteger(f.id) || f.id < 0) throw new Error(`schema field ${f.name} has a bad id`);
  }
}

/** `isInvalid(x)` tells a failed check from a value (schema.ts's Invalid class). */
export function compileDecoder<T>(fields: CompiledField[], isInvalid: (x: unknown) => x is { why: string }): Decoder<T> {
  checkNames(fields);
  const src: string[] = [];
  src.push('return function decode(bytes, from) {');
  src.push("  if (bytes.length > messageBytesMax) return fail('too-large', 'message of ' + bytes.length + ' bytes');");
  src.push('  const r = new Reader(bytes);');
  src.push('  if (from !== undefined) r.pos = from;');
  src.push('  const count = readCount(r, 0);');
  src.push('  if (count instanceof Bad) return { ok: false, error: count.error };');
  fields.forEach((_, i) => src.push(`  let v${i};`));
  src.push('  let lastId = -1;');
  src.push('  for (let i = 0; i < count; i++) {');
  src.push('    const key = readKey(r, lastId);');
  src.push('    if (key instanceof Bad) return { ok: false, error: key.error };');
  src.push('    const type = key % 8;');
  src.push('    const id = lastId = (key - type) / 8;');
  src.push('    switch (id) {');
  fields.forEach((f, i) => {
    src.push(`      case ${f.id}: {`);
    // A list field read straight into its value; any other type goes the generic way (and its check refuses it).
    if (f.readList) src.push(`        const raw = type === ${ObjectType.List} ? undefined : readValue(r, type, ${f.id}, 0);`);
    else src.push(`        const raw = readValue(r, type, ${f.id}, 0);`);
    src.push('        if (raw instanceof Bad) return { ok: false, error: raw.error };');
    if (f.readList) {
      src.push(`        const c = raw === undefined ? fields[${i}].readList(r) : fields[${i}].check(raw);`);
      src.push('        if (c instanceof Bad) return { ok: false, error: c.error };');
    } else src.push(`        const c = fields[${i}].check(raw);`);
    src.push(`        if (isInvalid(c)) return fail('bad-field', 'field ${f.name} (id ${f.id}): ' + c.why);`);
    src.push(`        v${i} = c;`);
    src.push('        break;');
    src.push('      }');
  });
  src.push('      default: {');
  src.push('        const skipped = skipValue(r, type, id, 0);');
  src.push('        if (skipped) return { ok: false, error: skipped.error };');
  src.push('      }');
  src.push('    }');
  src.push('  }');
  src.push("  if (r.left !== 0) return fail('trailing-bytes', r.left + ' bytes after the object list');");
  fields.forEach((f, i) => {
    if (!f.optional) src.push(`  if (v${i} === undefined) return fail('missing-field', 'required field ${f.name} (id ${f.id}) missing');`);
  });
  // Required fields in one literal (one hidden class per schema); optional ones only when present,
  // so an absent field is absent, not a key holding undefined.
  src.push(`  const out = { ${fields.map((f, i) => (f.optional ? '' : `${f.name}: v${i}`)).filter(Boolean).join(', ')} };`);
  fields.forEach((f, i) => { if (f.optional) src.push(`  if (v${i} !== undefined) out.${f.name} = v${i};`); });
  src.push('  return { ok: true, value: out };');
  src.push('};');
  const fail = (code: string, message: string) => ({ ok: false, error: { code, message } });
  return new Function('fields', 'isInvalid', 'fail', 'Reader', 'Bad', 'readCount', 'readKey', 'readValue', 'skipValue', 'messageBytesMax',
    src.join('\n'))(fields, isInvalid, fail, Reader, Bad, readCount, readKey, readValue, skipValue, messageBytesMax) as Decoder<T>;
}

/** Encodes `varint(command) varint(count) object*` with fields in id order. */
export function compileEncoder<T>(command: number, fields: CompiledField[]): Encoder<T> {
  checkNames(fields);
  const ordered = [...fields].sort((a, b) => a.id - b.id);
  const src: string[] = [];
  src.push('return function toBytes(f) {');
  src.push('  let count = 0;');
  ordered.forEach((f, i) => {
    src.push(`  const v${i} = f.${f.name};`);
    src.push(f.optional ? `  if (v${i} !== undefined) count++;`
      : `  if (v${i} === undefined) throw new Error('required field ${f.name} missing'); count++;`);
  });
  src.push('  const w = writer.reset();');
  src.push(`  w.varint(${command});`);
  src.push('  w.varint(count);');
  ordered.forEach((f, i) => {
    src.push(f.optional ? `  if (v${i} !== undefined) fields[${i}].write(w, v${i});` : `  fields[${i}].write(w, v${i});`);
  });
  src.push('  return w.result();');
  src.push('};');
  return new Function('fields', 'writer', src.join('\n'))(ordered, writer) as Encoder<T>;
}
