// A whole Tincan network on the virtual network, in one call: a login server (SQLite in
// memory), supernodes, and user nodes on demand — the real cores, in virtual time.
// Used by tests, the corpus recorder and (later) scale simulations.
import { VirtualNet } from './virtual-net.ts';
import { LoginServer, type LoginServerConfig } from '../login/server.ts';
import { openSqliteStore } from '../login/sqlite-store.ts';
import { Supernode } from '../node/supernode.ts';
import { UserNode, type UserNodeEvent } from '../node/user-node.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../crypto/keys.ts';
import type { Address } from '../wire/address.ts';
import type { Result } from '../wire/result.ts';
import type { Capacity } from '../media/conference.ts';
import type { NatBehaviour, NatPreset, NatBox } from './nat-box.ts';

export interface TestnetOptions {
  seed?: number;
  supernodes?: number;       // default 3
  latencyMs?: number;        // default 15
  lossRate?: number;
  /** Sees every message a core sends, before compression (for recording corpora). */
  tap?: (raw: Uint8Array) => void;
  /** Login server policy (registration, rate limits). */
  login?: Pick<LoginServerConfig, 'registration' | 'rateLimits' | 'certificateLifetimeMs' | 'promotion'>;
  /**
   * Each supernode on an IP of its own (203.0.113.20+i:7001) rather than ports of one: a node
   * learns whether its NAT maps per destination only from supernodes on different IPs
   * (classify.ts), so tests with NATs want this, as the NAT lab has it.
   */
  supernodeIps?: 'shared' | 'distinct';
}

/** `nat`: the NAT the user sits behind, if any; `address` is then private and `publicHost` the NAT's. */
export interface TestUser { node: UserNode; address: Address; events: UserNodeEvent[]; nat?: NatBox }

export const loginAddress: Address = { host: '203.0.113.10', port: 7700 };
export const supernodeAddress = (i: number): Address => ({ host: '203.0.113.20', port: 7001 + i });
const distinctSupernodeAddress = (i: number): Address => ({ host: `203.0.113.${20 + i}`, port: 7001 });

export function createTestnet(o: TestnetOptions = {}) {
  const net = new VirtualNet({ seed: o.seed ?? 1, latencyMs: o.latencyMs ?? 15, lossRate: o.lossRate });
  /** Every static public key handed out, so a test can read headers as each receiver would. */
  const staticKeys: Uint8Array[] = [];
  const keys = () => {
    const k = { signing: ed25519FromSeed(net.random(32)), static: x25519FromPrivate(net.random(32)) };
    staticKeys.push(k.static.publicKey);
    return k;
  };
  const lk = keys();
  const login = new LoginServer({ ...o.login, staticKey: lk.static, signingKey: lk.signing, random: net.random, store: openSqliteStore(':memory:'), tap: o.tap });
  net.add(loginAddress, login, () => {
    for (let r = login.pollRequest(); r; r = login.pollRequest()) {
      const req = r;
      net.track(login.handleRequest(req, net.now).then((reply) => net.mutate(loginAddress, (now) => login.respond(req, reply, now))));
    }
  });
  const count = o.supernodes ?? 3;
  const addresses = Array.from({ length: count }, (_, i) => o.supernodeIps === 'distinct' ? distinctSupernodeAddress(i) : supernodeAddress(i));
  const supernodes = addresses.map((a, i) => {
    const k = keys();
    const sn = new Supernode({ staticKey: k.static, signingKey: k.signing, random: net.random, listen: a, login: loginAddress, bootstrap: addresses.slice(0, i), tap: o.tap });
    net.add(a, sn, () => { while (sn.pollLog()); });
    return sn;
  });
  for (const [i, sn] of supernodes.entries()) net.mutate(addresses[i], (now) => sn.start(now));

  /**
   * A user node on 198.51.100.n; with `nat`, behind a NAT of its own instead: the node on
   * 100.64.n.10 (RFC 6598 shared space, as the NAT lab's LANs), the NAT's public side on 198.51.100.n.
   */
  const addUser = (n: number, opts: { direct?: boolean; autoAnswer?: boolean; supernode?: number; capacity?: Capacity; nat?: NatPreset | NatBehaviour } = {}): TestUser => {
    const k = keys();
    const nat = opts.nat ? net.addNat(`198.51.100.${n}`, opts.nat) : undefined;
    const address = nat ? { host: `100.64.${n}.10`, port: 5000 } : { host: `198.51.100.${n}`, port: 5000 };
    const node = new UserNode({
      staticKey: k.static, signingKey: k.signing, random: net.random, deviceId: `dev${n}`, login: loginAddress, loginKey: lk.signing.publicKey,
      bootstrap: [addresses[opts.supernode ?? 0]], listen: address, directAllowed: opts.direct ?? true, autoAnswer: opts.autoAnswer ?? false, tap: o.tap,
      capacity: opts.capacity && (() => opts.capacity!),
    });
    const events: UserNodeEvent[] = [];
    net.add(address, node, () => { for (let e = node.pollEvent(); e; e = node.pollEvent()) events.push(e); }, { behind: nat });
    return { node, address, events, nat };
  };

  /** Runs a node command to completion in virtual time; its callback's result. */
  const settle = async <T>(u: TestUser, start: (now: number, cb: (r: Result<T>) => void) => void, limitMs = 30_000): Promise<Result<T>> => {
    let out: Result<T> | undefined;
    net.mutate(u.address, (now) => start(now, (r) => { out = r; }));
    await net.runUntilAsync(() => out !== undefined, limitMs);
    if (!out) throw new Error(`no result within ${limitMs} ms of virtual time`);
    return out;
  };

  const signUp = async (u: TestUser, name: string, password = 'a good password') => {
    const reg = await settle<void>(u, (now, cb) => u.node.register(name, password, now, cb));
    if (!reg.ok) throw new Error(`register ${name}: ${reg.error.message}`);
    const log = await settle(u, (now, cb) => u.node.login(name, password, now, cb));
    if (!log.ok) throw new Error(`login ${name}: ${log.error.message}`);
  };

  const meshed = () => net.runUntilAsync(() => supernodes.every((s) => s.peers.size === count - 1), 30_000);

  return { net, login, supernodes, addresses, loginKey: lk.signing.publicKey, staticKeys, addUser, settle, signUp, meshed };
}

export type Testnet = ReturnType<typeof createTestnet>;
