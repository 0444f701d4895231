// A node's data directory: its keys, the pinned login key, its certificate, contacts, history.
// Files are small JSON documents written atomically (write to a temp file, then rename), so a
// crash mid-write never leaves a half-written key behind.
import fs from 'node:fs';
import path from 'node:path';
import { ed25519FromSeed, x25519FromPrivate, type KeyPair } from '../crypto/keys.ts';
import { toBase64Url, fromBase64Url } from '../crypto/bytes.ts';
import { random } from './clock.ts';
import { HostCache, type HostCacheSnapshot } from '../node/host-cache.ts';

const hostCacheFile = 'host-cache.json';
// A snapshot of 200 entries is about 30 KB; a file far larger is not ours.
const hostCacheBytesMax = 1 << 20;

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

  /** The host cache from the last run; a damaged file is set aside with a warning, never fatal. */
  hostCache(now: number, warn: (message: string) => void): HostCache {
    let text: string;
    try {
      if (fs.statSync(this.file(hostCacheFile)).size > hostCacheBytesMax) throw new Error('too large');
      text = fs.readFileSync(this.file(hostCacheFile), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`ignoring ${hostCacheFile}: ${(e as Error).message}`);
      return new HostCache();
    }
    let raw: unknown;
    try { raw = JSON.parse(text); } catch { warn(`ignoring ${hostCacheFile}: not valid JSON`); return new HostCache(); }
    const r = HostCache.restore(raw, now);
    if (!r.ok) { warn(`ignoring ${hostCacheFile}: ${r.error.message}`); return new HostCache(); }
    if (r.value.skipped) warn(`${hostCacheFile}: skipped ${r.value.skipped} entries that did not check out`);
    return r.value.cache;
  }

  saveHostCache(s: HostCacheSnapshot) { this.writeJson(hostCacheFile, s); }
}
