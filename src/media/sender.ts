// The sending half of a call's media, sans-IO: PCM in (any length), Opus media frames out.
// In silence the encoder (DTX) makes 1-byte packets that say "nothing new"; they are not sent
// (RFC 7587 §3.1.3), and the sequence number does not advance for them, so the receiver sees
// a timestamp gap without a loss. The ~400 ms comfort-noise updates are sent as usual.
import { OpusEncoder, type OpusEncoderOptions, type FrameMs } from './opus.ts';
import { encodeMediaFrame } from './frame.ts';

export interface MediaSenderOptions extends OpusEncoderOptions {
  /** Random starting points (from the caller's RNG), as RTP does, so streams are not guessable. */
  seqStart: number;
  timestampStart: number;
}

const dtxPacketBytesMax = 2;

export class MediaSender {
  private readonly encoder: OpusEncoder;
  private pending = new Int16Array(0);
  private readonly frames: Uint8Array[] = [];
  private seq: number;
  private timestamp: number;
  readonly stats = { frames: 0, silentFrames: 0, payloadBytes: 0 };

  constructor(o: MediaSenderOptions) {
    this.encoder = new OpusEncoder(o);
    this.seq = o.seqStart & 0xffff;
    this.timestamp = o.timestampStart >>> 0;
  }

  get encoderControl(): OpusEncoder { return this.encoder; }
  get frameMs(): FrameMs { return (this.encoder.frameSamples / 48) as FrameMs; }

  pushPcm(samples: Int16Array) {
    const joined = new Int16Array(this.pending.length + samples.length);
    joined.set(this.pending); joined.set(samples, this.pending.length);
    let at = 0;
    for (let n = this.encoder.frameSamples; at + n <= joined.length; at += n, n = this.encoder.frameSamples) {
      const payload = this.encoder.encode(joined.subarray(at, at + n));
      if (payload.length > dtxPacketBytesMax) {
        this.frames.push(encodeMediaFrame({ seq: this.seq, timestampSamples: this.timestamp, payload }));
        this.seq = (this.seq + 1) & 0xffff;
        this.stats.frames++;
        this.stats.payloadBytes += payload.length;
      } else {
        this.stats.silentFrames++;
      }
      this.timestamp = (this.timestamp + n) >>> 0;
    }
    this.pending = joined.slice(at);
  }

  pollFrame(): Uint8Array | undefined { return this.frames.shift(); }
}
