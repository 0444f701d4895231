// Runs the promotion policy (src/node/promotion.ts) for a user's daemon: on candidacy it opens
// a supernode socket next to the node's (not yet serving), has the network verify that socket
// from outside, and starts a Supernode core on it when the policy says so; it stops it again on
// demotion. The supernode has its own keys (data/supernode/) and is an ordinary member of the
// overlay: it announces itself to the login server and joins through the node's host cache.
import path from 'node:path';
import { UdpDriver } from './udp-driver.ts';
import { DataDir } from './data-dir.ts';
import { random, now as clockNow } from './clock.ts';
import { Supernode } from '../node/supernode.ts';
import type { UserNode } from '../node/user-node.ts';
import { PromotionPolicy, type ReachVerdict } from '../node/promotion.ts';
import { type Address, formatAddress, parseHostPort } from '../wire/address.ts';
import type { Result } from '../wire/result.ts';

export interface PromotionRunnerOptions {
  data: string;
  login: Address;
  loginKey: () => Uint8Array | undefined;
  optedOut: boolean;
  minUptimeMs?: number;
  log: (level: string, message: string) => void;
}

export interface PromotionStatus { state: string; reason: string; supernode?: string }

// Implementation constant: how often the policy is asked.
const tickMs = 1000;

export class PromotionRunner {
  readonly policy: PromotionPolicy;
  private readonly timer: NodeJS.Timeout;
  private serving: { driver: UdpDriver; core: Supernode; announce: Address } | undefined;
  private busy = false;

  constructor(private readonly node: UserNode, private readonly nodeDriver: UdpDriver, private readonly o: PromotionRunnerOptions) {
    this.policy = new PromotionPolicy({ optedOut: o.optedOut, minUptimeMs: o.minUptimeMs }, clockNow());
    this.timer = setInterval(() => void this.tick(), tickMs);
  }

  status(): PromotionStatus {
    return { state: this.policy.state, reason: this.policy.reason, ...(this.serving && this.policy.state === 'supernode' ? { supernode: formatAddress(this.serving.announce) } : {}) };
  }

  async stop() {
    clearInterval(this.timer);
    await this.close();
  }

  private async tick() {
    if (this.busy) return;
    const action = this.policy.tick(clockNow());
    if (!action) return;
    this.busy = true;
    try {
      if (action === 'candidate') await this.candidacy();
      else if (this.serving) {
        const r = await this.verify(this.serving.driver.address.port);
        if (this.policy.verdict(clockNow(), r.ok ? r.value : { reachable: false, promotion: true }) === 'demote') {
          this.o.log('info', `no longer a supernode: ${this.policy.reason}`);
          await this.close();
        }
      }
    } catch (e) {
      this.o.log('warn', `promotion: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async candidacy() {
    const st = this.node.status();
    const observed = st.publicAddress ? parseHostPort(st.publicAddress) : undefined;
    if (!st.loggedIn || !observed?.ok) return this.policy.postpone(clockNow(), 5000, 'waiting to be logged in and attached');
    const driver = await UdpDriver.bind({ host: this.nodeDriver.address.host, port: 0 }, (e) => this.o.log('error', String(e)));
    // What others reach us at: our public host (as our supernode sees it), the new socket's port.
    const announce = { host: observed.value.host, port: driver.address.port };
    const keys = new DataDir(path.join(this.o.data, 'supernode')).keys();
    const core = new Supernode({
      staticKey: keys.static, signingKey: keys.signing, random, listen: announce, login: this.o.login,
      loginKey: this.o.loginKey(), bootstrap: this.node.link.hosts.ranked(clockNow()).slice(0, 8),
    });
    driver.attach(core, () => { for (let l = core.pollLog(); l; l = core.pollLog()) if (l.level !== 'info') this.o.log(l.level, `supernode: ${l.message}`); });
    this.serving = { driver, core, announce };
    // Verified before it serves: the socket has not sent a byte yet, so only a reachable host is reached.
    const r = await this.verify(driver.address.port);
    if (!r.ok) {
      // No verdict (our supernode could not have us probed yet): try again shortly.
      this.policy.postpone(clockNow(), 30_000, `reachability not checked yet: ${r.error.message}`);
      return this.close();
    }
    if (this.policy.verdict(clockNow(), r.value) === 'promote') {
      this.o.log('info', `promoted to supernode at ${formatAddress(announce)} (${this.policy.reason})`);
      driver.mutate((now) => core.start(now));
    } else {
      this.o.log('info', `not promoted: ${this.policy.reason}`);
      await this.close();
    }
  }

  private verify(port: number): Promise<Result<ReachVerdict>> {
    return new Promise((resolve) => this.nodeDriver.mutate((now) => this.node.checkReach(port, now, resolve)));
  }

  private async close() {
    const s = this.serving;
    this.serving = undefined;
    if (s) await s.driver.close();
  }
}
