// Compression of wire messages: the range coder driven by a context model that knows the
// object-list grammar. A shape tracker follows the bytes as a parser would (command, counts,
// type bytes, ids, lengths, payloads), so each byte is predicted in the context of *what it
// is*: a type byte after the previous type, an id after the previous id, a string byte after
// the previous character, a timestamp byte by its position in its varint. Bytes that break
// the grammar drop the tracker into a generic order-1 context; nothing is lost, it just
// compresses less. Encoder and decoder run the same tracker on the same bytes, so they stay
// in step.
//
// The model starts from a fixed state shared by every node (primed once, deterministically,
// from synthetic messages: priming.ts), so even a 60-byte message has learnt statistics to
// use; every message starts again from that state (an undo log restores it), so messages can
// be decoded in any order. Changing the priming changes the format: it is versioned by the
// form byte (docs/wire.md).
import { RangeEncoder, RangeDecoder, probInit } from './range-coder.ts';
import { type Result, ok, err } from './result.ts';
import { messageBytesMax } from './object-list.ts';

const enum Cls { Other = 0, Cmd, Count, Key, Uint, Len, Str, Bytes, AddrFam, Addr, Port, Item, Sint, U64 }
const classes = 16;
const contextsPerClass = 256;
const nodesPerContext = 256;

/** Follows the object-list grammar one byte at a time and names the context of the next byte. */
class ShapeTracker {
  private cls = Cls.Cmd;
  private remaining = 0;          // bytes left in a fixed-size or length-prefixed field
  private varintIndex = 0;
  private varintValue = 0;
  private counts: number[] = [];  // objects left per open list, innermost last
  private type = 0;
  private id = 0;
  private lastId = 0;
  private prev = 0;
  private itemsLeft = 0;

  context(): number {
    let sub: number;
    switch (this.cls) {
      case Cls.Str: case Cls.Other: sub = this.prev; break;
      case Cls.Key: sub = ((this.lastId & 31) << 3) | (this.varintIndex === 0 ? this.type : 7); break;
      case Cls.Uint: case Cls.Sint: case Cls.Item: sub = ((this.id & 31) << 3) | Math.min(this.varintIndex, 7); break;
      case Cls.Len: sub = (this.type << 4) | Math.min(this.varintIndex, 15); break;
      case Cls.Bytes: sub = Math.min(this.remaining, 255) > 64 ? 0 : 1; break;
      case Cls.Addr: case Cls.Port: case Cls.U64: sub = Math.min(this.remaining, 255); break;
      default: sub = Math.min(this.varintIndex, 255);
    }
    return (this.cls * contextsPerClass + (sub & 0xff)) * nodesPerContext;
  }

  push(b: number) {
    this.prev = b;
    switch (this.cls) {
      case Cls.Cmd: return this.varint(b, () => this.openList());
      case Cls.Count: return this.varint(b, (n) => { this.counts.push(n); this.nextObject(); });
      case Cls.Key: return this.varint(b, (n) => {
        this.type = n % 8;
        this.id = (n - this.type) / 8;
        this.lastId = this.id;
        this.startValue();
      });
      case Cls.Uint: return this.varint(b, () => this.endValue());
      case Cls.Sint: return this.varint(b, () => this.endValue());
      case Cls.Len: return this.varint(b, (n) => {
        if (n === 0) return this.endValue();
        if (this.type === 4) { this.itemsLeft = n; this.cls = Cls.Item; return; }
        this.remaining = n;
        this.cls = this.type === 1 ? Cls.Str : Cls.Bytes;
      });
      case Cls.Str: case Cls.Bytes: case Cls.Addr: case Cls.Port: case Cls.U64:
        if (--this.remaining > 0) return;
        if (this.cls === Cls.Addr) { this.cls = Cls.Port; this.remaining = 2; return; }
        return this.endValue();
      case Cls.AddrFam:
        if (b !== 4 && b !== 6) return this.broken();
        this.cls = Cls.Addr;
        this.remaining = b === 4 ? 4 : 16;
        return;
      case Cls.Item:
        return this.varint(b, () => { if (--this.itemsLeft <= 0) this.endValue(); });
      default: return;
    }
  }

