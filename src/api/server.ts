// The local client API: JSON over HTTP and a WebSocket of live events, for the CLI, the web UI
// and third-party programs on the same machine (docs/decisions/0004-api-on-node-http.md).
// It binds where it is told (loopback by default) and refuses cross-site and DNS-rebinding
// requests: the Host must be a loopback name or an IP literal, and an Origin, when a browser
// sends one, must be this server's own.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, type NodeControl, type CallOptions } from './node-control.ts';
import { parseIPv4, parseIPv6 } from '../wire/address.ts';

export interface ApiServer { address: { host: string; port: number }; close(): Promise<void> }

// Implementation limits.
const bodyBytesMax = 64 * 1024;
const uiDir = path.resolve(import.meta.dirname, '../ui');
const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
};

type Handler = (params: Record<string, string>, body: any, query: URLSearchParams) => Promise<unknown> | unknown;
interface Route { method: string; pattern: RegExp; keys: string[]; handler: Handler }

function routes(c: NodeControl): Route[] {
  const r: Route[] = [];
  const add = (method: string, spec: string, handler: Handler) => {
    const keys: string[] = [];
    const pattern = new RegExp('^' + spec.replace(/:(\w+)/g, (_, k) => { keys.push(k); return '([^/]+)'; }) + '$');
    r.push({ method, pattern, keys, handler });
  };
  const str = (v: unknown, name: string, max = 1024): string => {
    if (typeof v !== 'string' || v.length === 0) throw new ApiError('bad-request', `"${name}" must be a non-empty string`);
    if (v.length > max) throw new ApiError('bad-request', `"${name}" is longer than ${max} characters`);
    return v;
  };
  const optStr = (v: unknown, name: string) => (v === undefined || v === null ? undefined : str(v, name, 4096));
  const callOptions = (b: any): CallOptions => ({ playFile: optStr(b?.play, 'play'), recordFile: optStr(b?.record, 'record') });

  add('GET', '/api/status', () => c.status());
  add('POST', '/api/register', async (_p, b) => { await c.register(str(b?.user, 'user', 64), str(b?.password, 'password'), optStr(b?.invite, 'invite')); return { registered: true, user: b.user }; });
  add('POST', '/api/login', (_p, b) => c.login(str(b?.user, 'user', 64), str(b?.password, 'password')));
  add('POST', '/api/password', async (_p, b) => { await c.changePassword(str(b?.password, 'password'), str(b?.newPassword, 'newPassword')); return { changed: true }; });
  add('POST', '/api/delete-account', async (_p, b) => { await c.deleteAccount(str(b?.password, 'password')); return { deleted: true }; });
  add('POST', '/api/devices', (_p, b) => c.devices(str(b?.password, 'password'), optStr(b?.remove, 'remove')));
  add('POST', '/api/logout', async () => { await c.logout(); return { loggedOut: true }; });
  add('GET', '/api/lookup/:user', (p) => c.lookup(p.user));
  add('GET', '/api/contacts', () => c.contacts());
  add('POST', '/api/contacts', (_p, b) => c.addContact(str(b?.user, 'user', 64)));
  add('DELETE', '/api/contacts/:user', async (p) => { await c.removeContact(p.user); return { removed: p.user }; });
  add('POST', '/api/chat', (_p, b) => c.chat(str(b?.to, 'to', 64), str(b?.text, 'text', 8000)));
  add('GET', '/api/history', (_p, _b, q) => c.history(q.get('peer') ?? undefined));
  const wp = <T>(fn: (() => T) | undefined): T => { if (!fn) throw new ApiError('not-supported', 'this node has no white pages', 501); return fn(); };
  add('GET', '/api/profile', () => wp(c.profile && (() => c.profile!() ?? null)));
  add('POST', '/api/profile', (_p, b) => wp(c.setProfile && (() => c.setProfile!({ displayName: str(b?.displayName, 'displayName', 64), city: optStr(b?.city, 'city'), language: optStr(b?.language, 'language') }))));
  add('GET', '/api/search', (_p, _b, q) => wp(c.search && (() => c.search!(str(q.get('q') ?? undefined, 'q', 256)))));
  add('POST', '/api/call', (_p, b) => c.call(str(b?.to, 'to', 64), callOptions(b)));
  add('GET', '/api/calls', () => c.calls());
  add('POST', '/api/calls/:id/answer', (p, b) => c.answer(p.id, b ? callOptions(b) : undefined));
  add('POST', '/api/calls/:id/reject', (p) => c.reject(p.id));
  add('POST', '/api/calls/:id/hold', (p) => c.hold(p.id));
  add('POST', '/api/calls/:id/resume', (p) => c.resume(p.id));
  const conf = <K extends keyof NodeControl>(k: K): NonNullable<NodeControl[K]> => {
    const fn = c[k];
    if (typeof fn !== 'function') throw new ApiError('not-supported', 'this node does not do conferences', 501);
    return (fn as Function).bind(c);
  };
  const users = (v: unknown): string[] => {
    if (!Array.isArray(v) || v.length > 15) throw new ApiError('bad-request', '"invite" must be a list of at most 15 user names');
    return v.map((u, i) => str(u, `invite[${i}]`, 64));
  };
  add('GET', '/api/conferences', () => conf('conferences')());
  add('POST', '/api/conferences', (_p, b) => conf('createConference')(users(b?.invite ?? []), callOptions(b)));
  add('GET', '/api/conferences/:id', (p) => conf('conference')(p.id));
  add('POST', '/api/conferences/:id/invite', (p, b) => conf('inviteToConference')(p.id, str(b?.user, 'user', 64)));
  add('POST', '/api/conferences/:id/join', (p, b) => conf('joinConference')(p.id, b ? callOptions(b) : undefined));
  add('POST', '/api/conferences/:id/leave', (p) => conf('leaveConference')(p.id));
  add('POST', '/api/hangup', (_p, b) => c.hangup(optStr(b?.callId, 'callId')));
  return r;
}

