// A UPnP-IGD client, sans-IO: finds the home router's WANIPConnection service by SSDP, reads its
// device description, and asks it by SOAP for our public address and a UDP port forwarded to
// our socket. The driver (src/runtime/port-mapping-io.ts) sends the SSDP datagrams from a socket
// of its own and runs the HTTP requests; this core only builds and reads the messages.
//
// Theory of operation. M-SEARCH for WANIPConnection:1 and :2, to the SSDP multicast group and to
// the gateway itself, sent again at 500 ms and 1 s; no usable answer within 3 s: no UPnP here.
// Only answers from the default gateway whose LOCATION is a plain http URL on the gateway are
// used: anything else on the LAN could otherwise point us at any host (the request would go from
// our machine). Then: GET the description, pick the WANIPConnection (2 before 1) control URL,
// GetExternalIPAddress, AddPortMapping (external port = our port; on a conflict (718) once more
// with another port; a gateway that only takes permanent leases (725) gets lease 0). A granted
// mapping is renewed at half its lease by asking again; release() sends DeletePortMapping.
// Every reply is bounded and parsed defensively: a hostile router gets an error, never a crash.
//
//   commands: start(now), release(now), cancel()
//   inputs:   handleSsdp(from, bytes, now), handleHttp(id, reply, now), handleTimeout(now)
//   outputs:  pollRequest() → UpnpRequest, pollTimeout(), result()
import type { Address } from '../wire/address.ts';
import { earliest } from '../deadline.ts';
import { mappingResult, type PortMappingResult, type PortMappingState } from './port-mapping.ts';

export const ssdpGroup: Address = { host: '239.255.255.250', port: 1900 };
const searchTargets = ['urn:schemas-upnp-org:service:WANIPConnection:2', 'urn:schemas-upnp-org:service:WANIPConnection:1'];
const searchAtMs = [0, 500, 1000];
const discoveryMs = 3000;
const httpTimeoutMs = 3000;
/** Replies bigger than this are not read (a description is a few kB). */
export const upnpBodyMax = 64 * 1024;

export type UpnpRequest =
  | { kind: 'ssdp'; to: Address; bytes: Uint8Array }
  | { kind: 'http'; id: number; method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body: string; timeoutMs: number };

export type HttpReply = { status: number; body: string } | { error: string };

export interface UpnpConfig {
  gateway: Address;
  internalHost: string;
  internalPort: number;
  lifetimeS?: number;
  /** Another external port to try after a conflict (the caller draws it from its seeded randomness). */
  otherPort?: number;
}

type Stage = 'describe' | 'external-ip' | 'add' | 'delete';

export class UpnpIgdClient {
  private readonly out: UpnpRequest[] = [];
  private readonly lifetimeS: number;
  private state: PortMappingState = 'idle';
  private error: string | undefined;
  private publicAddress: string | undefined;
  private externalPort: number;
  private grantedS: number | undefined;
  private leaseS: number;
  private conflictRetried = false;
  private searches: number[] = [];
  private giveUpMs: number | undefined;
  private renewAtMs: number | undefined;
  private location: string | undefined;
  private control: { url: string; service: string } | undefined;
  private nextId = 1;
  private readonly inflight = new Map<number, Stage>();

  constructor(private readonly cfg: UpnpConfig) {
    this.lifetimeS = cfg.lifetimeS ?? 3600;
    this.leaseS = this.lifetimeS;
    this.externalPort = cfg.internalPort;
  }

  start(now: number) {
    this.state = 'trying';
    this.searches = searchAtMs.map((t) => now + t);
    this.giveUpMs = now + discoveryMs;
    this.handleTimeout(now);
  }

  /** Stops asking and renewing; requests in flight are ignored when they come back. */
  cancel() { this.searches = []; this.giveUpMs = undefined; this.renewAtMs = undefined; this.inflight.clear(); }

  release(now: number) {
    const mapped = this.state === 'mapped' && this.control;
    this.cancel();
    if (mapped) this.soap('delete', 'DeletePortMapping', { NewRemoteHost: '', NewExternalPort: String(this.externalPort), NewProtocol: 'UDP' });
    void now;
  }