  private varint(b: number, done: (n: number) => void) {
    this.varintValue += (b & 0x7f) * 2 ** (7 * this.varintIndex);
    this.varintIndex++;
    if (b >= 0x80) { if (this.varintIndex >= 8) this.broken(); return; }
    const n = this.varintValue;
    this.varintIndex = 0;
    this.varintValue = 0;
    done(n);
  }

  private openList() {
    if (this.counts.length >= 8) return this.broken();
    this.cls = Cls.Count;
    this.lastId = 0;
  }

  private nextObject() {
    while (this.counts.length > 0 && this.counts[this.counts.length - 1] === 0) this.counts.pop();
    if (this.counts.length === 0) { this.cls = Cls.Other; return; }
    this.counts[this.counts.length - 1]--;
    this.cls = Cls.Key;
  }

  private startValue() {
    switch (this.type) {
      case 0: this.cls = Cls.Uint; return;
      case 1: case 3: this.cls = Cls.Len; return;
      case 2: this.cls = Cls.AddrFam; return;
      case 4: this.cls = Cls.Len; return;
      case 5: this.openList(); return;
      case 6: this.cls = Cls.Sint; return;
      case 7: this.cls = Cls.U64; this.remaining = 8; return;
      default: this.broken();
    }
  }

  private endValue() { this.nextObject(); }

  private broken() { this.cls = Cls.Other; this.counts = []; }
}

// The model: one probability per (class, sub-context, bit-tree node).
const probs = new Uint16Array(classes * contextsPerClass * nodesPerContext).fill(probInit);

/** Undo log: slots touched while coding one message, restored afterwards. */
class Scratch {
  private readonly touched: number[] = [];
  private readonly saved: number[] = [];
  note(i: number) { this.touched.push(i); this.saved.push(probs[i]); }
  restore() {
    for (let k = this.touched.length - 1; k >= 0; k--) probs[this.touched[k]] = this.saved[k];
    this.touched.length = 0;
    this.saved.length = 0;
  }
}
const scratch = new Scratch();

function encodeBytes(raw: Uint8Array, enc: RangeEncoder | undefined, keep: boolean) {
  const t = new ShapeTracker();
  for (const byte of raw) {
    const base = t.context();
    let node = 1;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      const i = base + node;
      if (!keep) scratch.note(i);
      if (enc) enc.encodeBit(probs, i, b);
      else probs[i] += b === 0 ? ((2048 - probs[i]) >>> 4) : -(probs[i] >>> 4);
      node = (node << 1) | b;
    }
    t.push(byte);
  }
}

/** Range-codes `raw` (an encoded message); the model returns to its shared state afterwards. */
export function compressBytes(raw: Uint8Array): Uint8Array {
  const enc = new RangeEncoder();
  try { encodeBytes(raw, enc, false); } finally { scratch.restore(); }
  return enc.finish();
}

/**
 * Decodes exactly `length` bytes. Work is bounded by `length` (itself bounded by the caller),
 * whatever the input holds; input that is mostly missing is refused as garbage.
 */
export function decompressBytes(coded: Uint8Array, length: number): Result<Uint8Array> {
  if (length > messageBytesMax) return err('too-large', `compressed message claims ${length} bytes`);
  const dec = new RangeDecoder(coded);
  const out = new Uint8Array(length);
  const t = new ShapeTracker();
  try {
    for (let k = 0; k < length; k++) {
      const base = t.context();
      let node = 1;
      for (let bit = 0; bit < 8; bit++) {
        const i = base + node;
        scratch.note(i);
        node = (node << 1) | dec.decodeBit(probs, i);
      }
      const byte = node & 0xff;
      out[k] = byte;
      t.push(byte);
    }
  } finally {
    scratch.restore();
  }
  return ok(out);
}

/** Trains the shared model on the priming messages: run once, identically, on every node. */
export function primeModel(messages: Uint8Array[], rounds: number) {
  for (let r = 0; r < rounds; r++) for (const m of messages) encodeBytes(m, undefined, true);
}
