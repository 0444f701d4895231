// Conferences for the user's daemon: the node core's conference commands as promises for the
// API, and each joined conference's audio files (a WAV played as the microphone, what this
// user hears recorded). Glue only; the protocol lives in calls/conference-*.ts.
import type { UserNode } from '../node/user-node.ts';
import type { ConferenceInfo } from '../calls/conference-manager.ts';
import type { Result } from '../wire/result.ts';
import { ApiError, type CallOptions } from '../api/node-control.ts';
import { WavPlayer, WavRecorder, readWavMono48k, sampleRateHz } from './audio.ts';

type Mutate = <T>(fn: (now: number) => T) => T;

/**
 * Writes what arrives, with silence for the time nothing did (a hand-over between hosts), so
 * the recording stays on the wall clock and each talker keeps one delay through it.
 */
class ClockedRecorder {
  private readonly rec: WavRecorder;
  private readonly startMs = performance.now();
  private samples = 0;
  constructor(file: string) { this.rec = new WavRecorder(file); }
  push(pcm: Int16Array) {
    const due = Math.floor(((performance.now() - this.startMs) / 1000) * sampleRateHz);
    // More than 100 ms behind the clock: the gap was silence.
    if (due - this.samples > sampleRateHz / 10 + pcm.length) { const gap = due - this.samples - pcm.length; this.rec.push(new Int16Array(gap)); this.samples += gap; }
    this.rec.push(pcm);
    this.samples += pcm.length;
  }
  finish() { this.rec.finish(); }
}

export class ConferenceService {
  private readonly options = new Map<string, CallOptions>();
  private readonly players = new Map<string, WavPlayer>();
  private readonly recorders = new Map<string, ClockedRecorder>();

  constructor(private readonly node: UserNode, private readonly mutate: Mutate,
    private readonly defaults: CallOptions, private readonly log: (level: string, message: string) => void) {}

  list(): ConferenceInfo[] { return this.node.conferences.list(); }

  get(id: string): ConferenceInfo {
    const c = this.node.conferences.get(id);
    if (!c) throw new ApiError('no-such-conference', `no conference ${id}`, 404);
    return c;
  }

  create(invite: string[], o: CallOptions): ConferenceInfo {
    checkAudio(o);
    const r = this.run((now) => this.node.withConferences(now, (c) => c.create(invite, now)), o);
    return r;
  }

  invite(id: string, user: string): ConferenceInfo { return this.run((now) => this.node.withConferences(now, (c) => c.invite(id, user, now))); }
  join(id: string, o?: CallOptions): ConferenceInfo {
    if (o) { checkAudio(o); this.options.set(id, o); }
    return this.run((now) => this.node.withConferences(now, (c) => c.join(id, now)));
  }
  leave(id: string): ConferenceInfo { return this.run((now) => this.node.withConferences(now, (c) => c.leave(id, now))); }

  /** Leaves every conference (the daemon stops). */
  leaveAll() { for (const c of this.list()) if (c.state !== 'left') { try { this.leave(c.id); } catch { /* already gone */ } } }

  /** A conference changed (from the node's events): start or stop its audio files. */
  onConference(c: ConferenceInfo) {
    // A file not given for this conference: the node's own --play/--record.
    const given = this.options.get(c.id);
    const o = { playFile: given?.playFile ?? this.defaults.playFile, recordFile: given?.recordFile ?? this.defaults.recordFile };
    if (c.state === 'joined' && !this.players.has(c.id) && !this.recorders.has(c.id)) {
      if (o.recordFile) this.recorders.set(c.id, new ClockedRecorder(o.recordFile));
      if (o.playFile) {
        try {
          const pcm = readWavMono48k(o.playFile);
          this.players.set(c.id, new WavPlayer(pcm, (frame) => this.mutate((now) => this.node.withConferences(now, (m) => m.pushAudio(c.id, frame, now)))));
        } catch (e) { this.log('error', (e as Error).message); }
      }
    }
    if (c.state === 'left') {
      this.players.get(c.id)?.stop();
      this.players.delete(c.id);
      const rec = this.recorders.get(c.id);
      this.recorders.delete(c.id);
      this.options.delete(c.id);
      try { rec?.finish(); } catch (e) { this.log('error', `cannot write the recording: ${(e as Error).message}`); }
    }
  }

  onAudio(id: string, pcm: Int16Array) { this.recorders.get(id)?.push(pcm); }

  stop() { for (const p of this.players.values()) p.stop(); }

  private run(fn: (now: number) => Result<ConferenceInfo>, o?: CallOptions): ConferenceInfo {
    const r = this.mutate((now) => {
      const out = fn(now);
      // Options are known before the 'joined' event is handled (it is drained after this mutation).
      if (out.ok && o) this.options.set(out.value.id, o);
      return out;
    });
    if (!r.ok) throw new ApiError(r.error.code, r.error.message, r.error.code === 'no-such-conference' ? 404 : 409);
    return r.value;
  }
}

function checkAudio(o: CallOptions) {
  if (o.playFile) {
    try { readWavMono48k(o.playFile); } catch (e) { throw new ApiError('bad-audio-file', (e as Error).message); }
  }
}
