// Verified reachability, for promotion (docs/overlay.md, "Promotion"): a node never declares
// itself reachable; other supernodes find out.
//
//   node → its supernode S        ReachRequest { port? }          (probe me here; default: where you see me)
//   S → another supernode P       ReachProbe   { target }
//   P → target, a fresh session   ReachPing    { size }           (unsolicited: only a reachable host answers)
//   target → P                    Ok + `size` bytes of filler     (P times it: a lower bound of the target's upstream)
//   P → S                         ReachProbeOk { reachable, rttMs, bitsPerSecond }
//   S → node                      ReachOk      { reachable, by: P, rttMs, bitsPerSecond, promotion }
//
// `promotion` is the network-wide switch the login server hands out with its supernode list.
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';
import type { Rpc } from '../session/rpc.ts';
import type { Message } from '../wire/object-list.ts';
import { errorBytes, describeFailure } from '../wire/replies.ts';
import { udpPath, addressOfUdpPath } from '../session/paths.ts';
import type { Address } from '../wire/address.ts';

export const ReachRequest = command(Cmd.ReachRequest, { port: f.uint(1, 65535).opt() });
export const ReachOk = command(Cmd.ReachOk, {
  reachable: f.bool(1), by: f.address(2).opt(), rttMs: f.uint(3).opt(), bitsPerSecond: f.uint(4).opt(), promotion: f.bool(5),
});
export const ReachProbe = command(Cmd.ReachProbe, { target: f.address(1) });
export const ReachProbeOk = command(Cmd.ReachProbeOk, { reachable: f.bool(1), rttMs: f.uint(2).opt(), bitsPerSecond: f.uint(3).opt() });
export const ReachPing = command(Cmd.ReachPing, { size: f.uint(1, 65536) });
export const ReachPong = command(Cmd.Ok, { filler: f.bytes(1, 65536).opt() });

// Implementation constants.
const probeTimeoutMs = 4000;
/** Specification: filler bytes a probed node sends back (the bandwidth sample). */
export const reachFillerBytes = 16 * 1024;

/** S: asks a peer supernode other than itself to probe the requester. */
export function requestReachCheck(rpc: Rpc, peers: Address[], promotion: boolean, path: string, m: Message,
  reply: (b: Uint8Array) => void, now: number, pick: (n: number) => number) {
  const q = ReachRequest.decode(m.body);
  const seen = addressOfUdpPath(path);
  if (!q.ok || !seen) return reply(errorBytes('bad-request', q.ok ? 'reachability is only checked on direct UDP paths' : q.error.message));
  // Switched off network-wide: no probe. Nobody else to ask yet: no verdict either way.
  if (!promotion) return reply(ReachOk.toBytes({ reachable: false, promotion }));
  if (peers.length === 0) return reply(errorBytes('no-prober', 'no other supernode to probe from yet'));
  const by = peers[pick(peers.length)];
  // Only the address the request came from (its port may differ: a node asks about its supernode socket).
  const target = { host: seen.host, port: q.value.port ?? seen.port };
  rpc.request(udpPath(by), ReachProbe.toBytes({ target }), now, (r) => {
    const a = r.ok && r.value.message.command === Cmd.ReachProbeOk ? ReachProbeOk.decode(r.value.message.body) : undefined;
    if (!a?.ok) return reply(ReachOk.toBytes({ reachable: false, by, promotion }));
    reply(ReachOk.toBytes({ ...a.value, by, promotion }));
  }, { timeoutMs: probeTimeoutMs * 2 });
}

/** P: probes the target over a session of its own, unsolicited by the target. Only supernodes may ask. */
export function probeReach(rpc: Rpc, fromPeer: boolean, m: Message, reply: (b: Uint8Array) => void, now: number, clock: () => number) {
  if (!fromPeer) return reply(errorBytes('not-a-peer', 'only supernodes ask for probes'));
  const q = ReachProbe.decode(m.body);
  if (!q.ok) return reply(errorBytes('bad-request', q.error.message));
  rpc.request(udpPath(q.value.target), ReachPing.toBytes({ size: reachFillerBytes }), now, (r) => {
    if (!r.ok || r.value.message.command !== Cmd.Ok) {
      return reply(ReachProbeOk.toBytes({ reachable: false }));
    }
    const p = ReachPong.decode(r.value.message.body);
    const rttMs = Math.max(1, clock() - now);
    const bytes = p.ok ? p.value.filler?.length ?? 0 : 0;
    reply(ReachProbeOk.toBytes({ reachable: true, rttMs, bitsPerSecond: Math.floor((bytes * 8 * 1000) / rttMs) }));
  }, { timeoutMs: probeTimeoutMs });
}

/** The probed side (a node, or a supernode being checked): answers with the filler asked for. */
export function answerReachPing(m: Message, reply: (b: Uint8Array) => void, random: (n: number) => Uint8Array) {
  const q = ReachPing.decode(m.body);
  // Random filler: zeros would compress away and measure nothing (and trip the decompression bound).
  reply(ReachPong.toBytes({ filler: q.ok ? random(Math.min(q.value.size, reachFillerBytes)) : undefined }));
}

export function describeReach(r: Message): string {
  return r.command === Cmd.ReachOk ? 'ok' : describeFailure(r).message;
}
