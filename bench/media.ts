// `npm run bench -- media`: CPU per call (encode + decode + jitter buffer + crypto) as a fraction
// of one core, and how many members one core can mix for as a conference host — each next to
// the same run's reference: raw Opus encode + decode of the same audio through @evan/opus.
import { OpusEncoder, OpusDecoder } from '../src/media/opus.ts';
import { MediaSession } from '../src/media/media-session.ts';
import { ConferenceParty, type RosterEntry } from '../src/media/conference.ts';
import { MediaSender } from '../src/media/sender.ts';
import { TransportKey } from '../src/crypto/noise.ts';
import { ReplayWindow } from '../src/crypto/replay-window.ts';
import { speechLikeSignal } from '../test/helpers/signals.ts';
import { printTable, ratio } from './harness.ts';

const frameMs = 20, frameSamples = 960;
const pct = (ms: number) => `${((100 * ms) / frameMs).toFixed(2)} %`;
const speech = speechLikeSignal(10, 48_000, 3);
const frames = Array.from({ length: speech.length / frameSamples }, (_, i) => speech.subarray(i * frameSamples, (i + 1) * frameSamples));

/** Milliseconds of CPU per 20 ms frame of `step`, best of a few rounds (the machine is shared). */
function msPerFrame(step: (i: number) => void, count = 500, rounds = 5): number {
  for (let i = 0; i < 100; i++) step(i);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < count; i++) step(i);
    best = Math.min(best, (performance.now() - start) / count);
  }
  return best;
}

// Reference: the codec alone, one encode and one decode per frame.
const enc = new OpusEncoder({ fec: true, dtx: false }), dec = new OpusDecoder();
const refMs = msPerFrame((i) => { dec.decode(enc.encode(frames[i % frames.length])); });

// A call as one node runs it: each 20 ms it encodes and seals its own frame and opens (with the
// replay check), buffers and decodes the peer's — plus the reports. Measured as one stream
// going through both halves, which is the same work.
const key = new TransportKey(new Uint8Array(32).fill(7));
const a = new MediaSession({ seqStart: 1, timestampStart: 1, dtx: false });
const b = new MediaSession({ seqStart: 2, timestampStart: 2, dtx: false });
const replay = new ReplayWindow();
let counter = 0n, now = 0;
const callMs = msPerFrame((i) => {
  now += frameMs;
  a.pushPcm(frames[i % frames.length], now);
  for (let p = a.pollPacket(); p; p = a.pollPacket()) {
    const n = counter++;
    const sealed = key.seal(n, p);
    if (!replay.check(n)) throw new Error('replay');
    const opened = key.open(n, sealed);
    replay.accept(n);
    if (opened.ok) b.handlePacket(opened.value, now);
  }
  b.handleTimeout(now);
  while (b.pollAudio()) { /* played */ }
});
const callCoreFraction = callMs / frameMs;

// Conference host: a member costs the host one decode (its jitter buffer), one mix and one
// encode per tick. Measured with 8 members whose packets are made beforehand.
const members = 8;
const roster: RosterEntry[] = [{ id: 'host', capacity: { cpuFramesPerMs: 1000, uplinkKbps: 1e6 } },
  ...Array.from({ length: members }, (_, i) => ({ id: `m${i}`, capacity: { cpuFramesPerMs: 1, uplinkKbps: 100 } }))];
const host = new ConferenceParty('host', roster);
const ticks = 400;
const memberPackets = roster.slice(1).map((r, i) => {
  const s = new MediaSender({ seqStart: i * 100, timestampStart: i, dtx: false, fec: true });
  const out: Uint8Array[] = [];
  for (let t = 0; t < ticks + 200; t++) { s.pushPcm(speechLikeSignal(0.02, 48_000, 50 + ((t + i) % 200))); out.push(s.pollFrame()!); }
  return { id: r.id, out };
});
let hostNow = 0;
const hostMs = msPerFrame((t) => {
  hostNow += frameMs;
  for (const m of memberPackets) host.handlePacket(m.id, m.out[t % m.out.length], hostNow);
  host.pushPcm(frames[t % frames.length], hostNow);
  host.handleTimeout(hostNow);
  while (host.pollPacket()) { /* sent */ }
  while (host.pollAudio()) { /* played */ }
}, ticks, 3) / members;
const membersPerCore = frameMs / hostMs;

printTable('media CPU per 20 ms frame (best of rounds)', [
  { name: 'raw Opus encode + decode (reference)', 'ms/frame': refMs, '% of a core': pct(refMs), 'vs reference': 1 },
  { name: 'a call on one node (encode+seal+open+jitter buffer+decode)', 'ms/frame': callMs, '% of a core': pct(callMs), 'vs reference': ratio(callMs, refMs) },
  { name: 'conference host, per member (decode+mix+encode)', 'ms/frame': hostMs, '% of a core': pct(hostMs), 'vs reference': ratio(hostMs, refMs) },
]);
printTable('capacity of one core', [
  { name: 'concurrent calls', count: Math.floor(frameMs / callMs) },
  { name: 'conference members one host can mix for', count: Math.floor(membersPerCore) },
  { name: '5-party conferences one host can mix (4 remote members each)', count: Math.floor(membersPerCore / 4) },
]);
process.stdout.write(JSON.stringify({
  bench: 'media',
  referenceOpusMsPerFrame: refMs,
  callMsPerFrame: callMs, callCoreFraction, callVsReference: ratio(callMs, refMs),
  hostMsPerMemberFrame: hostMs, hostVsReference: ratio(hostMs, refMs),
  callsPerCore: Math.floor(frameMs / callMs), conferenceMembersPerCore: Math.floor(membersPerCore),
  fivePartyConferencesPerCore: Math.floor(membersPerCore / 4),
}) + '\n');
