// The `tincan` command: daemons (login-server, supernode, node, demo) and user commands that
// talk to a running node's local API. Output is for people by default and one JSON object
// with --json; a failure is one line on stderr and a non-zero exit:
//   1 the operation failed · 2 usage error · 3 the node's API cannot be reached
import path from 'node:path';
import { parseArgs, UsageError, type FlagSpec } from './args.ts';
import { parseHostPort, type Address } from '../wire/address.ts';
import { mappingProtocols, type MappingProtocol } from '../nat/port-mapper.ts';
import { startLoginServer, startSupernode, startNode, runDemo, RoleError, type Running } from '../runtime/roles.ts';
import type { RegistrationPolicy } from '../login/server.ts';
import { defaultRelayQuotas } from '../relay/relay-plane.ts';
import { runClientCommand, clientCommands, ClientError } from './client.ts';
import { runSimCommand, simUsage } from '../sim/sim-command.ts';

const usage = `usage: tincan COMMAND [flags]

network roles
  login-server --listen HOST:PORT --db FILE.sqlite|postgres://USER@HOST:PORT/DB [--registration open|invite|closed] [--invite-codes CODE,…]
               [--no-promotion]   (no ordinary node becomes a supernode anywhere in the network)
               [--tcp-listen HOST:PORT,…]   (login over TCP: always on --listen's address too; e.g. also :443)
  supernode    --listen HOST:PORT --login HOST:PORT [--login-key KEY] [--bootstrap HOST:PORT,…] [--data DIR]
               [--tcp-listen HOST:PORT,…]   (TCP fallback: always on --listen's address too; e.g. also :443)
               [--relay-user-kbps N] [--relay-user-channels N]   (per-user relay quotas; 0: unlimited; default 512, 16)
               [--listen6 [IPV6]:PORT | --no-ipv6]   (IPv6 beside IPv4; default: a global IPv6 address of the host, if any)
  node         --data DIR --login HOST:PORT [--login-key KEY] [--bootstrap HOST:PORT,…] [--api HOST:PORT]
               [--listen HOST:PORT] [--auto-answer] [--play FILE.wav] [--record FILE.wav] [--no-direct]
               [--uplink-kbps N]  (declared uplink, for conference host election)
               [--listen6 [IPV6]:PORT | --no-ipv6]   (IPv6 beside IPv4; default: a global IPv6 address of the host, if any)
               [--no-promote] [--promote-after SECONDS]   (uptime before it may become a supernode; default 7200)
               [--port-mapping pcp,nat-pmp,upnp-igd|none]   (what to ask the gateway for a port with; default all)
  demo         [--data DIR]        a whole network on loopback (what npm start runs)

simulation (docs/overlay.md)
${simUsage}

user commands (talk to a running node; --api HOST:PORT, default 127.0.0.1:7780; --json for JSON)
  register USER [--password-file F] [--invite CODE]
  login USER [--password-file F]
  passwd [--password-file F] [--new-password-file G]     (piped: current, then new, one per line)
  devices [--password-file F] [--remove DEVICE_ID]        delete-account --yes [--password-file F]
  status                                 lookup USER
  netcheck                               (what this node found about its NAT)
  chat USER TEXT…                        hangup [CALL_ID]
  profile [DISPLAY NAME… [--city C] [--language L]]       search NAME | WORDS…
  call USER [--play IN.wav] [--record OUT.wav] [--seconds N]
  calls                                  answer|reject [CALL_ID]
  hold|resume [CALL_ID]                  (CALL_ID may be left out when only one call fits)
  conference create USER… [--play IN.wav] [--record OUT.wav]     conference status [CONF_ID]
  conference invite CONF_ID USER         conference join|leave CONF_ID [--play IN.wav] [--record OUT.wav]
`;

