// Which supernode relays a call (decision 0027), as a pure function.
//
// The callee holds relay tokens at up to three supernodes — its own, and the ones it measured
// the lowest round-trip times to — and publishes each with its measured RTT in its signed
// presence record. The caller adds its own measured RTT to each and takes the relay with the
// smallest sum: the relayed path is caller → relay → callee, so that sum is (twice) the
// one-way delay the call's audio will have. Only measured figures count: an option whose RTT is
// unknown on either side is not compared, and when no option is measured on both sides the
// callee's own supernode (the first option) relays, as it always did.
import { type Address, formatAddress } from '../wire/address.ts';

export interface RelayOption { supernode: Address; token: number; calleeRttMs: number | undefined }
export interface RelayChoice { supernode: Address; token: number; totalMs: number | undefined; reason: string }

/**
 * `options`: the callee's published relays, its own supernode first. `callerRttMs`: our
 * measured RTT to a supernode, if any. Ties keep the published order (the callee's own first).
 */
export function chooseRelay(options: RelayOption[], callerRttMs: (a: Address) => number | undefined): RelayChoice | undefined {
  if (options.length === 0) return undefined;
  const scored = options.map((o) => {
    const mine = callerRttMs(o.supernode);
    const total = mine !== undefined && o.calleeRttMs !== undefined ? mine + o.calleeRttMs : undefined;
    return { o, mine, total };
  });
  let best: (typeof scored)[number] | undefined;
  for (const s of scored) if (s.total !== undefined && (best === undefined || s.total < best.total!)) best = s;
  const describe = (s: (typeof scored)[number]) => `${formatAddress(s.o.supernode)} ${s.total === undefined
    ? `(${s.mine === undefined ? 'our RTT unmeasured' : `${ms(s.mine)} from us`}, ${s.o.calleeRttMs === undefined ? "callee's unmeasured" : `${ms(s.o.calleeRttMs)} from the callee`})`
    : `${ms(s.total)}`}`;
  const others = (chosen: (typeof scored)[number]) => scored.filter((s) => s !== chosen).map(describe).join(', ');
  if (!best) {
    const first = scored[0];
    return {
      supernode: first.o.supernode, token: first.o.token, totalMs: undefined,
      reason: `relay ${formatAddress(first.o.supernode)}, the callee's own supernode: no relay has measured RTTs on both sides` +
        (scored.length > 1 ? ` (${others(first)})` : ''),
    };
  }
  const n = scored.filter((s) => s.total !== undefined).length;
  return {
    supernode: best.o.supernode, token: best.o.token, totalMs: best.total,
    reason: `relay ${formatAddress(best.o.supernode)}${best === scored[0] ? " (the callee's own supernode)" : ''}: RTT ${ms(best.mine!)} from us + ${ms(best.o.calleeRttMs!)} from the callee = ${ms(best.total!)}` +
      (n > 1 || scored.length > 1 ? `, the lowest of ${scored.length} relays (${others(best)})` : ''),
  };
}

const ms = (x: number) => `${Math.round(x)} ms`;
