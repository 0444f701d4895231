// Waiting on a live system: poll a probe until it yields a value, bounded in time — never a
// fixed sleep. Shared by the loopback e2e tests and the NAT lab.

/** Polls `probe` every 100 ms until it returns a value (a throw counts as not yet). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
