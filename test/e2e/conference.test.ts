// A five-party conference of real processes on loopback: a login server, two supernodes and
// five users' nodes, each playing its own speech-like voice (--play) and recording what it
// hears (--record). Alice creates the conference from the CLI, the others' nodes answer the
// ring; everyone must hear every other talker. Then the host's process is killed outright,
// and the four left must agree on a new host and go on hearing each other.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRole, cli, stopAll, waitFor, api, type Started } from './processes.ts';
import { speechLikeSignal } from '../helpers/signals.ts';
import { alignedCorrelation } from '../helpers/xcorr.ts';
import { encodeWav, decodeWav } from '../../src/media/wav.ts';
import { toMono48k } from '../../src/media/resample.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-conf-'));
after(async () => { await stopAll(); if (!process.env.TINCAN_KEEP) fs.rmSync(tmp, { recursive: true, force: true }); });

const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
// Declared uplinks differ; erin's is too thin to mix for four, so she must never host.
const uplinks = [600, 800, 2000, 1500, 50];
const talkers = [{ pitchHz: 110, formantScale: 0.85 }, { pitchHz: 150, formantScale: 1 }, { pitchHz: 200, formantScale: 1.15 },
  { pitchHz: 260, formantScale: 1.3 }, { pitchHz: 130, formantScale: 0.92 }];
const voiceSeconds = 40;
const voices = new Map(names.map((n, i) => [n, speechLikeSignal(voiceSeconds, 48_000, 21 + i * 17, talkers[i])]));
// Never played anywhere: how much a recording "hears" a voice that is not in the conference.
const stranger = speechLikeSignal(voiceSeconds, 48_000, 999, { pitchHz: 170, formantScale: 1.07 });
const password = 'correct horse battery';
fs.writeFileSync(path.join(tmp, 'password'), password + '\n');

const decimation = 6; // 8 kHz is plenty to tell these voices apart, and six times cheaper to search
function down(pcm: Int16Array): Float64Array {
  const out = new Float64Array(Math.floor(pcm.length / decimation));
  for (let i = 0; i < out.length; i++) { let s = 0; for (let k = 0; k < decimation; k++) s += pcm[i * decimation + k]; out[i] = s; }
  return out;
}

/**
 * How clearly [fromS, toS) of a voice is in a recording, as the median over one-second windows
 * (short, because the jitter buffers stretch and cut the audio on a busy machine; not shorter,
 * because the best of many lags over a short window scores high on any voice at all). The
 * recording runs on the wall clock from the listener's join, the voice from the talker's, so
 * each window is looked for `offsetS` later, give or take what the path and jitter buffers
 * add: a narrow search, because these synthetic voices resemble themselves seconds apart.
 */
function hears(voice: Int16Array, recording: Float64Array, fromS: number, toS: number, offsetS: number): number {
  const windows: number[] = [];
  const rate = 48_000 / decimation;
  const v = down(voice);
  const before = 0.3, after = 2.5, w = 1.0;
  for (let s = fromS; s + w <= toS; s += w) {
    const at = Math.max(0, Math.round((s + offsetS - before) * rate));
    const maxLag = Math.round((before + after) * rate);
    windows.push(alignedCorrelation(v.subarray(Math.round(s * rate), Math.round((s + w) * rate)), recording.subarray(at, at + Math.round(w * rate) + maxLag), maxLag).correlation);
  }
  assert.ok(windows.length > 0, `a window between ${fromS} and ${toS} s`);
  return [...windows].sort((a, b) => a - b)[Math.floor(windows.length / 2)];
}

