// Two Endpoints wired by hand: the test decides what reaches whom, when, from which address,
// and in what order — to lose, reorder, replay, tamper with or reroute any datagram.
import { Endpoint, type EndpointConfig, type EndpointEvent } from '../../src/session/endpoint.ts';
import { testIdentity, endpointConfig, type TestIdentity } from '../helpers/identities.ts';
import { prng } from '../helpers/prng.ts';

export const pathA = 'udp:203.0.113.1:1000';   // how B sees A
export const pathB = 'udp:203.0.113.2:2000';   // how A sees B

export interface Side { ep: Endpoint; id: TestIdentity; events: EndpointEvent[]; outbox: { path: string; bytes: Uint8Array }[] }

export function side(seed: number, random: (n: number) => Uint8Array, cfg: (base: EndpointConfig) => EndpointConfig = (c) => c): Side {
  const id = testIdentity(seed);
  return { ep: new Endpoint(cfg(endpointConfig(id, random))), id, events: [], outbox: [] };
}

/** Moves everything each side wants to send into its outbox, and its events into its list. */
export function drain(...sides: Side[]) {
  for (const s of sides) {
    for (let t = s.ep.pollTransmit(); t; t = s.ep.pollTransmit()) s.outbox.push(t);
    for (let e = s.ep.pollEvent(); e; e = s.ep.pollEvent()) s.events.push(e);
  }
}

export function createPair(opts: { seed?: number; a?: (c: EndpointConfig) => EndpointConfig; b?: (c: EndpointConfig) => EndpointConfig } = {}) {
  const r = prng(opts.seed ?? 7);
  const a = side(1, r.bytes, opts.a), b = side(2, r.bytes, opts.b);
  const clock = { now: 1_764_000_000_000 };
  /** Delivers both outboxes, in order, until nothing moves (A's datagrams arrive from pathA). */
  const flush = (from: { a?: string; b?: string } = {}) => {
    for (let round = 0; round < 20; round++) {
      drain(a, b);
      if (a.outbox.length === 0 && b.outbox.length === 0) return;
      for (const t of a.outbox.splice(0)) b.ep.handleDatagram(from.a ?? pathA, t.bytes, clock.now);
      for (const t of b.outbox.splice(0)) a.ep.handleDatagram(from.b ?? pathB, t.bytes, clock.now);
    }
    throw new Error('datagrams still moving after 20 rounds');
  };
  const messages = (s: Side) => s.events.filter((e): e is Extract<EndpointEvent, { type: 'message' }> => e.type === 'message');
  const text = (s: Side) => messages(s).map((e) => new TextDecoder().decode(e.payload));
  /** Establishes A → B (IK when `ik`), leaving both outboxes empty. */
  const establish = (ik = true) => {
    a.ep.connect(pathB, clock.now, ik ? { remoteStatic: b.id.static.publicKey } : {});
    flush();
    if (!a.ep.isEstablished(pathB) || !b.ep.isEstablished(pathA)) throw new Error('handshake did not complete');
  };
  /** A sends `payload` and returns the sealed datagram without delivering it. */
  const sealFromA = (payload: string, channel?: 0 | 1): Uint8Array => {
    a.ep.send(pathB, new TextEncoder().encode(payload), clock.now, channel);
    drain(a);
    return a.outbox.pop()!.bytes;
  };
  return { a, b, clock, flush, messages, text, establish, sealFromA };
}
