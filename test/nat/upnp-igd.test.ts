import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpnpIgdClient, findWanIpService, parseSsdp, xmlText, type UpnpRequest } from '../../src/nat/upnp-igd.ts';

const gateway = { host: '100.64.2.1', port: 0 };
const enc = (s: string) => new TextEncoder().encode(s);
const ssdpAnswer = (location: string, st = 'urn:schemas-upnp-org:service:WANIPConnection:1') =>
  enc(`HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: ${st}\r\nUSN: uuid:x::${st}\r\nEXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: ${location}\r\n\r\n`);
const description = `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device>
  <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType><deviceList><device><deviceList><device>
  <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType><serviceList>
  <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
  <controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL></service>
  </serviceList></device></deviceList></device></deviceList></device></root>`;
const soapOk = (action: string, inner = '') => ({ status: 200, body: `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">${inner}</u:${action}Response></s:Body></s:Envelope>` });
const soapFault = (code: number, desc: string) => ({ status: 500, body: `<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${desc}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>` });

function drain(c: UpnpIgdClient) { const out: UpnpRequest[] = []; for (let r = c.pollRequest(); r; r = c.pollRequest()) out.push(r); return out; }
const http = (rs: UpnpRequest[]) => rs.filter((r): r is Extract<UpnpRequest, { kind: 'http' }> => r.kind === 'http');
const client = (otherPort?: number) => new UpnpIgdClient({ gateway, internalHost: '100.64.2.10', internalPort: 5000, lifetimeS: 600, otherPort });

/** Runs discovery and description to the first SOAP request. */
function discovered(c: UpnpIgdClient) {
  c.start(0);
  const search = drain(c);
  assert.ok(search.every((r) => r.kind === 'ssdp'));
  assert.match(new TextDecoder().decode((search[0] as { bytes: Uint8Array }).bytes), /^M-SEARCH \* HTTP\/1\.1\r\n[\s\S]*ST: urn:schemas-upnp-org:service:WANIPConnection:2\r\n/);
  c.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://100.64.2.1:2869/rootDesc.xml'), 10);
  const [get] = http(drain(c));
  assert.deepEqual([get.method, get.url], ['GET', 'http://100.64.2.1:2869/rootDesc.xml']);
  c.handleHttp(get.id, { status: 200, body: description }, 20);
  const [ext] = http(drain(c));
  assert.equal(ext.url, 'http://100.64.2.1:2869/ctl/IPConn');
  assert.equal(ext.headers.SOAPAction, '"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress"');
  c.handleHttp(ext.id, soapOk('GetExternalIPAddress', '<NewExternalIPAddress>203.0.113.22</NewExternalIPAddress>'), 30);
  return http(drain(c));
}

test('SSDP, description, GetExternalIPAddress, AddPortMapping: mapped; renewed at half the lease; deleted on release', () => {
  const c = client();
  const [add] = discovered(c);
  assert.match(add.body, /<u:AddPortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewRemoteHost><\/NewRemoteHost><NewExternalPort>5000<\/NewExternalPort><NewProtocol>UDP<\/NewProtocol><NewInternalPort>5000<\/NewInternalPort><NewInternalClient>100\.64\.2\.10<\/NewInternalClient><NewEnabled>1<\/NewEnabled><NewPortMappingDescription>tincan<\/NewPortMappingDescription><NewLeaseDuration>600<\/NewLeaseDuration>/);
  c.handleHttp(add.id, soapOk('AddPortMapping'), 40);
  assert.deepEqual(c.result(), { state: 'mapped', gateway: '100.64.2.1', publicAddress: '203.0.113.22', externalPort: 5000, lifetimeS: 600, error: undefined });
  assert.equal(c.pollTimeout(), 40 + 300_000);
  c.handleTimeout(40 + 300_000);
  const [renew] = http(drain(c));
  assert.match(renew.body, /AddPortMapping/);
  c.handleHttp(renew.id, soapOk('AddPortMapping'), 300_050);
  c.release(300_060);
  const [del] = http(drain(c));
  assert.match(del.body, /<u:DeletePortMapping [^>]*><NewRemoteHost><\/NewRemoteHost><NewExternalPort>5000<\/NewExternalPort><NewProtocol>UDP<\/NewProtocol>/);
  assert.equal(c.pollTimeout(), undefined);
});

