// A UDP socket with a TCP listener on the same address (the TCP fallback for nodes whose UDP
// is blocked), plus TCP listeners elsewhere (port 443). With an ephemeral port (0) the UDP
// port's number may already be taken on TCP by someone else: then another pair is picked
// rather than failing.
import { UdpDriver } from './udp-driver.ts';
import { type Address, formatAddress } from '../wire/address.ts';

export class BindError extends Error {}

export async function bindUdpAndTcp(listen: Address, extra: Address[], onError: (e: unknown) => void,
  opts: { recvBufferBytes?: number } = {}): Promise<{ driver: UdpDriver; tcpListen: string[] }> {
  const attempts = listen.port === 0 ? 8 : 1;
  for (let i = 0; i < attempts; i++) {
    const d = await UdpDriver.bind(listen, onError, opts).catch((e: Error) => {
      throw new BindError(`cannot listen on ${formatAddress(listen)}: ${e.message}`);
    });
    const t = d.enableTcp(false);
    const taken = await t.listen(d.address).then(() => false, async (e: NodeJS.ErrnoException) => {
      await d.close();
      if (e.code === 'EADDRINUSE' && i + 1 < attempts) return true;
      throw new BindError(`cannot listen on tcp ${formatAddress(d.address)}: ${e.message}`);
    });
    if (taken) continue;
    const tcpListen = [formatAddress(d.address)];
    for (const at of extra) {
      const a = await t.listen(at).catch(async (e: Error) => { await d.close(); throw new BindError(`cannot listen on tcp ${formatAddress(at)}: ${e.message}`); });
      tcpListen.push(formatAddress(a));
    }
    return { driver: d, tcpListen };
  }
  throw new BindError(`cannot listen on tcp at ${formatAddress(listen)}: every port tried was taken`);
}
