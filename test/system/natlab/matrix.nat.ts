// The reachability matrix on real NATs: for every pair of NAT types (and a public host against
// each), Alice calls Bob with real audio through real `tincan` processes inside network
// namespaces. Each cell must connect and Bob's recording must match what Alice played; the
// matrix printed at the end shows the path taken, time to first audio and the audio match.
// Run: npm run test:nat (root, Linux; skips with a reason elsewhere).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { NatLab, natTypes, labUnavailable, type NatType, type Host, type Proc } from './lab.ts';
import { speechFixture } from '../../helpers/signals.ts';
import { alignedCorrelation, windowedCorrelation } from '../../helpers/xcorr.ts';
import { encodeWav, decodeWav } from '../../../src/media/wav.ts';
import { toMono48k } from '../../../src/media/resample.ts';
import { tone, toneGaps } from '../../helpers/gaps.ts';
import { waitFor } from '../../helpers/wait.ts';

const skip = labUnavailable();
const bin = path.resolve(import.meta.dirname, '../../../bin/tincan.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-nat-'));
const lab = new NatLab();
const input = speechFixture(2.5);
const speech = path.join(tmp, 'speech.wav');
const passwordFile = path.join(tmp, 'password');
const login = '203.0.113.10:7000';
const sn1 = '203.0.113.10:7001';
const sn2 = '203.0.113.11:7001';
let loginKey = '';

interface Cell { caller: string; callee: string; path: string; why: string; route?: string; audio?: string; whole?: number; nat?: string; firstAudioMs: number | undefined; match: number | undefined; ok: boolean; error?: string }
const cells: Cell[] = [];

function tincan(host: Host, args: string[], timeoutMs = 60_000) {
  return lab.run(host, [process.execPath, bin, ...args], timeoutMs);
}