  handleSsdp(from: Address, bytes: Uint8Array, now: number) {
    if (this.state !== 'trying' || this.location || from.host !== this.cfg.gateway.host || bytes.length > 4096) return;
    const h = parseSsdp(new TextDecoder().decode(bytes));
    if (!h || !h.location || !searchTargets.some((t) => h.st === t) && !/InternetGatewayDevice/.test(h.st ?? '')) return;
    const url = this.onGateway(h.location);
    if (!url) { this.error = `the UPnP answer points away from the gateway (${h.location.slice(0, 80)})`; return; }
    this.location = url;
    this.searches = [];
    this.giveUpMs = undefined;   // from here on, each HTTP request has its own time limit
    this.http('describe', 'GET', url, {}, '');
    void now;
  }

  handleHttp(id: number, reply: HttpReply, now: number) {
    const stage = this.inflight.get(id);
    if (!stage) return;
    this.inflight.delete(id);
    if ('error' in reply) return this.fail(stage, `no answer to ${stage === 'describe' ? 'the description request' : 'SOAP'}: ${reply.error}`);
    if (reply.body.length > upnpBodyMax) return this.fail(stage, 'reply too large');
    switch (stage) {
      case 'describe': {
        if (reply.status !== 200) return this.fail(stage, `description: HTTP ${reply.status}`);
        const svc = findWanIpService(reply.body);
        const url = svc && this.onGateway(svc.controlUrl, this.location);
        if (!svc || !url) return this.fail(stage, 'the gateway\'s description has no usable WANIPConnection service');
        this.control = { url, service: svc.type };
        this.soap('external-ip', 'GetExternalIPAddress', {});
        return;
      }
      case 'external-ip': {
        const ip = reply.status === 200 ? xmlText(reply.body, 'NewExternalIPAddress') : undefined;
        if (ip && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) this.publicAddress = ip;
        // Without the address a mapping is of no use to peers; say why.
        if (!this.publicAddress) return this.fail(stage, `GetExternalIPAddress: ${soapError(reply)}`);
        this.add();
        return;
      }
      case 'add': {
        if (reply.status === 200) {
          this.state = 'mapped';
          this.error = undefined;
          this.grantedS = this.leaseS;
          // A permanent lease (0) is still asked again now and then: the router may have rebooted.
          this.renewAtMs = now + (this.leaseS > 0 ? this.leaseS : this.lifetimeS) * 500;
          return;
        }
        const code = soapErrorCode(reply.body);
        if (code === 725 && this.leaseS !== 0) { this.leaseS = 0; return this.add(); }
        if (code === 718 && !this.conflictRetried && this.cfg.otherPort) { this.conflictRetried = true; this.externalPort = this.cfg.otherPort; return this.add(); }
        return this.fail(stage, `AddPortMapping: ${soapError(reply)}`);
      }
      case 'delete': return;
    }
  }

  handleTimeout(now: number) {
    while (this.searches.length && now >= this.searches[0]) {
      this.searches.shift();
      for (const st of searchTargets) {
        const bytes = new TextEncoder().encode(mSearch(st));
        this.out.push({ kind: 'ssdp', to: ssdpGroup, bytes }, { kind: 'ssdp', to: { host: this.cfg.gateway.host, port: ssdpGroup.port }, bytes });
      }
    }
    if (this.giveUpMs !== undefined && now >= this.giveUpMs) {
      this.giveUpMs = undefined;
      if (this.state === 'trying' && !this.location) { this.state = 'no-answer'; this.searches = []; }
    }
    if (this.renewAtMs !== undefined && now >= this.renewAtMs) { this.renewAtMs = undefined; this.add(); }
  }

  pollRequest(): UpnpRequest | undefined { return this.out.shift(); }

  pollTimeout(): number | undefined {
    return earliest(this.searches[0], this.giveUpMs, this.renewAtMs);
  }

  result(): PortMappingResult { return mappingResult(this.state, this.cfg.gateway.host, this.publicAddress, this.externalPort, this.grantedS, this.error); }