test('a conflict (718) is tried once more on another port; permanent-only (725) gets lease 0; other faults are reported', () => {
  const c = client(34567);
  const [add] = discovered(c);
  c.handleHttp(add.id, soapFault(718, 'ConflictInMappingEntry'), 40);
  const [again] = http(drain(c));
  assert.match(again.body, /<NewExternalPort>34567</);
  c.handleHttp(again.id, soapFault(725, 'OnlyPermanentLeasesSupported'), 50);
  const [permanent] = http(drain(c));
  assert.match(permanent.body, /<NewLeaseDuration>0</);
  c.handleHttp(permanent.id, soapFault(606, 'Action not authorized'), 60);
  assert.deepEqual([c.result().state, c.result().error], ['refused', 'AddPortMapping: HTTP 500, UPnP error 606 Action not authorized']);
});

test('answers from elsewhere, or pointing away from the gateway, are not followed; silence ends in no-answer', () => {
  const c = client();
  c.start(0);
  drain(c);
  c.handleSsdp({ host: '100.64.2.99', port: 1900 }, ssdpAnswer('http://100.64.2.99/desc.xml'), 1);
  c.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://203.0.113.66/desc.xml'), 2);
  c.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('https://100.64.2.1/desc.xml'), 3);
  c.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://100.64.2.1/desc.xml', 'urn:schemas-upnp-org:device:MediaServer:1'), 4);
  assert.equal(http(drain(c)).length, 0);
  for (let i = 0; i < 10 && c.pollTimeout() !== undefined; i++) c.handleTimeout(c.pollTimeout()!);
  assert.equal(c.result().state, 'no-answer');
  assert.match(c.result().error ?? '', /points away from the gateway/);
});

test('a description without WANIPConnection, and a failed request, are reported', () => {
  const c = client();
  c.start(0);
  c.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://100.64.2.1:2869/rootDesc.xml'), 1);
  const [get] = http(drain(c));
  c.handleHttp(get.id, { status: 200, body: '<root><service><serviceType>urn:x</serviceType><controlURL>/x</controlURL></service></root>' }, 2);
  assert.match(c.result().error ?? '', /no usable WANIPConnection/);
  const d = client();
  d.start(0);
  d.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://100.64.2.1:2869/rootDesc.xml'), 1);
  d.handleHttp(http(drain(d))[0].id, { error: 'connect ECONNREFUSED' }, 2);
  assert.deepEqual([d.result().state, d.result().error], ['refused', 'no answer to the description request: connect ECONNREFUSED']);
});

test('parsers: XML text with prefixes and entities, WANIPConnection:2 preferred, SSDP headers', () => {
  assert.equal(xmlText('<a:NewExternalIPAddress>1.2.3.4</a:NewExternalIPAddress>', 'NewExternalIPAddress'), '1.2.3.4');
  assert.equal(xmlText('<x>a &amp; b</x>', 'x'), 'a & b');
  const two = description.replace('</serviceList>', '<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl/IP2</controlURL></service></serviceList>');
  assert.deepEqual(findWanIpService(two), { type: 'urn:schemas-upnp-org:service:WANIPConnection:2', controlUrl: '/ctl/IP2' });
  assert.equal(parseSsdp('NOTIFY * HTTP/1.1\r\n\r\n'), undefined);
  assert.deepEqual(parseSsdp('HTTP/1.1 200 OK\r\nlocation: http://x/\r\nst: y\r\n\r\n'), { location: 'http://x/', st: 'y' });
});

test('hostile replies never throw: random SSDP, random and huge HTTP bodies, unknown ids', () => {
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  const c = client();
  c.start(0);
  for (let i = 0; i < 500; i++) c.handleSsdp({ host: '100.64.2.1', port: 1900 }, Uint8Array.from({ length: rnd() * 4 }, rnd), i);
  c.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://100.64.2.1:2869/rootDesc.xml'), 600);
  const [get] = http(drain(c));
  c.handleHttp(9999, { status: 200, body: description }, 601);
  c.handleHttp(get.id, { status: 200, body: '<service>'.repeat(20_000) + String.fromCharCode(...Array.from({ length: 5000 }, rnd)) }, 602);
  assert.equal(c.result().state, 'refused');
  const d = client();
  d.start(0);
  d.handleSsdp({ host: '100.64.2.1', port: 1900 }, ssdpAnswer('http://100.64.2.1:2869/rootDesc.xml'), 1);
  d.handleHttp(http(drain(d))[0].id, { status: 200, body: `<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>http://[::1</controlURL></service>` }, 2);
  assert.equal(d.result().state, 'refused');
});
