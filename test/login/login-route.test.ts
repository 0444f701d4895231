// The way to the login server: UDP first, then TCP to the same port, then TCP port 443, racing
// one more candidate per step while none is up; the request goes on exactly one session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginRoute, loginCandidates } from '../../src/login/login-route.ts';
import type { Result } from '../../src/wire/result.ts';

const login = { host: '203.0.113.10', port: 7000 };

function rig() {
  const connected: string[] = [];
  const closed: string[] = [];
  const up = new Set<string>();
  const route = new LoginRoute({
    login, connect: (p) => { connected.push(p); }, close: (p) => { closed.push(p); }, isUp: (p) => up.has(p),
  });
  const results: Result<string>[] = [];
  return { route, connected, closed, up, results, open: (now: number) => route.open(now, (r) => { results.push(r); }) };
}

test('login route: candidates are UDP, TCP on the same port, TCP 443 on the same host, then any given', () => {
  assert.deepEqual(loginCandidates(login), ['udp:203.0.113.10:7000', 'tcp:203.0.113.10:7000', 'tcp:203.0.113.10:443']);
  assert.deepEqual(loginCandidates({ host: '203.0.113.10', port: 443 }, [{ host: '203.0.113.12', port: 443 }]),
    ['udp:203.0.113.10:443', 'tcp:203.0.113.10:443', 'tcp:203.0.113.12:443']);
});

test('login route: UDP that answers is used at once; nothing else is tried', () => {
  const r = rig();
  r.open(0);
  assert.deepEqual(r.connected, ['udp:203.0.113.10:7000']);
  assert.equal(r.route.pollTimeout(), 1000);
  r.up.add('udp:203.0.113.10:7000');
  r.route.established('udp:203.0.113.10:7000', 40);
  assert.deepEqual(r.results, [{ ok: true, value: 'udp:203.0.113.10:7000' }]);
  assert.equal(r.route.pollTimeout(), undefined);
  assert.equal(r.route.transport, 'udp');
  r.open(100);
  assert.equal(r.results.length, 2, 'a session already up is used without a new attempt');
  assert.equal(r.connected.length, 1);
});

test('login route: UDP blocked — TCP joins after a step, wins, and the UDP attempt is closed', () => {
  const r = rig();
  r.open(0);
  r.open(10);   // a second request waits for the same attempt
  r.route.handleTimeout(1000);
  assert.deepEqual(r.connected, ['udp:203.0.113.10:7000', 'tcp:203.0.113.10:7000']);
  r.up.add('tcp:203.0.113.10:7000');
  r.route.established('tcp:203.0.113.10:7000', 1060);
  assert.equal(r.results.length, 2);
  assert.ok(r.results.every((x) => x.ok && x.value === 'tcp:203.0.113.10:7000'));
  assert.deepEqual(r.closed, ['udp:203.0.113.10:7000'], 'the request is never sent on two paths');
  assert.equal(r.route.transport, 'tcp');
  // Next time (the session has closed meanwhile) the path that worked goes first.
  r.up.clear();
  r.open(60_000);
  assert.equal(r.connected.at(-1), 'tcp:203.0.113.10:7000');
  assert.deepEqual(r.route.paths(), ['tcp:203.0.113.10:7000', 'udp:203.0.113.10:7000', 'tcp:203.0.113.10:443']);
});

test('login route: only port 443 gets out — reached on the third candidate', () => {
  const r = rig();
  r.open(0);
  r.route.handleTimeout(1000);
  r.route.handleTimeout(2000);
  assert.deepEqual(r.connected, ['udp:203.0.113.10:7000', 'tcp:203.0.113.10:7000', 'tcp:203.0.113.10:443']);
  assert.equal(r.route.pollTimeout(), 3000);
  r.route.handleTimeout(3000);
  assert.equal(r.route.pollTimeout(), 9000, 'nothing more to try: the give-up deadline');
  r.route.established('tcp:203.0.113.10:443', 2100);
  assert.deepEqual(r.results, [{ ok: true, value: 'tcp:203.0.113.10:443' }]);
  assert.deepEqual(r.closed.sort(), ['tcp:203.0.113.10:7000', 'udp:203.0.113.10:7000']);
});

test('login route: a failed handshake brings the next candidate forward; all failing is a clear error', () => {
  const r = rig();
  r.open(0);
  r.route.failed('udp:203.0.113.10:7000', 300);
  assert.deepEqual(r.connected, ['udp:203.0.113.10:7000', 'tcp:203.0.113.10:7000']);
  r.route.failed('udp:203.0.113.10:7000', 300);   // repeated: ignored
  r.route.failed('tcp:203.0.113.10:7000', 400);
  r.route.failed('tcp:203.0.113.10:443', 500, 'login server key does not match the pinned key');
  assert.equal(r.results.length, 1);
  assert.ok(!r.results[0].ok);
  assert.equal(r.results[0].error.code, 'login-server-unreachable');
  assert.match(r.results[0].error.message, /udp 203\.0\.113\.10:7000 \(failed\), tcp 203\.0\.113\.10:7000 \(failed\), tcp 203\.0\.113\.10:443 \(login server key does not match the pinned key\)/);
});

test('login route: nobody answers — gives up at its deadline; sessions of other peers are not its business', () => {
  const r = rig();
  r.open(0);
  r.route.established('udp:198.51.100.7:5000', 10);
  assert.equal(r.results.length, 0);
  for (let t = 1000; t < 9000; t += 1000) r.route.handleTimeout(t);
  assert.equal(r.results.length, 0);
  r.route.handleTimeout(9000);
  assert.equal(r.results.length, 1);
  assert.ok(!r.results[0].ok);
  assert.equal(r.route.pollTimeout(), undefined);
  assert.equal(r.route.isLoginPath('tcp:203.0.113.10:443'), true);
  assert.equal(r.route.isLoginPath('tcp:203.0.113.11:443'), false);
});
