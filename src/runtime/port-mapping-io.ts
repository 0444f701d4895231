// Carries the UPnP-IGD client's SSDP datagrams and HTTP requests (src/nat/upnp-igd.ts) for the
// user node: SSDP from a socket of its own on our LAN address (answers come back unicast to it),
// HTTP with a time limit and a size limit on every reply. PCP and NAT-PMP need none of this: they
// go from the node's own socket. Answers are handed back through `deliver` (the UDP driver's
// mutate), so the core sees them like any other input.
import dgram from 'node:dgram';
import http from 'node:http';
import { upnpBodyMax, type HttpReply, type UpnpRequest } from '../nat/upnp-igd.ts';
import type { Address } from '../wire/address.ts';

export interface PortMappingIoTarget {
  handlePortMapSsdp(from: Address, bytes: Uint8Array, now: number): void;
  handlePortMapHttp(id: number, reply: HttpReply, now: number): void;
}

export class PortMappingIo {
  private ssdp: dgram.Socket | undefined;
  private ssdpReady: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly localHost: string, private readonly deliver: (fn: (now: number) => void) => void, private readonly target: PortMappingIoTarget) {}

  perform(r: UpnpRequest) {
    if (this.closed) return;
    if (r.kind === 'ssdp') void this.sendSsdp(r.to, r.bytes);
    else this.track(this.request(r.id, r.method, r.url, r.headers, r.body, r.timeoutMs));
  }

  /** Waits (at most `ms`) for requests in flight: the deletion at shutdown. */
  async settle(ms: number) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => { timer = setTimeout(r, ms); })]);
    clearTimeout(timer);
  }

  close() {
    this.closed = true;
    this.ssdp?.close();
    this.ssdp = undefined;
  }

  private track(p: Promise<void>) {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async sendSsdp(to: Address, bytes: Uint8Array) {
    if (!this.ssdp) {
      const s = dgram.createSocket('udp4');
      this.ssdp = s;
      s.on('error', () => { /* no UPnP on this network: the core times out and says so */ });
      s.on('message', (msg, rinfo) => {
        const b = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
        this.deliver((now) => this.target.handlePortMapSsdp({ host: rinfo.address, port: rinfo.port }, b, now));
      });
      this.ssdpReady = new Promise((resolve) => s.bind(0, this.localHost, () => {
        try { s.setMulticastInterface(this.localHost); s.setMulticastTTL(2); } catch { /* unicast still works */ }
        resolve();
      }));
    }
    await this.ssdpReady;
    if (!this.closed) this.ssdp?.send(bytes, to.port, to.host, () => { /* a send error is no answer */ });
  }

  private request(id: number, method: string, url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (reply: HttpReply) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.destroy();
        if (!this.closed) this.deliver((now) => this.target.handlePortMapHttp(id, reply, now));
        resolve();
      };
      const timer = setTimeout(() => finish({ error: `no reply within ${timeoutMs} ms` }), timeoutMs);
      const req = http.request(url, { method, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }, localAddress: this.localHost }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > upnpBodyMax) return finish({ error: `reply larger than ${upnpBodyMax} bytes` });
          chunks.push(c);
        });
        res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => finish({ error: e.message }));
      });
      req.on('error', (e) => finish({ error: e.message }));
      req.end(body);
    });
  }
}
