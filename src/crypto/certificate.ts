// Certificates: the login server's signature binding a user name to one device's Ed25519 key
// until an expiry. It is the only authority in the network (DESIGN.md, "Trust"): everything a
// user signs later (presence records, handshakes) is believed only through one of these.
import { schema, f, type Fields } from '../wire/schema.ts';
import { encodeObjectList, decodeObjectList } from '../wire/object-list.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { ed25519Sign, ed25519Verify } from './keys.ts';
import { equalBytes, concatBytes as concat } from './bytes.ts';

export const CertificateBody = schema({
  user: f.string(1, 32),
  deviceKey: f.key(2),
  deviceId: f.string(3, 64),
  issuedAtMs: f.uint(4),
  expiresAtMs: f.uint(5),
  issuerKey: f.key(6),
});
export type Certificate = Fields<typeof CertificateBody.spec>;

/** A signed thing: the canonical bytes of a body and a signature over a domain tag and them. */
export const Signed = schema({ body: f.bytes(1, 8192), signature: f.bytes(2, 64, 64) });

const certDomain = new TextEncoder().encode('tincan certificate v1\0');

export function signWithDomain(domain: Uint8Array, body: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return ed25519Sign(privateKey, concat(domain, body));
}

export function issueCertificate(cert: Certificate, issuerPrivateKey: Uint8Array): Uint8Array {
  const body = encodeObjectList(CertificateBody.encode(cert));
  const signature = signWithDomain(certDomain, body, issuerPrivateKey);
  return encodeObjectList(Signed.encode({ body, signature }));
}

/** Decodes a signed envelope and checks its signature against the key `keyOf` picks from the body. */
export function openSigned<T>(bytes: Uint8Array, domain: Uint8Array,
  decodeBody: (body: Uint8Array) => Result<T>, keyOf: (body: T) => Uint8Array): Result<T> {
  const outer = decodeObjectList(bytes);
  if (!outer.ok) return outer;
  const env = Signed.decode(outer.value);
  if (!env.ok) return env;
  const body = decodeBody(env.value.body);
  if (!body.ok) return body;
  if (!ed25519Verify(keyOf(body.value), concat(domain, env.value.body), env.value.signature)) {
    return err('bad-signature', 'signature does not verify');
  }
  return body;
}

export function verifyCertificate(bytes: Uint8Array, trustedIssuer: Uint8Array, nowMs: number): Result<Certificate> {
  const cert = openSigned(bytes, certDomain, (b) => {
    const list = decodeObjectList(b);
    return list.ok ? CertificateBody.decode(list.value) : list;
  }, () => trustedIssuer);
  if (!cert.ok) {
    return cert.error.code === 'bad-signature' ? err('untrusted-certificate', 'certificate not signed by the login server') : cert;
  }
  if (!equalBytes(cert.value.issuerKey, trustedIssuer)) return err('untrusted-certificate', 'certificate names another issuer');
  if (nowMs >= cert.value.expiresAtMs) return err('expired-certificate', `certificate for ${cert.value.user} has expired`);
  return ok(cert.value);
}
