import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket } from 'ws';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { FakeControl } from './fake-control.ts';

let server: ApiServer;
const control = new FakeControl();
let base = '';
before(async () => { server = await startApiServer(control, { host: '127.0.0.1', port: 0 }); base = `127.0.0.1:${server.address.port}`; });
after(() => server.close());

async function call(method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://${base}${route}`, {
    method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => undefined) as any };
}

test('register, log in, status', async () => {
  assert.equal((await call('POST', '/api/register', { user: 'alice', password: 'long enough' })).status, 200);
  const dup = await call('POST', '/api/register', { user: 'alice', password: 'long enough' });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.error.code, 'name-taken');
  const bad = await call('POST', '/api/login', { user: 'alice', password: 'wrong' });
  assert.equal(bad.json.error.code, 'bad-credentials');
  const ok = await call('POST', '/api/login', { user: 'alice', password: 'long enough' });
  assert.equal(ok.json.user, 'alice');
  assert.equal((await call('GET', '/api/status')).json.loggedIn, true);
});

test('lookup, contacts, chat, history', async () => {
  assert.equal((await call('GET', '/api/lookup/bob')).json.online, true);
  assert.equal((await call('GET', '/api/lookup/nobody')).json.error.code, 'not-found');
  assert.equal((await call('POST', '/api/contacts', { user: 'bob' })).json.user, 'bob');
  assert.deepEqual((await call('GET', '/api/contacts')).json.map((c: any) => c.user), ['bob']);
  assert.equal((await call('DELETE', '/api/contacts/bob')).status, 200);
  const m = await call('POST', '/api/chat', { to: 'bob', text: 'hi' });
  assert.equal(m.json.deliveredAtMs, 2);
  assert.equal((await call('GET', '/api/history?peer=bob')).json.length, 1);
  assert.equal((await call('GET', '/api/history?peer=carol')).json.length, 0);
});

test('calls: place, list, hang up, unknown call', async () => {
  const c = await call('POST', '/api/call', { to: 'bob' });
  assert.equal(c.json.state, 'active');
  assert.equal((await call('GET', '/api/calls')).json.length, 1);
  assert.equal((await call('POST', `/api/calls/${c.json.id}/hold`)).json.state, 'on-hold');
  assert.equal((await call('POST', `/api/calls/${c.json.id}/resume`)).json.state, 'active');
  const h = await call('POST', '/api/hangup', { callId: c.json.id });
  assert.equal(h.json[0].endReason, 'hung-up');
  assert.equal((await call('POST', '/api/calls/zzz/answer', {})).status, 404);
});

test('bad requests get a JSON error: malformed JSON, missing fields, oversize bodies, unknown routes', async () => {
  const mal = await call('POST', '/api/chat', '{not json');
  assert.equal(mal.status, 400);
  assert.equal(mal.json.error.code, 'bad-json');
  const missing = await call('POST', '/api/chat', { to: 'bob' });
  assert.equal(missing.status, 400);
  assert.match(missing.json.error.message, /text/);
  const big = await call('POST', '/api/chat', { to: 'bob', text: 'x'.repeat(70_000) });
  assert.equal(big.status, 413);
  assert.equal((await call('GET', '/api/nothing')).status, 404);
  assert.equal((await call('PUT', '/api/status')).status, 405);
});

test('requests with a foreign Host or Origin are refused', async () => {
  const status = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.address.port, path: '/api/status', headers }, (res) => { res.resume(); resolve(res.statusCode!); });
    req.on('error', reject);
    req.end();
  });
  assert.equal(await status({ host: 'attacker.example' }), 403);
  assert.equal(await status({ host: `127.0.0.1:${server.address.port}`, origin: 'http://attacker.example' }), 403);
  assert.equal(await status({ host: `localhost:${server.address.port}` }), 200);
});

test('the web UI is served', async () => {
  const res = await fetch(`http://${base}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/html/);
  assert.match(await res.text(), /Tincan/);
  assert.equal((await fetch(`http://${base}/app.js`)).status, 200);
  assert.equal((await fetch(`http://${base}/../package.json`)).status, 404);
});

test('the event stream starts with the status and carries events', async () => {
  const ws = new WebSocket(`ws://${base}/api/events`);
  const got: any[] = [];
  const twoEvents = new Promise<void>((resolve) => ws.on('message', (d) => { got.push(JSON.parse(String(d))); if (got.length === 2) resolve(); }));
  await new Promise((r) => ws.once('open', r));
  await call('POST', '/api/chat', { to: 'bob', text: 'event' });
  await twoEvents;
  assert.equal(got[0].type, 'status');
  assert.equal(got[1].type, 'receipt');
  ws.close();
});
