// One direction of one traffic class of a session (signaling or media): its key, its rekeying
// and, on the receiving side, its replay window. Sans-IO; `now` only decides when to rekey.
//
// Rekeying (Noise §11.3 REKEY, QUIC-style key phases). The sender moves to the next key
// k' = REKEY(k) after `afterMessages` packets or `afterMs` of use, whichever comes first, and
// flips the phase bit it sends in every header. The 64-bit counter runs on across phases, so
// one replay window covers the whole session. The receiver follows without being told: a packet
// of the other phase is tried with the next key (newer counters) or the previous one (older
// counters: a straggler from before the change), so reordering across the boundary loses
// nothing. A whole phase lost in transit (possible when a time-based rekey fires on sparse
// traffic) is bridged by trying the key after next for a same-phase packet that the current
// key refuses. Memory: three keys per direction; no timers.
import type { TransportKey } from '../crypto/noise.ts';
import { ReplayWindow } from '../crypto/replay-window.ts';
import { type Result, ok, err } from '../wire/result.ts';

export interface RekeyPolicy {
  /** Packets sealed under one key before the next; default 1 000 000. */
  afterMessages: number;
  /** Milliseconds one key is used before the next; default 120 000 (as WireGuard). */
  afterMs: number;
}

export const defaultRekeyPolicy: RekeyPolicy = { afterMessages: 1_000_000, afterMs: 120_000 };

export class SendChannel {
  private phaseBit: 0 | 1 = 0;
  private counter = 0n;
  private sealedWithKey = 0;
  private keySinceMs: number;
  rekeys = 0;

  constructor(private key: TransportKey, private readonly policy: RekeyPolicy, now: number) {
    this.keySinceMs = now;
  }

  /** The key, phase and counter for the next packet, moving to the next key first when due. */
  next(now: number): { key: TransportKey; phase: 0 | 1; counter: bigint } {
    if (this.sealedWithKey >= this.policy.afterMessages || now - this.keySinceMs >= this.policy.afterMs) {
      this.key = this.key.rekeyed();
      this.phaseBit ^= 1;
      this.sealedWithKey = 0;
      this.keySinceMs = now;
      this.rekeys++;
    }
    this.sealedWithKey++;
    return { key: this.key, phase: this.phaseBit, counter: this.counter++ };
  }
}

export class ReceiveChannel {
  private phaseBit: 0 | 1 = 0;
  private previous: TransportKey | undefined;
  /** First counter seen under the current key: the other phase below it is the previous key. */
  private phaseStart = 0n;
  readonly replay = new ReplayWindow();
  rekeys = 0;

  constructor(private current: TransportKey) {}

  /** Opens a packet; 'replayed' for a counter already seen or too old. Never throws. */
  open(phase: 0 | 1, counter: bigint, ciphertext: Uint8Array, ad: Uint8Array): Result<Uint8Array> | 'replayed' {
    if (!this.replay.check(counter)) return 'replayed';
    let plain: Result<Uint8Array>;
    if (phase === this.phaseBit) {
      plain = this.current.open(counter, ciphertext, ad);
      if (!plain.ok && counter >= this.phaseStart) {
        // The sender may have moved on twice while a whole phase was lost.
        const skipped = this.current.rekeyed();
        const skip = skipped.rekeyed();
        const p = skip.open(counter, ciphertext, ad);
        if (p.ok) { this.advance(skip, skipped, counter, 2); plain = p; }
      }
    } else if (counter < this.phaseStart) {
      plain = this.previous ? this.previous.open(counter, ciphertext, ad) : err('decrypt-failed', 'no previous key');
    } else {
      const next = this.current.rekeyed();
      plain = next.open(counter, ciphertext, ad);
      if (plain.ok) { this.phaseBit = phase; this.advance(next, this.current, counter, 1); }
    }
    if (!plain.ok) return plain;
    this.replay.accept(counter);
    return ok(plain.value);
  }

  /** The highest counter accepted so far (-1 before any). */
  get newestCounter(): bigint { return this.replay.newestCounter; }

  private advance(key: TransportKey, previous: TransportKey, counter: bigint, steps: number) {
    this.previous = previous;
    this.current = key;
    this.phaseStart = counter;
    this.rekeys += steps;
  }
}