/** Loopback names and IP literals only: a DNS name pointing here is how rebinding attacks start. */
function hostAllowed(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader) ?? /^([^:]+)(?::\d+)?$/.exec(hostHeader);
  if (!m) return false;
  const host = m[1].toLowerCase();
  return host === 'localhost' || parseIPv4(host) !== undefined || parseIPv6(host) !== undefined;
}

function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true; // not a browser, or a same-origin GET
  try { return new URL(origin).host === hostHeader; } catch { return false; }
}

export async function startApiServer(control: NodeControl, listen: { host: string; port: number }): Promise<ApiServer> {
  const table = routes(control);

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text);
  };
  const fail = (res: http.ServerResponse, status: number, code: string, message: string) => send(res, status, { error: { code, message } });

  const server = http.createServer((req, res) => {
    void (async () => {
      if (!hostAllowed(req.headers.host) || !originAllowed(req.headers.origin, req.headers.host)) {
        return fail(res, 403, 'forbidden', 'requests must come from this machine, to a loopback or IP address');
      }
      const url = new URL(req.url ?? '/', 'http://local');
      if (!url.pathname.startsWith('/api/')) return serveUi(url.pathname, req.method ?? 'GET', res);
      const route = table.find((r) => r.method === req.method && r.pattern.test(url.pathname));
      if (!route) {
        const exists = table.some((r) => r.pattern.test(url.pathname));
        return fail(res, exists ? 405 : 404, exists ? 'method-not-allowed' : 'not-found', `no ${req.method} ${url.pathname}`);
      }
      let body: unknown;
      if (req.method === 'POST' || req.method === 'DELETE') {
        const raw = await readBody(req);
        if (raw === undefined) return fail(res, 413, 'too-large', `request bodies are limited to ${bodyBytesMax} bytes`);
        if (raw.length > 0) {
          try { body = JSON.parse(raw); } catch { return fail(res, 400, 'bad-json', 'the request body is not valid JSON'); }
        }
      }
      const m = route.pattern.exec(url.pathname)!;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      try {
        send(res, 200, await route.handler(params, body, url.searchParams));
      } catch (e) {
        if (e instanceof ApiError) return fail(res, e.httpStatus, e.code, e.message);
        fail(res, 500, 'internal', (e as Error).message ?? String(e));
      }
    })().catch(() => { try { res.destroy(); } catch { /* already gone */ } });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const audioWss = new WebSocketServer({ noServer: true, maxPayload: audioMessageBytesMax });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const known = url.pathname === '/api/events' || url.pathname === '/api/audio';
    if (!known || !hostAllowed(req.headers.host) || !originAllowed(req.headers.origin, req.headers.host)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    if (url.pathname === '/api/audio') audioWss.handleUpgrade(req, socket, head, (ws) => attachAudio(ws, control, url.searchParams.get('call') ?? ''));
    else wss.handleUpgrade(req, socket, head, (ws) => attachEvents(ws, control));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as { address: string; port: number };
  return {
    address: { host: a.address, port: a.port },
    close: () => new Promise<void>((resolve) => {
      for (const ws of [...wss.clients, ...audioWss.clients]) ws.terminate();
      wss.close();
      audioWss.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function attachEvents(ws: WebSocket, control: NodeControl) {
  const push = (e: unknown) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(e)); };
  push({ type: 'status', status: control.status() });
  const unsubscribe = control.subscribe(push);
  ws.on('close', unsubscribe);
  ws.on('error', unsubscribe);
}

// Binary messages of 16-bit little-endian PCM, 48 kHz mono, both ways; at most 100 ms each.
const audioMessageBytesMax = 4800 * 2;

function attachAudio(ws: WebSocket, control: NodeControl, callId: string) {
  const bridge = control.audio?.(callId, (pcm) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  });
  if (!bridge) { ws.close(1008, 'no such active call'); return; }
  ws.on('message', (data, isBinary) => {
    const b = data as Buffer;
    // Anything else from the client is dropped: audio is the only thing this socket carries.
    if (!isBinary || !Buffer.isBuffer(b) || b.length === 0 || b.length % 2 !== 0) return;
    const pcm = new Int16Array(b.length / 2);
    for (let i = 0; i < pcm.length; i++) pcm[i] = b.readInt16LE(i * 2);
    bridge.push(pcm);
  });
  ws.on('close', () => bridge.close());
  ws.on('error', () => bridge.close());
}

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > bodyBytesMax) { over = true; return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

function serveUi(pathname: string, method: string, res: http.ServerResponse) {
  if (method !== 'GET' && method !== 'HEAD') { res.writeHead(405); res.end(); return; }
  const rel = pathname === '/' ? 'index.html' : pathname.slice(1);
  const file = path.resolve(uiDir, rel);
  const type = contentTypes[path.extname(file)];
  if (!file.startsWith(uiDir + path.sep) || !type || !fs.existsSync(file)) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  res.end(method === 'HEAD' ? undefined : fs.readFileSync(file));
}

