// A node's data directory: its keys, the pinned login key, its certificate, contacts, history.
// Files are small JSON documents written atomically (write to a temp file, then rename), so a
// crash mid-write never leaves a half-written key behind.
import fs from 'node:fs';
import path from 'node:path';
import { ed25519FromSeed, x25519FromPrivate, type KeyPair } from '../crypto/keys.ts';
import { toBase64Url, fromBase64Url } from '../crypto/bytes.ts';
import { random } from './clock.ts';

export interface NodeKeys { signing: KeyPair; static: KeyPair; deviceId: string }

export class DataDir {
  constructor(readonly dir: string) { fs.mkdirSync(dir, { recursive: true, mode: 0o700 }); }

  file(name: string) { return path.join(this.dir, name); }

  readJson<T>(name: string): T | undefined {
    try { return JSON.parse(fs.readFileSync(this.file(name), 'utf8')) as T; } catch { return undefined; }
  }

  writeJson(name: string, value: unknown, mode = 0o600) {
    const tmp = this.file(`.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
    fs.renameSync(tmp, this.file(name));
  }

  /** The device's keys, created on first use. */
  keys(): NodeKeys {
    const stored = this.readJson<{ signingSeed: string; staticPrivate: string; deviceId: string }>('identity.json');
    const seed = stored && fromBase64Url(stored.signingSeed);
    const priv = stored && fromBase64Url(stored.staticPrivate);
    if (stored && seed?.length === 32 && priv?.length === 32) {
      return { signing: ed25519FromSeed(seed), static: x25519FromPrivate(priv), deviceId: stored.deviceId };
    }
    const keys = { signing: ed25519FromSeed(random(32)), static: x25519FromPrivate(random(32)), deviceId: toBase64Url(random(9)) };
    this.writeJson('identity.json', {
      signingSeed: toBase64Url(keys.signing.privateKey), staticPrivate: toBase64Url(keys.static.privateKey), deviceId: keys.deviceId,
    });
    return keys;
  }

  loginKey(): Uint8Array | undefined {
    const s = this.readJson<{ key: string }>('login-key.json');
    const k = s && fromBase64Url(s.key);
    return k?.length === 32 ? k : undefined;
  }

  pinLoginKey(key: Uint8Array, server: string) { this.writeJson('login-key.json', { key: toBase64Url(key), server }); }
}
