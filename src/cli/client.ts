// User commands: HTTP clients of a running node's local API.
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs, UsageError } from './args.ts';
import { parseHostPort, formatAddress } from '../wire/address.ts';
import type { CallInfo, NodeStatus, LookupResult, ChatMessage } from '../api/node-control.ts';

export class ClientError extends Error {
  constructor(message: string, readonly exitCode = 1) { super(message); }
}

export const clientCommands = ['register', 'login', 'status', 'netcheck', 'lookup', 'chat', 'call', 'hangup'];

const flagSpec = {
  api: 'string', json: 'boolean', 'password-file': 'string', invite: 'string', play: 'string', record: 'string', seconds: 'string',
} as const;

class Api {
  constructor(readonly base: string) {}
  async req<T>(method: string, route: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`http://${this.base}/api/${route}`, {
        method, headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ClientError(`cannot reach a node's API at ${this.base} (is \`tincan node\` running? see --api)`, 3);
    }
    const json = await res.json().catch(() => undefined) as any;
    if (!res.ok) throw new ClientError(json?.error?.message ?? `the node answered ${res.status}`);
    return json as T;
  }
}

export async function runClientCommand(cmd: string, argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, flagSpec);
  const apiAddr = parseHostPort(String(flags.api ?? '127.0.0.1:7780'));
  if (!apiAddr.ok) throw new UsageError(`--api: ${apiAddr.error.message}`);
  const api = new Api(formatAddress(apiAddr.value));
  const json = flags.json === true;
  const out = (obj: unknown, human: string) => process.stdout.write(json ? JSON.stringify(obj) + '\n' : human + '\n');
  const arg = (i: number, name: string) => {
    const v = positionals[i];
    if (!v) throw new UsageError(`${cmd} needs ${name}`);
    return v;
  };
  const noMore = (n: number) => { if (positionals.length > n) throw new UsageError(`unexpected argument "${positionals[n]}"`); };

  switch (cmd) {
    case 'register':
    case 'login': {
      const user = arg(0, 'a user name');
      noMore(1);
      const password = await readPassword(flags['password-file'] as string | undefined);
      if (cmd === 'register') {
        await api.req('POST', 'register', { user, password, invite: flags.invite });
        out({ registered: true, user }, `registered ${user}`);
      } else {
        const st = await api.req<NodeStatus>('POST', 'login', { user, password });
        out(st, `logged in as ${st.user} via supernode ${st.supernode ?? '?'} (public address ${st.publicAddress ?? '?'})`);
      }
      return 0;
    }
    case 'status': {
      noMore(0);
      const st = await api.req<NodeStatus>('GET', 'status');
      out(st, [
        `user:            ${st.user ?? '(not logged in)'}`,
        `supernode:       ${st.supernode ?? '(none)'}`,
        `public address:  ${st.publicAddress ?? '(unknown)'}`,
        `listening on:    ${st.listen}${st.directAllowed ? '' : ' (direct paths off)'}`,
        `login server:    ${st.loginServer}${st.loginServerKey ? ` key ${st.loginServerKey}` : ''}`,
        `NAT:             ${st.nat?.kind ?? 'unknown'}`,
        `calls:           ${st.calls.filter((c) => c.state !== 'ended').length} in progress`,
        ...st.calls.filter((c) => c.state !== 'ended').map((c) => `  ${c.peer}: ${c.route ?? c.path ?? 'connecting'}${c.routeReason ? ` (${c.routeReason})` : ''}`),
      ].join('\n'));
      return 0;
    }
    case 'netcheck': {
      noMore(0);
      const st = await api.req<NodeStatus>('GET', 'status');
      const n = st.nat;
      out({ supernode: st.supernode, transport: st.transport, publicAddress: st.publicAddress, nat: n }, [
        'report:',
        `  * UDP:             ${st.transport === 'udp' ? 'yes' : st.transport === 'tcp' ? 'no answer: attached over TCP' : 'unknown (not attached)'}`,
        `  * supernode:       ${st.supernode ?? '(none)'}`,
        `  * public address:  ${n?.publicAddresses.join(', ') || st.publicAddress || '(unknown)'}`,
        `  * NAT:             ${n?.kind ?? 'unknown'}`,
        `  * mapping varies by destination: ${n ? (n.needsBirthday ? 'yes (symmetric: peers need birthday punching)' : n.mapping === 'unknown' ? 'unknown (one supernode answered)' : 'no') : 'unknown'}`,
        `  * filtering:       ${n?.filtering ?? 'unknown'}`,
        `  * port mapping (UPnP / NAT-PMP / PCP): not tried (not implemented)`,
        `  * IPv6:            not tried (not implemented)`,
      ].join('\n'));
      return 0;
    }
    case 'lookup': {
      const user = arg(0, 'a user name');
      noMore(1);
      const r = await api.req<LookupResult>('GET', `lookup/${encodeURIComponent(user)}`);
      out(r, `${r.user} is online; direct: ${r.addresses.join(', ') || 'none'}; relay: ${r.supernode ?? 'none'}`);
      return 0;
    }
    case 'chat': {
      const user = arg(0, 'a user name');
      const text = positionals.slice(1).join(' ');
      if (!text) throw new UsageError('chat needs a message');
      const m = await api.req<ChatMessage>('POST', 'chat', { to: user, text });
      out(m, `delivered to ${m.peer}`);
      return 0;
    }
    case 'hangup': {
      noMore(1);
      const ended = await api.req<CallInfo[]>('POST', 'hangup', positionals[0] ? { callId: positionals[0] } : {});
      out(ended, ended.length ? ended.map((c) => `hung up the call with ${c.peer}`).join('\n') : 'no call in progress');
      return 0;
    }
    case 'call': {
      const user = arg(0, 'a user name');
      noMore(1);
      const seconds = flags.seconds === undefined ? undefined : Number(flags.seconds);
      if (seconds !== undefined && !(seconds > 0 && seconds <= 86_400)) throw new UsageError('--seconds must be a number of seconds above 0');
      const file = (f: unknown) => (typeof f === 'string' ? path.resolve(f) : undefined);
      return placeCall(api, user, { play: file(flags.play), record: file(flags.record), seconds }, out);
    }
  }
  throw new UsageError(`unknown command "${cmd}"`);
}

