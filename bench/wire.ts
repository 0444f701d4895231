// Encode + decode speed and encoded size of typical messages: ours (object lists through the
// schema layer) against protobufjs and msgpackr with equivalent schemas, in the same run.
import protobuf from 'protobufjs';
import { Packr } from 'msgpackr';
import { decodeMessage } from '../src/wire/object-list.ts';
import { PresenceBody } from '../src/overlay/presence.ts';
import { LookupOk } from '../src/overlay/protocol.ts';
import { CallInvite } from '../src/calls/protocol.ts';
import { Chat } from '../src/chat/protocol.ts';
import { command } from '../src/wire/schema.ts';
import { parseIPv4 } from '../src/wire/address.ts';
import { opsPerSecondInterleaved, printTable, ratio } from './harness.ts';

const proto = protobuf.parse(`
syntax = "proto3";
message Address { bytes ip = 1; uint32 port = 2; }
message Presence { string user = 1; bytes certificate = 2; bytes static_key = 3; repeated Address addresses = 4;
  Address supernode = 5; uint32 relay_token = 6; uint64 published_at_ms = 7; uint64 expires_at_ms = 8; }
message LookupOk { bytes record = 1; }
message CallInvite { string call_id = 1; string codec = 2; uint32 frame_ms = 3; }
message Chat { string id = 1; string text = 2; uint64 sent_at_ms = 3; }
`).root;

const fill = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 0xff);
const now = 1_764_123_456_789;
const addrs = [{ host: '203.0.113.9', port: 5000 }, { host: '198.51.100.4', port: 41774 }];
const presence = {
  user: 'alice', certificate: fill(190, 1), staticKey: fill(32, 2), addresses: addrs,
  supernode: { host: '203.0.113.20', port: 7001 }, relayToken: 3_141_592_653, publishedAtMs: now, expiresAtMs: now + 300_000,
};
const Presence = command(99, PresenceBody.spec);
const toProtoAddr = (a: { host: string; port: number }) => ({ ip: parseIPv4(a.host)!, port: a.port });

interface Case {
  name: string;
  ours: () => number;
  protobuf: () => number;
  msgpack: () => number;
}

const packr = new Packr({ useRecords: true });
function mk<T extends Record<string, unknown>>(name: string, cmd: { toBytes(f: any): Uint8Array; decode(l: any): any }, fields: T, protoType: string, protoFields: Record<string, unknown>): Case {
  const type = proto.lookupType(protoType);
  return {
    name,
    ours: () => { const b = cmd.toBytes(fields); const m = decodeMessage(b); if (!m.ok || !cmd.decode(m.value.body).ok) throw new Error('decode'); return b.length; },
    protobuf: () => { const b = type.encode(type.fromObject(protoFields)).finish(); type.decode(b); return b.length; },
    msgpack: () => { const b = packr.pack(fields); packr.unpack(b); return b.length; },
  };
}

const cases: Case[] = [
  mk('presence record', Presence, presence, 'Presence', {
    user: 'alice', certificate: presence.certificate, staticKey: presence.staticKey, addresses: addrs.map(toProtoAddr),
    supernode: toProtoAddr(presence.supernode), relayToken: presence.relayToken, publishedAtMs: now, expiresAtMs: now + 300_000,
  }),
  mk('look-up reply', LookupOk, { record: fill(420, 3) }, 'LookupOk', { record: fill(420, 3) }),
  mk('call invite', CallInvite, { callId: '9f3c1a7b2e4d6f80', codec: 'opus', frameMs: 20 }, 'CallInvite', { callId: '9f3c1a7b2e4d6f80', codec: 'opus', frameMs: 20 }),
  mk('chat message', Chat, { id: '3f9a1c0b7e2d4a6f8b1c2d3e', text: 'see you at the meeting tomorrow', sentAtMs: now }, 'Chat',
    { id: '3f9a1c0b7e2d4a6f8b1c2d3e', text: 'see you at the meeting tomorrow', sentAtMs: now }),
];

const rows = cases.map((c) => {
  const ops = opsPerSecondInterleaved({ ours: c.ours, protobuf: c.protobuf, msgpack: c.msgpack }, 9, 80, 200);
  const bytes = { ours: c.ours(), protobuf: c.protobuf(), msgpack: c.msgpack() };
  return { c, ops, bytes };
});
printTable('encode + decode of typical messages (ops/s; bytes)', rows.map(({ c, ops, bytes }) => ({
  name: c.name,
  'ours ops/s': Math.round(ops.ours), 'protobufjs ops/s': Math.round(ops.protobuf), 'msgpackr ops/s': Math.round(ops.msgpack),
  'ops vs protobufjs': ratio(ops.ours, ops.protobuf),
  'ours B': bytes.ours, 'protobuf B': bytes.protobuf, 'msgpack B': bytes.msgpack, 'bytes vs protobuf': ratio(bytes.ours, bytes.protobuf),
})));
process.stdout.write(JSON.stringify({
  bench: 'wire',
  results: rows.map(({ c, ops, bytes }) => ({ message: c.name, ops, bytes, opsVsProtobuf: ratio(ops.ours, ops.protobuf), bytesVsProtobuf: ratio(bytes.ours, bytes.protobuf) })),
}) + '\n');
