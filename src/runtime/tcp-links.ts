// TCP fallback transport (when UDP is blocked, as Skype fell back to TCP 80/443): datagrams
// framed with a 2-byte big-endian length on TCP connections. Each connection is a path
// tcp:HOST:PORT (the remote end), so the cores above treat it like any other path; the
// sessions on top are the same Noise sessions, so TCP adds no trust and shows no plaintext.
import net from 'node:net';
import { type Address } from '../wire/address.ts';
import { tcpPath, addressOfTcpPath } from '../session/paths.ts';

export interface TcpStats { accepted: number; connected: number; framesIn: number; framesOut: number; dropped: number; badFrames: number }

// Implementation constants.
const connectionsMax = 4096;
const queuedBytesMax = 256 * 1024;
const connectTimeoutMs = 3000;
const frameBytesMax = 65507;

interface Link { socket: net.Socket; ready: boolean; queue: Buffer[]; queued: number }

export class TcpLinks {
  private readonly links = new Map<string, Link>();
  private readonly servers: net.Server[] = [];
  readonly stats: TcpStats = { accepted: 0, connected: 0, framesIn: 0, framesOut: 0, dropped: 0, badFrames: 0 };

  constructor(private readonly deliver: (path: string, bytes: Uint8Array) => void, private readonly onError: (e: unknown) => void = () => {},
    private readonly dialOut = true) {}

  /** Accepts connections on an address (a supernode's TCP listener, e.g. port 443 as well). */
  listen(at: Address): Promise<Address> {
    const server = net.createServer((socket) => {
      if (this.links.size >= connectionsMax) { socket.destroy(); return; }
      this.stats.accepted++;
      const path = tcpPath({ host: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 });
      this.adopt(path, socket, true);
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      const failed = (e: Error) => { this.servers.splice(this.servers.indexOf(server), 1); reject(e); };
      server.once('error', failed);
      server.listen(at.port, at.host, () => {
        server.off('error', failed);
        server.on('error', (e) => this.onError(e));
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Sends one datagram on a tcp: path, dialling it first when we are the client side. */
  send(path: string, bytes: Uint8Array) {
    if (bytes.length > frameBytesMax) { this.stats.dropped++; return; }
    let link = this.links.get(path);
    if (!link) {
      const to = addressOfTcpPath(path);
      if (!to || !this.dialOut || this.links.size >= connectionsMax) { this.stats.dropped++; return; }
      const socket = net.connect({ host: to.host, port: to.port });
      socket.setTimeout(connectTimeoutMs, () => { if (!this.links.get(path)?.ready) socket.destroy(); });
      link = this.adopt(path, socket, false);
      socket.once('connect', () => {
        socket.setTimeout(0);
        this.stats.connected++;
        link!.ready = true;
        for (const b of link!.queue) socket.write(b);
        link!.queue = []; link!.queued = 0;
      });
    }
    const frame = Buffer.allocUnsafe(2 + bytes.length);
    frame.writeUInt16BE(bytes.length, 0);
    frame.set(bytes, 2);
    this.stats.framesOut++;
    if (link.ready) { link.socket.write(frame); return; }
    if (link.queued + frame.length > queuedBytesMax) { this.stats.dropped++; return; }
    link.queue.push(frame); link.queued += frame.length;
  }

  close() {
    for (const s of this.servers) s.close();
    for (const l of this.links.values()) l.socket.destroy();
    this.links.clear();
  }

  private adopt(path: string, socket: net.Socket, ready: boolean): Link {
    const link: Link = { socket, ready, queue: [], queued: 0 };
    this.links.set(path, link);
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (n === 0 || n > frameBytesMax) { this.stats.badFrames++; socket.destroy(); return; }
        if (buf.length < 2 + n) break;
        const frame = new Uint8Array(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
        this.stats.framesIn++;
        this.deliver(path, frame);
      }
    });
    socket.on('error', () => { /* a reset is a closed link; the sessions above time out */ });
    socket.on('close', () => { if (this.links.get(path) === link) this.links.delete(path); });
    return link;
  }
}
