// The payload each side sends inside the Noise handshake: who it is. Noise proves the peer
// holds the static X25519 key; this proves that key belongs to an Ed25519 identity (a binding
// signature), and, for users, that the login server certified that identity for a user name.
import { schema, f } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { ed25519Sign, ed25519Verify, type KeyPair } from './keys.ts';
import { verifyCertificate, type Certificate } from './certificate.ts';
import { equalBytes, concatBytes as concat } from './bytes.ts';

export type Role = 'login' | 'supernode' | 'node';

const Proof = schema({
  role: f.string(1, 16),
  signingKey: f.key(2),
  binding: f.bytes(3, 64, 64),
  certificate: f.bytes(4, 2048).opt(),
});

const bindingDomain = new TextEncoder().encode('tincan static key binding v1\0');

export function createIdentityProof(role: Role, signing: KeyPair, staticPublicKey: Uint8Array, certificate?: Uint8Array): Uint8Array {
  const binding = ed25519Sign(signing.privateKey, concat(bindingDomain, staticPublicKey));
  return encodeObjectList(Proof.encode({ role, signingKey: signing.publicKey, binding, certificate }));
}

export interface ProvenIdentity {
  role: Role;
  staticKey: Uint8Array;
  signingKey: Uint8Array;
  /** Present only when the peer showed a certificate that verifies against the login key. */
  user?: string;
  certificate?: Certificate;
}

/**
 * Checks a peer's proof. A certificate that does not verify makes the whole proof fail: a peer
 * that shows a forged or foreign certificate is not someone we talk to.
 */
export function consumeIdentityProof(payload: Uint8Array, remoteStatic: Uint8Array,
  loginKey: Uint8Array | undefined, nowMs: number): Result<ProvenIdentity> {
  const list = decodeObjectList(payload);
  if (!list.ok) return list;
  const p = Proof.decode(list.value);
  if (!p.ok) return p;
  const role = p.value.role;
  if (role !== 'login' && role !== 'supernode' && role !== 'node') return err('bad-role', `unknown role ${role}`);
  if (!ed25519Verify(p.value.signingKey, concat(bindingDomain, remoteStatic), p.value.binding)) {
    return err('bad-binding', 'static key not signed by the claimed identity');
  }
  const out: ProvenIdentity = { role, staticKey: remoteStatic, signingKey: p.value.signingKey };
  if (p.value.certificate && loginKey) {
    const cert = verifyCertificate(p.value.certificate, loginKey, nowMs);
    if (!cert.ok) return cert;
    if (!equalBytes(cert.value.deviceKey, p.value.signingKey)) return err('certificate-mismatch', 'certificate is for another key');
    out.user = cert.value.user;
    out.certificate = cert.value;
  }
  return ok(out);
}
