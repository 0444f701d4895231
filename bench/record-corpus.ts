// Records the compression benchmark's corpus: every message the real cores send in an
// end-to-end scenario on the virtual network (sign-ups, look-ups, chat, a call, hang-up),
// before compression. Media frames are kept one in ten (they are Opus, incompressible, and
// would otherwise dominate). Writes bench/fixtures/wire-corpus.bin: varint(length) message, …
//   node --import tsx bench/record-corpus.ts
import fs from 'node:fs';
import path from 'node:path';
import { createTestnet } from '../src/sim/testnet.ts';
import { decodeMessage } from '../src/wire/object-list.ts';
import { Cmd } from '../src/wire/commands.ts';

const messages: Uint8Array[] = [];
let media = 0;
const t = createTestnet({
  seed: 2026,
  tap: (raw) => {
    const m = decodeMessage(raw);
    if (m.ok && m.value.command === Cmd.Media && media++ % 10 !== 0) return;
    messages.push(raw.slice());
  },
});
await t.meshed();
const names = ['alice', 'bob', 'carol', 'dave'];
const users = names.map((n, i) => t.addUser(i + 1, { supernode: i % 3, autoAnswer: true }));
for (const [i, u] of users.entries()) await t.signUp(u, names[i]);
const lines = ['hi', 'are you there?', 'see you at the meeting tomorrow', 'ok, calling you now', 'thanks! talk later',
  'the file is on its way', 'can you hear me? the line was bad for a second', 'yes'];
for (const [i, u] of users.entries()) {
  const peer = names[(i + 1) % names.length];
  await t.settle(u, (now, cb) => u.node.lookup(peer, now, cb));
  for (const text of lines) await t.settle(u, (now, cb) => u.node.chat(peer, `${text}`, now, cb));
}
// A call with a second of audio each way.
const a = users[0];
let id = '';
t.net.mutate(a.address, (now) => { id = a.node.call('bob', now, () => {})!; });
await t.net.runUntilAsync(() => a.node.calls.get(id)?.state === 'active', 20_000);
const tone = Int16Array.from({ length: 960 }, (_, k) => Math.round(8000 * Math.sin(k / 7)));
for (let f = 0; f < 50; f++) {
  t.net.mutate(a.address, (now) => a.node.withCalls(now, (c) => c.pushAudio(id, tone, now)));
  t.net.run(20);
}
t.net.mutate(a.address, (now) => a.node.withCalls(now, (c) => c.hangup(id, now)));
await t.net.runUntilAsync(() => false, 2000);

const out: number[] = [];
for (const m of messages) {
  let n = m.length;
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  for (const b of m) out.push(b);
}
const file = path.join(import.meta.dirname, 'fixtures', 'wire-corpus.bin');
fs.writeFileSync(file, Uint8Array.from(out));
process.stdout.write(`recorded ${messages.length} messages, ${out.length} bytes → ${file}\n`);