  private add() {
    this.soap('add', 'AddPortMapping', {
      NewRemoteHost: '', NewExternalPort: String(this.externalPort), NewProtocol: 'UDP', NewInternalPort: String(this.cfg.internalPort),
      NewInternalClient: this.cfg.internalHost, NewEnabled: '1', NewPortMappingDescription: 'tincan', NewLeaseDuration: String(this.leaseS),
    });
  }

  private fail(stage: Stage, why: string) {
    if (stage === 'delete') return;
    // A failed renewal loses the mapping as surely as a refusal.
    this.state = 'refused';
    this.error = why;
    this.renewAtMs = undefined;
  }

  private soap(stage: Stage, action: string, args: Record<string, string>) {
    const c = this.control!;
    const body = soapEnvelope(c.service, action, args);
    this.http(stage, 'POST', c.url, { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: `"${c.service}#${action}"` }, body);
  }

  private http(stage: Stage, method: 'GET' | 'POST', url: string, headers: Record<string, string>, body: string) {
    const id = this.nextId++;
    this.inflight.set(id, stage);
    this.out.push({ kind: 'http', id, method, url, headers, body, timeoutMs: httpTimeoutMs });
  }

  /** The URL, resolved against `base`, if it is plain http on the gateway; else undefined. */
  private onGateway(raw: string, base?: string): string | undefined {
    let u: URL;
    try { u = new URL(raw.trim(), base); } catch { return undefined; }
    return u.protocol === 'http:' && u.hostname === this.cfg.gateway.host && !u.username && !u.password ? u.href : undefined;
  }
}

export function mSearch(st: string): string {
  return `M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${st}\r\n\r\n`;
}

/** An SSDP answer's headers (lower-case names), or undefined if it is not an HTTP 200 answer. */
export function parseSsdp(text: string): { location?: string; st?: string } | undefined {
  const lines = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/i.test(lines[0] ?? '')) return undefined;
  const h: Record<string, string> = {};
  for (const l of lines.slice(1, 40)) {
    const i = l.indexOf(':');
    if (i > 0) h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { location: h.location, st: h.st };
}

/** The first WANIPConnection service (version 2 preferred) in a device description. */
export function findWanIpService(xml: string): { type: string; controlUrl: string } | undefined {
  const services = [...xml.slice(0, upnpBodyMax).matchAll(/<(?:\w+:)?service>([\s\S]*?)<\/(?:\w+:)?service>/g)].slice(0, 64).map((m) => ({
    type: xmlText(m[1], 'serviceType') ?? '', controlUrl: xmlText(m[1], 'controlURL') ?? '',
  }));
  for (const want of searchTargets) {
    const s = services.find((x) => x.type === want && x.controlUrl);
    if (s) return s;
  }
  return undefined;
}

/** The text of the first element with this local name (any namespace prefix), entities decoded. */
export function xmlText(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:\\w+:)?${name}(?:\\s[^>]*)?>([^<]{0,2048})</(?:\\w+:)?${name}>`).exec(xml);
  return m ? decodeEntities(m[1].trim()) : undefined;
}

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e]!);
}

function encodeEntities(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' })[c]};`);
}

export function soapEnvelope(service: string, action: string, args: Record<string, string>): string {
  const inner = Object.entries(args).map(([k, v]) => `<${k}>${encodeEntities(v)}</${k}>`).join('');
  return '<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${encodeEntities(service)}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`;
}

function soapErrorCode(body: string): number | undefined {
  const c = Number(xmlText(body, 'errorCode'));
  return Number.isInteger(c) ? c : undefined;
}

/** A SOAP fault in words: "HTTP 500, UPnP error 718 ConflictInMappingEntry". */
function soapError(reply: { status: number; body: string }): string {
  const code = soapErrorCode(reply.body);
  const desc = xmlText(reply.body, 'errorDescription');
  return `HTTP ${reply.status}${code !== undefined ? `, UPnP error ${code}` : ''}${desc ? ` ${desc.slice(0, 80)}` : ''}`;
}
