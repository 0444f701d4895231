// Fuzz targets for the wire layer and every decoder that reads bytes from the network.
// Inputs are random, or mutations (bit flips, byte changes, truncations, splices, length
// lies) of seeds: the docs/wire.md test vectors and the compression priming messages. Each
// target checks its own bound on what it may allocate; the runner watches time and memory.
import fs from 'node:fs';
import path from 'node:path';
import { decodeMessage, decodeObjectList, messageBytesMax } from '../src/wire/object-list.ts';
import { unpackMessage, packMessage } from '../src/wire/envelope.ts';
import { decodeFragment, Reassembler } from '../src/wire/fragment.ts';
import { primingMessages } from '../src/wire/priming.ts';
import { decodePacket } from '../src/session/packet.ts';
import { Endpoint } from '../src/session/endpoint.ts';
import { x25519FromPrivate, ed25519FromSeed } from '../src/crypto/keys.ts';
import { createIdentityProof } from '../src/crypto/identity-proof.ts';
import { decodeMediaFrame } from '../src/media/frame.ts';
import { verifyPresence } from '../src/overlay/presence.ts';
import { verifyCertificate } from '../src/crypto/certificate.ts';
import { consumeIdentityProof } from '../src/crypto/identity-proof.ts';
import * as overlay from '../src/overlay/protocol.ts';
import * as login from '../src/login/protocol.ts';
import * as calls from '../src/calls/protocol.ts';
import * as chat from '../src/chat/protocol.ts';
import * as conference from '../src/calls/conference-protocol.ts';
import * as nat from '../src/nat/protocol.ts';
import * as overlayCore from '../src/overlay/messages.ts';
import * as entries from '../src/overlay/entries.ts';
import * as reach from '../src/node/reach-check.ts';
import { decodeMediaPacket } from '../src/media/frame.ts';
import { NatPmpClient, natPmpPort } from '../src/nat/port-mapping.ts';
import { PortMapper } from '../src/nat/port-mapper.ts';
import { RelayPlane } from '../src/relay/relay-plane.ts';
import { RelayTable } from '../src/relay/relay-table.ts';

export interface Rng { u32(): number; int(n: number): number; bytes(n: number): Uint8Array }

export function rng(seed: number): Rng {
  let s = seed >>> 0 || 1;
  const u32 = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  return { u32, int: (n) => u32() % n, bytes: (n) => Uint8Array.from({ length: n }, () => u32() & 0xff) };
}

export function seeds(): Uint8Array[] {
  const vectorsFile = path.resolve(import.meta.dirname, '../test/wire/vectors.json');
  const vectors = (JSON.parse(fs.readFileSync(vectorsFile, 'utf8')) as { hex: string }[]).map((v) => new Uint8Array(Buffer.from(v.hex, 'hex')));
  const priming = primingMessages();
  return [...vectors, ...priming, ...priming.slice(0, 40).map((m) => packMessage(m))];
}