test('five parties on loopback: everyone hears everyone; the host is killed and the remaining four go on with a new host', async (t) => {
  const login = await startRole(['login-server', '--listen', '127.0.0.1:0', '--db', path.join(tmp, 'login.sqlite')]);
  const key = String(login.info.key);
  const sns: string[] = [];
  for (let i = 0; i < 2; i++) {
    const args = ['supernode', '--listen', '127.0.0.1:0', '--login', login.info.listen, '--login-key', key, '--data', path.join(tmp, `sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.join(','));
    sns.push(String((await startRole(args)).info.listen));
  }
  const nodes = new Map<string, { proc: Started; api: string; record: string }>();
  for (const [i, n] of names.entries()) {
    const play = path.join(tmp, `${n}-voice.wav`);
    fs.writeFileSync(play, encodeWav(voices.get(n)!, 48_000));
    const record = path.join(tmp, `${n}-heard.wav`);
    const proc = await startRole(['node', '--data', path.join(tmp, n), '--login', String(login.info.listen), '--login-key', key,
      '--bootstrap', sns[i % 2], '--api', '127.0.0.1:0', '--play', play, '--record', record, '--uplink-kbps', String(uplinks[i]),
      ...(n === 'alice' ? [] : ['--auto-answer'])]);
    const base = String(proc.info.api);
    const pw = ['--password-file', path.join(tmp, 'password'), '--api', base, '--json'];
    assert.equal((await cli(['register', n, ...pw])).code, 0);
    assert.equal((await cli(['login', n, ...pw])).code, 0);
    nodes.set(n, { proc, api: base, record });
  }

  const created = await cli(['conference', 'create', 'bob', 'carol', 'dave', 'erin', '--api', nodes.get('alice')!.api, '--json']);
  assert.equal(created.code, 0, created.stderr);
  const id: string = created.json.id;
  const joinedAt = new Map<string, number>();
  const confOf = async (n: string) => api(nodes.get(n)!.api, `conferences/${id}`);
  const agreed = (list: string[], size: number) => waitFor(`${list.join(', ')} to agree on ${size} parties and a host`, async () => {
    const cs = await Promise.all(list.map(async (n) => {
      const c = await confOf(n);
      if (c.state === 'joined') joinedAt.set(n, c.joinedAtMs);
      return c;
    }));
    const host = cs[0].host;
    return cs.every((c) => c.state === 'joined' && c.members.length === size && c.host === host && host) ? cs[0] : undefined;
  }, 120_000);

  const first = await agreed(names, 5);
  const host: string = first.host;
  t.diagnostic(`host ${host}; capacities ${first.members.map((m: any) => `${m.user} ${m.cpuFramesPerMs.toFixed(1)} frames/ms ${m.uplinkKbps} kb/s → ${m.canHost}`).join(', ')}`);
  assert.notEqual(host, 'erin', 'the party with a 50 kb/s uplink does not host');

  // Ten seconds of talking, counted by the host's mixes (one per member every 20 ms).
  await waitFor('ten seconds of mixing', async () => ((await confOf(host)).stats.mixesSent >= 4 * 500 ? true : undefined), 120_000);
  // Jitter buffers after the first stretch: on an oversubscribed machine these show why audio suffers.
  for (const n of names) t.diagnostic(`${n} before the kill: ${JSON.stringify((await confOf(n)).receivers)}`);
  const killedAt = Date.now();
  nodes.get(host)!.proc.proc.kill('SIGKILL');
  const rest = names.filter((n) => n !== host);
  const second = await agreed(rest, 4);
  const newHost: string = second.host;
  t.diagnostic(`host ${host} killed; ${newHost} hosts after ${Date.now() - killedAt} ms`);
  assert.notEqual(newHost, host);
  assert.deepEqual(second.gone, [host]);
  const handedOverAt = Date.now();
  await waitFor('eight seconds of mixing by the new host', async () => ((await confOf(newHost)).stats.mixesSent >= 3 * 400 ? true : undefined), 120_000);
  const endedAt = Date.now();
  // The CLI afterwards: starting a client process is heavy enough to disturb real-time audio here.
  const status = await cli(['conference', 'status', id, '--api', nodes.get('bob')!.api]);
  assert.match(status.stdout, new RegExp(`4 parties, host ${newHost}`));
  assert.match(status.stdout, new RegExp(`gone: ${host}`));
  for (const n of rest) {
    const left = await cli(['conference', 'leave', id, '--api', nodes.get(n)!.api, '--json']);
    assert.equal(left.code, 0, `${n} leaves: ${left.stderr}`);
    assert.equal(left.json.endReason, 'left', `${n} was still in the conference until it left (not dropped as silent)`);
  }

  if (process.env.TINCAN_KEEP) fs.writeFileSync(path.join(tmp, 'times.json'), JSON.stringify({ joinedAt: [...joinedAt], killedAt, handedOverAt, endedAt, host, newHost }));
  const heard = new Map(rest.map((n) => {
    const rec = decodeWav(fs.readFileSync(nodes.get(n)!.record));
    assert.ok(rec.ok, `${n}'s recording is a WAV`);
    return [n, down(toMono48k(rec.value))];
  }));
  // Windows by each talker's own clock: its voice started when its node joined.
  const phase = (talker: string, fromMs: number, toMs: number): [number, number] =>
    [Math.max(1, (fromMs - joinedAt.get(talker)!) / 1000), (toMs - joinedAt.get(talker)!) / 1000];
  const lastJoined = Math.max(...joinedAt.values());
  for (const [label, talkersNow, from, to] of [
    // The first seconds are left out: five nodes starting to talk at once on a busy machine make
    // the jitter buffers reach for a long delay, then drain it by cutting frames.
    [`host ${host}`, names, lastJoined + 2000, killedAt - 500],
    [`host ${newHost}`, rest, handedOverAt + 500, endedAt - 500],
  ] as const) {
    for (const l of rest) {
      const rec = heard.get(l)!;
      const figures = (talkersNow as readonly string[]).filter((x) => x !== l).map((x) => {
        const [a, b] = phase(x, from, to);
        const offsetS = (joinedAt.get(x)! - joinedAt.get(l)!) / 1000;
        return { x, c: hears(voices.get(x)!, rec, a, b, offsetS), control: hears(stranger, rec, a, b, offsetS) };
      });
      t.diagnostic(`${label}: ${l} hears ${figures.map((f) => `${f.x} ${f.c.toFixed(2)} (control ${f.control.toFixed(2)})`).join(', ')}`);
      // In a mix of n voices one voice can correlate at most about 1/√n (0.5 for four). A voice
      // that is not in the mix scores what the stranger's does (the best of many lags over a
      // window: ~0.15 with 1 s windows, ~0.24 with the 0.5 s ones used before), so a voice counts
      // as heard when it stands clear of that control; a fixed floor would move with the window.
      for (const f of figures) assert.ok(f.c >= f.control + 0.12, `${label}: ${l} hears ${f.x}: ${f.c.toFixed(2)}, control ${f.control.toFixed(2)}`);
    }
  }
});