async function ready(p: Proc, what: string, timeoutMs = 30_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = p.out().split('\n').find((l) => l.startsWith('{') && l.includes('"ready"'));
    if (line) return JSON.parse(line);
    if (p.proc.exitCode !== null) throw new Error(`${what} exited: ${p.err()}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready: ${p.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const registered = new Set<string>();
/** How long register and login took, by user (the first time a user's node came up). */
const signUpMs = new Map<string, { register: number; login: number }>();

async function userNode(host: Host, user: string, bootstrap: string, extra: string[] = [], listenOn?: string) {
  const listen = listenOn ?? (host === 'P' ? '203.0.113.30:5000' : host === 'A' ? '100.64.1.10:5000' : '100.64.2.10:5000');
  // Real-time audio on a shared, busy machine: the two call processes get a CPU priority boost.
  const p = lab.spawn(host, ['nice', '-n', '-10', process.execPath, bin, 'node', '--data', path.join(tmp, user), '--login', login, '--login-key', loginKey,
    '--bootstrap', bootstrap, '--listen', listen, '--api', '127.0.0.1:0', ...extra]);
  const info = await ready(p, `${user}'s node`);
  const api = String(info.api);
  const pw = ['--password-file', passwordFile, '--api', api, '--json'];
  if (!registered.has(user)) {
    const t0 = Date.now();
    const reg = await tincan(host, ['register', user, ...pw]);
    assert.equal(reg.code, 0, `register ${user}: ${reg.stderr}`);
    const t1 = Date.now();
    const li = await tincan(host, ['login', user, ...pw]);
    assert.equal(li.code, 0, `login ${user}: ${li.stderr}`);
    signUpMs.set(user, { register: t1 - t0, login: Date.now() - t1 });
    registered.add(user);
  }
  return { p, api, host, user };
}

type Node = Awaited<ReturnType<typeof userNode>>;

async function status(n: Node) {
  const r = await tincan(n.host, ['status', '--api', n.api, '--json']);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

/** Bob's extra flags, what to wait for before Alice calls (the port-mapping cells), the caller's name (fresh users), and where the cell is reported (the matrix by default). */
interface CellOptions { bobArgs?: string[]; beforeCall?: (a: Node, b: Node) => Promise<void>; callerName?: string; list?: Cell[] }

async function callCell(callerHost: Host, callerType: string, calleeType: string, opts: CellOptions = {}) {
  const started = Date.now();
  const record = path.join(tmp, `rec-${callerType}-${calleeType}.wav`);
  const cell: Cell = { caller: callerType, callee: calleeType, path: '-', why: '', firstAudioMs: undefined, match: undefined, ok: false };
  (opts.list ?? cells).push(cell);
  const caller = opts.callerName ?? (callerHost === 'P' ? 'pat' : 'alice');
  const [a, b] = await Promise.all([
    userNode(callerHost, caller, sn1),
    userNode('B', 'bob', sn2, ['--auto-answer', '--record', record, ...opts.bobArgs ?? []]),
  ]);
  try {
    // Bob's fresh record (this cell's public address) must be in the directory before Alice calls.
    await waitFor('bob to publish', async () => {
      const r = await tincan(a.host, ['lookup', 'bob', '--api', a.api, '--json']);
      return r.code === 0 && JSON.parse(r.stdout).publishedAtMs >= started ? true : undefined;
    });
    await opts.beforeCall?.(a, b);
    const call = await tincan(a.host, ['call', 'bob', '--play', speech, '--seconds', '3', '--api', a.api, '--json'], 60_000);
    assert.equal(call.code, 0, `call failed: ${call.stderr}`);
    const ended = await waitFor('bob to see the call end with a recording', async () => {
      const st = await status(b);
      const c = st?.calls?.find((x: any) => x.state === 'ended');
      return c && fs.existsSync(record) && fs.statSync(record).size > 44 ? c : undefined;
    });
    const out = JSON.parse(call.stdout);
    // What each side learned about its own NAT (netcheck on the caller, status on the callee).
    const check = await tincan(a.host, ['netcheck', '--api', a.api, '--json']);
    const bobStatus = await status(b);
    cell.nat = `${check.code === 0 ? `${JSON.parse(check.stdout).nat?.kind}/${JSON.parse(check.stdout).transport}` : 'netcheck failed'}` +
      ` vs ${bobStatus?.nat?.kind}/${bobStatus?.transport}`;
    cell.path = short(out.route ?? out.path, ended.route);
    cell.why = out.routeReason ?? '';
    cell.route = `${out.route} / bob: ${ended.route}`;
    // From the moment Alice placed the call to the first frame Bob heard (one clock: one machine).
    cell.firstAudioMs = ended.stats.firstFrameAtMs !== undefined ? ended.stats.firstFrameAtMs - out.startedAtMs : undefined;
    const rec = decodeWav(fs.readFileSync(record));
    assert.ok(rec.ok, 'the recording is a valid WAV');
    const pcm = toMono48k(rec.value);
    const { correlation } = alignedCorrelation(input, pcm, 48_000 * 2);
    cell.whole = correlation;
    const w = windowedMatch(pcm);
    cell.match = w.median;
    const s = ended.stats;
    cell.audio = `bob received ${s.framesReceived}/${out.stats.framesSent} frames, concealed ${s.framesConcealed}, late ${s.framesLate}, expanded ${s.framesExpanded}, dropped ${s.framesDropped}; windows ${w.windows.map((x) => x.toFixed(2)).join(' ')}`;
    cell.ok = cell.match >= 0.9;
    return cell;
  } catch (e) {
    cell.error = (e as Error).message.split('\n')[0];
    throw e;
  } finally {
    await Promise.all([lab.stop(a.p.proc), lab.stop(b.p.proc)]);
  }
}

/**
 * The audio match: the median over half-second windows of the sent audio, each looked for on
 * its own anywhere in the recording (test/helpers/xcorr.ts), of the normalised
 * cross-correlation. On a busy machine the jitter buffer stretches the playout as timers run
 * late, so the recording drifts against any single alignment although every word arrived.
 */
function windowedMatch(recorded: Int16Array): { median: number; windows: number[] } {
  return windowedCorrelation(input, recorded);
}

/** A matrix label: direct, direct-bday (a birthday socket), direct-v6, relay-udp, relay-tcp (either side over TCP). */
function short(callerRoute: string, calleeRoute: string | undefined): string {
  if (callerRoute.startsWith('direct') && callerRoute.includes('(IPv6)')) return 'direct-v6';
  if (callerRoute.startsWith('direct')) return callerRoute.includes('birthday') || calleeRoute?.includes('birthday') ? 'direct-bday' : 'direct';
  return `${callerRoute}${calleeRoute ?? ''}`.includes('over tcp') ? 'relay-tcp' : 'relay-udp';
}

/** Where the issue says a cell must be direct: no UDP-blocked side, not symmetric↔symmetric. */
function mustBeDirect(x: string, y: string) {
  return x !== 'udp-blocked' && y !== 'udp-blocked' && !(x === 'symmetric' && y === 'symmetric');
}

before(async () => {
  if (skip) return;
  fs.writeFileSync(passwordFile, 'correct horse battery\n');
  fs.writeFileSync(speech, encodeWav(input, 48_000));
  lab.start();
  const l = lab.spawn('S', [process.execPath, bin, 'login-server', '--listen', login, '--db', path.join(tmp, 'login.sqlite'), '--tcp-listen', '203.0.113.10:443']);
  loginKey = String((await ready(l, 'login server')).key);
  const s1 = lab.spawn('S', [process.execPath, bin, 'supernode', '--listen', sn1, '--login', login, '--login-key', loginKey, '--data', path.join(tmp, 'sn1'), '--tcp-listen', '203.0.113.12:443', '--listen6', '[2001:db8::10]:7001']);
  await ready(s1, 'supernode 1');
  const s2 = lab.spawn('S', [process.execPath, bin, 'supernode', '--listen', sn2, '--login', login, '--login-key', loginKey, '--data', path.join(tmp, 'sn2'), '--bootstrap', sn1, '--tcp-listen', '203.0.113.13:443', '--listen6', '[2001:db8::11]:7001']);
  await ready(s2, 'supernode 2');
});

after(async () => {
  await lab.down();
  if (cells.length || moveReport || bindingReport || portmapReport.length || extraReports.length || ipv6Cells.length) printMatrix();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const only = process.env.TINCAN_NAT_CELLS?.split(',');   // e.g. "symmetric:port-restricted" while debugging
const repeat = Math.max(1, Math.min(50, Number(process.env.TINCAN_NAT_REPEAT ?? 1)));   // tries per cell (success rates)
for (const ta of ['public', ...natTypes] as const) {
  for (const tb of natTypes) {
    if (only && !only.includes(`${ta}:${tb}`)) continue;
    for (let run = 1; run <= repeat; run++) test(`${ta} calls ${tb}${repeat > 1 ? ` (try ${run})` : ''}`, { skip }, async () => {
      if (ta !== 'public') lab.setNat('NA', ta as NatType);
      lab.setNat('NB', tb);
      const cell = await callCell(ta === 'public' ? 'P' : 'A', ta, tb);
      const check = (ok: boolean, message: string) => { if (!ok) cell.error ??= message; assert.ok(ok, message); };
      if (mustBeDirect(ta, tb)) check(cell.path.startsWith('direct'), `${ta}↔${tb} must be direct, was ${cell.path}`);
      if (ta === 'udp-blocked' || tb === 'udp-blocked') check(cell.path === 'relay-tcp', `a UDP-blocked side is relayed over TCP, was ${cell.path}`);
      check(cell.match !== undefined && cell.match >= 0.9, `windowed cross-correlation ${cell.match?.toFixed(3)} must be ≥ 0.9 (whole-signal ${cell.whole?.toFixed(3)}; ${cell.audio})`);
    });
  }
}

// A call that starts relayed moves to direct mid-call: UDP between the two home networks is cut
// (the lab's gate) so punching fails and the call starts on the relay; once Bob has heard two
// seconds of it, the gate opens, the caller's next punching attempt (src/nat/retry.ts) finds the
// path and both sides move the call. Alice plays a steady tone; a drop-out in Bob's recording
// shows as a dip in its envelope (test/helpers/gaps.ts).
const moveGapMaxMs = 60;
let moveReport: string | undefined;
test('a relayed call moves to direct mid-call without a gap', { skip: skip ?? (only && !only.includes('move') ? 'not selected' : undefined) }, async () => {
  lab.setNat('NA', 'port-restricted');
  lab.setNat('NB', 'port-restricted');
  lab.setGate('closed');
  const started = Date.now();
  const record = path.join(tmp, 'rec-move.wav');
  const tonePath = path.join(tmp, 'tone.wav');
  fs.writeFileSync(tonePath, encodeWav(tone(14), 48_000));
  const [a, b] = await Promise.all([userNode('A', 'alice', sn1), userNode('B', 'bob', sn2, ['--auto-answer', '--record', record])]);
  try {
    await waitFor('bob to publish', async () => {
      const r = await tincan(a.host, ['lookup', 'bob', '--api', a.api, '--json']);
      return r.code === 0 && JSON.parse(r.stdout).publishedAtMs >= started ? true : undefined;
    });
    const calls = lab.watchApi('B', b.api, 'calls');
    const active = async () => { const l = calls.latest(); return (Array.isArray(l) ? l : l?.calls)?.find((x: any) => x.state === 'active'); };
    const calling = tincan(a.host, ['call', 'bob', '--play', tonePath, '--seconds', '12', '--api', a.api, '--json'], 60_000);
    // Two seconds of audio: the first punching attempt (1.5 s) is over, so the move comes from a retry.
    const relayed = await waitFor('bob to hear two seconds of the call over the relay', async () => {
      const c = await active();
      return c && c.path === 'relay' && c.stats.framesReceived >= 100 ? c : undefined;
    });
    lab.setGate('open');
    const openedAt = Date.now();
    const moved = await waitFor('the call to move to a direct path', async () => {
      const c = await active();
      return c?.path === 'direct' ? c : undefined;
    }, 40_000);
    const call = await calling;
    assert.equal(call.code, 0, `call failed: ${call.stderr}`);
    const out = JSON.parse(call.stdout);
    const ended = await waitFor('bob to see the call end with a recording', async () => {
      const c = (await status(b))?.calls?.find((x: any) => x.state === 'ended');
      return c && fs.existsSync(record) && fs.statSync(record).size > 44 ? c : undefined;
    });
    const rec = decodeWav(fs.readFileSync(record));
    assert.ok(rec.ok, 'the recording is a valid WAV');
    const pcm = toMono48k(rec.value);
    // Where the move falls in Bob's recording: playout runs from the first frame on, one frame
    // per 20 ms (give or take the few frames the jitter buffer stretches or drops), so the move
    // is looked for in the two seconds around that point.
    assert.ok(moved.movedToDirectAtMs !== undefined, 'bob says when the call moved');
    const moveAt = moved.movedToDirectAtMs - moved.stats.firstFrameAtMs;
    const around = toneGaps(pcm.subarray(Math.max(0, (moveAt - 1000) * 48), Math.max(0, moveAt + 1000) * 48));
    const whole = toneGaps(pcm);
    const s = ended.stats;
    const line = `relay → direct mid-call: ${relayed.route} → ${moved.route}; alice: ${out.route}: ${out.routeReason}; ` +
      `moved at ${moveAt} ms of Bob's ${Math.round(pcm.length / 48)} ms recording (gate opened at ${openedAt - moved.stats.firstFrameAtMs} ms); ` +
      `longest gap within 1 s of the move ${around.longestMs} ms, in the whole call ${whole.longestMs} ms (${whole.gaps} dips below half level, longest at ${whole.atMs ?? '-'} ms); ` +
      `bob received ${s.framesReceived}/${out.stats.framesSent} frames, concealed ${s.framesConcealed}, FEC ${s.framesRecoveredFec}, expanded ${s.framesExpanded}, late ${s.framesLate}, dropped ${s.framesDropped}`;
    moveReport = line;
    console.log(line);
    assert.match(out.routeReason ?? '', /moved to it/);
    assert.ok(out.route.startsWith('direct'), `the caller ends on a direct path, was ${out.route}`);
    assert.ok(moveAt > 1000 && moveAt < pcm.length / 48 - 1000, 'the move happened mid-call');
    assert.ok(around.longestMs <= moveGapMaxMs, `longest gap around the move ${around.longestMs} ms must be ≤ ${moveGapMaxMs} ms`);
  } finally {
    lab.setGate('open');
    await Promise.all([lab.stop(a.p.proc), lab.stop(b.p.proc)]);
  }
});

// Keep-alives sized to the NAT: Alice's router forgets idle UDP flows after 3 s (conntrack
// timeouts set short), so Linux's usual 120 s and our default 25 s keep-alives would lose her.
// Her node measures the binding's lifetime through its supernode on a socket of its own, sends
// keep-alives inside it, and so stays reachable: Bob's chat gets through after she sat idle.
let bindingReport: string | undefined;
test('keep-alives are sized to the NAT\'s measured binding timeout', { skip: skip ?? (only && !only.includes('binding') ? 'not selected' : undefined) }, async () => {
  lab.setNat('NA', 'port-restricted');
  lab.setNat('NB', 'port-restricted');
  lab.setUdpTimeout('NA', 3);
  const [a, b] = await Promise.all([userNode('A', 'alice', sn1, ['--binding-ladder', '1000,2000,4000,8000']), userNode('B', 'bob', sn2)]);
  try {
    const st = lab.watchApi('A', a.api, 'status', 250);
    const measured = await waitFor('alice to measure her NAT\'s binding timeout', async () => {
      const bnd = st.latest()?.nat?.binding;
      return bnd?.state === 'done' || bnd?.state === 'failed' ? bnd : undefined;
    }, 60_000);
    const check = await tincan('A', ['netcheck', '--api', a.api]);
    const line = check.stdout.split('\n').find((l) => l.includes('idle binding')) ?? '';
    bindingReport = `binding timeout (router conntrack UDP timeout 3 s): alive ${measured.aliveMs} ms, expired ${measured.expiredMs} ms, keep-alive ${measured.keepaliveMs} ms; netcheck: ${line.trim()}`;
    console.log(bindingReport);
    assert.deepEqual([measured.state, measured.aliveMs, measured.expiredMs, measured.keepaliveMs], ['done', 2000, 4000, 1600]);
    // No NAT-PMP server on the lab's routers: the client asks the default gateway and says it got no answer.
    const pm = st.latest()?.nat?.portMapping;
    assert.deepEqual([pm?.state, pm?.gateway], ['no-answer', '100.64.1.1']);
    assert.match(check.stdout, /port mapping: +none: no answer from 100\.64\.1\.1 \(PCP: no answer; NAT-PMP: no answer; UPnP-IGD: no answer\)/);
    // The point: idle for longer than the router keeps a flow, Alice can still be reached.
    await new Promise((r) => setTimeout(r, 5000));
    const chat = await tincan('B', ['chat', 'alice', 'still', 'there?', '--api', b.api, '--json'], 30_000);
    assert.equal(chat.code, 0, `bob's chat to alice after she sat idle: ${chat.stderr}`);
  } finally {
    lab.setUdpTimeout('NA', 'default');
    await Promise.all([lab.stop(a.p.proc), lab.stop(b.p.proc)]);
  }
});

// Port mapping (docs/reachability.md): miniupnpd on Bob's router, both homes behind symmetric
// NATs, so without it the call could only be relayed. Bob's node asks the gateway for a port
// (UPnP-IGD only in the first case; every protocol in the second, where PCP answers first; NAT-PMP
// alone in the third; every protocol again in the fourth, listening on 0.0.0.0, so the node
// finds its LAN address itself), publishes the mapped address, and Alice's call reaches him
// directly through it, from her own socket (no birthday sockets). Bob's mapping is deleted when he stops.
const portmapReport: string[] = [];
test('port mappings from miniupnpd carry a direct call between two symmetric NATs', { skip: skip ?? (only && !only.includes('portmap') ? 'not selected' : undefined) }, async () => {
  lab.setNat('NA', 'symmetric');
  lab.setNat('NB', 'symmetric');
  const daemon = await lab.startPortMapping('NB', tmp);
  const rules = () => execFileSync('ip', ['netns', 'exec', `${lab.prefix}NB`, 'nft', 'list', 'chain', 'inet', 'miniupnpd', 'prerouting'], { encoding: 'utf8' });
  try {
    const cases = [['upnp-igd', 'upnp-igd', true, undefined], ['pcp', undefined, true, undefined], ['nat-pmp', 'nat-pmp', false, undefined], ['pcp', undefined, false, '0.0.0.0:5000']] as const;
    for (const [protocol, flag, call, listenOn] of cases) {
      const bobArgs = flag ? ['--port-mapping', flag] : [];
      let mapped: any;
      const waitMapped = async (b: Node) => {
        mapped = await waitFor(`bob's ${protocol} mapping`, async () => {
          const m = (await status(b))?.nat?.portMapping;
          if (m && m.state !== 'trying' && m.state !== 'mapped') throw new Error(`no mapping: ${JSON.stringify(m)}`);
          return m?.state === 'mapped' ? m : undefined;
        });
        assert.deepEqual([mapped.protocol, mapped.publicAddress, mapped.externalPort], [protocol, '203.0.113.22', 5000]);
        assert.match(rules(), /dport 5000 dnat ip to 100\.64\.2\.10:5000/);
        const check = await tincan('B', ['netcheck', '--api', b.api]);
        const line = check.stdout.split('\n').find((l) => l.includes('port mapping')) ?? '';
        assert.match(line, new RegExp(`${{ 'upnp-igd': 'UPnP-IGD', pcp: 'PCP', 'nat-pmp': 'NAT-PMP' }[protocol]} at 100\\.64\\.2\\.1 forwards 203\\.0\\.113\\.22:5000 to us`));
        portmapReport.push(`${protocol}${listenOn ? ` (listening on ${listenOn})` : ''}: netcheck on bob: ${line.trim()}`);
      };
      if (!call) {
        const b = await userNode('B', 'bob', sn2, bobArgs, listenOn);
        try { await waitMapped(b); } finally { await lab.stop(b.p.proc); }
      } else {
        const cell = await callCell('A', 'symmetric', `symmetric, ${protocol} mapping`, {
          bobArgs,
          beforeCall: async (a, b) => {
            await waitMapped(b);
            await waitFor('bob\'s record to carry the mapped address', async () => {
              const r = await tincan(a.host, ['lookup', 'bob', '--api', a.api, '--json']);
              return r.code === 0 && JSON.parse(r.stdout).addresses.includes('203.0.113.22:5000') ? true : undefined;
            });
          },
        });
        const check = (ok: boolean, message: string) => { if (!ok) cell.error ??= message; assert.ok(ok, message); };
        check(cell.path === 'direct', `the call must be direct (not birthday, not relayed), was ${cell.path}: ${cell.route}`);
        check(cell.route?.startsWith('direct udp 203.0.113.22:5000') === true, `alice reaches bob at his mapped address, route ${cell.route}`);
        check(cell.match !== undefined && cell.match >= 0.9, `windowed cross-correlation ${cell.match?.toFixed(3)} must be ≥ 0.9 (${cell.audio})`);
        portmapReport.push(`${protocol}: call ${cell.route}: ${cell.why}; first audio ${cell.firstAudioMs} ms; match ${cell.match?.toFixed(2)}`);
      }
      // Bob stopped: his node deleted the mapping at the gateway.
      await waitFor(`bob's ${protocol} mapping to be deleted when his node stops`, async () => /dport 5000 /.test(rules()) ? undefined : true, 10_000)
        .catch((e) => { throw new Error(`${(e as Error).message}; miniupnpd said: ${daemon.daemon.err().split('\n').filter((l) => /remov|delet|NAT-PMP/i.test(l)).slice(-6).join(' | ')}`); });
    }
  } finally {
    console.log(portmapReport.join('\n'));
    await lab.stopPortMapping('NB', daemon);
  }
});

function printMatrix() {
  const cols = natTypes;
  const rows = ['public', ...natTypes];
  const w = 30;
  const lines = ['', 'NAT matrix (row calls column): path · time to first audio · audio match (windowed xcorr; whole-signal in the list below)', ''.padEnd(20) + cols.map((c) => c.padEnd(w)).join('')];
  for (const r of rows) {
    let line = r.padEnd(20);
    for (const c of cols) {
      const x = cells.find((k) => k.caller === r && k.callee === c);
      const s = !x ? '' : !x.ok && x.path === '-' ? `FAIL` : `${x.path} ${x.firstAudioMs ?? '?'}ms ${x.match?.toFixed(2) ?? '?'}${x.ok ? '' : ' FAIL'}`;
      line += s.slice(0, w - 1).padEnd(w);
    }
    lines.push(line);
  }
  const ok = cells.filter((c) => c.ok).length;
  lines.push('', `${ok}/${cells.length} cells connected with matching audio`);
  for (const c of cells.filter((k) => !k.ok)) lines.push(`  ${c.caller} → ${c.callee}: ${c.error}`);
  if (repeat > 1) {
    lines.push('', `direct paths over ${repeat} tries per cell, and when punching found them (ms after the call was placed):`);
    const keys = [...new Set(cells.map((c) => `${c.caller} → ${c.callee}`))];
    for (const k of keys) {
      const runs = cells.filter((c) => `${c.caller} → ${c.callee}` === k);
      const ms = runs.filter((c) => c.path.startsWith('direct')).map((c) => Number(/(?:after|in) (\d+) ms/.exec(c.why)?.[1])).filter((x) => x >= 0).sort((a, b) => a - b);
      lines.push(`  ${k}: direct ${runs.filter((c) => c.path.startsWith('direct')).length}/${runs.length}, within 3 s ${ms.filter((x) => x <= 3000).length}/${runs.length}` +
        (ms.length ? `, median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms[ms.length - 1]} ms` : ''));
    }
  }
  lines.push('', 'routes and reasons (caller route / callee route: why):');
  for (const c of cells) lines.push(`  ${c.caller} → ${c.callee}: ${c.route ?? '-'}: ${c.why}; ${c.audio ?? ''}; whole-signal xcorr ${c.whole?.toFixed(2)}; NATs as the nodes classified them: ${c.nat ?? '?'}`);
  if (moveReport) lines.push('', moveReport);
  if (bindingReport) lines.push('', bindingReport);
  if (portmapReport.length) lines.push('', 'port mapping (miniupnpd on bob\'s router, both NATs symmetric):', ...portmapReport.map((l) => `  ${l}`));
  if (extraReports.length) lines.push('', ...extraReports);
  if (ipv6Cells.length) {
    lines.push('', 'IPv6 (homes with global IPv6 behind stateful firewalls, no NAT66): caller → callee: path · time to first audio · audio match');
    for (const c of ipv6Cells) lines.push(`  ${c.caller} → ${c.callee}: ${c.path} ${c.firstAudioMs ?? '?'}ms ${c.match?.toFixed(2) ?? '?'}${c.ok ? '' : ` FAIL ${c.error ?? ''}`}; ${c.route ?? '-'}: ${c.why}; ${c.audio ?? ''}; ${c.nat ?? ''}`);
    lines.push(...ipv6Netchecks);
  }
  console.log(lines.join('\n'));
  fs.writeFileSync(path.resolve(import.meta.dirname, '../../../.natlab-matrix.txt'), lines.join('\n') + '\n');
}

// Login over TCP (decision 0026): a node behind a UDP-blocked NAT with a fresh data directory
// (no certificate) registers and logs in — the login server listens on TCP at its UDP address —
// then calls Bob, relayed over TCP.
const extraReports: string[] = [];
test('a UDP-blocked node with a fresh data directory registers, logs in over TCP and calls', { skip: skip ?? (only && !only.includes('login-tcp') ? 'not selected' : undefined) }, async () => {
  lab.setNat('NA', 'udp-blocked');
  lab.setNat('NB', 'port-restricted');
  const cell = await callCell('A', 'udp-blocked (fresh data dir)', 'port-restricted', { callerName: 'uma' });
  const t = signUpMs.get('uma');
  const line = `login over TCP from a UDP-blocked home, fresh data dir: register ${t?.register} ms, login ${t?.login} ms (CLI process included); call ${cell.path}, ${cell.firstAudioMs} ms to first audio, match ${cell.match?.toFixed(2)}`;
  extraReports.push(line);
  console.log(line);
  assert.equal(cell.path, 'relay-tcp');
  assert.ok(cell.match !== undefined && cell.match >= 0.9, `windowed cross-correlation ${cell.match?.toFixed(3)} must be ≥ 0.9 (${cell.audio})`);
});

// Clients that only get out on TCP port 443 (decision 0026): router NA drops everything but
// outbound TCP to port 443. The login server listens on 203.0.113.10:443 (its host's port 443 is
// what a fresh node tries), the supernodes on .12:443 and .13:443 — addresses nobody could guess,
// so the node must use what the login server and HelloOk advertise.
test('a node that only gets out on TCP 443, with a fresh data dir, registers, logs in and calls', { skip: skip ?? (only && !only.includes('tcp443') ? 'not selected' : undefined) }, async () => {
  lab.setNat('NA', 'tcp443-only');
  lab.setNat('NB', 'port-restricted');
  const cell = await callCell('A', 'tcp443-only (fresh data dir)', 'port-restricted', { callerName: 'tess' });
  const t = signUpMs.get('tess');
  const line = `TCP 443 only, fresh data dir: register ${t?.register} ms, login ${t?.login} ms (CLI process included); call ${cell.route}: ${cell.why}; ${cell.firstAudioMs} ms to first audio, match ${cell.match?.toFixed(2)}`;
  extraReports.push(line);
  console.log(line);
  assert.equal(cell.path, 'relay-tcp');
  assert.match(cell.why, /advertised listeners .*tcp:203\.0\.113\.1[23]:443/);
  assert.ok(cell.match !== undefined && cell.match >= 0.9, `windowed cross-correlation ${cell.match?.toFixed(3)} must be ≥ 0.9 (${cell.audio})`);
});

// IPv6 preferred when both peers have it (docs/reachability.md, "IPv6"): the two homes get
// global IPv6 (routed by their routers, no NAT66, a stateful firewall that lets in only flows
// the inside host started), the nodes find it on their interfaces, learn it from their
// supernode over IPv6 and publish it; the call goes direct over IPv6 — even where both IPv4
// NATs are symmetric, a cell the IPv4 matrix can only relay. With IPv6 off on Bob's side the
// call takes the IPv4 path as in the matrix; so it does when Bob's IPv6 is broken (his address
// is there, his router's upstream drops everything): no supernode answers him over IPv6, so he
// publishes no IPv6 address and nobody waits on it.
const ipv6Cells: Cell[] = [];
const ipv6Netchecks: string[] = [];
test('ipv6: a call goes direct over IPv6 when both homes have it; over IPv4 when Bob has none or a broken one', { skip: skip ?? (only && !only.includes('ipv6') ? 'not selected' : undefined) }, async () => {
  const cases = [
    { na: 'port-restricted', nb: 'port-restricted', bob: 'on' },
    { na: 'symmetric', nb: 'symmetric', bob: 'on' },
    { na: 'port-restricted', nb: 'port-restricted', bob: 'off' },
    { na: 'port-restricted', nb: 'port-restricted', bob: 'broken' },
  ] as const;
  try {
    for (const c of cases) {
      lab.setNat('NA', c.na);
      lab.setNat('NB', c.nb);
      lab.setV6('NA', 'on');
      lab.setV6('NB', c.bob);
      const bobV6 = c.bob === 'on';
      const [callerLabel, calleeLabel] = [`${c.na}+v6`, `${c.nb}${c.bob === 'on' ? '+v6' : c.bob === 'broken' ? '+broken-v6' : ''}`];
      const cell = await callCell('A', callerLabel, calleeLabel, {
        list: ipv6Cells,
        // Alice's IPv6 confirmed by her supernode, and Bob's record carrying his IPv6 address (or none).
        beforeCall: async (a, b) => {
          if (c.bob === 'broken') {
            await waitFor('bob to find that IPv6 does not work', async () => {
              const r = await tincan('B', ['netcheck', '--api', b.api, '--json']);
              return r.code === 0 && JSON.parse(r.stdout).nat?.ipv6?.state === 'no-answer' ? true : undefined;
            });
            const bc = await tincan('B', ['netcheck', '--api', b.api]);
            ipv6Netchecks.push(`  bob's netcheck (${callerLabel} → ${calleeLabel}): ${bc.stdout.split('\n').find((l) => l.includes('IPv6'))?.trim()}`);
          }
          await waitFor('alice to learn her IPv6 address from her supernode', async () => {
            const r = await tincan('A', ['netcheck', '--api', a.api, '--json']);
            return r.code === 0 && JSON.parse(r.stdout).nat?.ipv6?.state === 'works' ? true : undefined;
          });
          await waitFor('bob\'s record to say whether he has IPv6', async () => {
            const r = await tincan('A', ['lookup', 'bob', '--api', a.api, '--json']);
            const v6 = r.code === 0 && JSON.parse(r.stdout).addresses.some((x: string) => x.startsWith('[2001:db8:2::'));
            return r.code === 0 && v6 === bobV6 ? true : undefined;
          });
          const check = await tincan('A', ['netcheck', '--api', a.api]);
          ipv6Netchecks.push(`  alice's netcheck (${callerLabel} → ${calleeLabel}): ${check.stdout.split('\n').find((l) => l.includes('IPv6'))?.trim()}`);
        },
      });
      const check = (ok: boolean, message: string) => { if (!ok) cell.error ??= message; assert.ok(ok, message); };
      const [callerRoute, calleeRoute] = (cell.route ?? '').split(' / bob: ');
      if (bobV6) {
        check(callerRoute.startsWith('direct udp [2001:db8:2::10]:5000 (IPv6)'), `both homes have IPv6: the call is direct over IPv6, was ${cell.route}`);
        check(calleeRoute.startsWith('direct udp [2001:db8:1::10]:5000 (IPv6)'), `bob's side of the call is direct over IPv6 too, was ${calleeRoute}`);
        check(/IPv6/.test(cell.why), `the reason says IPv6: ${cell.why}`);
      } else {
        check(callerRoute.startsWith('direct udp 203.0.113.22:'), `Bob without (working) IPv6: the IPv4 path as in the matrix, was ${cell.route}`);
        check(/the peer has no IPv6/.test(cell.why), `the reason says why not IPv6: ${cell.why}`);
      }
      check(cell.match !== undefined && cell.match >= 0.9, `windowed cross-correlation ${cell.match?.toFixed(3)} must be ≥ 0.9 (whole-signal ${cell.whole?.toFixed(3)}; ${cell.audio})`);
      console.log(`ipv6 cell ${cell.caller} → ${cell.callee}: ${cell.route}: ${cell.why}; ${cell.audio}`);
    }
  } finally {
    lab.setV6('NA', 'off');
    lab.setV6('NB', 'off');
  }
});
