// Messages between nodes and supernodes, and among supernodes (docs/presence.md, docs/relay.md).
import { command, f } from '../wire/schema.ts';
import { Cmd } from '../wire/commands.ts';

/** A node attaching to a supernode; the answer tells the node how the world sees it. */
export const Hello = command(Cmd.Hello, {});
/** `tcpOf`/`tcpAt`: supernodes' extra TCP listeners, as in LoginOk (login/protocol.ts). */
export const HelloOk = command(Cmd.HelloOk, {
  observed: f.address(1),
  relayToken: f.uint(2, 0xffffffff),
  supernodes: f.addresses(3, 64),
  tcpOf: f.addresses(4, 64).opt(),
  tcpAt: f.addresses(5, 64).opt(),
  /** The supernode's IPv6 address, when it listens on one: a dual-stack node says Hello there too (src/nat/ipv6.ts). */
  address6: f.address(6).opt(),
});

export const Publish = command(Cmd.Publish, { record: f.bytes(1, 4096) });
export const Lookup = command(Cmd.Lookup, { user: f.string(1, 64), localOnly: f.bool(2).opt() });
/** The user's newest record, and the records of their other online devices (at most 7). */
export const LookupOk = command(Cmd.LookupOk, { record: f.bytes(1, 4096), others: f.bytesList(2, 7, 4096).opt() });

/** A supernode joining another: it says where it listens and learns who else is there. */
export const PeerHello = command(Cmd.PeerHello, { listen: f.address(1) });

/**
 * Relay and forwarding (docs/relay.md): a node hands a sealed end-to-end packet to a supernode
 * for the node holding token `to` there — or, with `hops`, for the node holding `to` at the
 * last supernode of the route. The first supernode stamps `from` (the sender's token there)
 * and `via` (itself) so the far end can answer along the same route.
 */
export const Relay = command(Cmd.Relay, {
  to: f.uint(1, 0xffffffff),
  packet: f.bytes(2, 2048),
  hops: f.addresses(3, 4).opt(),
  from: f.uint(4, 0xffffffff).opt(),
  via: f.address(5).opt(),
});
export const Relayed = command(Cmd.Relayed, {
  from: f.uint(1, 0xffffffff),
  packet: f.bytes(2, 2048),
  via: f.address(3).opt(),
});

/**
 * The relay data plane (docs/relay.md): a node asks for a channel to the node holding token
 * `to`; the answer names the channel, a secret check word and this node's relay key (the same
 * for all its channels at this supernode). Packets then travel as masked channel datagrams.
 */
export const RelayBind = command(Cmd.RelayBind, { to: f.uint(1, 0xffffffff) });
export const RelayBindOk = command(Cmd.RelayBindOk, {
  channel: f.uint(1, 0xffffffff),
  check: f.uint(2, 0xffffffff),
  key: f.bytes(3, 16, 16),
});
