// Compression on a corpus of real messages (bench/fixtures/wire-corpus.bin, recorded by
// bench/record-corpus.ts), each message compressed on its own as the wire does, against
// node:zlib brotli (quality 11) and deflate (level 9) in the same run.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { packMessage, unpackMessage } from '../src/wire/envelope.ts';
import { printTable, ratio } from './harness.ts';

function readCorpus(): Uint8Array[] {
  const b = fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'wire-corpus.bin'));
  const out: Uint8Array[] = [];
  for (let at = 0; at < b.length;) {
    let n = 0, shift = 0;
    for (;;) { const x = b[at++]; n += (x & 0x7f) * 2 ** shift; shift += 7; if (x < 0x80) break; }
    out.push(new Uint8Array(b.subarray(at, at + n)));
    at += n;
  }
  return out;
}

const corpus = readCorpus();
const rawBytes = corpus.reduce((n, m) => n + m.length, 0);
const brotli = (m: Uint8Array) => zlib.brotliCompressSync(m, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: m.length } });
const deflate = (m: Uint8Array) => zlib.deflateRawSync(m, { level: 9 });

// Sizes: each codec may also send a message raw when compression does not pay (1 byte of
// form marker for ours, counted; the references get that choice for free).
const oursPacked = corpus.map((m) => packMessage(m));
for (const [i, p] of oursPacked.entries()) {
  const u = unpackMessage(p);
  if (!u.ok || Buffer.compare(Buffer.from(u.value), Buffer.from(corpus[i])) !== 0) throw new Error(`round trip failed on message ${i}`);
}
const size = {
  ours: oursPacked.reduce((n, p) => n + p.length, 0),
  brotli: corpus.reduce((n, m) => n + Math.min(m.length, brotli(m).length), 0),
  deflate: corpus.reduce((n, m) => n + Math.min(m.length, deflate(m).length), 0),
};

function throughput(fn: () => void): number {
  fn();
  const start = performance.now();
  let rounds = 0;
  while (performance.now() - start < 700) { fn(); rounds++; }
  return (rawBytes * rounds) / ((performance.now() - start) / 1000) / 1e6;
}
const brotliPacked = corpus.map(brotli), deflatePacked = corpus.map(deflate);
const speed = {
  oursC: throughput(() => { for (const m of corpus) packMessage(m); }),
  oursD: throughput(() => { for (const p of oursPacked) unpackMessage(p); }),
  brotliC: throughput(() => { for (const m of corpus) brotli(m); }),
  brotliD: throughput(() => { for (const p of brotliPacked) zlib.brotliDecompressSync(p); }),
  deflateC: throughput(() => { for (const m of corpus) deflate(m); }),
  deflateD: throughput(() => { for (const p of deflatePacked) zlib.inflateRawSync(p); }),
};

printTable(`compression: ${corpus.length} messages, ${rawBytes} bytes raw, each compressed alone`, [
  { name: 'tincan range coder', bytes: size.ours, 'of raw': ratio(size.ours, rawBytes), 'vs brotli-11': ratio(size.ours, size.brotli), 'compress MB/s': speed.oursC, 'decompress MB/s': speed.oursD },
  { name: 'brotli q11', bytes: size.brotli, 'of raw': ratio(size.brotli, rawBytes), 'vs brotli-11': 1, 'compress MB/s': speed.brotliC, 'decompress MB/s': speed.brotliD },
  { name: 'deflate 9', bytes: size.deflate, 'of raw': ratio(size.deflate, rawBytes), 'vs brotli-11': ratio(size.deflate, size.brotli), 'compress MB/s': speed.deflateC, 'decompress MB/s': speed.deflateD },
]);
process.stdout.write(JSON.stringify({
  bench: 'compress', messages: corpus.length, rawBytes, bytes: size,
  bytesRatioVsBrotli: ratio(size.ours, size.brotli), goalFewerBytesThanBrotli: size.ours < size.brotli,
  mbPerS: speed,
}) + '\n');