const roleFlags: Record<string, FlagSpec> = {
  'login-server': { listen: 'string', db: 'string', registration: 'string', 'invite-codes': 'string', 'no-promotion': 'boolean', 'tcp-listen': 'string' },
  supernode: {
    listen: 'string', login: 'string', 'login-key': 'string', bootstrap: 'string', data: 'string', 'tcp-listen': 'string',
    'relay-user-kbps': 'string', 'relay-user-channels': 'string', listen6: 'string', 'no-ipv6': 'boolean',
  },
  node: {
    data: 'string', login: 'string', 'login-key': 'string', bootstrap: 'string', api: 'string', listen: 'string',
    'auto-answer': 'boolean', play: 'string', record: 'string', 'no-direct': 'boolean', quiet: 'boolean',
    'uplink-kbps': 'string', 'binding-ladder': 'string', 'no-promote': 'boolean', 'promote-after': 'string',
    'port-mapping': 'string',
    listen6: 'string', 'no-ipv6': 'boolean',
  },
  demo: { data: 'string', quiet: 'boolean' },
};

function uplink(flags: Record<string, unknown>): number | undefined {
  if (flags['uplink-kbps'] === undefined) return undefined;
  const n = Number(flags['uplink-kbps']);
  if (!Number.isInteger(n) || n < 1 || n > 10_000_000) throw new UsageError('--uplink-kbps must be a whole number of kb/s from 1');
  return n;
}

/** --port-mapping pcp,nat-pmp,upnp-igd | none: which protocols ask the gateway for a port. */
function portMappingFlag(v: string | undefined): MappingProtocol[] | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return [];
  const list = v.split(',').map((x) => x.trim());
  const bad = list.find((x) => !(mappingProtocols as string[]).includes(x));
  if (bad !== undefined || !list.length) throw new UsageError(`--port-mapping takes ${mappingProtocols.join(',')} (any of them) or none, got '${bad ?? v}'`);
  return list as MappingProtocol[];
}

/** A list of milliseconds, e.g. --binding-ladder 1000,2000,4000 (idle times to test the NAT's binding with). */
function msList(flags: Record<string, unknown>, name: string): number[] | undefined {
  if (flags[name] === undefined) return undefined;
  const v = String(flags[name]).split(',').map(Number);
  if (v.length === 0 || v.length > 16 || !v.every((x) => Number.isInteger(x) && x >= 100 && x <= 300_000)) {
    throw new UsageError(`--${name}: a comma-separated list of 1 to 16 durations in ms, each 100 to 300000`);
  }
  return v;
}

function address(flags: Record<string, unknown>, name: string, fallback?: string): Address {
  const v = flags[name] ?? fallback;
  if (v === undefined) throw new UsageError(`--${name} HOST:PORT is required`);
  const a = parseHostPort(String(v));
  if (!a.ok) throw new UsageError(`--${name}: ${a.error.message}`);
  return a.value;
}

function addresses(flags: Record<string, unknown>, name: string): Address[] {
  const v = flags[name];
  if (v === undefined || v === '') return [];
  return String(v).split(',').map((s) => {
    const a = parseHostPort(s.trim());
    if (!a.ok) throw new UsageError(`--${name}: ${a.error.message}`);
    return a.value;
  });
}

function registration(flags: Record<string, unknown>): RegistrationPolicy {
  const codes = typeof flags['invite-codes'] === 'string' ? (flags['invite-codes'] as string).split(',').map((c) => c.trim()).filter(Boolean) : [];
  const mode = flags.registration ?? (codes.length ? 'invite' : 'open');
  if (mode === 'invite') {
    if (codes.length === 0) throw new UsageError('--registration invite needs --invite-codes CODE[,CODE…]');
    return { mode, codes: new Set(codes) };
  }
  if (mode === 'open' || mode === 'closed') {
    if (codes.length) throw new UsageError(`--invite-codes makes no sense with --registration ${mode}`);
    return { mode };
  }
  throw new UsageError(`--registration must be open, invite or closed, not "${String(mode)}"`);
}

function count(flags: Record<string, unknown>, name: string, fallback: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !/^\d{1,9}$/.test(v)) throw new UsageError(`--${name} must be a whole number (0: unlimited), not "${String(v)}"`);
  return Number(v);
}

