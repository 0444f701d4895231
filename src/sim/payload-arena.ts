// Datagram bytes in flight, kept in large chunks rather than as one object each. A run has
// ~10^5 datagrams in flight, each living for tens to hundreds of milliseconds of simulated
// time: as objects they survived young-generation collections and died old, and the
// collector's pauses were the largest share of a thread's time waiting for the others
// (docs/decisions/0033). Bytes are copied in when sent; the receiver gets a view. A chunk the
// arena no longer needs (everything in it delivered) is dropped, never rewritten, so a view a
// core keeps stays valid — and keeps its whole chunk alive: cores copy what they keep for long
// (the slot store does).
const chunkBytes = 1 << 20;
/** A handle is chunk · 2^21 + offset: one number in the agenda's columns. */
const offsetSpan = 2 ** 21;

export class PayloadArena {
  private readonly chunks: (Uint8Array | undefined)[] = [];
  /** Bytes still in flight per chunk. */
  private readonly live: number[] = [];
  private readonly unused: number[] = [];
  private cur = -1;
  private at = chunkBytes;

  /** Copies `len` bytes of `src` from `from` in; the handle to read and free them by. */
  put(src: Uint8Array, from: number, len: number): number {
    if (len > chunkBytes / 4) { const c = this.slot(src.slice(from, from + len)); this.live[c] = len; return c * offsetSpan; }
    if (this.at + len > chunkBytes) {
      const old = this.cur;
      this.cur = this.slot(new Uint8Array(chunkBytes));
      this.live[this.cur] = 0;
      this.at = 0;
      if (old >= 0 && this.live[old] === 0) this.drop(old);
    }
    const c = this.cur, at = this.at;
    const chunk = this.chunks[c]!;
    if (len <= 64) for (let i = 0; i < len; i++) chunk[at + i] = src[from + i];
    else chunk.set(src.subarray(from, from + len), at);
    this.at = (at + len + 7) & ~7;
    this.live[c] += len;
    return c * offsetSpan + at;
  }

  /** The bytes, as a view the receiver may keep. */
  get(h: number, len: number): Uint8Array {
    const c = Math.floor(h / offsetSpan), at = h - c * offsetSpan;
    return this.chunks[c]!.subarray(at, at + len);
  }

  free(h: number, len: number) {
    const c = Math.floor(h / offsetSpan);
    if ((this.live[c] -= len) === 0 && c !== this.cur) this.drop(c);
  }

  private slot(chunk: Uint8Array): number {
    const c = this.unused.pop() ?? this.chunks.length;
    this.chunks[c] = chunk;
    return c;
  }

  private drop(c: number) { this.chunks[c] = undefined; this.unused.push(c); }
}
