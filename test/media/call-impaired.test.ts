// A whole call on the virtual network — login, supernodes, sessions with their AEAD and replay
// window, call signaling, media — with 5 % loss and 30 ms jitter once the call is up: the far
// end still hears the speech, FEC recovers most losses, and the call's stats carry loss,
// jitter, RTT and MOS, refreshed every second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet } from '../../src/sim/testnet.ts';
import type { UserNodeEvent } from '../../src/node/user-node.ts';
import type { CallInfo } from '../../src/node/types.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';
import { concat } from '../helpers/media-call.ts';

test('a call through the full stack on a lossy, jittery network', async (t) => {
  const w = createTestnet({ seed: 17 });
  await w.net.runUntilAsync(() => w.supernodes.every((s) => s.peers.size === 2), 30_000);
  const alice = w.addUser(1, { supernode: 0 });
  const bob = w.addUser(2, { supernode: 1, autoAnswer: true });
  await w.signUp(alice, 'alice');
  await w.signUp(bob, 'bob');
  let callId = '';
  w.net.mutate(alice.address, (now) => { callId = alice.node.call('bob', now, () => {})!; });
  await w.net.runUntilAsync(() => alice.node.calls.get(callId)?.state === 'active', 20_000);

  w.net.lossRate = 0.05;
  w.net.jitterMs = 30;
  const speech = speechLikeSignal(8, 48_000, 6);
  for (let i = 0; i + 960 <= speech.length; i += 960) {
    w.net.mutate(alice.address, (now) => alice.node.withCalls(now, (c) => c.pushAudio(callId, speech.subarray(i, i + 960), now)));
    w.net.run(20);
  }
  w.net.run(500);

  const bobCall = bob.node.calls.get(callId)!;
  const updates = bob.events.filter((e): e is Extract<UserNodeEvent, { type: 'call' }> => e.type === 'call' && e.call.state === 'active');
  const s = bobCall.stats;
  t.diagnostic(`bob: ${JSON.stringify({ ...s, jitterMs: +s.jitterMs.toFixed(1), mos: s.mos?.toFixed(2), rttMs: s.rttMs?.toFixed(1) })}`);
  assert.ok(updates.length >= 6, `${updates.length} stats updates in 8 s`);
  assert.ok(updates.some((u: { call: CallInfo }) => u.call.stats.lossPct > 0), 'loss measured');
  assert.ok(s.framesRecoveredFec > s.framesConcealed, `FEC ${s.framesRecoveredFec}, PLC ${s.framesConcealed}`);
  assert.ok(s.jitterMs > 2 && s.rttMs !== undefined && s.rttMs > 0, 'jitter and RTT measured');
  assert.ok(s.mos !== undefined && s.mos > 3 && s.mos <= 4.5, `MOS ${s.mos}`);

  const pcm = concat(bob.events.filter((e): e is Extract<UserNodeEvent, { type: 'audio' }> => e.type === 'audio').map((e) => e.pcm));
  const windows: number[] = [];
  for (let at = 0; at + 24_000 <= speech.length; at += 24_000) {
    windows.push(alignedCorrelation(speech.subarray(at, at + 24_000), pcm.subarray(at, at + 72_000), 48_000).correlation);
  }
  const median = [...windows].sort((a, b) => a - b)[Math.floor(windows.length / 2)];
  t.diagnostic(`half-second windows found in the recording: median correlation ${median.toFixed(2)}`);
  assert.ok(median >= 0.8, `median correlation of half-second windows ${median.toFixed(2)}`);
});