function seconds(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${name} takes a whole number of seconds, not "${v}"`);
  return Number(v) * 1000;
}

function required(flags: Record<string, unknown>, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/** --listen6 [IPV6]:PORT or --no-ipv6 (src/runtime/ipv6.ts). */
function ipv6(flags: Record<string, unknown>): { listen6?: Address; noIpv6?: boolean } {
  if (flags['no-ipv6'] === true) {
    if (flags.listen6 !== undefined) throw new UsageError('--listen6 and --no-ipv6 contradict each other');
    return { noIpv6: true };
  }
  if (flags.listen6 === undefined) return {};
  const a = address(flags, 'listen6');
  if (!a.host.includes(':')) throw new UsageError(`--listen6 needs an IPv6 address ([IPV6]:PORT), got "${String(flags.listen6)}"`);
  return { listen6: a };
}

async function startRole(cmd: string, argv: string[]): Promise<Running> {
  const { flags, positionals } = parseArgs(argv, roleFlags[cmd]);
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const str = (n: string) => (typeof flags[n] === 'string' ? (flags[n] as string) : undefined);
  switch (cmd) {
    case 'login-server':
      return startLoginServer({ listen: address(flags, 'listen', '127.0.0.1:7700'), db: str('db') ?? 'tincan-login.sqlite', registration: registration(flags), promotion: flags['no-promotion'] !== true,
        tcpListen: addresses(flags, 'tcp-listen') });
    case 'supernode':
      return startSupernode({
        listen: address(flags, 'listen', '127.0.0.1:7710'), login: address(flags, 'login'), loginKey: str('login-key'),
        bootstrap: addresses(flags, 'bootstrap'), data: str('data'), tcpListen: addresses(flags, 'tcp-listen'),
        relayQuotas: {
          userBytesPerSecond: count(flags, 'relay-user-kbps', defaultRelayQuotas.userBytesPerSecond * 8 / 1000) * 1000 / 8,
          userChannelsMax: count(flags, 'relay-user-channels', defaultRelayQuotas.userChannelsMax),
        },
        ...ipv6(flags),
      });
    case 'node':
      return startNode({
        data: path.resolve(required(flags, 'data')), login: address(flags, 'login'), loginKey: str('login-key'),
        bootstrap: addresses(flags, 'bootstrap'), api: address(flags, 'api', '127.0.0.1:7780'),
        listen: flags.listen ? address(flags, 'listen') : undefined, autoAnswer: flags['auto-answer'] === true,
        play: str('play'), record: str('record'), noDirect: flags['no-direct'] === true, quiet: flags.quiet === true,
        uplinkKbps: uplink(flags),
        bindingLadderMs: msList(flags, 'binding-ladder'),
        noPromote: flags['no-promote'] === true, promoteAfterMs: seconds(str('promote-after'), '--promote-after'),
        portMapping: portMappingFlag(str('port-mapping')),
        ...ipv6(flags),
      });
    default:
      return runDemo({ data: str('data'), quiet: flags.quiet === true });
  }
}

async function runDaemon(cmd: string, argv: string[]) {
  const running = await startRole(cmd, argv);
  const info = running.describe();
  process.stdout.write(JSON.stringify({ ready: cmd, ...info }) + '\n');
  if (cmd === 'demo') {
    const ui = info.ui as Record<string, string>;
    process.stdout.write(`\nTincan demo network is up: a login server, ${String(info.supernodes)} supernodes, two users.\n`);
    for (const [user, url] of Object.entries(ui)) process.stdout.write(`  ${user.padEnd(6)} ${url}\n`);
    process.stdout.write(`  password for both: ${String(info.password)}\n  data: ${String(info.data)}${info.kept ? '' : ' (removed on exit)'}\nPress Ctrl-C to stop.\n`);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    running.stop().then(() => process.exit(0), (e: Error) => { process.stderr.write(`tincan: ${e.message}\n`); process.exit(1); });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') { process.stdout.write(usage); return cmd ? 0 : 2; }
  try {
    if (cmd in roleFlags) { await runDaemon(cmd, rest); return -1; }
    if (clientCommands.includes(cmd)) return await runClientCommand(cmd, rest);
    if (cmd === 'sim') return runSimCommand(rest);
    throw new UsageError(`unknown command "${cmd}"`);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`tincan: ${e.message} (see tincan help)\n`); return 2; }
    if (e instanceof ClientError) { process.stderr.write(`tincan: ${e.message}\n`); return e.exitCode; }
    if (e instanceof RoleError) { process.stderr.write(`tincan: ${e.message}\n`); return 1; }
    process.stderr.write(`tincan: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exit(code);
