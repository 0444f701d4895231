// The relay side of a supernode: tokens naming attached peers, and per-peer quotas.
// A relay only moves sealed end-to-end packets between two of its sessions; it never sees
// plaintext and never needs to know who the users are.

// Implementation defaults; per-user quotas from configuration come with the NAT issue.
export interface RelayQuota { packetsPerSecondMax: number; bytesPerSecondMax: number }
export const defaultRelayQuota: RelayQuota = { packetsPerSecondMax: 400, bytesPerSecondMax: 200_000 };

interface Bucket { windowStartMs: number; packets: number; bytes: number }

export class RelayTable {
  private readonly tokenByPath = new Map<string, number>();
  private readonly pathByToken = new Map<number, string>();
  private readonly usage = new Map<string, Bucket>();
  readonly stats = { relayed: 0, forwarded: 0, unknownTarget: 0, overQuota: 0 };

  constructor(private readonly random: (n: number) => Uint8Array, private readonly quota = defaultRelayQuota) {}

  tokenFor(path: string): number {
    let t = this.tokenByPath.get(path);
    if (t !== undefined) return t;
    do {
      const b = this.random(4);
      t = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    } while (t === 0 || this.pathByToken.has(t));
    this.tokenByPath.set(path, t);
    this.pathByToken.set(t, path);
    return t;
  }

  pathFor(token: number): string | undefined { return this.pathByToken.get(token); }

  forget(path: string) {
    const t = this.tokenByPath.get(path);
    if (t !== undefined) this.pathByToken.delete(t);
    this.tokenByPath.delete(path);
    this.usage.delete(path);
  }

  /** Charges a packet to its sender; false when the sender is over quota (the packet is dropped). */
  admit(fromPath: string, bytes: number, now: number): boolean {
    let b = this.usage.get(fromPath);
    if (!b || now - b.windowStartMs >= 1000) { b = { windowStartMs: now, packets: 0, bytes: 0 }; this.usage.set(fromPath, b); }
    if (b.packets + 1 > this.quota.packetsPerSecondMax || b.bytes + bytes > this.quota.bytesPerSecondMax) {
      this.stats.overQuota++;
      return false;
    }
    b.packets++; b.bytes += bytes;
    return true;
  }
}
