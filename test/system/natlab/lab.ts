// A NAT lab for one test run: namespaces named after this process (tcnat-<pid>-), programs
// started inside them by exec (so the PID we hold is the program's own), and a teardown that
// runs on success, failure and signals. Leftovers of crashed runs are swept on the way in.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import fs from 'node:fs';

export type NatType = 'full-cone' | 'address-restricted' | 'port-restricted' | 'symmetric' | 'udp-blocked' | 'tcp443-only';
export const natTypes: NatType[] = ['full-cone', 'address-restricted', 'port-restricted', 'symmetric', 'udp-blocked'];
export type Host = 'S' | 'P' | 'A' | 'B' | 'NA' | 'NB';

const script = path.resolve(import.meta.dirname, 'natlab.sh');

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the NAT lab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the NAT lab needs root (ip netns)';
  for (const tool of ['ip', 'nft', 'conntrack']) {
    try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); } catch { return `the NAT lab needs ${tool} (apt-get install iproute2 nftables conntrack)`; }
  }
  return undefined;
}

export interface Proc { proc: ChildProcess; out: () => string; err: () => string }

export class NatLab {
  readonly prefix = `tcnat-${process.pid}-`;
  private readonly procs: ChildProcess[] = [];
  private up = false;
  private readonly onSignal = () => { this.downSync(); process.exit(130); };

