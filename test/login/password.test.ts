import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword, checkPasswordPolicy } from '../../src/login/password.ts';

test('a hash verifies its own password only, and salts differ', () => {
  const h1 = hashPassword('correct horse');
  const h2 = hashPassword('correct horse');
  assert.notEqual(h1, h2, 'per-user salt');
  assert.ok(!h1.includes('correct horse'), 'never stored in clear');
  assert.ok(verifyPassword('correct horse', h1));
  assert.equal(verifyPassword('correct horsf', h1), false);
});

test('malformed or hostile stored hashes are false, never a throw or a memory bomb', () => {
  for (const bad of ['', 'scrypt$', 'scrypt$16384$8$1$$', 'bcrypt$x', 'scrypt$1073741824$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$16384$8$1$!!$??']) {
    assert.equal(verifyPassword('x', bad), false, bad);
  }
});

test('the password policy gives a reason', () => {
  assert.ok(!checkPasswordPolicy('short').ok);
  assert.ok(!checkPasswordPolicy('x'.repeat(2000)).ok);
  assert.ok(checkPasswordPolicy('long enough').ok);
});
