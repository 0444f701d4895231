// The sending half of a call's media, sans-IO: PCM in (any length), Opus media frames out.
import { OpusEncoder, type OpusEncoderOptions } from './opus.ts';
import { encodeMediaFrame } from './frame.ts';

export interface MediaSenderOptions extends OpusEncoderOptions {
  /** Random starting points (from the caller's RNG), as RTP does, so streams are not guessable. */
  seqStart: number;
  timestampStart: number;
}

export class MediaSender {
  private readonly encoder: OpusEncoder;
  private pending = new Int16Array(0);
  private readonly frames: Uint8Array[] = [];
  private seq: number;
  private timestamp: number;

  constructor(o: MediaSenderOptions) {
    this.encoder = new OpusEncoder(o);
    this.seq = o.seqStart & 0xffff;
    this.timestamp = o.timestampStart >>> 0;
  }

  get encoderControl(): OpusEncoder { return this.encoder; }

  pushPcm(samples: Int16Array) {
    const joined = new Int16Array(this.pending.length + samples.length);
    joined.set(this.pending); joined.set(samples, this.pending.length);
    let at = 0;
    const n = this.encoder.frameSamples;
    for (; at + n <= joined.length; at += n) {
      const payload = this.encoder.encode(joined.subarray(at, at + n));
      this.frames.push(encodeMediaFrame({ seq: this.seq, timestampSamples: this.timestamp, payload }));
      this.seq = (this.seq + 1) & 0xffff;
      this.timestamp = (this.timestamp + n) >>> 0;
    }
    this.pending = joined.slice(at);
  }

  pollFrame(): Uint8Array | undefined { return this.frames.shift(); }
}