  start() {
    execFileSync(script, ['sweep']);
    this.downSync();
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('exit', () => this.downSync());
    this.up = true;
    execFileSync(script, ['up', this.prefix], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  setNat(router: 'NA' | 'NB', type: NatType) { execFileSync(script, ['nat', this.prefix, router, type], { stdio: ['ignore', 'ignore', 'pipe'] }); }

  /** Cuts (or restores) UDP between the two home networks; supernodes and relays stay reachable. */
  setGate(state: 'closed' | 'open') { execFileSync(script, ['gate', this.prefix, state], { stdio: ['ignore', 'ignore', 'pipe'] }); }

  /** How long a router's conntrack keeps idle UDP flows, in seconds ('default': Linux's 30 s unreplied, 120 s replied). */
  setUdpTimeout(router: 'NA' | 'NB', seconds: number | 'default') { execFileSync(script, ['udp-timeout', this.prefix, router, String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] }); }

  /**
   * miniupnpd (Debian's miniupnpd-nftables) on a router, answering UPnP-IGD, NAT-PMP and PCP on its
   * LAN side, with the lab's RFC 5780 STUN fixture (stun5780.ts) on the servers' two addresses
   * for its start-up check; resolves once it says port forwarding is enabled. Stopped by
   * stopPortMapping() or the lab's teardown.
   */
  async startPortMapping(router: 'NA' | 'NB', dir: string): Promise<{ daemon: Proc; stun: Proc }> {
    try { execFileSync('sh', ['-c', 'command -v miniupnpd'], { stdio: 'ignore' }); } catch { throw new Error('the port-mapping test needs miniupnpd (apt-get install miniupnpd-nftables)'); }
    const lan = router === 'NA' ? '100.64.1' : '100.64.2';
    execFileSync(script, ['portmap', this.prefix, router, 'on'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const stun = this.spawn('S', [process.execPath, '--import', 'tsx', path.resolve(import.meta.dirname, 'stun5780.ts'), '203.0.113.10', '203.0.113.11']);
    await waitForOutput(stun, () => stun.out().includes('"ready"'), 'the STUN fixture');
    const conf = path.join(dir, `miniupnpd-${router}.conf`);
    fs.writeFileSync(conf, [
      'ext_ifname=wan0', 'listening_ip=lan0', 'http_port=2869', 'enable_natpmp=yes', 'enable_upnp=yes', 'secure_mode=yes', 'system_uptime=yes',
      // The lab's addresses are all reserved ranges, refused as ext_ip: the public address comes from STUN.
      'ext_perform_stun=yes', 'ext_stun_host=203.0.113.10', 'ext_stun_port=3478',
      'upnp_table_name=miniupnpd', 'upnp_nat_table_name=miniupnpd', 'upnp_forward_chain=forward', 'upnp_nat_chain=prerouting', 'upnp_nat_postrouting_chain=postrouting',
      'uuid=3b5e1f0a-6c1d-4c5e-9a1e-0123456789ab', 'min_lifetime=60', 'max_lifetime=86400',
      `allow 1024-65535 ${lan}.0/24 1024-65535`, 'deny 0-65535 0.0.0.0/0 0-65535', '',
    ].join('\n'));
    const daemon = this.spawn(router, ['miniupnpd', '-d', '-f', conf, '-P', path.join(dir, `miniupnpd-${router}.pid`)]);
    await waitForOutput(daemon, () => /Listening for NAT-PMP\/PCP traffic/.test(daemon.err()), 'miniupnpd', 30_000);
    if (!/Port forwarding is now enabled/.test(daemon.err())) throw new Error(`miniupnpd will not forward ports: ${daemon.err().split('\n').filter((l) => /STUN|forward/i.test(l)).join(' | ')}`);
    return { daemon, stun };
  }

  async stopPortMapping(router: 'NA' | 'NB', p: { daemon: Proc; stun: Proc }) {
    await this.stop(p.daemon.proc);
    await this.stop(p.stun.proc);
    execFileSync(script, ['portmap', this.prefix, router, 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  /** Global IPv6 for the home network behind a router (routed, stateful firewall, no NAT66), none, or addresses with a dead upstream. */
  setV6(router: 'NA' | 'NB', state: 'on' | 'off' | 'broken') { execFileSync(script, ['v6', this.prefix, router, state], { stdio: ['ignore', 'ignore', 'pipe'] }); }

  /** Starts a program inside a host's namespace; `ip netns exec` execs it, so the PID is the program's. */
  spawn(host: Host, argv: string[]): Proc {
    const proc = spawn('ip', ['netns', 'exec', this.prefix + host, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(proc);
    let out = '', err = '';
    proc.stdout!.on('data', (d) => { out += d; });
    proc.stderr!.on('data', (d) => { err += d; if (process.env.TINCAN_TEST_VERBOSE) process.stderr.write(d); });
    return { proc, out: () => out, err: () => err };
  }

  /**
   * Polls a node's HTTP API inside its namespace from one light process (plain node, no tsx),
   * so watching a call does not load the machine as a CLI process per poll would.
   */
  watchApi(host: Host, api: string, route: string, intervalMs = 100): { latest: () => any } {
    const script = `const [url, ms] = process.argv.slice(1);
      for (;;) { try { const r = await fetch(url); process.stdout.write(JSON.stringify(await r.json()) + '\\n'); } catch {}
        await new Promise((r) => setTimeout(r, Number(ms))); }`;
    const p = this.spawn(host, [process.execPath, '--input-type=module', '-e', script, `http://${api}/api/${route}`, String(intervalMs)]);
    return {
      latest: () => {
        const lines = p.out().trimEnd().split('\n');
        try { return JSON.parse(lines[lines.length - 1]); } catch { return undefined; }
      },
    };
  }

  /** Runs a program to completion inside a namespace (bounded in time). */
  async run(host: Host, argv: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const p = this.spawn(host, argv);
    const timer = setTimeout(() => p.proc.kill('SIGKILL'), timeoutMs);
    const [code] = await once(p.proc, 'exit') as [number | null];
    clearTimeout(timer);
    return { code: code ?? -1, stdout: p.out(), stderr: p.err() };
  }

  async stop(proc: ChildProcess) {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async down() {
    await Promise.all(this.procs.splice(0).map((p) => this.stop(p)));
    this.downSync();
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  private downSync() {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    if (!this.up) { try { execFileSync(script, ['down', this.prefix]); } catch { /* nothing to delete */ } return; }
    execFileSync(script, ['down', this.prefix]);
    this.up = false;
  }
}

async function waitForOutput(p: Proc, ready: () => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (p.proc.exitCode !== null) throw new Error(`${what} exited: ${p.err().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready: ${p.err().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