async function placeCall(api: Api, user: string, o: { play?: string; record?: string; seconds?: number },
  out: (obj: unknown, human: string) => void): Promise<number> {
  const started = await api.req<CallInfo>('POST', 'call', { to: user, play: o.play, record: o.record });
  const get = async () => (await api.req<CallInfo[]>('GET', 'calls')).find((c) => c.id === started.id);
  const answerBy = Date.now() + 60_000;
  let c = await get();
  while (c && c.state !== 'active' && c.state !== 'ended') {
    if (Date.now() > answerBy) { await api.req('POST', 'hangup', { callId: started.id }); throw new ClientError(`${user} did not answer within 60 s`); }
    await sleep(100);
    c = await get();
  }
  if (!c || c.state === 'ended') throw new ClientError(`the call to ${user} ended: ${c?.endReason ?? 'failed'}`);
  if (!process.stdout.isTTY || o.seconds === undefined) process.stderr.write(`in call with ${user} (${c.path})${o.seconds ? ` for ${o.seconds} s` : '; Ctrl-C hangs up'}\n`);
  const until = o.seconds === undefined ? Infinity : Date.now() + o.seconds * 1000;
  let interrupted = false;
  process.once('SIGINT', () => { interrupted = true; });
  while (Date.now() < until && !interrupted) {
    await sleep(Math.min(200, Math.max(0, until - Date.now())));
    c = await get();
    if (!c || c.state === 'ended') throw new ClientError(`the call ended early: ${c?.endReason ?? 'failed'}`);
  }
  await api.req('POST', 'hangup', { callId: started.id });
  const final = (await get()) ?? c;
  const s = final.stats;
  out(final, `call with ${user} over ${final.path} path: sent ${s.framesSent} frames, received ${s.framesReceived}, concealed ${s.framesConcealed}, recovered by FEC ${s.framesRecoveredFec}`);
  return 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readPassword(file: string | undefined): Promise<string> {
  if (file) {
    try { return fs.readFileSync(file, 'utf8').split(/\r?\n/)[0]; } catch (e) { throw new ClientError(`cannot read the password file: ${(e as Error).message}`); }
  }
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  }
  // Interactive: read one line with echo off.
  process.stderr.write('password: ');
  const rl = readline.createInterface({ input: process.stdin, terminal: true });
  (rl as unknown as { _writeToOutput: () => void })._writeToOutput = () => {};
  const line = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return line;
}
