// How a node reaches the login server when UDP may not get through (decision 0026), sans-IO.
//
// A node that has never logged in has no certificate, so it cannot attach to a supernode and
// learn anything before it reaches the login server: the login server must be reachable the
// way supernodes are, over UDP first, else over TCP to the same address, else over TCP on
// port 443 of the same host (Skype's last resort; networks that let only HTTPS out) and any
// further TCP listener the node was told of.
//
// A request is never sent on two paths (a registration or a password change must not be
// handled twice): the route first opens a session, racing the candidates happy-eyeballs
// style — one more joins every stepMs while none is up — and the request goes on the first
// session that comes up; the attempts still pending are closed. The path that worked is tried
// first next time (a node that met a UDP-blocked network does not wait for UDP again).
import { type Address, formatAddress } from '../wire/address.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { udpPath, tcpPath } from '../session/paths.ts';

export interface LoginRouteConfig {
  login: Address;
  /** More TCP listeners of the login server, tried after its own port and port 443. */
  tcp?: Address[];
  /** Starts a session (handshake) on a path; closes one. */
  connect: (path: string, now: number) => void;
  close: (path: string, now: number) => void;
  isUp: (path: string) => boolean;
  stepMs?: number;     // default 1000: how long the last candidate has before the next joins
  giveUpMs?: number;   // default 9000
}

type Waiter = (r: Result<string>) => void;
interface Attempt { tried: string[]; failed: Map<string, string>; nextMs: number | undefined; deadlineMs: number; waiters: Waiter[] }

/** The ways to the login server, in the order tried on a fresh start. */
export function loginCandidates(login: Address, tcp: Address[] = []): string[] {
  const out = [udpPath(login), tcpPath(login)];
  if (login.port !== 443) out.push(tcpPath({ host: login.host, port: 443 }));
  for (const a of tcp) out.push(tcpPath(a));
  return [...new Set(out)];
}

export class LoginRoute {
  private readonly candidates: string[];
  private preferred: string | undefined;
  private attempt: Attempt | undefined;
  private readonly stepMs: number;
  private readonly giveUpMs: number;

  constructor(private readonly cfg: LoginRouteConfig) {
    this.candidates = loginCandidates(cfg.login, cfg.tcp);
    this.stepMs = cfg.stepMs ?? 1000;
    this.giveUpMs = cfg.giveUpMs ?? 9000;
  }

  /** Candidates in the order to try them: the one that worked last first. */
  paths(): string[] {
    return this.preferred ? [this.preferred, ...this.candidates.filter((p) => p !== this.preferred)] : [...this.candidates];
  }

  isLoginPath(path: string): boolean { return this.candidates.includes(path); }

  /** The path the login server was last reached on. */
  get preferredPath(): string | undefined { return this.preferred; }

  /** The transport the login server was last reached over. */
  get transport(): 'udp' | 'tcp' | undefined { return this.preferred?.startsWith('tcp:') ? 'tcp' : this.preferred ? 'udp' : undefined; }

  /** Calls back with a path whose session to the login server is up (or why none came up). */
  open(now: number, cb: Waiter) {
    const up = this.paths().find((p) => this.cfg.isUp(p));
    if (up) return cb(ok(up));
    if (this.attempt) { this.attempt.waiters.push(cb); return; }
    this.attempt = { tried: [], failed: new Map(), nextMs: now, deadlineMs: now + this.giveUpMs, waiters: [cb] };
    this.step(now);
  }

  /** A session came up (the node's session events): if it is to the login server, requests go there. */
  established(path: string, now: number) {
    if (!this.isLoginPath(path)) return;
    this.preferred = path;
    const a = this.attempt;
    if (!a) return;
    this.attempt = undefined;
    for (const p of a.tried) if (p !== path && !this.cfg.isUp(p)) this.cfg.close(p, now);
    for (const w of a.waiters) w(ok(path));
  }

  /** A handshake failed: the next candidate need not wait for its turn. */
  failed(path: string, now: number, reason = 'failed') {
    const a = this.attempt;
    if (!a || !a.tried.includes(path)) return;
    a.failed.set(path, reason);
    if (a.tried.length < this.candidates.length) return this.step(now);
    if (a.failed.size === a.tried.length) this.giveUp(now);
  }

  handleTimeout(now: number) {
    const a = this.attempt;
    if (!a) return;
    if (now >= a.deadlineMs) return this.giveUp(now);
    if (a.nextMs !== undefined && now >= a.nextMs) this.step(now);
  }

  pollTimeout(): number | undefined {
    const a = this.attempt;
    if (!a) return undefined;
    return a.nextMs === undefined ? a.deadlineMs : Math.min(a.nextMs, a.deadlineMs);
  }

  private step(now: number) {
    const a = this.attempt!;
    const next = this.paths().find((p) => !a.tried.includes(p));
    if (!next) { a.nextMs = undefined; return; }
    a.tried.push(next);
    a.nextMs = now + this.stepMs;
    this.cfg.connect(next, now);
  }

  private giveUp(now: number) {
    const a = this.attempt!;
    this.attempt = undefined;
    for (const p of a.tried) if (!this.cfg.isUp(p)) this.cfg.close(p, now);
    const how = a.tried.map((p) => `${p.replace(/^(udp|tcp):/, '$1 ')}${a.failed.has(p) ? ` (${a.failed.get(p)})` : ''}`).join(', ');
    for (const w of a.waiters) w(err('login-server-unreachable', `login server ${formatAddress(this.cfg.login)}: no session over ${how}`));
  }
}
