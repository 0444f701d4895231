import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword, hashPasswordAsync, verifyPasswordAsync, checkPasswordPolicy, scryptParams, parseHash } from '../../src/login/password.ts';

const salt = Uint8Array.from({ length: 16 }, (_, i) => i);
// Cross-checked with Python's hashlib.scrypt(b'correct horse battery', salt=bytes(range(16)), n=16384, r=8, p=1, dklen=32).
const golden = 'scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=';

test('a hash with a given salt matches the golden encoding', () => {
  assert.equal(hashPassword('correct horse battery', salt), golden);
  assert.ok(verifyPassword('correct horse battery', golden));
});

test('the encoding names scrypt, N=2^14, r=8, p=1, a 16-byte salt and a 32-byte key', () => {
  const [alg, N, r, p, s, h] = hashPassword('correct horse').split('$');
  assert.deepEqual([alg, N, r, p], ['scrypt', '16384', '8', '1']);
  assert.equal(Buffer.from(s, 'base64').length, 16);
  assert.equal(Buffer.from(h, 'base64').length, 32);
  assert.equal(scryptParams.N, 1 << 14);
});

test('a hash verifies its own password only, and salts differ per hash', () => {
  const h1 = hashPassword('correct horse');
  const h2 = hashPassword('correct horse');
  assert.notEqual(h1, h2, 'per-user salt');
  assert.ok(!h1.includes('correct horse'), 'never stored in clear');
  assert.ok(verifyPassword('correct horse', h1));
  assert.ok(verifyPassword('correct horse', h2));
  assert.equal(verifyPassword('correct horsf', h1), false);
  assert.equal(verifyPassword('Correct horse', h1), false, 'passwords are case-sensitive');
  assert.equal(verifyPassword('', h1), false);
});

test('passwords are NFKC-normalised, so a fullwidth layout types the same password', () => {
  assert.ok(verifyPassword('ｃｏｒｒｅｃｔ ｈｏｒｓｅ ｂａｔｔｅｒｙ', golden));
});

test('a changed salt or hash no longer verifies', () => {
  const parts = golden.split('$');
  const otherSalt = [...parts.slice(0, 4), Buffer.alloc(16, 7).toString('base64'), parts[5]].join('$');
  const otherHash = [...parts.slice(0, 5), Buffer.alloc(32, 7).toString('base64')].join('$');
  assert.equal(verifyPassword('correct horse battery', otherSalt), false);
  assert.equal(verifyPassword('correct horse battery', otherHash), false);
});

test('malformed or hostile stored hashes are false, never a throw or a memory bomb', () => {
  const s16 = Buffer.alloc(16).toString('base64'), h32 = Buffer.alloc(32).toString('base64');
  const bad = [
    '', 'scrypt$', 'scrypt$16384$8$1$$', 'bcrypt$x', `argon2$16384$8$1$${s16}$${h32}`,
    'scrypt$16384$8$1$!!$??',
    `scrypt$16384$8$1$${s16}$${h32}$extra`,
    `scrypt$1073741824$8$1$${s16}$${h32}`,   // 128 GiB
    `scrypt$1048576$32$16$${s16}$${h32}`,    // within scrypt's limits, far beyond ours
    `scrypt$16384$8$1024$${s16}$${h32}`,     // cheap memory, 1024 times the work
    `scrypt$16383$8$1$${s16}$${h32}`,        // N not a power of two
    `scrypt$1$8$1$${s16}$${h32}`, `scrypt$0$8$1$${s16}$${h32}`, `scrypt$-16384$8$1$${s16}$${h32}`,
    `scrypt$016384$8$1$${s16}$${h32}`, `scrypt$1e4$8$1$${s16}$${h32}`, `scrypt$16384$0$1$${s16}$${h32}`,
    `scrypt$16384$8$1$=$${h32}`,             // empty salt
    `scrypt$16384$8$1$${s16}$AAAA`,          // 3-byte hash
    `scrypt$16384$8$1$${s16.replace(/=+$/, '')}$${h32}`,   // unpadded
    `scrypt$16384$8$1$${s16}$${h32}`.padEnd(600, 'A'),
  ];
  for (const b of bad) {
    // Refused before scrypt runs: a row naming huge parameters costs nothing.
    assert.equal(parseHash('correct horse battery', b), undefined, b);
    assert.equal(verifyPassword('correct horse battery', b), false, b);
  }
});

test('a salt shorter than 16 bytes is a programming error', () => {
  assert.throws(() => hashPassword('correct horse', new Uint8Array(8)), RangeError);
});

test('the password policy gives a reason', () => {
  const code = (pw: string) => { const r = checkPasswordPolicy(pw); return r.ok ? 'ok' : r.error.code; };
  assert.equal(code(''), 'password-empty');
  assert.equal(code('short'), 'password-too-short');
  assert.equal(code('1234567'), 'password-too-short');
  assert.equal(code('12345678'), 'ok');
  assert.equal(code('🔑🔑🔑🔑🔑🔑🔑'), 'password-too-short', 'seven characters, fourteen UTF-16 units');
  assert.equal(code('🔑🔑🔑🔑🔑🔑🔑🔑'), 'ok');
  assert.equal(code('x'.repeat(1024)), 'ok');
  assert.equal(code('x'.repeat(1025)), 'password-too-long');
  assert.equal(code('€'.repeat(342)), 'password-too-long', '342 characters but 1026 bytes');
});

test('the asynchronous variants (the login server\'s) agree with the synchronous ones', async () => {
  assert.equal(await hashPasswordAsync('correct horse battery', salt), golden);
  assert.equal(await verifyPasswordAsync('correct horse battery', golden), true);
  assert.equal(await verifyPasswordAsync('correct horse batterz', golden), false);
  assert.equal(await verifyPasswordAsync('correct horse battery', 'scrypt$1048576$8$1$AAECAwQFBgcICQoLDA0ODw==$AAAA'), false, 'bounds hold');
  assert.equal(await verifyPasswordAsync('correct horse battery', 'garbage'), false);
  await assert.rejects(hashPasswordAsync('x', new Uint8Array(4)), RangeError);
});
