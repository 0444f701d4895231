// `npm run bench -- relay`: how many voice-like flows (50 packets/s of 160 bytes each way) one
// supernode process relays at < 1 % loss, with added latency p50/p99 — next to coturn (Debian's
// turnserver on loopback, one relay thread) carrying the same flows from the same load generator
// in the same run. Flow counts step up until loss passes 1 % (bounded in count and time).
// Needs `turnserver` (apt-get install coturn) for the reference; without it only our figures print.
//
// Our legs do what a node does: Hello and RelayBind over a Noise session with the supernode, then
// end-to-end packets on the relay channel (8-byte masked header); coturn's legs allocate, bind a
// channel and send ChannelData (4-byte header). Both kinds of leg send from a plain socket.
// Fairness on a shared machine: at each step the two relays run alternately, TINCAN_BENCH_RELAY_REPEATS
// times each (default 2), and the best repeat of each counts — load from other work then hits both
// alike; and each relay's own CPU time (/proc) per relayed packet is printed, which the machine's
// load hardly changes.
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import { Rpc } from '../src/session/rpc.ts';
import { random, now as clockNow } from '../src/runtime/clock.ts';
import { RelayClient } from '../src/relay/relay-client.ts';
import { ed25519FromSeed, x25519FromPrivate } from '../src/crypto/keys.ts';
import { createIdentityProof, consumeIdentityProof } from '../src/crypto/identity-proof.ts';
import { Cmd } from '../src/wire/commands.ts';
import { Hello, HelloOk, RelayBind, RelayBindOk } from '../src/overlay/protocol.ts';
import { udpPath } from '../src/session/paths.ts';
import { printTable, ratio } from './harness.ts';

const steps = (process.env.TINCAN_BENCH_RELAY_STEPS ?? '25,50,100,125,150,175,200,250,300').split(',').map(Number);
const secondsPerStep = 4;
const repeats = Number(process.env.TINCAN_BENCH_RELAY_REPEATS ?? 2);
const payloadBytes = 160;
const pps = 50;
const bin = path.resolve(import.meta.dirname, '../bin/tincan.js');

interface Leg { send(payload: Uint8Array): void; onPacket(cb: (p: Uint8Array) => void): void; close(): Promise<void> }
interface StepResult { flows: number; sent: number; received: number; lossPct: number; p50: number; p99: number; cpuUsPerPacket: number }

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;   // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return NaN; }
}

// ---- load generator: flows of two legs, each sends stamped packets to the other ----

async function runStep(flows: number, makePair: () => Promise<[Leg, Leg]>, pid: number | undefined): Promise<StepResult> {
  const pairs: [Leg, Leg][] = [];
  for (let i = 0; i < flows; i++) pairs.push(await makePair());
  const lat: number[] = [];
  let sent = 0, received = 0;
  const t0 = performance.now();
  const cpu0 = cpuMsOf(pid);
  for (const [a, b] of pairs) for (const leg of [a, b]) leg.onPacket((p) => {
    const at = new DataView(p.buffer, p.byteOffset, p.byteLength).getFloat64(0);
    if (at >= t0) { received++; lat.push(performance.now() - at); }
  });
  const ticks = secondsPerStep * pps;
  for (let tick = 0; tick < ticks; tick++) {
    const due = t0 + (tick * 1000) / pps;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (const [a, b] of pairs) for (const leg of [a, b]) {
      const p = new Uint8Array(payloadBytes);
      new DataView(p.buffer).setFloat64(0, performance.now());
      leg.send(p); sent++;
    }
  }
  await new Promise((r) => setTimeout(r, 500));   // stragglers
  const cpuMs = cpuMsOf(pid) - cpu0;
  for (const [a, b] of pairs) { await a.close(); await b.close(); }
  lat.sort((x, y) => x - y);
  const q = (f: number) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] : NaN;
  return { flows, sent, received, lossPct: (100 * (sent - received)) / sent, p50: q(0.5), p99: q(0.99), cpuUsPerPacket: (cpuMs * 1000) / Math.max(1, received) };
}

