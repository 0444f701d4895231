// How long our NAT keeps an idle UDP binding, measured, sans-IO — so keep-alives are sent
// just often enough (a NAT that forgets us makes us unreachable; one that keeps us for
// minutes does not need a packet every 15 s).
//
// Theory of operation. On a socket that carries nothing else, we ask a supernode to echo back
// `d` ms later (BindingProbe). Our request and its answer refresh the binding; then the path is
// idle for `d`, and the echo gets in only if the NAT still holds the binding (the echo comes
// from the address we wrote to, so even a port-restricted NAT lets it in). Delays grow along a
// ladder (default 5, 10, 20, 40, 80 s); a missing echo is tried once more (a lost packet is
// not an expired binding) before it counts. The binding lives at least the longest delay that
// worked and less than the first that failed twice; keep-alives go at 80 % of the former.
// Until the measurement ends, and if nothing works, the keep-alive is the safe default, 25 s.
//
//   commands: start(now)
//   inputs:   sent(nonce, now) (the supernode took the probe), failed() (it did not),
//             handleEcho(nonce, now), handleTimeout(now)
//   outputs:  pollProbe() → { delayMs, nonce } to send, pollTimeout(), result()

export interface BindingResult {
  /** An idle binding survived this long. */
  aliveMs: number | undefined;
  /** An idle binding was gone after this long (twice). */
  expiredMs: number | undefined;
  keepaliveMs: number;
  state: 'idle' | 'measuring' | 'done' | 'failed';
}

export interface BindingProbeConfig {
  ladderMs?: number[];
  random: (n: number) => Uint8Array;
  graceMs?: number;     // how late an echo may be; default 2000
}

export const defaultKeepaliveMs = 25_000;
const keepaliveMinMs = 1000;
const keepaliveMaxMs = 60_000;

export class BindingTimeoutProbe {
  private readonly ladder: number[];
  private readonly graceMs: number;
  private step = 0;
  private misses = 0;
  private waiting: { nonce: number; delayMs: number; deadlineMs: number | undefined } | undefined;
  private outbox: { delayMs: number; nonce: number } | undefined;
  private aliveMs: number | undefined;
  private expiredMs: number | undefined;
  private state: BindingResult['state'] = 'idle';

  constructor(private readonly cfg: BindingProbeConfig) {
    this.ladder = [...(cfg.ladderMs ?? [5000, 10_000, 20_000, 40_000, 80_000])].sort((a, b) => a - b);
    this.graceMs = cfg.graceMs ?? 2000;
  }

  start(_now: number) {
    if (this.state === 'measuring' || this.ladder.length === 0) return;
    this.state = 'measuring';
    this.step = 0;
    this.misses = 0;
    this.aliveMs = this.expiredMs = undefined;
    this.next();
  }

  pollProbe(): { delayMs: number; nonce: number } | undefined {
    const p = this.outbox;
    this.outbox = undefined;
    return p;
  }

  /** The supernode answered the probe: the binding was just refreshed, the idle time starts. */
  sent(nonce: number, now: number) {
    if (this.waiting?.nonce === nonce) this.waiting.deadlineMs = now + this.waiting.delayMs + this.graceMs;
  }

  /** The supernode did not take the probe: nothing can be measured now. */
  failed() {
    if (this.state !== 'measuring') return;
    this.waiting = undefined;
    this.state = this.aliveMs !== undefined ? 'done' : 'failed';
  }

  handleEcho(nonce: number, _now: number) {
    if (!this.waiting || this.waiting.nonce !== nonce) return;
    this.aliveMs = this.waiting.delayMs;
    this.waiting = undefined;
    this.misses = 0;
    this.step++;
    if (this.step >= this.ladder.length) { this.state = 'done'; return; }
    this.next();
  }

  handleTimeout(now: number) {
    const w = this.waiting;
    if (!w || w.deadlineMs === undefined || now < w.deadlineMs) return;
    this.waiting = undefined;
    if (++this.misses < 2) return this.next();
    this.expiredMs = w.delayMs;
    this.state = 'done';
  }

  pollTimeout(): number | undefined { return this.waiting?.deadlineMs; }

  result(): BindingResult {
    return { aliveMs: this.aliveMs, expiredMs: this.expiredMs, keepaliveMs: this.keepaliveMs(), state: this.state };
  }

  private keepaliveMs(): number {
    if (this.aliveMs !== undefined) return clamp(Math.floor(this.aliveMs * 0.8));
    // Even the shortest delay failed: stay well inside it.
    if (this.expiredMs !== undefined) return clamp(Math.floor(this.expiredMs * 0.4));
    return defaultKeepaliveMs;
  }

  private next() {
    const r = this.cfg.random(4);
    const nonce = ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) >>> 0;
    const delayMs = this.ladder[this.step];
    this.waiting = { nonce, delayMs, deadlineMs: undefined };
    this.outbox = { delayMs, nonce };
  }
}

function clamp(ms: number): number { return Math.min(keepaliveMaxMs, Math.max(keepaliveMinMs, ms)); }
