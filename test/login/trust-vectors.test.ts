// The test vectors of docs/trust.md: deterministic keys give exactly these bytes, they decode
// back to their fields, and the document shows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ed25519FromSeed } from '../../src/crypto/keys.ts';
import { issueCertificate, verifyCertificate } from '../../src/crypto/certificate.ts';
import { decodeMessage } from '../../src/wire/object-list.ts';
import { LoginRequest, ChangePasswordRequest, DeleteAccountRequest, DevicesRequest, DeviceList } from '../../src/login/protocol.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const doc = fs.readFileSync(path.join(import.meta.dirname, '../../docs/trust.md'), 'utf8');
const issuer = ed25519FromSeed(Uint8Array.from({ length: 32 }, (_, i) => i));
const device = ed25519FromSeed(Uint8Array.from({ length: 32 }, (_, i) => 32 + i));
const issuedAtMs = 1_764_000_000_000;

test('the certificate vector: these bytes, verifying, in the document', () => {
  const cert = issueCertificate({
    user: 'alice', deviceKey: device.publicKey, deviceId: 'laptop', issuedAtMs, expiresAtMs: issuedAtMs + 86_400_000, issuerKey: issuer.publicKey,
  }, issuer.privateKey);
  assert.equal(cert.length, 167);
  assert.ok(doc.includes(hex(issuer.publicKey)) && doc.includes(hex(device.publicKey)));
  assert.ok(doc.includes(hex(cert)), 'docs/trust.md shows the certificate bytes');
  const v = verifyCertificate(cert, issuer.publicKey, issuedAtMs + 1);
  assert.ok(v.ok && v.value.user === 'alice' && v.value.deviceId === 'laptop');
  assert.ok(!verifyCertificate(cert, issuer.publicKey, issuedAtMs + 86_400_000).ok, 'expired at expiresAtMs');
  assert.ok(!verifyCertificate(cert, device.publicKey, issuedAtMs + 1).ok, 'another issuer');
});

test('the request vectors: these bytes, decoding to their fields, in the document', () => {
  const cases: [string, { toBytes(f: any): Uint8Array; decode(l: any): any }, Record<string, unknown>][] = [
    ['login', LoginRequest, { user: 'alice', password: 'correct horse', deviceId: 'laptop' }],
    ['change', ChangePasswordRequest, { user: 'alice', password: 'correct horse', newPassword: 'battery staple' }],
    ['delete', DeleteAccountRequest, { user: 'alice', password: 'correct horse' }],
    ['devices', DevicesRequest, { user: 'alice', password: 'correct horse', remove: 'phone' }],
    ['device list', DeviceList, { deviceIds: ['laptop'], keys: [device.publicKey], addedAtMs: [issuedAtMs], lastLoginAtMs: [issuedAtMs] }],
  ];
  for (const [name, cmd, fields] of cases) {
    const bytes = cmd.toBytes(fields);
    assert.ok(doc.includes(`\`${hex(bytes)}\``), `docs/trust.md shows the ${name} bytes`);
    const m = decodeMessage(bytes);
    assert.ok(m.ok, name);
    assert.deepEqual(cmd.decode(m.value.body), { ok: true, value: fields }, name);
  }
});
