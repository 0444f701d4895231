// What the simulator needs from a supernode protocol core: the overlay core satisfies it, and
// so does the Kademlia baseline, so both run under the same network, churn and workload.
import type { ClientRef } from '../overlay/overlay-core.ts';
import type { Outbox } from '../overlay/outbox.ts';

export interface SimCore {
  readonly id: number;
  start(now: number, bootstrap: number[]): void;
  handlePeer(from: number, bytes: Uint8Array, now: number): void;
  handleClient(client: ClientRef, bytes: Uint8Array, now: number): void;
  handleTimeout(now: number): void;
  /** Messages for peers, by id, and answers for the users attached, until the simulator takes them. */
  readonly out: Outbox<number>;
  readonly answers: Outbox<ClientRef>;
  pollTimeout(): number | undefined;
}
