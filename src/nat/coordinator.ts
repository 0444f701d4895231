// The supernode's part in hole punching: it tells each side where the other one is. The caller
// asks the callee's supernode (PunchRequest, with the callee's relay token); the supernode adds
// the address it sees the caller at and notifies the callee (PunchNotice); the callee starts
// punching at once and answers whether it sits behind a symmetric NAT, which the supernode
// passes back in PunchOk. The supernode learns only addresses it already sees.
import type { Rpc } from '../session/rpc.ts';
import type { Message } from '../wire/object-list.ts';
import { Cmd } from '../wire/commands.ts';
import { errorBytes, describeFailure } from '../wire/replies.ts';
import { addressOfUdpPath } from '../session/paths.ts';
import type { RelayTable } from '../relay/relay-table.ts';
import { PunchRequest, PunchOk, PunchNotice, PunchNoticeOk } from './protocol.ts';

// Implementation constants: a notice costs the callee a few hundred probes, so it is charged
// to the requester like relayed bytes are.
const noticeCostBytes = 4096;
const noticeTimeoutMs = 2000;

export function coordinatePunch(rpc: Rpc, relay: RelayTable, path: string, m: Message, reply: (b: Uint8Array) => void, now: number) {
  const q = PunchRequest.decode(m.body);
  if (!q.ok) return reply(errorBytes('bad-request', q.error.message));
  const observed = addressOfUdpPath(path);
  if (!observed) return reply(errorBytes('bad-request', 'punching is only coordinated on direct paths'));
  const target = relay.pathFor(q.value.to);
  if (!target) return reply(errorBytes('not-found', 'no node with that relay token here'));
  if (!relay.admit(path, noticeCostBytes, now)) return reply(errorBytes('over-quota', 'too many punch requests'));
  const candidates = [observed, ...q.value.candidates].slice(0, 9);
  rpc.request(target, PunchNotice.toBytes({ key: q.value.key, candidates, birthday: q.value.birthday }), now, (r) => {
    if (!r.ok) return reply(errorBytes('peer-unreachable', `the callee did not answer: ${r.error.message}`));
    if (r.value.message.command !== Cmd.PunchNoticeOk) { const f = describeFailure(r.value.message); return reply(errorBytes(f.code, f.message)); }
    const a = PunchNoticeOk.decode(r.value.message.body);
    reply(PunchOk.toBytes({ observed, birthday: a.ok ? a.value.birthday : undefined }));
  }, { timeoutMs: noticeTimeoutMs });
}
