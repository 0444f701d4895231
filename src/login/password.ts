// Password hashing: scrypt with a per-user salt (docs/decisions/0003-password-hashing.md).
//
// A stored hash names its own parameters, `scrypt$N$r$p$saltB64$hashB64`, so the cost can be
// raised for new hashes while old ones still verify. Verification trusts those parameters only
// within bounds: a corrupted or planted row must not make one login attempt burn gigabytes or
// seconds. Passwords are NFKC-normalised before hashing, like user names, so the same password
// typed with a fullwidth or compatibility keyboard layout still matches.
import crypto from 'node:crypto';
import { type Result, ok, err } from '../wire/result.ts';

// Parameters for new hashes: 16 MiB and about 50 ms of one core per hash.
export const scryptParams = { N: 1 << 14, r: 8, p: 1, keyBytes: 32, saltBytes: 16 } as const;
// What verification accepts from a stored hash. Raise these together with scryptParams.
const verifyMemoryBytesMax = 64 * 1024 * 1024;   // 128·N·r
const verifyWorkMax = 1 << 20;                   // N·r·p; today's hashes are 2^17
const saltBytesMin = 8, saltBytesMax = 64, hashBytesMin = 16, hashBytesMax = 64;

export const passwordLengthMin = 8;        // characters (code points)
export const passwordBytesMax = 1024;      // UTF-8; also bounds the hashing input

export function checkPasswordPolicy(password: string): Result<void> {
  if (password.length === 0) return err('password-empty', 'a password is required');
  // Code points, not UTF-16 units, so an emoji counts as one character as the user sees it.
  if ([...password].length < passwordLengthMin) return err('password-too-short', `a password has at least ${passwordLengthMin} characters`);
  if (Buffer.byteLength(password, 'utf8') > passwordBytesMax) return err('password-too-long', `a password has at most ${passwordBytesMax} bytes in UTF-8`);
  return ok(undefined);
}

function derive(password: string, salt: Uint8Array, N: number, r: number, p: number, keyBytes: number): Buffer {
  return crypto.scryptSync(password.normalize('NFKC'), salt, keyBytes, { N, r, p, maxmem: verifyMemoryBytesMax + (1 << 20) });
}

/**
 * Hashes with the given salt (the caller's RNG, so simulations stay deterministic) or a fresh
 * random one. A salt shorter than 16 bytes is a programming error and throws RangeError.
 */
export function hashPassword(password: string, salt: Uint8Array = crypto.randomBytes(scryptParams.saltBytes)): string {
  if (salt.length < scryptParams.saltBytes || salt.length > saltBytesMax) {
    throw new RangeError(`a password salt has ${scryptParams.saltBytes} to ${saltBytesMax} bytes, not ${salt.length}`);
  }
  const { N, r, p, keyBytes } = scryptParams;
  const hash = derive(password, salt, N, r, p, keyBytes);
  return `scrypt$${N}$${r}$${p}$${Buffer.from(salt).toString('base64')}$${hash.toString('base64')}`;
}

/** Standard padded base64 only; Buffer.from would quietly skip anything else. */
function decodeBase64(text: string, bytesMin: number, bytesMax: number): Buffer | undefined {
  const b = Buffer.from(text, 'base64');
  if (b.toString('base64') !== text || b.length < bytesMin || b.length > bytesMax) return undefined;
  return b;
}

function parseCount(text: string, max: number): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

interface ParsedHash { N: number; r: number; p: number; salt: Buffer; want: Buffer }

/** The parameters of a stored hash, or undefined when it is malformed or beyond what we will spend. */
export function parseHash(password: string, encoded: string): ParsedHash | undefined {
  if (typeof password !== 'string' || typeof encoded !== 'string' || encoded.length > 512) return undefined;
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const N = parseCount(parts[1], 1 << 30), r = parseCount(parts[2], 1 << 10), p = parseCount(parts[3], 1 << 10);
  if (N === undefined || r === undefined || p === undefined) return undefined;
  if (N < 2 || (N & (N - 1)) !== 0) return undefined;
  if (128 * N * r > verifyMemoryBytesMax || N * r * p > verifyWorkMax) return undefined;
  const salt = decodeBase64(parts[4], saltBytesMin, saltBytesMax);
  const want = decodeBase64(parts[5], hashBytesMin, hashBytesMax);
  if (!salt || !want) return undefined;
  return { N, r, p, salt, want };
}

/** False for a wrong password and for a malformed or out-of-bounds stored hash alike; never throws. */
export function verifyPassword(password: string, encoded: string): boolean {
  const h = parseHash(password, encoded);
  if (!h) return false;
  try {
    return crypto.timingSafeEqual(derive(password, h.salt, h.N, h.r, h.p, h.want.length), h.want);
  } catch {
    return false;
  }
}

// The login server's variants: scrypt on libuv's thread pool, so a login neither blocks the
// server's packet loop for the ~50 ms of a hash nor limits it to one core.
function deriveAsync(password: string, salt: Uint8Array, N: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => crypto.scrypt(password.normalize('NFKC'), salt, keyBytes,
    { N, r, p, maxmem: verifyMemoryBytesMax + (1 << 20) }, (e, key) => (e ? reject(e) : resolve(key))));
}

/** hashPassword off the main thread; the same encoding. */
export async function hashPasswordAsync(password: string, salt: Uint8Array): Promise<string> {
  if (salt.length < scryptParams.saltBytes || salt.length > saltBytesMax) {
    throw new RangeError(`a password salt has ${scryptParams.saltBytes} to ${saltBytesMax} bytes, not ${salt.length}`);
  }
  const { N, r, p, keyBytes } = scryptParams;
  const hash = await deriveAsync(password, salt, N, r, p, keyBytes);
  return `scrypt$${N}$${r}$${p}$${Buffer.from(salt).toString('base64')}$${hash.toString('base64')}`;
}

/** verifyPassword off the main thread; never rejects. */
export async function verifyPasswordAsync(password: string, encoded: string): Promise<boolean> {
  const h = parseHash(password, encoded);
  if (!h) return false;
  try {
    return crypto.timingSafeEqual(await deriveAsync(password, h.salt, h.N, h.r, h.p, h.want.length), h.want);
  } catch {
    return false;
  }
}
