// Which address family a punched path uses when both peers have IPv6, sans-IO (Happy Eyeballs,
// RFC 8305, in spirit).
//
// Probes go to the peer's IPv6 and IPv4 candidates in parallel (IPv6 first in every tick), since
// a path that needs simultaneous open through two stateful firewalls or NATs only opens while
// both sides probe. The first IPv6 path that answers is taken at once. An IPv4 path that answers
// first is kept in hand for `v6WaitMs` more: if IPv6 answers meanwhile it wins, otherwise IPv4
// does. IPv6 wins a tie because it needs no NAT: no mapping to keep alive, no birthday sockets,
// no port a NAT may renumber mid-call, and the address in the record is the host's own.
//
//   inputs:  working(path, now) for each path that answered, handleTimeout(now)
//   outputs: chosen (the path, its family and why) once decided, pollTimeout()
import type { Address } from '../wire/address.ts';
import { addressOfUdpPath, parseSocketPath } from '../session/paths.ts';

export type Family = 4 | 6;

export const familyOf = (a: Address): Family => (a.host.includes(':') ? 6 : 4);

/** The family of a direct UDP path (udp: or a birthday socket's sK/udp:); undefined for relays and TCP. */
export function familyOfPath(path: string): Family | undefined {
  const a = addressOfUdpPath(path) ?? parseSocketPath(path)?.address;
  return a && familyOf(a);
}

export interface Chosen { path: string; family: Family; why: string }

export interface PreferenceConfig {
  /** Both sides have IPv6 in play (we have a working IPv6 socket and the peer an IPv6 candidate). */
  v6: boolean;
  /** How long an IPv4 path that answered first waits for IPv6; default 150 ms. */
  v6WaitMs?: number;
}

export class FamilyPreference {
  chosen: Chosen | undefined;
  private v4: { path: string; atMs: number } | undefined;
  private readonly waitMs: number;

  constructor(private readonly cfg: PreferenceConfig) {
    this.waitMs = cfg.v6WaitMs ?? 150;
  }

  /** A path answered (an ack, or a probe landing on a birthday socket). */
  working(path: string, now: number) {
    if (this.chosen) return;
    const family = familyOfPath(path) ?? 4;
    if (family === 6) {
      this.chosen = { path, family, why: this.v4 ? `over IPv6, preferred (IPv4 answered too, ${now - this.v4.atMs} ms earlier)` : 'over IPv6, preferred: both sides have it' };
      return;
    }
    if (!this.cfg.v6) { this.chosen = { path, family, why: '' }; return; }
    this.v4 ??= { path, atMs: now };
    if (this.waitMs <= 0) this.handleTimeout(now);
  }

  handleTimeout(now: number) {
    if (this.chosen || !this.v4 || now < this.v4.atMs + this.waitMs) return;
    this.chosen = { path: this.v4.path, family: 4, why: `over IPv4: IPv6 did not answer within ${this.waitMs} ms of IPv4` };
  }

  /** Waiting for IPv6 after IPv4 answered: when to give up on it. */
  pollTimeout(): number | undefined {
    return !this.chosen && this.v4 ? this.v4.atMs + this.waitMs : undefined;
  }

  /** IPv6 could still win: an IPv4 path is held back for it. */
  get waiting(): boolean { return !this.chosen && this.v4 !== undefined; }
}

/**
 * Why a path has the family it has, for the route reason a user reads. `ours`: we have
 * working IPv6; `theirs`: the peer published an IPv6 candidate.
 */
export function familyReason(family: Family | undefined, ours: boolean, theirs: boolean, why = ''): string {
  if (family === undefined) return '';
  if (why) return why;
  if (family === 6) return 'over IPv6';
  if (ours && theirs) return 'over IPv4';
  return ours ? 'over IPv4: the peer has no IPv6' : theirs ? 'over IPv4: no working IPv6 here' : '';
}
