// Password hashing: scrypt with a per-user salt, self-describing so parameters can be raised
// later without invalidating stored hashes (docs/decisions/0003-password-hashing.md).
import crypto from 'node:crypto';
import { type Result, ok, err } from '../wire/result.ts';

const params = { N: 1 << 14, r: 8, p: 1, keyBytes: 32 };
export const passwordLengthMin = 8;
export const passwordBytesMax = 1024;

export function checkPasswordPolicy(password: string): Result<void> {
  if (password.length < passwordLengthMin) return err('password-too-short', `a password has at least ${passwordLengthMin} characters`);
  if (Buffer.byteLength(password, 'utf8') > passwordBytesMax) return err('password-too-long', `a password has at most ${passwordBytesMax} bytes`);
  return ok(undefined);
}

/** Hashes with the given 16-byte salt (the caller's RNG), or a fresh random one. */
export function hashPassword(password: string, salt: Uint8Array = crypto.randomBytes(16)): string {
  const { N, r, p, keyBytes } = params;
  const hash = crypto.scryptSync(password.normalize('NFKC'), salt, keyBytes, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${Buffer.from(salt).toString('base64')}$${hash.toString('base64')}`;
}

/** False for a wrong password and for a malformed stored hash alike; never throws. */
export function verifyPassword(password: string, encoded: string): boolean {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Refuse parameters that would let a corrupted row make us burn memory or time.
  if (N > 1 << 20 || r > 32 || p > 16 || (N & (N - 1)) !== 0) return false;
  const salt = Buffer.from(m[4], 'base64');
  const want = Buffer.from(m[5], 'base64');
  if (want.length < 16 || want.length > 64) return false;
  try {
    const got = crypto.scryptSync(password.normalize('NFKC'), salt, want.length, { N, r, p, maxmem: 256 * 1024 * 1024 });
    return crypto.timingSafeEqual(got, want);
  } catch {
    return false;
  }
}
