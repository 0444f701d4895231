// Dual stack on loopback (127.0.0.1 and ::1), as real processes: a supernode listening on both,
// two nodes each with an IPv6 socket beside IPv4. Each learns its IPv6 address from the
// supernode over IPv6 and publishes it; a call between them has a direct IPv4 path and a direct
// IPv6 path, and takes IPv6 (docs/reachability.md, "IPv6"). A node with --no-ipv6 publishes
// none, and a call to it goes over IPv4 and says why.
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

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-e2e6-'));
after(async () => { await stopAll(); fs.rmSync(tmp, { recursive: true, force: true }); });
fs.writeFileSync(path.join(tmp, 'password'), 'correct horse battery\n');
const input = speechFixture(3);
fs.writeFileSync(path.join(tmp, 'speech.wav'), encodeWav(input, 48_000));

test('two dual-stack nodes call each other over IPv6; a node without IPv6 is called over IPv4', async () => {
  const login = await startRole(['login-server', '--listen', '127.0.0.1:0', '--db', path.join(tmp, 'login.sqlite')]);
  const key = String(login.info.key);
  const sn = await startRole(['supernode', '--listen', '127.0.0.1:0', '--listen6', '[::1]:0', '--login', login.info.listen, '--login-key', key, '--data', path.join(tmp, 'sn')]);
  assert.match(String(sn.info.listen6), /^\[::1\]:\d+$/);
  const node = async (user: string, extra: string[]) => {
    const n = await startRole(['node', '--data', path.join(tmp, user), '--login', login.info.listen, '--login-key', key,
      '--bootstrap', String(sn.info.listen), '--api', '127.0.0.1:0', ...extra]);
    const base = String(n.info.api);
    const pw = ['--password-file', path.join(tmp, 'password'), '--api', base, '--json'];
    assert.equal((await cli(['register', user, ...pw])).code, 0);
    assert.equal((await cli(['login', user, ...pw])).code, 0);
    return base;
  };
  const record = path.join(tmp, 'bob.wav');
  const alice = await node('alice', ['--listen6', '[::1]:0']);
  const bob = await node('bob', ['--listen6', '[::1]:0', '--auto-answer', '--record', record]);
  const carol = await node('carol', ['--no-ipv6', '--auto-answer']);

  // IPv6 confirmed by the supernode over IPv6, and published.
  for (const base of [alice, bob]) {
    await waitFor('IPv6 to work', async () => (await api(base, 'status')).nat?.ipv6?.state === 'works' ? true : undefined);
  }
  const check = await cli(['netcheck', '--api', alice]);
  assert.match(check.stdout, /IPv6: +yes: \[::1\]:\d+, answered over IPv6 by \[::1\]:\d+/);
  assert.match((await cli(['netcheck', '--api', carol])).stdout, /IPv6: +no \(no global IPv6 address here, or --no-ipv6\)/);
  await waitFor('bob\'s record to carry his IPv6 address', async () => {
    const r = await cli(['lookup', 'bob', '--api', alice, '--json']);
    return r.code === 0 && r.json.addresses.some((a: string) => a.startsWith('[::1]:')) ? true : undefined;
  });

  const call = await cli(['call', 'bob', '--play', path.join(tmp, 'speech.wav'), '--seconds', '4', '--api', alice, '--json'], 60_000);
  assert.equal(call.code, 0, call.stderr);
  assert.match(call.json.route, /^direct udp \[::1\]:\d+ \(IPv6\)$/);
  assert.match(call.json.routeReason, /over IPv6, preferred/);
  const ended = await waitFor('bob to see the call end', async () => {
    const c = (await api(bob, 'calls') as any[]).find((x) => x.state === 'ended');
    return c && fs.existsSync(record) ? c : undefined;
  });
  assert.match(ended.route, /\(IPv6\)$/);
  const rec = decodeWav(fs.readFileSync(record));
  assert.ok(rec.ok);
  const { median } = windowedCorrelation(input, toMono48k(rec.value), 24_000, 48_000 * 3);
  assert.ok(median >= 0.9, `audio match ${median.toFixed(3)} must be ≥ 0.9`);

  const toCarol = await cli(['call', 'carol', '--seconds', '1', '--api', alice, '--json'], 60_000);
  assert.equal(toCarol.code, 0, toCarol.stderr);
  assert.match(toCarol.json.route, /^direct udp 127\.0\.0\.1:\d+$/);
  assert.match(toCarol.json.routeReason, /over IPv4: the peer has no IPv6/);
});
