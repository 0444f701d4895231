// The whole network as real processes on loopback: a login server, three supernodes and two
// users' nodes. Alice looks Bob up, chats with a receipt, and calls him with a WAV file; Bob's
// recording must match what Alice sent. Then the same with direct paths forbidden, so the call
// must go through a supernode relay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRole, cli, stopAll, waitFor, api } from './processes.ts';
import { speechFixture } from '../helpers/signals.ts';
import { windowedCorrelation } from '../helpers/xcorr.ts';
import { encodeWav, decodeWav } from '../../src/media/wav.ts';
import { toMono48k } from '../../src/media/resample.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-e2e-'));
after(async () => { await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });

const password = 'correct horse battery';
fs.writeFileSync(path.join(tmp, 'password'), password + '\n');
const input = speechFixture(3);
fs.writeFileSync(path.join(tmp, 'speech.wav'), encodeWav(input, 48_000));

async function network() {
  const login = await startRole(['login-server', '--listen', '127.0.0.1:0', '--db', path.join(tmp, 'login.sqlite')]);
  const key = String(login.info.key);
  const sns: string[] = [];
  for (let i = 0; i < 3; i++) {
    const args = ['supernode', '--listen', '127.0.0.1:0', '--login', login.info.listen, '--login-key', key, '--data', path.join(tmp, `sn${i}`)];
    if (sns.length) args.push('--bootstrap', sns.join(','));
    sns.push(String((await startRole(args)).info.listen));
  }
  return { login: String(login.info.listen), key, sns };
}

/** A user's node; `device` > 1 is another device of an already registered user. */
async function userNode(net: { login: string; key: string; sns: string[] }, user: string, sn: string, extra: string[] = [], device = 1) {
  const node = await startRole(['node', '--data', path.join(tmp, device > 1 ? `${user}-${device}` : user), '--login', net.login, '--login-key', net.key,
    '--bootstrap', sn, '--api', '127.0.0.1:0', ...extra]);
  const base = String(node.info.api);
  const pw = ['--password-file', path.join(tmp, 'password'), '--api', base, '--json'];
  const reg = device > 1 ? { code: 0, stderr: '' } : await cli(['register', user, ...pw]);
  assert.equal(reg.code, 0, `register ${user}: ${reg.stderr}`);
  const login = await cli(['login', user, ...pw]);
  assert.equal(login.code, 0, `login ${user}: ${login.stderr}`);
  return base;
}

function recordingMatches(file: string) {
  const rec = decodeWav(fs.readFileSync(file));
  assert.ok(rec.ok, 'the recording is a valid WAV');
  const pcm = toMono48k(rec.value);
  assert.ok(pcm.length > 48_000 * 2, `recording has ${pcm.length} samples`);
  const { median, windows } = windowedCorrelation(input, pcm, 24_000, 48_000 * 3);
  assert.ok(median >= 0.9, `median normalised cross-correlation of half-second windows ${median.toFixed(3)} must be ≥ 0.9 (${windows.map((c) => c.toFixed(2)).join(' ')})`);
  return median;
}

async function callAndCheck(aliceApi: string, bobApi: string, bob: string, record: string, expectPath: 'direct' | 'relay') {
  const call = await cli(['call', bob, '--play', path.join(tmp, 'speech.wav'), '--seconds', '4', '--api', aliceApi, '--json'], 60_000);
  assert.equal(call.code, 0, `call failed: ${call.stderr}`);
  const ended = await waitFor('bob to see the call end', async () => {
    const calls = await api(bobApi, 'calls');
    const list: any[] = Array.isArray(calls) ? calls : calls.calls;
    const c = list.find((x) => x.state === 'ended');
    return c && fs.existsSync(record) ? c : undefined;
  });
  assert.equal(ended.path, expectPath);
  assert.ok(ended.stats.framesReceived > 100, `bob received ${ended.stats.framesReceived} frames`);
  return recordingMatches(record);
}