interface Contender { name: string; pid: number | undefined; makePair: () => Promise<[Leg, Leg]>; steps: StepResult[]; done: boolean }

/** Steps up the flows; at each step every contender still under 1 % loss runs `repeats` times, alternately. */
async function sweep(contenders: Contender[]) {
  for (const n of steps) {
    const live = contenders.filter((c) => !c.done);
    if (live.length === 0) break;
    const best = new Map<Contender, StepResult>();
    for (let r = 0; r < repeats; r++) {
      for (const c of live) {
        const res = await runStep(n, c.makePair, c.pid);
        process.stderr.write(`${c.name}: ${n} flows, loss ${res.lossPct.toFixed(2)} %, p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms, ${res.cpuUsPerPacket.toFixed(1)} µs CPU/packet\n`);
        const b = best.get(c);
        if (!b || res.lossPct < b.lossPct || (res.lossPct === b.lossPct && res.p50 < b.p50)) best.set(c, res);
      }
    }
    for (const c of live) { const b = best.get(c)!; c.steps.push(b); if (b.lossPct >= 1) c.done = true; }
  }
  return contenders.map((c) => {
    const good = c.steps.filter((r) => r.lossPct < 1);
    return { name: c.name, steps: c.steps, maxFlows: good.length ? good[good.length - 1].flows : 0, at: good[good.length - 1] ?? c.steps[0] };
  });
}

// ---- tincan: a supernode process; each leg is a node session to it ----

async function tincanLeg(sn: { host: string; port: number }): Promise<Leg & { token: number; bindTo(t: number): Promise<void> }> {
  const signing = ed25519FromSeed(random(32)), stat = x25519FromPrivate(random(32));
  const rpc = new Rpc({
    staticKey: stat, random, identityPayload: createIdentityProof('node', signing, stat.publicKey),
    verifyPeer: (p, rs, _path, now) => consumeIdentityProof(p, rs, undefined, now),
  });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const snPath = udpPath(sn);
  const channels = new RelayClient();
  let onPacket: (p: Uint8Array) => void = () => {};
  // The session with the supernode is driven by hand (setup only): data then goes straight to the socket.
  const flush = () => { for (let t = rpc.pollTransmit(); t; t = rpc.pollTransmit()) sock.send(t.bytes, sn.port, sn.host); };
  sock.on('message', (m) => {
    const bytes = new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
    const u = channels.unwrap(snPath, bytes, 0);
    if (u) { onPacket(u.inner); return; }
    rpc.handleDatagram(snPath, bytes, clockNow());
    flush();
  });
  const timer = setInterval(() => { rpc.handleTimeout(clockNow()); flush(); }, 50);
  const ask = (msg: Uint8Array, connect: boolean) => new Promise<Uint8Array>((resolve, reject) => {
    rpc.request(snPath, msg, clockNow(), (r) => r.ok ? resolve(r.value.message.body) : reject(new Error(r.error.message)),
      connect ? { connect: { keepAlive: true } } : {});
    flush();
  });
  const h = HelloOk.decode(await ask(Hello.toBytes({}), true));
  if (!h.ok) throw new Error(h.error.message);
  return {
    token: h.value.relayToken,
    async bindTo(peer) {
      const b = RelayBindOk.decode(await ask(RelayBind.toBytes({ to: peer }), false));
      if (!b.ok) throw new Error(`relay bind refused: ${b.error.message}`);
      channels.bound(snPath, 'peer', b.value.channel, b.value.check, b.value.key, 0);
      // Set up: the session's timers need no more driving during a step (a TURN leg has none either).
      clearInterval(timer);
    },
    send: (p) => { const w = channels.wrap('peer', p, 0); if (w) sock.send(w.bytes, sn.port, sn.host); },
    onPacket: (cb) => { onPacket = cb; },
    close: async () => { clearInterval(timer); await new Promise<void>((r) => sock.close(() => r())); },
  };
}

