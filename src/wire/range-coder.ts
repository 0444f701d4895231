// A binary adaptive range coder (the LZMA family's: 32-bit range, 11-bit probabilities,
// carry propagation through a cached byte). The seed says Skype compressed object lists with
// "a variation of arithmetic compression"; this is ours, and it is specified in docs/wire.md.
//
// Each bit is coded with a probability held in a Uint16Array slot chosen by the context
// model; after coding, the slot moves towards the bit seen (adaptation rate 1/2^adaptShift).
// The encoder ends on the value in its final interval with the most trailing zero bytes and
// drops them; the decoder reads zeros past the end of its input, so the two agree and a
// short message pays one or two bytes of coder overhead instead of five.

export const probBits = 11;
export const probOne = 1 << probBits;       // probabilities are in (0, 2048)
export const probInit = probOne >>> 1;
const adaptShift = 4;
const top = 2 ** 24;

export class RangeEncoder {
  private low = 0;            // up to 33 bits: the carry lives in bit 32
  private range = 0xffffffff;
  private cache = 0;
  private cacheSize = 1;
  private out: number[] = [];

  /** Codes one bit with the probability (of a 0) in probs[i], and adapts it. */
  encodeBit(probs: Uint16Array, i: number, bit: number) {
    const p = probs[i];
    const bound = (this.range >>> probBits) * p;
    if (bit === 0) {
      this.range = bound;
      probs[i] = p + ((probOne - p) >>> adaptShift);
    } else {
      this.low += bound;
      this.range = (this.range - bound) >>> 0;
      probs[i] = p - (p >>> adaptShift);
    }
    while (this.range < top) {
      this.range = (this.range * 256) >>> 0;
      this.shiftLow();
    }
  }

  private shiftLow() {
    if (this.low < 0xff000000 || this.low >= 2 ** 32) {
      const carry = this.low >= 2 ** 32 ? 1 : 0;
      let temp = this.cache;
      do {
        this.out.push((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(this.low / 2 ** 24) & 0xff;
    }
    this.cacheSize++;
    this.low = (this.low % 2 ** 24) * 256;
  }

  finish(): Uint8Array {
    // Any value in [low, low + range) decodes the same: pick the one with the most zero bytes.
    for (let s = 32; s > 0; s -= 8) {
      const unit = 2 ** s;
      const v = Math.ceil(this.low / unit) * unit;
      if (v < this.low + this.range) { this.low = v; break; }
    }
    for (let i = 0; i < 5; i++) this.shiftLow();
    let end = this.out.length;
    while (end > 1 && this.out[end - 1] === 0) end--;
    // The first byte is the initial cache, always 0 unless a carry reached it: keep it only then.
    const first = this.out[0] === 0 ? 1 : 0;
    if (first === 0) throw new Error('range coder: carry into the first byte'); // cannot happen: low < 2^32 at start
    return Uint8Array.from(this.out.slice(first, Math.max(first, end)));
  }
}

export class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  private pos = 0;

  constructor(private readonly input: Uint8Array) {
    for (let i = 0; i < 4; i++) this.code = ((this.code * 256) + this.next()) >>> 0;
  }

  private next(): number { return this.pos < this.input.length ? this.input[this.pos++] : (this.pos++, 0); }

  decodeBit(probs: Uint16Array, i: number): number {
    const p = probs[i];
    const bound = (this.range >>> probBits) * p;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[i] = p + ((probOne - p) >>> adaptShift);
      bit = 0;
    } else {
      this.code = (this.code - bound) >>> 0;
      this.range = (this.range - bound) >>> 0;
      probs[i] = p - (p >>> adaptShift);
      bit = 1;
    }
    while (this.range < top) {
      this.range = (this.range * 256) >>> 0;
      this.code = ((this.code * 256) + this.next()) >>> 0;
    }
    return bit;
  }
}