test('register, look up, chat with a receipt, and a direct call whose recording matches', async () => {
  const net = await network();
  const bobRecord = path.join(tmp, 'bob-direct.wav');
  const alice = await userNode(net, 'alice', net.sns[0]);
  const bob = await userNode(net, 'bob', net.sns[1], ['--auto-answer', '--record', bobRecord]);

  const lookup = await cli(['lookup', 'bob', '--api', alice, '--json']);
  assert.equal(lookup.code, 0, lookup.stderr);
  assert.equal(lookup.json.user, 'bob');
  assert.equal(lookup.json.online, true);

  const chat = await cli(['chat', 'bob', 'hello', 'bob', '--api', alice, '--json']);
  assert.equal(chat.code, 0, chat.stderr);
  assert.ok(chat.json.deliveredAtMs > 0, 'the message carries a delivery receipt');
  const hist = await api(bob, 'history?peer=alice');
  const msgs: any[] = Array.isArray(hist) ? hist : hist.messages;
  assert.ok(msgs.some((m) => m.text === 'hello bob' && m.direction === 'in'));

  const missing = await cli(['lookup', 'nobody-here', '--api', alice, '--json']);
  assert.notEqual(missing.code, 0);

  await callAndCheck(alice, bob, 'bob', bobRecord, 'direct');
});

test('with --no-direct on both nodes the call goes through a supernode relay and still matches', async () => {
  const net = await network();
  const daveRecord = path.join(tmp, 'dave-relay.wav');
  const carol = await userNode(net, 'carol', net.sns[0], ['--no-direct']);
  const dave = await userNode(net, 'dave', net.sns[2], ['--no-direct', '--auto-answer', '--record', daveRecord]);
  const lookup = await cli(['lookup', 'dave', '--api', carol, '--json']);
  assert.equal(lookup.code, 0, lookup.stderr);
  assert.deepEqual(lookup.json.addresses, [], 'a --no-direct node publishes no direct addresses');
  await callAndCheck(carol, dave, 'dave', daveRecord, 'relay');
});

test('call commands from the CLI: a call rings on both of bob\'s devices, one answers, the other shows "answered elsewhere"; a rejected call says so', async () => {
  const net = await network();
  const erin = await userNode(net, 'erin', net.sns[0]);
  const frank1 = await userNode(net, 'frank', net.sns[1]);
  const frank2 = await userNode(net, 'frank', net.sns[2], [], 2);
  const callsOf = async (base: string) => (await cli(['calls', '--api', base, '--json'])).json as any[];
  const ringing = (base: string) => waitFor(`${base} to ring`, async () => (await callsOf(base)).find((c) => c.state === 'incoming'));

  const placing = cli(['call', 'frank', '--seconds', '1', '--api', erin, '--json']);
  const [r1, r2] = await Promise.all([ringing(frank1), ringing(frank2)]);
  assert.equal(r1.id, r2.id, 'the same call rings on both devices');
  const answered = await cli(['answer', '--api', frank2]);
  assert.equal(answered.code, 0, answered.stderr);
  const placed = await placing;
  assert.equal(placed.code, 0, placed.stderr);
  assert.equal(placed.json.state, 'ended');
  const ended1 = await waitFor('device 1 to stop ringing', async () => (await callsOf(frank1)).find((c) => c.id === r1.id && c.state === 'ended'));
  assert.equal(ended1.endReason, 'answered-elsewhere');
  const ended2 = await waitFor('device 2 to see the hang-up', async () => (await callsOf(frank2)).find((c) => c.id === r1.id && c.state === 'ended'));
  assert.equal(ended2.endReason, 'remote-hung-up');

  const declined = cli(['call', 'frank', '--api', erin]);
  await Promise.all([
    waitFor('device 1 rings again', async () => (await callsOf(frank1)).find((c) => c.state === 'incoming' && c.id !== r1.id)),
    waitFor('device 2 rings again', async () => (await callsOf(frank2)).find((c) => c.state === 'incoming' && c.id !== r1.id)),
  ]);
  const rejected = await cli(['reject', '--api', frank1]);
  assert.equal(rejected.code, 0, rejected.stderr);
  const refused = await declined;
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ended: rejected/);
  const status = await cli(['status', '--api', erin]);
  assert.match(status.stdout, /call to frank ended: rejected/);
});