async function startSupernode(): Promise<{ proc: ChildProcess; address: { host: string; port: number } }> {
  // TINCAN_BENCH_RELAY_PROFILE=DIR writes a CPU profile of the supernode there (node --cpu-prof).
  const prof = process.env.TINCAN_BENCH_RELAY_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.TINCAN_BENCH_RELAY_PROFILE] : [];
  // Per-user quotas off: every leg here is one "user" pushing a whole call's worth of flows.
  const proc = spawn(process.execPath, [...prof, bin, 'supernode', '--listen', '127.0.0.1:0', '--login', '127.0.0.1:9', '--login-key', Buffer.alloc(32, 1).toString('base64url'),
    '--relay-user-kbps', '0', '--relay-user-channels', '0'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const info = await new Promise<Record<string, any>>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; const l = out.split('\n').find((x) => x.includes('"ready"')); if (l) resolve(JSON.parse(l)); });
    proc.on('exit', () => reject(new Error('supernode exited')));
  });
  const [host, port] = String(info.listen).split(':');
  return { proc, address: { host, port: Number(port) } };
}

// ---- coturn: TURN allocations with channels (RFC 8656), long-term credentials ----

const magic = 0x2112a442;
const turn = { user: 'bench', pass: 'bench', realm: 'tincan.bench' };

function stun(type: number, attrs: [number, Buffer][], key?: Buffer): Buffer {
  const body = Buffer.concat(attrs.map(([t, v]) => {
    const h = Buffer.alloc(4); h.writeUInt16BE(t, 0); h.writeUInt16BE(v.length, 2);
    return Buffer.concat([h, v, Buffer.alloc((4 - (v.length % 4)) % 4)]);
  }));
  const head = Buffer.alloc(20);
  head.writeUInt16BE(type, 0); head.writeUInt32BE(magic, 4); crypto.randomBytes(12).copy(head, 8);
  if (!key) { head.writeUInt16BE(body.length, 2); return Buffer.concat([head, body]); }
  head.writeUInt16BE(body.length + 24, 2);
  const mac = crypto.createHmac('sha1', key).update(Buffer.concat([head, body])).digest();
  const mi = Buffer.alloc(4); mi.writeUInt16BE(0x0008, 0); mi.writeUInt16BE(20, 2);
  return Buffer.concat([head, body, mi, mac]);
}

function attrsOf(m: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let i = 20; i + 4 <= m.length;) {
    const t = m.readUInt16BE(i), l = m.readUInt16BE(i + 2);
    out.set(t, m.subarray(i + 4, i + 4 + l));
    i += 4 + l + ((4 - (l % 4)) % 4);
  }
  return out;
}

