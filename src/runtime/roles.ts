// Entry points for the long-running roles: each binds a core to its sockets, files and store.
import type { MappingProtocol } from '../nat/port-mapper.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UdpDriver } from './udp-driver.ts';
import { bindUdpAndTcp } from './udp-tcp-bind.ts';
import { DataDir } from './data-dir.ts';
import { NodeService } from './node-service.ts';
import { random, now as clockNow } from './clock.ts';
import { LoginServer, type RegistrationPolicy } from '../login/server.ts';
import { openSqliteStore } from '../login/sqlite-store.ts';
import { openPostgresStore } from '../login/postgres-store.ts';
import type { AccountStore } from '../login/store.ts';
import { Supernode } from '../node/supernode.ts';
import type { RelayQuotas } from '../relay/relay-plane.ts';
import { ed25519FromSeed, x25519FromPrivate, type KeyPair } from '../crypto/keys.ts';
import { toBase64Url, fromBase64Url } from '../crypto/bytes.ts';
import { type Address, formatAddress } from '../wire/address.ts';
import { startApiServer } from '../api/server.ts';
import { bindIpv6 } from './ipv6.ts';

export interface LoginServerOptions { listen: Address; db: string; quiet?: boolean; registration?: RegistrationPolicy; promotion?: boolean; tcpListen?: Address[] }
export interface SupernodeOptions {
  listen: Address; login: Address; loginKey?: string; bootstrap: Address[]; data?: string; quiet?: boolean; tcpListen?: Address[]; relayQuotas?: RelayQuotas;
  /** IPv6 beside IPv4 (src/runtime/ipv6.ts): --listen6, or found on the interfaces unless --no-ipv6. */
  listen6?: Address; noIpv6?: boolean;
}
export interface NodeOptions {
  /** --port-mapping: protocols to ask the gateway with (src/nat/port-mapper.ts). */
  portMapping?: MappingProtocol[];
  data: string; login: Address; loginKey?: string; bootstrap: Address[]; api: Address; listen?: Address;
  autoAnswer: boolean; play?: string; record?: string; noDirect: boolean; quiet?: boolean; uplinkKbps?: number; bindingLadderMs?: number[];
  noPromote?: boolean; promoteAfterMs?: number; listen6?: Address; noIpv6?: boolean;
}
export interface DemoOptions { data?: string; apiBasePort?: number; quiet?: boolean }

/** Each start function returns once the role is listening; stop() shuts it down cleanly. */
export interface Running { stop(): Promise<void>; describe(): Record<string, unknown> }

export class RoleError extends Error {}

function logger(role: string, quiet?: boolean) {
  return (level: string, message: string) => {
    if (quiet && level === 'info') return;
    process.stderr.write(`${role}: ${level === 'info' ? '' : `${level}: `}${message}\n`);
  };
}

function parseKey(text: string | undefined, what: string): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const k = fromBase64Url(text);
  if (!k || k.length !== 32) throw new RoleError(`${what} must be a 32-byte key in base64url (as the login server prints it)`);
  return k;
}

async function openStore(db: string, log: (level: string, message: string) => void): Promise<AccountStore> {
  if (/^postgres(ql)?:\/\//.test(db)) {
    return openPostgresStore(db, { onIdleError: (e) => log('warn', `database connection lost: ${e.message}`) }).catch((e: Error) => {
      throw new RoleError(`cannot open the PostgreSQL database: ${e.message}`);
    });
  }
  fs.mkdirSync(path.dirname(path.resolve(db)), { recursive: true });
  return openSqliteStore(db);
}

/** A key kept in the store, created on first start; processes sharing a database share it. */
async function storedKey(store: AccountStore, name: string, make: (seed: Uint8Array) => KeyPair): Promise<KeyPair> {
  const stored = await store.initMeta(name, toBase64Url(random(32)));
  const seed = fromBase64Url(stored);
  if (!seed || seed.length !== 32) throw new RoleError(`the database's ${name} is not a 32-byte key; refusing to replace it`);
  return make(seed);
}

export async function startLoginServer(o: LoginServerOptions): Promise<Running> {
  const log = logger('login-server', o.quiet);
  const store = await openStore(o.db, log);
  const signingKey = await storedKey(store, 'signing-key', ed25519FromSeed);
  const staticKey = await storedKey(store, 'static-key', x25519FromPrivate);
  const server = new LoginServer({ staticKey, signingKey, random, store, registration: o.registration, promotion: o.promotion });
  // Nodes whose UDP is blocked log in over TCP (decision 0026): on our UDP address, and wherever else asked (443).
  const { driver, tcpListen } = await bindUdpAndTcp(o.listen, o.tcpListen ?? [], (e) => log('error', String(e)))
    .catch((e: Error) => { void store.close(); throw new RoleError(e.message); });
  driver.attach(server, () => {
    for (let r = server.pollRequest(); r; r = server.pollRequest()) {
      const req = r;
      // The store answers asynchronously; its reply is one more mutation of the core.
      void server.handleRequest(req, clockNow()).then((reply) => driver.mutate((now) => server.respond(req, reply, now)));
    }
  });
  const listen = formatAddress(driver.address);
  log('info', `listening on udp ${listen}, tcp ${tcpListen.join(', ')}; key ${server.publicKey}`);
  return {
    describe: () => ({ listen, tcpListen, key: server.publicKey, db: o.db.replace(/\/\/[^@/]*@/, '//…@'), registration: o.registration?.mode ?? 'open', promotion: o.promotion !== false }),
    stop: async () => { await driver.close(); await store.close(); },
  };
}

