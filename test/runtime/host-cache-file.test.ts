// The host cache file in the data directory: round trip, and damaged files ignored with a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataDir } from '../../src/runtime/data-dir.ts';
import { HostCache } from '../../src/node/host-cache.ts';

function tempDir() { return fs.mkdtempSync(path.join(os.tmpdir(), 'tincan-hosts-')); }

test('host cache file: saved and read back with the same ranking', () => {
  const dir = tempDir();
  try {
    const d = new DataDir(dir);
    const warnings: string[] = [];
    assert.equal(d.hostCache(0, (m) => warnings.push(m)).size, 0, 'no file yet: empty, silently');
    assert.equal(warnings.length, 0);
    const c = new HostCache();
    c.learn([{ host: '127.0.0.1', port: 7001 }, { host: '127.0.0.1', port: 7002 }], 0);
    c.success({ host: '127.0.0.1', port: 7002 }, 3, 10);
    d.saveHostCache(c.snapshot());
    const back = d.hostCache(20, (m) => warnings.push(m));
    assert.deepEqual(back.ranked(20), c.ranked(20));
    assert.equal(warnings.length, 0);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('host cache file: garbage, wrong shapes, huge files and directories are ignored with a warning', () => {
  const cases: [string, (file: string) => void][] = [
    ['not JSON', (f) => fs.writeFileSync(f, '{"version":1,"entries":[')],
    ['binary', (f) => fs.writeFileSync(f, Buffer.from([0, 255, 1, 254, 0x7b]))],
    ['wrong shape', (f) => fs.writeFileSync(f, '[1,2,3]')],
    ['wrong version', (f) => fs.writeFileSync(f, '{"version":99,"entries":[]}')],
    ['huge', (f) => fs.writeFileSync(f, ' '.repeat(2 << 20))],
    ['a directory', (f) => fs.mkdirSync(f)],
  ];
  for (const [what, spoil] of cases) {
    const dir = tempDir();
    try {
      const d = new DataDir(dir);
      spoil(d.file('host-cache.json'));
      const warnings: string[] = [];
      const c = d.hostCache(0, (m) => warnings.push(m));
      assert.equal(c.size, 0, what);
      assert.equal(warnings.length, 1, what);
      assert.match(warnings[0], /ignoring host-cache\.json/, what);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  }
});

test('host cache file: bad entries are skipped, good ones kept, with a warning', () => {
  const dir = tempDir();
  try {
    const d = new DataDir(dir);
    fs.writeFileSync(d.file('host-cache.json'), JSON.stringify({ version: 1, entries: [
      { address: '127.0.0.1:7001', weight: 1, failures: 0 }, { address: 'nonsense', weight: 1, failures: 0 },
    ] }));
    const warnings: string[] = [];
    const c = d.hostCache(0, (m) => warnings.push(m));
    assert.equal(c.size, 1);
    assert.match(warnings.join('\n'), /skipped 1 entries/);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