function xorAddress(v: Buffer): { host: string; port: number } {
  const port = v.readUInt16BE(2) ^ (magic >>> 16);
  const ip = (v.readUInt32BE(4) ^ magic) >>> 0;
  return { host: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'), port };
}
function xorPeer(a: { host: string; port: number }): Buffer {
  const b = Buffer.alloc(8); b[1] = 1; b.writeUInt16BE(a.port ^ (magic >>> 16), 2);
  const ip = a.host.split('.').reduce((x, o) => (x << 8) | Number(o), 0) >>> 0;
  b.writeUInt32BE((ip ^ magic) >>> 0, 4);
  return b;
}

const turnPorts = { next: 22000 + (process.pid % 50) * 10 };

async function turnLeg(server: { host: string; port: number }) {
  // Fresh local ports for every leg: coturn remembers a 5-tuple's allocation (437 on reuse).
  const sock = dgram.createSocket('udp4');
  for (;;) {
    const port = turnPorts.next++;
    const bound = await new Promise<boolean>((r) => { sock.once('error', () => r(false)); sock.bind(port, '127.0.0.1', () => r(true)); });
    if (bound) break;
    if (turnPorts.next > 32000) throw new Error('no free local port for a TURN leg');
  }
  let waiter: ((m: Buffer) => void) | undefined;
  let onPacket: (p: Uint8Array) => void = () => {};
  sock.on('message', (m) => {
    if (m.length >= 4 && m[0] >= 0x40 && m[0] <= 0x7f) { onPacket(new Uint8Array(m.subarray(4, 4 + m.readUInt16BE(2)))); return; }
    waiter?.(m);
  });
  const ask = (msg: Buffer) => new Promise<Buffer>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('coturn did not answer')), 2000);
    waiter = (m) => { clearTimeout(t); waiter = undefined; resolve(m); };
    sock.send(msg, server.port, server.host);
  });
  const first = await ask(stun(0x0003, [[0x0019, Buffer.from([17, 0, 0, 0])]]));
  const a = attrsOf(first);
  const nonce = a.get(0x0015), realm = a.get(0x0014);
  if (!nonce || !realm) {
    const e = a.get(0x0009);
    throw new Error(`coturn refused an allocation: ${e ? `${e[2] * 100 + e[3]} ${e.subarray(4).toString()}` : `message 0x${first.readUInt16BE(0).toString(16)}`}`);
  }
  const key = crypto.createHash('md5').update(`${turn.user}:${realm.toString()}:${turn.pass}`).digest();
  const auth: [number, Buffer][] = [[0x0006, Buffer.from(turn.user)], [0x0014, realm], [0x0015, nonce]];
  const alloc = await ask(stun(0x0003, [[0x0019, Buffer.from([17, 0, 0, 0])], ...auth], key));
  if (alloc.readUInt16BE(0) !== 0x0103) throw new Error(`TURN allocate failed (0x${alloc.readUInt16BE(0).toString(16)})`);
  const relayed = xorAddress(attrsOf(alloc).get(0x0016)!);
  const channel = 0x4000;
  let peerAddr: { host: string; port: number } | undefined;
  return {
    relayed,
    async bind(peer: { host: string; port: number }) {
      peerAddr = peer;
      const ch = Buffer.alloc(4); ch.writeUInt16BE(channel, 0);
      const r = await ask(stun(0x0009, [[0x000c, ch], [0x0012, xorPeer(peer)], ...auth], key));
      if (r.readUInt16BE(0) !== 0x0109) throw new Error('TURN channel bind failed');
    },
    send: (p: Uint8Array) => {
      if (!peerAddr) return;
      const h = Buffer.alloc(4); h.writeUInt16BE(channel, 0); h.writeUInt16BE(p.length, 2);
      sock.send(Buffer.concat([h, p]), server.port, server.host);
    },
    onPacket: (cb: (p: Uint8Array) => void) => { onPacket = cb; },
    // Deallocate (Refresh with lifetime 0): a later leg may get this local port again, and coturn
    // would answer it as the old allocation (437) for the allocation's whole lifetime.
    close: async () => {
      const zero = Buffer.alloc(4);
      await ask(stun(0x0004, [[0x000d, zero], ...auth], key)).catch(() => undefined);
      await new Promise<void>((r) => sock.close(() => r()));
    },
  };
}

function startCoturn(port: number): ChildProcess | undefined {
  try { execFileSync('sh', ['-c', 'command -v turnserver'], { stdio: 'ignore' }); } catch { return undefined; }
  return spawn('turnserver', ['-n', '--listening-ip', '127.0.0.1', '--relay-ip', '127.0.0.1', '--listening-port', String(port),
    '--lt-cred-mech', '--user', `${turn.user}:${turn.pass}`, '--realm', turn.realm, '--no-tls', '--no-dtls', '--no-cli',
    '--allow-loopback-peers', '--relay-threads', '1', '--min-port', '40000', '--max-port', '49999', '--no-stdout-log', '--log-file', 'stdout',
    '--total-quota', '0', '--user-quota', '0', '--stale-nonce', '0'], { stdio: 'ignore' });
}

