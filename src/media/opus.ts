// Opus through @evan/opus. Encoding uses its native binding (fast). Decoding talks to the
// libopus build it ships as WebAssembly directly, because the package's own decode() offers
// neither packet-loss concealment (opus_decode with no data) nor in-band FEC recovery
// (opus_decode with decode_fec = 1) — and a jitter buffer needs both.
// Loading the codec binary once at start-up is the only file access here; it is the codec,
// like a native addon, not I/O of the protocol.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Encoder } from '@evan/opus';
import { type Result, ok, err } from '../wire/result.ts';

export const sampleRateHz = 48_000;
export const packetBytesMax = 1275;

// libopus CTL request numbers (opus_defines.h).
const ctl = { setBitrate: 4002, setInbandFec: 4012, setPacketLossPerc: 4014, setDtx: 4016, setSignal: 4024 } as const;
const signalVoice = 3001;

// TypeScript's lib for Node 20 leaves WebAssembly out; the runtime has it.
const WA = (globalThis as unknown as { WebAssembly: any }).WebAssembly;

interface OpusWasm {
  memory: { buffer: ArrayBuffer };
  malloc(n: number): number;
  free(p: number): void;
  opus_decoder_get_size(channels: number): number;
  opus_decoder_init(st: number, rate: number, channels: number): number;
  opus_decode(st: number, data: number, len: number, pcm: number, frameSize: number, decodeFec: number): number;
  opus_strerror(code: number): number;
}

let wasm: OpusWasm | undefined;
let inPtr = 0, outPtr = 0;
const outSamplesMax = 5760; // 120 ms at 48 kHz, the longest Opus packet

function opusWasm(): OpusWasm {
  if (wasm) return wasm;
  const dir = path.dirname(createRequire(import.meta.url).resolve('@evan/opus/package.json'));
  const simd = WA.validate(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11));
  const mod = new WA.Module(fs.readFileSync(path.join(dir, 'wasm', simd ? 'simd.wasm' : 'opus.wasm')));
  const noop = () => 0;
  const inst = new WA.Instance(mod, {
    wasi_snapshot_preview1: { fd_seek: noop, fd_write: noop, fd_close: noop, proc_exit: noop },
    env: { emscripten_notify_memory_growth: noop },
  });
  wasm = inst.exports as unknown as OpusWasm;
  inPtr = wasm.malloc(packetBytesMax + 1);
  outPtr = wasm.malloc(outSamplesMax * 2);
  return wasm;
}

export interface OpusEncoderOptions {
  bitrateBps?: number;       // default 32 kb/s
  fec?: boolean;             // in-band FEC; default on
  expectedLossPct?: number;  // tells the encoder how much redundancy FEC should carry; default 10
  frameMs?: FrameMs;
  dtx?: boolean;             // discontinuous transmission in silence; default on
}

export type FrameMs = 10 | 20 | 40 | 60;
export const frameMsChoices: readonly FrameMs[] = [10, 20, 40, 60];

/** Samples (48 kHz) one Opus packet carries, from its TOC byte (RFC 6716 §3.1); 0 if malformed. */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0];
  const config = toc >> 3;
  let frame: number;
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3];          // SILK
  else if (config < 16) frame = [480, 960][config & 1];                   // hybrid
  else frame = [120, 240, 480, 960][config & 3];                          // CELT
  const code = toc & 3;
  const count = code === 0 ? 1 : code === 3 ? (packet.length > 1 ? packet[1] & 0x3f : 0) : 2;
  const total = frame * count;
  return total > outSamplesMax ? 0 : total;
}

export class OpusEncoder {
  private readonly enc: InstanceType<typeof Encoder>;
  frameSamples: number;

  constructor(o: OpusEncoderOptions = {}) {
    this.enc = new Encoder({ channels: 1, sample_rate: sampleRateHz, application: 'voip' });
    this.frameSamples = (sampleRateHz / 1000) * (o.frameMs ?? 20);
    this.enc.ctl(ctl.setDtx, (o.dtx ?? true) ? 1 : 0);
    this.enc.ctl(ctl.setBitrate, o.bitrateBps ?? 32_000);
    this.enc.ctl(ctl.setSignal, signalVoice);
    this.enc.ctl(ctl.setInbandFec, (o.fec ?? true) ? 1 : 0);
    this.enc.ctl(ctl.setPacketLossPerc, o.expectedLossPct ?? 10);
  }

  setBitrate(bps: number) { this.enc.ctl(ctl.setBitrate, bps); }
  /** Opus takes any legal frame length per packet, so the next frame simply uses the new one. */
  setFrameMs(ms: FrameMs) { this.frameSamples = (sampleRateHz / 1000) * ms; }
  setFec(on: boolean, expectedLossPct: number) {
    this.enc.ctl(ctl.setInbandFec, on ? 1 : 0);
    this.enc.ctl(ctl.setPacketLossPerc, Math.max(0, Math.min(100, Math.round(expectedLossPct))));
  }

  /** One frame of mono 48 kHz PCM (frameSamples long) to one Opus packet. */
  encode(frame: Int16Array): Uint8Array {
    if (frame.length !== this.frameSamples) throw new RangeError(`expected ${this.frameSamples} samples, got ${frame.length}`);
    return new Uint8Array(this.enc.encode(frame));
  }
}

export class OpusDecoder {
  private readonly state: number;
  readonly frameSamples: number;

  constructor(frameMs: FrameMs = 20) {
    const w = opusWasm();
    this.frameSamples = (sampleRateHz / 1000) * frameMs;
    this.state = w.malloc(w.opus_decoder_get_size(1));
    const rc = w.opus_decoder_init(this.state, sampleRateHz, 1);
    if (rc < 0) throw new Error(`opus decoder init failed (${rc})`);
  }

  decode(packet: Uint8Array): Result<Int16Array> { return this.run(packet, outSamplesMax, 0); }

  /** Packet-loss concealment: libopus extrapolates one frame from what it has heard. */
  conceal(samples = this.frameSamples): Int16Array {
    const r = this.run(undefined, samples, 0);
    return r.ok ? r.value : new Int16Array(samples);
  }

  /** Recovers the frame before `nextPacket` from the redundancy the encoder put in it. */
  decodeFec(nextPacket: Uint8Array, samples = this.frameSamples): Result<Int16Array> { return this.run(nextPacket, samples, 1); }

  private run(packet: Uint8Array | undefined, frameSize: number, fec: number): Result<Int16Array> {
    const w = opusWasm();
    if (packet && (packet.length === 0 || packet.length > packetBytesMax)) return err('bad-packet', `Opus packet of ${packet.length} bytes`);
    if (packet) new Uint8Array(w.memory.buffer, inPtr, packet.length).set(packet);
    const n = w.opus_decode(this.state, packet ? inPtr : 0, packet ? packet.length : 0, outPtr, frameSize, fec);
    if (n < 0) return err('bad-packet', `Opus could not decode the packet (${n})`);
    return ok(new Int16Array(w.memory.buffer.slice(outPtr, outPtr + n * 2)));
  }
}
