// Messages a sans-IO core has produced and its driver has not yet taken: destinations and bytes
// in two parallel arrays, drained in order. No object per message — the simulator drains
// ~10^6 of them per second — and the arrays keep their capacity between drains.
export class Outbox<To> {
  private readonly to: To[] = [];
  private readonly bytes: (Uint8Array | undefined)[] = [];
  private n = 0;
  private at = 0;
  /** The destination of the message `take` returned last. */
  lastTo!: To;

  get size(): number { return this.n - this.at; }

  push(to: To, bytes: Uint8Array) { this.to[this.n] = to; this.bytes[this.n++] = bytes; }

  /** The next message's bytes (its destination in `lastTo`), or undefined once drained. */
  take(): Uint8Array | undefined {
    if (this.at === this.n) { this.n = this.at = 0; return undefined; }
    this.lastTo = this.to[this.at];
    const b = this.bytes[this.at];
    this.bytes[this.at++] = undefined;
    return b;
  }
}