// ---- run ----

const sn = await startSupernode();
const contenders: Contender[] = [{
  name: 'tincan supernode', pid: sn.proc.pid, steps: [], done: false,
  makePair: async () => {
    const [a, b] = await Promise.all([tincanLeg(sn.address), tincanLeg(sn.address)]);
    await a.bindTo(b.token); await b.bindTo(a.token);
    return [a, b];
  },
}];
const coturnPort = 34780 + (process.pid % 1000);
const coturn = process.env.TINCAN_BENCH_RELAY_NO_COTURN ? undefined : startCoturn(coturnPort);
if (coturn) {
  await new Promise((r) => setTimeout(r, 800));   // turnserver prints nothing we can wait for when logging is off
  contenders.push({
    name: 'coturn', pid: coturn.pid, steps: [], done: false,
    makePair: async () => {
      const server = { host: '127.0.0.1', port: coturnPort };
      const [a, b] = await Promise.all([turnLeg(server), turnLeg(server)]);
      await Promise.all([a.bind(b.relayed), b.bind(a.relayed)]);
      return [a, b];
    },
  });
}
let results: Awaited<ReturnType<typeof sweep>>;
try { results = await sweep(contenders); } finally {
  coturn?.kill('SIGTERM');
  sn.proc.kill('SIGTERM');
  await new Promise((r) => sn.proc.once('exit', r));
}
const [ours, ref] = [results[0], results[1] as typeof results[0] | undefined];

// Latency and CPU side by side at the same load: the most flows we carried under 1 % loss.
const same = ref?.steps.find((r) => r.flows === ours.at.flows);
const rows = [
  { name: 'flows at < 1 % loss', tincan: ours.maxFlows, coturn: ref?.maxFlows ?? 'n/a', ratio: ref ? ratio(ours.maxFlows, ref.maxFlows) : 'n/a' },
  { name: `latency p50 at ${ours.at.flows} flows (ms)`, tincan: ours.at.p50, coturn: same?.p50 ?? 'n/a', ratio: same ? ratio(same.p50, ours.at.p50) : 'n/a' },
  { name: `latency p99 at ${ours.at.flows} flows (ms)`, tincan: ours.at.p99, coturn: same?.p99 ?? 'n/a', ratio: same ? ratio(same.p99, ours.at.p99) : 'n/a' },
  { name: `relay CPU per packet at ${ours.at.flows} flows (µs)`, tincan: ours.at.cpuUsPerPacket, coturn: same?.cpuUsPerPacket ?? 'n/a', ratio: same ? ratio(same.cpuUsPerPacket, ours.at.cpuUsPerPacket) : 'n/a' },
  // What one whole core would carry at that cost (2 × 50 packets/s per flow): the relay's own
  // capacity, where the step figure above is also bounded by the generator and the machine.
  { name: 'flows per core at that CPU cost', tincan: Math.round(1e6 / (ours.at.cpuUsPerPacket * 2 * pps)),
    coturn: same ? Math.round(1e6 / (same.cpuUsPerPacket * 2 * pps)) : 'n/a', ratio: same ? ratio(same.cpuUsPerPacket, ours.at.cpuUsPerPacket) : 'n/a' },
];
printTable(`relay: voice-like flows (${pps} packets/s of ${payloadBytes} bytes each way), steps ${steps.join('/')} × ${secondsPerStep} s, best of ${repeats} alternating runs; latency and CPU ratios are coturn/ours (higher is better for us)`, rows);
if (!coturn) process.stdout.write('coturn (turnserver) is not installed: apt-get install coturn for the reference\n');
process.stdout.write(JSON.stringify({ bench: 'relay', tincan: ours, coturn: ref ?? null, ratioFlows: ref ? ratio(ours.maxFlows, ref.maxFlows) : null }) + '\n');
process.exit(0);