export function mutate(r: Rng, seed: Uint8Array, pool: Uint8Array[]): Uint8Array {
  const b = seed.slice();
  switch (r.int(7)) {
    case 0: return r.bytes(r.int(300));
    case 1: { for (let i = 0, n = 1 + r.int(4); i < n && b.length; i++) b[r.int(b.length)] ^= 1 << r.int(8); return b; }
    case 2: { for (let i = 0, n = 1 + r.int(4); i < n && b.length; i++) b[r.int(b.length)] = [0, 0x7f, 0x80, 0xff, r.u32() & 0xff][r.int(5)]; return b; }
    case 3: return b.subarray(0, r.int(b.length + 1));
    case 4: { const o = pool[r.int(pool.length)]; const at = r.int(b.length + 1); return concat(b.subarray(0, at), o.subarray(r.int(o.length + 1))); }
    case 5: { // a length or count that lies: a long varint in a random place
      const at = r.int(b.length + 1);
      return concat(b.subarray(0, at), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f), b.subarray(at));
    }
    default: { const at = r.int(b.length + 1); return concat(b.subarray(0, at), r.bytes(r.int(8)), b.subarray(at)); }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Bytes held by a decoded value: strings, byte strings and integer lists. */
function heldBytes(v: unknown, depth = 0): number {
  if (depth > 10) return 0;
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.length * 8;
  if (v instanceof Map) { let n = 0; for (const x of v.values()) n += 8 + heldBytes(x, depth + 1); return n; }
  if (typeof v === 'object' && v !== null) { let n = 0; for (const x of Object.values(v)) n += 8 + heldBytes(x, depth + 1); return n; }
  return 8;
}

const loginKey = new Uint8Array(32).fill(7);
const staticKey = new Uint8Array(32).fill(9);
type Decoder = { decode: (l: Uint8Array) => { ok: boolean; value?: unknown } };
const commandSchemas = ([overlay, login, calls, chat, conference, nat, overlayCore, entries, reach].flatMap((m) => Object.values(m)) as unknown[])
  .filter((c): c is Decoder => typeof c === 'object' && c !== null && 'decode' in c);

export type Target = (input: Uint8Array) => string | undefined; // a violated bound, or undefined

export const targets: Record<string, Target> = {
  'object-list': (b) => {
    const d = decodeObjectList(b);
    if (d.ok && heldBytes(d.value) > 8 * b.length + 64) return `decoded value holds ${heldBytes(d.value)} bytes from ${b.length}`;
    return undefined;
  },
  message: (b) => {
    const d = decodeMessage(b);
    if (!d.ok) return undefined;
    // Schemas decode the body in one pass of their own: whatever one accepts, the generic
    // reader must accept too (one set of rules), and nothing may hold more than the input.
    const list = decodeObjectList(d.value.body);
    let held = list.ok ? heldBytes(list.value) : 0;
    for (const s of commandSchemas) {
      const fields = s.decode(d.value.body);
      if (!fields.ok) continue;
      if (!list.ok) return `a schema accepted a body the object-list reader refuses (${list.error.code})`;
      held = Math.max(held, heldBytes(fields.value));
    }
    return held > 8 * b.length + 64 ? 'message holds more than its input' : undefined;
  },
  envelope: (b) => {
    const d = unpackMessage(b);
    if (d.ok && (d.value.length > messageBytesMax || (b[0] === 1 && d.value.length > (b.length + 8) * 512))) return `decompressed to ${d.value.length} bytes from ${b.length}`;
    if (d.ok) decodeMessage(d.value);
    return undefined;
  },
  fragment: (() => {
    const r = new Reassembler();
    let t = 0;
    return (b: Uint8Array) => {
      decodeFragment(b);
      r.add(b, t++);
      return r.bytesHeld > 2 * 1024 * 1024 ? `reassembler holds ${r.bytesHeld} bytes` : undefined;
    };
  })(),
  'session-packet': (b) => { decodePacket(b); return undefined; },
  endpoint: (() => {
    // A whole session endpoint (header unmasking, handshakes, replay window) fed hostile datagrams.
    const r = rng(99);
    const staticKey = x25519FromPrivate(r.bytes(32));
    const ep = new Endpoint({
      staticKey, random: r.bytes,
      identityPayload: createIdentityProof('node', ed25519FromSeed(r.bytes(32)), staticKey.publicKey),
      verifyPeer: () => ({ ok: false, error: { code: 'no', message: 'fuzz' } }),
    });
    let t = 0;
    return (b: Uint8Array) => {
      ep.handleDatagram('udp:203.0.113.1:1', b, t++);
      ep.handleTimeout(t);
      while (ep.pollTransmit());
      while (ep.pollEvent());
      return undefined;
    };
  })(),
  'media-frame': (b) => { const f = decodeMediaFrame(b); return f.ok && f.value.payload.length > 1275 ? 'oversized media payload' : undefined; },
  'media-packet': (b) => { const p = decodeMediaPacket(b); return p.ok && b.length > 1500 ? 'accepted an oversized media packet' : undefined; },
  'nat-pmp': (() => {
    // Answers claiming to come from the gateway: parsed, never trusted beyond their bytes.
    const c = new NatPmpClient({ gateway: { host: '100.64.1.1', port: natPmpPort }, internalPort: 5000 });
    let t = 0;
    c.start(t);
    return (b: Uint8Array) => {
      c.handleDatagram(`udp:100.64.1.1:${natPmpPort}`, b, t++);
      c.handleTimeout(t);
      while (c.pollTransmit());
      return undefined;
    };
  })(),
  'port-mapper': (() => {
    // PCP / NAT-PMP answers, SSDP answers and HTTP bodies from a hostile gateway: never a throw.
    const r = rng(11);
    const m = new PortMapper({ gateway: { host: '100.64.1.1', port: 0 }, internalHost: '100.64.1.10', internalPort: 5000, random: (n) => r.bytes(n) });
    let t = 0;
    m.start(t);
    return (input: Uint8Array) => {
      // A quarter of the inputs carry PCP's version byte, so they reach past the first check.
      const b = input.slice();
      if (b.length > 1 && (b[0] & 3) === 0) b[0] = 2;
      m.handleDatagram(`udp:100.64.1.1:${natPmpPort}`, b, t++);
      m.handleSsdp({ host: '100.64.1.1', port: 1900 }, b, t);
      m.handleHttp(b.length > 0 ? b[0] : 0, { status: 200, body: new TextDecoder().decode(b) }, t);
      m.handleTimeout(t);
      while (m.pollTransmit());
      while (m.pollRequest());
      return undefined;
    };
  })(),
  'relay-plane': (() => {
    // A supernode's relay data plane fed hostile datagrams from a source that holds channels.
    const r = rng(7);
    const table = new RelayTable(r.bytes);
    const plane = new RelayPlane(r.bytes, table, () => {});
    table.tokenFor('udp:203.0.113.5:4000');
    const bound = plane.bind('udp:203.0.113.5:4000', 'alice', table.tokenFor('udp:203.0.113.6:4000'), 0);
    if (!bound.ok) throw new Error(`fuzz set-up: ${bound.error.message}`);
    let t = 0;
    return (b: Uint8Array) => {
      plane.handle('udp:203.0.113.5:4000', b, t++);
      while (plane.pollTransmit());
      return undefined;
    };
  })(),
  'signed-records': (b) => {
    verifyPresence(b, loginKey, 1_800_000_000_000);
    verifyCertificate(b, loginKey, 1_800_000_000_000);
    consumeIdentityProof(b, staticKey, loginKey, 1_800_000_000_000);
    return undefined;
  },
};

export interface FuzzReport { target: string; tried: number; failures: { input: string; problem: string }[] }

/** Runs every target for `seconds` (or `iterations` each, whichever ends first). */
export function fuzzWire(o: { seconds: number; iterations?: number; seed?: number }): FuzzReport[] {
  const r = rng(o.seed ?? 1);
  const pool = seeds();
  const names = Object.keys(targets);
  const perTargetMs = (o.seconds * 1000) / names.length;
  const reports: FuzzReport[] = [];
  const baseline = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;
  for (const name of names) {
    const report: FuzzReport = { target: name, tried: 0, failures: [] };
    const start = performance.now();
    while ((o.iterations === undefined || report.tried < o.iterations) && (o.iterations !== undefined || performance.now() - start < perTargetMs)) {
      if (o.iterations !== undefined && o.seconds > 0 && performance.now() - start > perTargetMs) break;
      const input = mutate(r, pool[r.int(pool.length)], pool);
      const t0 = performance.now();
      let problem: string | undefined;
      try { problem = targets[name](input); } catch (e) { problem = `threw: ${(e as Error).message}`; }
      const took = performance.now() - t0;
      if (took > 1000) problem = `took ${took.toFixed(0)} ms (hang)`;
      if (problem && report.failures.length < 20) report.failures.push({ input: Buffer.from(input).toString('hex'), problem });
      report.tried++;
      if (report.tried % 2000 === 0) {
        const mem = process.memoryUsage();
        if (mem.arrayBuffers + mem.heapUsed - baseline > 512 * 1024 * 1024) {
          report.failures.push({ input: Buffer.from(input).toString('hex'), problem: 'memory grew past 512 MiB' });
          break;
        }
      }
    }
    reports.push(report);
  }
  return reports;
}
