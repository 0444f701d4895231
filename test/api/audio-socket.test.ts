// The audio WebSocket: PCM both ways for an active call; refused for any other; junk dropped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import type { AudioBridge } from '../../src/api/node-control.ts';
import { FakeControl } from './fake-control.ts';

class AudioControl extends FakeControl {
  pushed: Int16Array[] = [];
  sink: ((pcm: Int16Array) => void) | undefined;
  closed = 0;
  audio(callId: string, sink: (pcm: Int16Array) => void): AudioBridge | undefined {
    if (callId !== 'live') return undefined;
    this.sink = sink;
    return { push: (pcm) => this.pushed.push(pcm), close: () => { this.closed++; } };
  }
}

const control = new AudioControl();
let server: ApiServer;
before(async () => { server = await startApiServer(control, { host: '127.0.0.1', port: 0 }); });
after(async () => { await server.close(); });

const connect = (call: string) => new WebSocket(`ws://127.0.0.1:${server.address.port}/api/audio?call=${call}`);

test('an unknown or inactive call is refused with a reason', async () => {
  const ws = connect('nope');
  const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
  assert.equal(code, 1008);
});

test('PCM flows both ways; text, empty and odd-sized messages are dropped', async () => {
  const ws = connect('live');
  await new Promise((resolve) => ws.on('open', resolve));
  const got = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
  control.sink!(Int16Array.of(1, -2, 32767));
  const b = await got;
  assert.deepEqual([b.readInt16LE(0), b.readInt16LE(2), b.readInt16LE(4)], [1, -2, 32767]);
  ws.send('not audio');
  ws.send(Buffer.alloc(0));
  ws.send(Buffer.from([1, 2, 3]));
  const pcm = Buffer.alloc(4); pcm.writeInt16LE(-300, 0); pcm.writeInt16LE(300, 2);
  ws.send(pcm);
  // The server handles one socket's messages in order: once the good one is in, the bad ones were seen.
  while (control.pushed.length === 0) await new Promise((r) => setImmediate(r));
  assert.equal(control.pushed.length, 1);
  assert.deepEqual([...control.pushed[0]], [-300, 300]);
  ws.close();
  while (control.closed === 0) await new Promise((r) => setImmediate(r));
});
