// User commands: HTTP clients of a running node's local API.
import { protocolNames } from '../nat/port-mapper.ts';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs, UsageError } from './args.ts';
import { parseHostPort, formatAddress } from '../wire/address.ts';
import type { CallInfo, NodeStatus, LookupResult, ChatMessage, DeviceSummary, ConferenceInfo, ProfileFields, SearchResult } from '../api/node-control.ts';

function describeProfile(p: SearchResult): string {
  const where = [p.city, p.language].filter(Boolean).join(', ');
  return [p.user, p.displayName && `"${p.displayName}"`, where && `(${where})`].filter(Boolean).join(' ');
}

export class ClientError extends Error {
  constructor(message: string, readonly exitCode = 1) { super(message); }
}

export const clientCommands = ['register', 'login', 'status', 'netcheck', 'lookup', 'chat', 'call', 'hangup', 'answer', 'reject', 'hold', 'resume', 'calls', 'conference', 'passwd', 'delete-account', 'devices', 'profile', 'search'];

const flagSpec = {
  api: 'string', json: 'boolean', 'password-file': 'string', invite: 'string', play: 'string', record: 'string', seconds: 'string',
  'new-password-file': 'string', remove: 'string', yes: 'boolean', city: 'string', language: 'string',
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
    case 'passwd': {
      noMore(0);
      const [password, newPassword] = await readPasswords(
        [flags['password-file'] as string | undefined, flags['new-password-file'] as string | undefined], ['current password', 'new password']);
      await api.req('POST', 'password', { password, newPassword });
      out({ changed: true }, 'password changed; your other devices must log in again with the new one');
      return 0;
    }
    case 'delete-account': {
      noMore(0);
      if (flags.yes !== true) throw new UsageError('delete-account removes the account for good; add --yes to confirm');
      const [password] = await readPasswords([flags['password-file'] as string | undefined], ['password']);
      await api.req('POST', 'delete-account', { password });
      out({ deleted: true }, 'account deleted; this node is logged out');
      return 0;
    }
    case 'devices': {
      noMore(0);
      const [password] = await readPasswords([flags['password-file'] as string | undefined], ['password']);
      const remove = flags.remove as string | undefined;
      const list = await api.req<DeviceSummary[]>('POST', 'devices', { password, remove });
      const line = (d: DeviceSummary) => `${d.deviceId.padEnd(14)} last login ${new Date(d.lastLoginAtMs).toISOString()}${d.thisDevice ? '  (this device)' : ''}`;
      out(list, [...(remove ? [`removed ${remove}; its certificate will not be renewed`] : []), ...list.map(line)].join('\n') || 'no devices');
      return 0;
    }
    case 'status': {
      noMore(0);
      const st = await api.req<NodeStatus>('GET', 'status');
      out(st, [
        `user:            ${st.user ?? '(not logged in)'}`,
        `supernode:       ${st.supernode ?? '(none)'}`,
        ...(st.hostCacheSize !== undefined ? [`host cache:      ${st.hostCacheSize} supernode${st.hostCacheSize === 1 ? '' : 's'}`] : []),
        `public address:  ${st.publicAddress ?? '(unknown)'}`,
        ...(st.nat?.ipv6 && st.nat.ipv6.state !== 'none' ? [`IPv6:            ${st.nat.ipv6.state === 'works' ? st.nat.ipv6.observed : `${st.nat.ipv6.local} (${st.nat.ipv6.state})`}`] : []),
        `listening on:    ${st.listen}${st.directAllowed ? '' : ' (direct paths off)'}`,
        `login server:    ${st.loginServer}${st.loginServerKey ? ` key ${st.loginServerKey}` : ''}`,
        `NAT:             ${st.nat?.kind ?? 'unknown'}`,
        `port mapping:    ${describeMapping(st.nat?.portMapping)}`,
        `calls:           ${st.calls.filter((c) => c.state !== 'ended').length} in progress`,
        ...st.calls.slice(-5).map((c) => `  ${describeCall(c)}`),
        ...(st.callSignalsDropped ? [`call signals dropped: ${st.callSignalsDropped} (malformed, unknown call or out of order)`] : []),
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
        `  * idle binding:    ${describeBinding(n?.binding)}`,
        `  * port mapping:    ${describeMapping(n?.portMapping)}`,
        `  * IPv6:            ${describeIpv6(n?.ipv6)}`,
      ].join('\n'));
      return 0;
    }
    case 'calls': {
      noMore(0);
      const list = await api.req<CallInfo[]>('GET', 'calls');
      out(list, list.length ? list.map(describeCall).join('\n') : 'no calls');
      return 0;
    }
    case 'answer':
    case 'reject':
    case 'hold':
    case 'resume': {
      noMore(1);
      const list = await api.req<CallInfo[]>('GET', 'calls');
      // Without an id: the one call this can apply to, if there is exactly one.
      const fits = (c: CallInfo) => (cmd === 'answer' || cmd === 'reject') ? c.state === 'incoming' : c.state !== 'ended' && c.state !== 'incoming';
      const id = positionals[0] ?? only(list.filter(fits), cmd);
      const c = await api.req<CallInfo>('POST', `calls/${encodeURIComponent(id)}/${cmd}`);
      out(c, describeCall(c));
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
      out(m, m.offline ? `${m.peer} is offline: the message waits, sealed, in their mailbox (you get a receipt when they read it)` : `delivered to ${m.peer}`);
      return 0;
    }
    case 'profile': {
      // No words: show the profile; words: they are the new display name.
      if (positionals.length === 0 && flags.city === undefined && flags.language === undefined) {
        const p = await api.req<ProfileFields | null>('GET', 'profile');
        out(p, p ? describeProfile({ user: '', ...p }) : 'no profile set (tincan profile DISPLAY NAME… [--city C] [--language L])');
        return 0;
      }
      if (positionals.length === 0) throw new UsageError('profile needs a display name');
      const p = await api.req<ProfileFields>('POST', 'profile', { displayName: positionals.join(' '), city: flags.city, language: flags.language });
      out(p, `profile set: ${describeProfile({ user: '', ...p })}`);
      return 0;
    }
    case 'search': {
      if (positionals.length === 0) throw new UsageError('search needs a user name or words of a display name');
      const found = await api.req<SearchResult[]>('GET', `search?q=${encodeURIComponent(positionals.join(' '))}`);
      out(found, found.length ? found.map(describeProfile).join('\n') : 'nobody found');
      return 0;
    }
    case 'hangup': {
      noMore(1);
      const ended = await api.req<CallInfo[]>('POST', 'hangup', positionals[0] ? { callId: positionals[0] } : {});
      out(ended, ended.length ? ended.map((c) => `hung up the call with ${c.peer}`).join('\n') : 'no call in progress');
      return 0;
    }
    case 'conference': {
      const sub = arg(0, 'a subcommand: create, invite, join, leave or status');
      const file = (f: unknown) => (typeof f === 'string' ? path.resolve(f) : undefined);
      const audio = { play: file(flags.play), record: file(flags.record) };
      const say = (c: ConferenceInfo) => out(c, describeConference(c));
      const id = (i: number) => encodeURIComponent(arg(i, 'a conference id (see tincan conference status)'));
      switch (sub) {
        case 'create': {
          const invite = positionals.slice(1);
          if (invite.length === 0) throw new UsageError('conference create needs the users to invite');
          say(await api.req<ConferenceInfo>('POST', 'conferences', { invite, ...audio }));
          return 0;
        }
        case 'invite': { noMore(3); say(await api.req<ConferenceInfo>('POST', `conferences/${id(1)}/invite`, { user: arg(2, 'a user name') })); return 0; }
        case 'join': { noMore(2); say(await api.req<ConferenceInfo>('POST', `conferences/${id(1)}/join`, audio)); return 0; }
        case 'leave': { noMore(2); say(await api.req<ConferenceInfo>('POST', `conferences/${id(1)}/leave`)); return 0; }
        case 'status': {
          noMore(2);
          if (positionals[1]) { say(await api.req<ConferenceInfo>('GET', `conferences/${id(1)}`)); return 0; }
          const list = await api.req<ConferenceInfo[]>('GET', 'conferences');
          out(list, list.length ? list.map(describeConference).join('\n') : 'no conferences');
          return 0;
        }
      }
      throw new UsageError(`unknown conference subcommand "${sub}" (create, invite, join, leave, status)`);
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
  const quality = s.mos === undefined ? '' : `; loss ${s.lossPct.toFixed(1)} %, jitter ${s.jitterMs.toFixed(0)} ms${s.rttMs === undefined ? '' : `, RTT ${s.rttMs.toFixed(0)} ms`}, estimated MOS ${s.mos.toFixed(1)}`;
  out(final, `call with ${user} over ${final.path} path: sent ${s.framesSent} frames, received ${s.framesReceived}, concealed ${s.framesConcealed}, recovered by FEC ${s.framesRecoveredFec}${quality}`);
  return 0;
}

function only(list: CallInfo[], cmd: string): string {
  if (list.length === 1) return list[0].id;
  throw new ClientError(list.length ? `${list.length} calls fit; say which: tincan ${cmd} CALL_ID (see tincan calls)` : `no call to ${cmd}`);
}

const stateWords: Record<CallInfo['state'], string> = {
  calling: 'calling', ringing: 'ringing at', incoming: 'incoming call from', answering: 'answering', active: 'in call with',
  'on-hold': 'on hold (by us) with', 'remote-hold': 'on hold (by them) with', 'both-hold': 'on hold (both sides) with', ended: 'ended',
};

function describeConference(c: ConferenceInfo): string {
  const head = c.state === 'incoming' ? `conference ${c.id}: invited by ${c.inviter} (tincan conference join ${c.id})`
    : c.state === 'left' ? `conference ${c.id}: left (${c.endReason ?? 'left'})`
    : `conference ${c.id}: ${c.members.length} parties, host ${c.host ?? 'none'}`;
  const members = c.members.map((m) => `  ${m.user}${m.user === c.host ? ' (host)' : ''}: ${m.cpuFramesPerMs.toFixed(1)} Opus frames/ms, uplink ${m.uplinkKbps} kb/s, could mix ${m.canHost}`);
  const more = [...(c.invited.length ? [`  invited: ${c.invited.join(', ')}`] : []), ...(c.gone.length ? [`  gone: ${c.gone.join(', ')}`] : [])];
  return [head, ...members, ...more].join('\n');
}

function describeCall(c: CallInfo): string {
  const what = c.state === 'ended' ? `call ${c.direction === 'out' ? 'to' : 'from'} ${c.peer} ended: ${c.endReason ?? 'failed'}` : `${stateWords[c.state]} ${c.peer}`;
  return `${c.id}  ${what}${c.route ?? c.path ? ` (${c.route ?? c.path}${c.routeReason && c.state !== 'ended' ? `: ${c.routeReason}` : ''})` : ''}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Several secrets: each from its file's first line if given, else from piped stdin (one per
 * line, in order), else asked for on the terminal.
 */
async function readPasswords(files: (string | undefined)[], prompts: string[]): Promise<string[]> {
  const out: string[] = [];
  let piped: string[] | undefined;
  for (const [i, file] of files.entries()) {
    if (file || process.stdin.isTTY) { out.push(await readPassword(file, prompts[i])); continue; }
    if (!piped) {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      piped = Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
    }
    const line = piped.shift();
    if (!line) throw new ClientError(`no ${prompts[i]} given (one per line on stdin, or a file flag)`);
    out.push(line);
  }
  return out;
}

async function readPassword(file: string | undefined, prompt = 'password'): Promise<string> {
  if (file) {
    try { return fs.readFileSync(file, 'utf8').split(/\r?\n/)[0]; } catch (e) { throw new ClientError(`cannot read the password file: ${(e as Error).message}`); }
  }
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  }
  // Interactive: read one line with echo off.
  process.stderr.write(`${prompt}: `);
  const rl = readline.createInterface({ input: process.stdin, terminal: true });
  (rl as unknown as { _writeToOutput: () => void })._writeToOutput = () => {};
  const line = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return line;
}

/** The measured NAT binding lifetime and the keep-alive interval it led to, in words. */
function describeBinding(b: NonNullable<NodeStatus['nat']>['binding']): string {
  if (!b) return 'not measured (not attached over UDP)';
  const ka = `keep-alives every ${b.keepaliveMs / 1000} s`;
  if (b.state === 'measuring' || b.state === 'idle') return `measuring (${ka} meanwhile)`;
  if (b.aliveMs === undefined && b.expiredMs === undefined) return `could not measure (${ka}, the default)`;
  const lives = [b.aliveMs !== undefined ? `≥ ${b.aliveMs / 1000} s` : '', b.expiredMs !== undefined ? `< ${b.expiredMs / 1000} s` : ''].filter(Boolean).join(' and ');
  return `lives ${lives}; ${ka}`;
}

/** What netcheck says about IPv6 (src/nat/ipv6.ts): the address(es), and whether IPv6 works. */
function describeIpv6(v: NonNullable<NodeStatus['nat']>['ipv6']): string {
  if (!v || v.state === 'none') return 'no (no global IPv6 address here, or --no-ipv6)';
  const seen = v.observed && v.observed !== v.local ? `; ${v.supernode} sees us at ${v.observed}` : '';
  switch (v.state) {
    case 'works': return `yes: ${v.local}, answered over IPv6 by ${v.supernode}${seen}; IPv6 paths preferred`;
    case 'no-answer': return `no: ${v.local}, but ${v.supernode} did not answer over IPv6 (${v.error}); IPv4 only`;
    case 'probing': return `${v.local}: asking ${v.supernode} over IPv6`;
    default: return `${v.local}: not tried yet (no supernode with IPv6 known)`;
  }
}

/** Which protocol got us a port mapping at the gateway, or what each protocol said (src/nat/port-mapper.ts). */
export function describeMapping(m: NonNullable<NodeStatus['nat']>['portMapping']): string {
  if (!m) return 'not tried (no gateway, listening on loopback or on every address, or --port-mapping none)';
  const name = (p: string | undefined) => (p && (protocolNames as Record<string, string>)[p]) ?? p ?? 'port mapping';
  const each = (m.attempts ?? []).map((a) => `${name(a.protocol)}: ${a.state === 'no-answer' ? 'no answer' : a.state}${a.error ? ` (${a.error})` : ''}`);
  if (m.state === 'mapped') {
    const others = each.filter((x) => !x.startsWith(`${name(m.protocol)}:`));
    return `${name(m.protocol)} at ${m.gateway} forwards ${m.publicAddress ?? '?'}:${m.externalPort} to us for ${m.lifetimeS === 0 ? 'ever' : `${m.lifetimeS} s`}` +
      (others.length ? `; ${others.join('; ')}` : '');
  }
  const pub = m.publicAddress ? `; the gateway says our public address is ${m.publicAddress}` : '';
  const state = m.state === 'no-answer' ? `none: no answer from ${m.gateway}` : m.state === 'refused' ? `none: ${m.gateway} refused` : `asking ${m.gateway}`;
  return `${state}${each.length ? ` (${each.join('; ')})` : m.error ? ` (${m.error})` : ''}${pub}`;
}