// A relay receives every flow's packet of a 20 ms tick at about the same moment; on a busy host it
// may not run for tens of milliseconds. 4 MiB holds about 4000 such datagrams (kernel accounting).
const relayRecvBufferBytes = 4 << 20;

export async function startSupernode(o: SupernodeOptions): Promise<Running> {
  let log = logger('supernode', o.quiet);
  const data = new DataDir(o.data ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-supernode-')));
  const keys = data.keys();
  // TCP fallback for nodes whose UDP is blocked listens on our UDP address, and wherever else
  // asked (443). With an ephemeral port (0) the UDP port's number may already be taken on TCP by
  // someone else: then pick another pair rather than fail.
  const attempts = o.listen.port === 0 ? 8 : 1;
  let driver: UdpDriver | undefined;
  let tcp: ReturnType<UdpDriver['enableTcp']> | undefined;
  for (let i = 0; i < attempts && !driver; i++) {
    const d = await UdpDriver.bind(o.listen, (e) => log('error', String(e)), { recvBufferBytes: relayRecvBufferBytes }).catch((e: Error) => {
      throw new RoleError(`cannot listen on ${formatAddress(o.listen)}: ${e.message}`);
    });
    const t = d.enableTcp(false);
    const taken = await t.listen(d.address).then(() => false, (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE' && i + 1 < attempts) return true;
      void d.close();
      throw new RoleError(`cannot listen on tcp ${formatAddress(d.address)}: ${e.message}`);
    });
    if (taken) { await d.close(); continue; }
    driver = d; tcp = t;
  }
  if (!driver || !tcp) throw new RoleError(`cannot listen on tcp at ${formatAddress(o.listen)}: every port tried was taken`);
  log = logger(`supernode ${formatAddress(driver.address)}`, o.quiet);
  const tcpListen: string[] = [formatAddress(driver.address)];
  const tcpExtra: Address[] = [];
  for (const at of o.tcpListen ?? []) {
    const a = await tcp.listen(at).catch((e: Error) => { void driver!.close(); throw new RoleError(`cannot listen on tcp ${formatAddress(at)}: ${e.message}`); });
    tcpListen.push(formatAddress(a));
    tcpExtra.push(a);
  }
  const listen6 = await bindIpv6(driver, { explicit: o.listen6, off: o.noIpv6 }, log).catch((e: Error) => {
    void driver!.close();
    throw new RoleError(`cannot listen on ${formatAddress(o.listen6!)}: ${e.message}`);
  });
  const sn = new Supernode({
    staticKey: keys.static, signingKey: keys.signing, random, listen: driver.address, listen6, login: o.login,
    loginKey: parseKey(o.loginKey, '--login-key') ?? data.loginKey(), bootstrap: o.bootstrap, relayQuotas: o.relayQuotas, tcpListen: tcpExtra,
  });
  let pinned = sn.loginKey !== undefined;
  driver.attach(sn, () => {
    for (let l = sn.pollLog(); l; l = sn.pollLog()) log(l.level, l.message);
    if (!pinned && sn.loginKey) { data.pinLoginKey(sn.loginKey, formatAddress(o.login)); pinned = true; }
  });
  driver.mutate((now) => sn.start(now));
  const listen = formatAddress(driver.address);
  log('info', `listening on udp ${listen}${listen6 ? ` and ${formatAddress(listen6)}` : ''}`);
  return {
    describe: () => ({ listen, listen6: listen6 && formatAddress(listen6), tcpListen, peers: [...sn.peers.values()].map(formatAddress), records: sn.overlay.core.recordCount(), overlayMembers: sn.overlay.core.members.local.length }),
    stop: () => driver.close(),
  };
}

export async function startNode(o: NodeOptions): Promise<Running> {
  const log = logger(`node ${path.basename(o.data)}`, o.quiet);
  const svc = await NodeService.start({
    data: o.data, login: o.login, loginKey: parseKey(o.loginKey, '--login-key'), bootstrap: o.bootstrap, listen: o.listen,
    autoAnswer: o.autoAnswer, play: o.play && path.resolve(o.play), record: o.record && path.resolve(o.record),
    noDirect: o.noDirect, uplinkKbps: o.uplinkKbps, log, bindingLadderMs: o.bindingLadderMs, noPromote: o.noPromote, promoteAfterMs: o.promoteAfterMs, portMapping: o.portMapping,
    listen6: o.listen6, noIpv6: o.noIpv6,
  });
  const api = await startApiServer(svc, o.api).catch(async (e: Error) => {
    await svc.stop();
    throw new RoleError(`cannot serve the API on ${formatAddress(o.api)}: ${e.message}`);
  });
  const url = `http://${formatAddress(api.address)}/`;
  log('info', `web UI and API at ${url}`);
  return {
    describe: () => ({ api: formatAddress(api.address), url, listen: formatAddress(svc.listen), listen6: svc.listen6 && formatAddress(svc.listen6), user: svc.status().user }),
    stop: async () => { await api.close(); await svc.stop(); },
  };
}

export { runDemo } from './demo.ts';
