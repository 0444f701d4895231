// What `tincan netcheck` and `tincan status` say about port mapping, from the mapper's result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeMapping } from '../../src/cli/client.ts';

const base = { gateway: '100.64.2.1', publicAddress: undefined, externalPort: undefined, lifetimeS: undefined, error: undefined };

test('names the protocol that granted the mapping, and what became of the others', () => {
  assert.equal(describeMapping({
    ...base, state: 'mapped', protocol: 'pcp', publicAddress: '203.0.113.22', externalPort: 5000, lifetimeS: 3600,
    attempts: [{ protocol: 'pcp', state: 'mapped', error: undefined, publicAddress: '203.0.113.22' }, { protocol: 'upnp-igd', state: 'not needed', error: undefined, publicAddress: undefined }],
  }), 'PCP at 100.64.2.1 forwards 203.0.113.22:5000 to us for 3600 s; UPnP-IGD: not needed');
});

test('says why none did, protocol by protocol; and when it was not tried', () => {
  assert.equal(describeMapping({
    ...base, state: 'refused', publicAddress: '203.0.113.22',
    attempts: [
      { protocol: 'pcp', state: 'refused', error: 'not authorized', publicAddress: undefined },
      { protocol: 'nat-pmp', state: 'no-answer', error: undefined, publicAddress: undefined },
      { protocol: 'upnp-igd', state: 'refused', error: 'AddPortMapping: HTTP 500, UPnP error 606', publicAddress: '203.0.113.22' },
    ],
  }), 'none: 100.64.2.1 refused (PCP: refused (not authorized); NAT-PMP: no answer; UPnP-IGD: refused (AddPortMapping: HTTP 500, UPnP error 606)); the gateway says our public address is 203.0.113.22');
  assert.match(describeMapping(undefined), /^not tried/);
});
