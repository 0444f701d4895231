// A lab fixture: the smallest RFC 5780 STUN server that miniupnpd's start-up test needs
// (ext_perform_stun=yes). It listens on two addresses × two ports; a Binding request is
// answered from the socket its CHANGE-REQUEST asks for (other address and/or other port),
// with XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS. miniupnpd sends
// four requests (none, change port, change IP, both) and grants port mappings only when all
// four answers reach it with its own address and port mapped back: a router whose upstream
// does not filter. Debian has no stuntman, and coturn's RFC 5780 mode did not come up in the lab.
//
// Run: node --import tsx stun5780.ts IP1 IP2 [PORT1 PORT2] — prints {"ready":…} when listening.
// Test infrastructure only: it sits on the lab's "internet" segment, never in the node.
import dgram from 'node:dgram';

const [ip1, ip2, p1 = '3478', p2 = '3479'] = process.argv.slice(2);
if (!ip1 || !ip2) { console.error('usage: stun5780.ts IP1 IP2 [PORT1 PORT2]'); process.exit(2); }
const ips = [ip1, ip2];
const ports = [Number(p1), Number(p2)];
const cookie = 0x2112a442;

// sockets[i][j]: address i, port j.
const sockets = ips.map((ip) => ports.map((port) => ({ ip, port, sock: dgram.createSocket('udp4') })));
let answered = 0;

function attr(type: number, value: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + value.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, type);
  v.setUint16(2, value.length);
  b.set(value, 4);
  return b;
}

function addrValue(ip: string, port: number, xor: boolean): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[1] = 1;
  const octets = ip.split('.').map(Number);
  const a = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  v.setUint16(2, xor ? port ^ (cookie >>> 16) : port);
  v.setUint32(4, xor ? (a ^ cookie) >>> 0 : a);
  return b;
}

function answer(i: number, j: number, msg: Buffer, from: dgram.RemoteInfo) {
  if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001 || msg.readUInt32BE(4) !== cookie) return;
  const len = msg.readUInt16BE(2);
  if (20 + len > msg.length) return;
  let change = 0;
  for (let o = 20; o + 4 <= 20 + len;) {
    const t = msg.readUInt16BE(o), l = msg.readUInt16BE(o + 2);
    if (o + 4 + l > 20 + len) return;
    if (t === 0x0003 && l === 4) change = msg.readUInt32BE(o + 4);
    o += 4 + ((l + 3) & ~3);
  }
  const si = change & 4 ? 1 - i : i;
  const sj = change & 2 ? 1 - j : j;
  const out = sockets[si][sj];
  const other = sockets[1 - i][1 - j];
  const attrs = [
    attr(0x0020, addrValue(from.address, from.port, true)),   // XOR-MAPPED-ADDRESS
    attr(0x0001, addrValue(from.address, from.port, false)),  // MAPPED-ADDRESS (RFC 3489 clients)
    attr(0x802b, addrValue(out.ip, out.port, false)),         // RESPONSE-ORIGIN
    attr(0x802c, addrValue(other.ip, other.port, false)),     // OTHER-ADDRESS
  ];
  const body = Buffer.concat(attrs);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(0x0101, 0);
  head.writeUInt16BE(body.length, 2);
  msg.copy(head, 4, 4, 20);
  out.sock.send(Buffer.concat([head, body]), from.port, from.address);
  answered++;
}

await Promise.all(sockets.flatMap((row, i) => row.map((s, j) => new Promise<void>((resolve) => {
  s.sock.on('message', (m, r) => answer(i, j, m, r));
  s.sock.bind(s.port, s.ip, resolve);
}))));
console.log(JSON.stringify({ ready: true, stun: sockets.flat().map((s) => `${s.ip}:${s.port}`) }));
process.on('SIGTERM', () => { console.error(`stun5780: answered ${answered}`); process.exit(0); });
