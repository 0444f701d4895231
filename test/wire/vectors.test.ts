// The test vectors of docs/wire.md: each decodes as described and re-encodes to the same bytes,
// and the document shows exactly these bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { decodeObjectList, decodeMessage, encodeObjectList, encodeMessage, Sint } from '../../src/wire/object-list.ts';
import { packMessage, unpackMessage } from '../../src/wire/envelope.ts';
import { decodeFragment } from '../../src/wire/fragment.ts';
import { Relay, Relayed } from '../../src/overlay/protocol.ts';
import { Chat } from '../../src/chat/protocol.ts';

const vectors: { name: string; hex: string }[] = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'vectors.json'), 'utf8'));
const bytes = (name: string) => new Uint8Array(Buffer.from(vectors.find((v) => v.name === name)!.hex, 'hex'));
const list = (name: string) => { const d = decodeObjectList(bytes(name)); assert.ok(d.ok, name); return d.value; };

test('docs/wire.md shows every vector', () => {
  const doc = fs.readFileSync(path.join(import.meta.dirname, '../../docs/wire.md'), 'utf8');
  for (const v of vectors) assert.ok(doc.includes(v.hex), `${v.name} missing from docs/wire.md`);
});

test('object vectors decode to their values and re-encode to the same bytes', () => {
  assert.equal(list('uint-0').get(1), 0);
  assert.equal(list('uint-300').get(1), 300);
  assert.equal(list('uint-max').get(1), Number.MAX_SAFE_INTEGER);
  const s = list('sint');
  assert.deepEqual([1, 2, 3].map((i) => (s.get(i) as Sint).value), [-1, 63, -65]);
  assert.equal(list('u64').get(1), 2n ** 64n - 1n);
  assert.equal(list('string').get(2), 'héllo');
  assert.deepEqual(list('bytes').get(3), Uint8Array.of(0, 1, 255));
  assert.deepEqual(list('ipv4').get(4), { host: '203.0.113.7', port: 4000 });
  assert.deepEqual(list('ipv6').get(4), { host: '2001:db8::1', port: 443 });
  assert.deepEqual(list('uint-list').get(5), [1, 128, 16384]);
  const nested = list('nested').get(6) as Map<number, any>;
  assert.equal(nested.get(1), 'a');
  assert.equal(nested.get(2).get(1), 7);
  for (const v of vectors.filter((x) => ['uint-0', 'uint-300', 'uint-max', 'sint', 'u64', 'string', 'bytes', 'ipv4', 'ipv6', 'uint-list', 'nested'].includes(x.name))) {
    assert.equal(Buffer.from(encodeObjectList(list(v.name))).toString('hex'), v.hex, v.name);
  }
});

test('message, envelope, fragment and forwarding vectors', () => {
  const m = decodeMessage(bytes('empty-message'));
  assert.ok(m.ok && m.value.command === 1 && m.value.body.length === 1 && m.value.body[0] === 0);
  const chat = decodeMessage(bytes('chat-message'));
  assert.ok(chat.ok && chat.value.command === 40);
  const c = Chat.decode(chat.value.body);
  assert.ok(c.ok && c.value.text === 'see you at the meeting tomorrow' && c.value.sentAtMs === 1764123456789);
  assert.deepEqual(packMessage(encodeMessage(1, new Map())), bytes('envelope-raw'));
  assert.deepEqual(packMessage(bytes('chat-message')), bytes('envelope-compressed'), 'the compressed form is deterministic');
  const unpacked = unpackMessage(bytes('envelope-compressed'));
  assert.ok(unpacked.ok);
  assert.deepEqual(unpacked.value, bytes('chat-message'));
  const f = decodeFragment(bytes('fragment'));
  assert.ok(f.ok && f.value.messageId === 7 && f.value.index === 2 && f.value.count === 3);
  assert.equal(new TextDecoder().decode(f.value.chunk), 'abc');
  const relay = decodeMessage(bytes('relay'));
  assert.ok(relay.ok);
  const r = Relay.decode(relay.value.body);
  assert.ok(r.ok && r.value.to === 42 && r.value.hops![0].host === '198.51.100.2');
  const fwd = decodeMessage(bytes('forwarded'));
  assert.ok(fwd.ok);
  const fr = Relay.decode(fwd.value.body);
  assert.ok(fr.ok && fr.value.from === 9 && fr.value.via!.port === 7000 && fr.value.hops!.length === 0);
  const rd = decodeMessage(bytes('relayed'));
  assert.ok(rd.ok);
  const rr = Relayed.decode(rd.value.body);
  assert.ok(rr.ok && rr.value.from === 9 && rr.value.via!.host === '198.51.100.1');
});
