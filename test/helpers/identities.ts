// Keys, certificates and identity proofs for tests, from a seeded source.
import { ed25519FromSeed, x25519FromPrivate, type KeyPair } from '../../src/crypto/keys.ts';
import { issueCertificate } from '../../src/crypto/certificate.ts';
import { createIdentityProof, consumeIdentityProof, type Role } from '../../src/crypto/identity-proof.ts';
import type { EndpointConfig } from '../../src/session/endpoint.ts';
import { prng } from './prng.ts';

export interface TestIdentity { signing: KeyPair; static: KeyPair }

export function testIdentity(seed: number): TestIdentity {
  const r = prng(seed);
  return { signing: ed25519FromSeed(r.bytes(32)), static: x25519FromPrivate(r.bytes(32)) };
}

export function testCertificate(issuer: KeyPair, user: string, device: KeyPair, nowMs: number, lifetimeMs = 3600_000): Uint8Array {
  return issueCertificate({
    user, deviceKey: device.publicKey, deviceId: 'test', issuedAtMs: nowMs, expiresAtMs: nowMs + lifetimeMs, issuerKey: issuer.publicKey,
  }, issuer.privateKey);
}

/** An endpoint configuration that proves `id` and accepts any peer whose proof verifies. */
export function endpointConfig(id: TestIdentity, random: (n: number) => Uint8Array, role: Role = 'node',
  opts: { certificate?: Uint8Array; loginKey?: Uint8Array } = {}): EndpointConfig {
  return {
    staticKey: id.static,
    random,
    identityPayload: createIdentityProof(role, id.signing, id.static.publicKey, opts.certificate),
    verifyPeer: (payload, rs, _path, now) => consumeIdentityProof(payload, rs, opts.loginKey, now),
  };
}
