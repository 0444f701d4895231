// Anti-replay window over 64-bit packet counters (RFC 6479's bitmap, as WireGuard uses):
// a counter is accepted once, if it is newer than anything seen or within `sizeBits` of the
// newest and not yet seen. Memory is fixed, whatever a peer sends.
export class ReplayWindow {
  private readonly bits: Uint32Array;
  private readonly size: bigint;
  private newest = -1n;

  constructor(readonly sizeBits = 2048) {
    if (sizeBits % 32 !== 0 || sizeBits <= 0) throw new RangeError('window size must be a positive multiple of 32');
    this.bits = new Uint32Array(sizeBits / 32);
    this.size = BigInt(sizeBits);
  }

  get newestCounter(): bigint { return this.newest; }

  check(counter: bigint): boolean {
    if (counter < 0n) return false;
    if (counter > this.newest) return true;
    if (this.newest - counter >= this.size) return false;
    const i = Number(counter % this.size);
    return (this.bits[i >>> 5] & (1 << (i & 31))) === 0;
  }

  accept(counter: bigint): boolean {
    if (!this.check(counter)) return false;
    if (counter > this.newest) {
      // Clear the slots the window slides over (all of them after a jump of a whole window).
      const gap = counter - this.newest;
      if (gap >= this.size) this.bits.fill(0);
      else for (let c = this.newest + 1n; c <= counter; c++) { const i = Number(c % this.size); this.bits[i >>> 5] &= ~(1 << (i & 31)); }
      this.newest = counter;
    }
    const i = Number(counter % this.size);
    this.bits[i >>> 5] |= 1 << (i & 31);
    return true;
  }
}
