// Hole-punching messages (docs/reachability.md).
//   node → callee's supernode   PunchRequest { to: callee's relay token, key, candidates: our addresses }
//   supernode → node            PunchOk      { observed: where the supernode sees us from }
//   supernode → callee          PunchNotice  { key, candidates: [observed requester, ...its own candidates], birthday }
//   callee → supernode          PunchNoticeOk { birthday } (then the supernode answers PunchOk)
// The key only authenticates probes of this one attempt (src/nat/punch.ts); sessions are still
// Noise to the static key in the signed presence record.
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';

export const PunchRequest = command(Cmd.PunchRequest, {
  to: f.uint(1, 0xffffffff),
  key: f.bytes(2, 32, 16),
  candidates: f.addresses(3, 8),
  /** The requester is behind an endpoint-dependent (symmetric) NAT and opens many sockets. */
  birthday: f.bool(4).opt(),
});
export const PunchOk = command(Cmd.PunchOk, {
  observed: f.address(1),
  /** The callee is behind a symmetric NAT: we probe its address's ports at random. */
  birthday: f.bool(2).opt(),
});
export const PunchNotice = command(Cmd.PunchNotice, {
  key: f.bytes(1, 32, 16),
  candidates: f.addresses(2, 9),
  birthday: f.bool(3).opt(),
});
/** The callee's answer to the notice, passed on to the requester in PunchOk. */
export const PunchNoticeOk = command(Cmd.PunchNoticeOk, { birthday: f.bool(1).opt() });

// Measuring how long our NAT keeps an idle binding (src/nat/binding-timeout.ts):
//   node → supernode   BindingProbe { delayMs, nonce }  (answered Ok at once)
//   supernode → node   BindingEcho  { nonce }, a datagram delayMs later, on the same path
export const BindingProbe = command(Cmd.BindingProbe, {
  delayMs: f.uint(1, 0xffffffff),
  nonce: f.uint(2, 0xffffffff),
});
export const BindingEcho = command(Cmd.BindingEcho, { nonce: f.uint(1, 0xffffffff) });
