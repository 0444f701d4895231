// `tincan demo` (what `npm start` runs): a whole network on loopback in one process —
// a login server on SQLite, three supernodes, and two users' nodes, alice and bob, registered
// and signed in — so a newcomer can open two web UIs and call themselves.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLoginServer, startSupernode, startNode, type Running, type DemoOptions } from './roles.ts';
import { parseHostPort, type Address } from '../wire/address.ts';

const loopback = (port = 0): Address => ({ host: '127.0.0.1', port });
const demoPassword = 'tincan-demo-password';

export async function runDemo(o: DemoOptions): Promise<Running> {
  const keep = o.data !== undefined;
  const root = o.data ? path.resolve(o.data) : fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-demo-'));
  fs.mkdirSync(root, { recursive: true });
  const running: Running[] = [];
  const stopAll = async () => {
    for (const r of running.reverse()) await r.stop().catch(() => {});
    if (!keep) fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    const login = await startLoginServer({ listen: loopback(), db: path.join(root, 'login.sqlite'), quiet: o.quiet });
    running.push(login);
    const loginAddr = addr(login.describe().listen);
    const supernodes: Address[] = [];
    for (let i = 0; i < 3; i++) {
      const sn = await startSupernode({
        listen: loopback(), login: loginAddr, loginKey: String(login.describe().key), bootstrap: [...supernodes],
        data: path.join(root, `supernode-${i + 1}`), quiet: o.quiet,
      });
      running.push(sn);
      supernodes.push(addr(sn.describe().listen));
    }
    const users: Record<string, string> = {};
    const base = o.apiBasePort ?? 7780;
    for (const [i, user] of ['alice', 'bob'].entries()) {
      const node = await startNodeOnFreePort(base === 0 ? 0 : base + i, {
        data: path.join(root, user), login: loginAddr, loginKey: String(login.describe().key),
        bootstrap: [supernodes[i % supernodes.length]], autoAnswer: false, noDirect: false, quiet: o.quiet,
      });
      running.push(node);
      users[user] = String(node.describe().url);
      await signIn(users[user], user);
    }
    // Each starts with the other in the contact list, so the first thing to try is a call.
    await post(users.alice, 'contacts', { user: 'bob' });
    await post(users.bob, 'contacts', { user: 'alice' });
    return {
      describe: () => ({ data: root, kept: keep, password: demoPassword, login: login.describe().listen, supernodes: supernodes.length, ui: users }),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

function addr(v: unknown): Address {
  const a = parseHostPort(String(v));
  if (!a.ok) throw new Error(`internal: bad address ${String(v)}`);
  return a.value;
}

/** The well-known port when it is free (7780, 7781: easy to type), any port otherwise. */
async function startNodeOnFreePort(port: number, o: Omit<Parameters<typeof startNode>[0], 'api'>): Promise<Running> {
  if (port !== 0) { try { return await startNode({ ...o, api: loopback(port) }); } catch { /* taken: fall through */ } }
  return startNode({ ...o, api: loopback(0) });
}

const post = (base: string, route: string, body: unknown) => fetch(new URL(`api/${route}`, base), {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

/** Registers (if needed) and logs in through the node's own API, as any client program would. */
async function signIn(base: string, user: string) {
  const reg = await post(base, 'register', { user, password: demoPassword });
  if (!reg.ok) {
    const e = await reg.json().catch(() => ({})) as { error?: { code?: string; message?: string } };
    if (e.error?.code !== 'name-taken') throw new Error(`registering ${user}: ${e.error?.message ?? reg.status}`);
  }
  const res = await post(base, 'login', { user, password: demoPassword });
  if (!res.ok) throw new Error(`logging in ${user}: ${JSON.stringify(await res.json().catch(() => ({})))}`);
}
