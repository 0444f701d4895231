// Conference calls as a star, sans-IO (docs/media.md): the participant with the most capacity
// hosts, mixes everyone and sends each participant a mix without their own voice, as Skype's
// conferences did — whoever started the call.
//
// Theory of operation. Every party holds the roster (ids with measured capacity: CPU as Opus
// frames encoded+decoded per millisecond, uplink in kb/s) and elects the host with the same
// pure function, so all agree without a round of messages. A member sends its microphone to
// the host as one media stream and plays the one stream the host sends back. The host keeps a
// jitter buffer and an encoder per member; on each 20 ms tick it takes one frame from each
// buffer (silence if none), adds its own microphone, and for each member encodes the sum less
// that member's own frame. A party that leaves says so (a leave packet to everyone); one that
// vanishes is noticed by silence (`hostSilenceMs` without a packet from the host). Either way
// the rest drop it from the roster and elect again: a new host takes over the mixing and the
// members start fresh streams to it, while the call goes on.
//
//   inputs:   handlePacket(from, bytes, now), handleTimeout(now)
//   commands: pushPcm(pcm, now), leave(now)
//   outputs:  pollPacket() → { to, bytes }, pollAudio() → 20 ms of what this party hears,
//             pollTimeout(), events: host changes
import { MediaSender } from './sender.ts';
import { MediaReceiver } from './receiver.ts';
import { decodeMediaPacket } from './frame.ts';

export interface Capacity { cpuFramesPerMs: number; uplinkKbps: number }
export interface RosterEntry { id: string; capacity: Capacity }

export interface ConferenceOptions {
  bitrateBps?: number;        // per stream; default 32 kb/s
  hostSilenceMs?: number;     // default 1500
  seed?: number;              // starting sequence numbers / timestamps
}

/** Members one party could host: limited by CPU (a decode and an encode per member every 20 ms) and by uplink. */
export function hostingCapacity(c: Capacity, bitrateBps = 32_000): number {
  const framesPerMember = 2 * 50 / 1000;              // per ms: one decode + one encode at 50 frames/s
  const byCpu = c.cpuFramesPerMs / framesPerMember;
  const byUplink = c.uplinkKbps / ((bitrateBps + 8 * 50 * 40) / 1000); // payload + ~40 B of headers per packet
  return Math.min(byCpu, byUplink);
}

/** The same answer on every party: most capacity, ties to the smaller id. */
export function electHost(roster: RosterEntry[]): string | undefined {
  let best: { id: string; cap: number } | undefined;
  for (const r of roster) {
    const cap = hostingCapacity(r.capacity);
    if (!best || cap > best.cap || (cap === best.cap && r.id < best.id)) best = { id: r.id, cap };
  }
  return best?.id;
}

const leavePacket = Uint8Array.of(2);
const frameMs = 20, frameSamples = 960;
const catchUpMaxMs = 100;

export type ConferenceEvent = { type: 'host'; host: string | undefined } | { type: 'left'; id: string };

interface Leg { receiver: MediaReceiver; sender: MediaSender; pending: Int16Array[]; lastHeardMs: number }

export class ConferenceParty {
  private roster: RosterEntry[];
  private host: string | undefined;
  private legs = new Map<string, Leg>();           // host: one per member; member: one, to the host
  private readonly packets: { to: string; bytes: Uint8Array }[] = [];
  private readonly audio: Int16Array[] = [];
  private readonly events: ConferenceEvent[] = [];
  private mic: Int16Array[] = [];
  private nextTickMs: number | undefined;
  private lastFromHostMs = 0;
  private streams = 0;
  private left = false;
  private started = false;
  readonly stats = { mixesSent: 0, hostChanges: 0, malformed: 0 };

  constructor(readonly id: string, roster: RosterEntry[], private readonly o: ConferenceOptions = {}) {
    this.roster = [...roster];
    this.elect(0);
  }

  get hostId(): string | undefined { return this.host; }
  get members(): string[] { return this.roster.map((r) => r.id); }

  pushPcm(pcm: Int16Array, now: number) {
    if (this.left) return;
    if (this.host !== this.id) { this.legs.get(this.host!)?.sender.pushPcm(pcm); this.flush(now); return; }
    this.mic.push(pcm);
  }

  handlePacket(from: string, bytes: Uint8Array, now: number) {
    if (this.left || !this.roster.some((r) => r.id === from)) return;
    if (bytes.length === 1 && bytes[0] === leavePacket[0]) { this.drop(from, now); return; }
    const p = decodeMediaPacket(bytes);
    if (!p.ok) { this.stats.malformed++; return; }
    if (p.value.kind !== 'audio') return;
    if (from === this.host) this.lastFromHostMs = now;
    const leg = this.legs.get(from);
    if (leg) leg.lastHeardMs = now;
    // A host takes audio from every member; a member only from its host.
    if (this.host === this.id || from === this.host) this.legs.get(from)?.receiver.handleFrame(bytes, now);
  }

  handleTimeout(now: number) {
    if (this.left) return;
    if (!this.started) {
      // Silence is counted from the first tick, whatever the clock's epoch.
      this.started = true;
      this.lastFromHostMs = now;
      for (const leg of this.legs.values()) leg.lastHeardMs = now;
    }
    for (const leg of this.legs.values()) leg.receiver.handleTimeout(now);
    if (this.host !== this.id) {
      const leg = this.legs.get(this.host!);
      if (leg) for (let a = leg.receiver.pollAudio(); a; a = leg.receiver.pollAudio()) this.audio.push(a);
      if (now - this.lastFromHostMs > (this.o.hostSilenceMs ?? 1500)) this.drop(this.host!, now);
      return;
    }
    const silenceMs = this.o.hostSilenceMs ?? 1500;
    for (const [id, leg] of [...this.legs]) if (now - leg.lastHeardMs > silenceMs) this.drop(id, now);
    for (const leg of this.legs.values()) for (let a = leg.receiver.pollAudio(); a; a = leg.receiver.pollAudio()) leg.pending.push(a);
    this.nextTickMs ??= now;
    // A host whose timer came late (a busy machine) mixes what it owes, but at most
    // catchUpMaxMs of it: a longer burst would only unsettle every member's jitter buffer.
    if (now - this.nextTickMs > catchUpMaxMs) this.nextTickMs = now - catchUpMaxMs;
    const ticks = now >= this.nextTickMs ? Math.floor((now - this.nextTickMs) / frameMs) + 1 : 0;
    // Each buffer plays on its own phase of the 20 ms clock: one frame a tick. A backlog beyond
    // this round's ticks and two frames (a clock that ran ahead) is cut — before mixing, so a
    // late round does not cut the very frames it is about to mix.
    for (const leg of this.legs.values()) while (leg.pending.length > ticks + 2) leg.pending.shift();
    this.trimMic((ticks + 2) * frameSamples);
    while (now >= this.nextTickMs) { this.mix(now); this.nextTickMs += frameMs; }
  }

  pollTimeout(): number | undefined {
    if (this.left) return undefined;
    const silenceMs = this.o.hostSilenceMs ?? 1500;
    let t = this.host === this.id ? this.nextTickMs ?? 0 : this.lastFromHostMs + silenceMs + 1;
    if (this.host === this.id) for (const leg of this.legs.values()) t = Math.min(t, leg.lastHeardMs + silenceMs + 1);
    for (const leg of this.legs.values()) { const r = leg.receiver.pollTimeout(); if (r !== undefined && r < t) t = r; }
    return t;
  }

  /** What the jitter buffers of the current legs did (concealed, late, stretched, cut frames). */
  receiverStats() {
    const t = { received: 0, concealed: 0, late: 0, expanded: 0, dropped: 0, targetDelayMs: 0 };
    for (const leg of this.legs.values()) {
      const s = leg.receiver.stats;
      t.received += s.received; t.concealed += s.concealed; t.late += s.late; t.expanded += s.expanded; t.dropped += s.dropped;
      t.targetDelayMs = Math.max(t.targetDelayMs, s.targetDelayMs);
    }
    return t;
  }

  pollPacket() { return this.packets.shift(); }
  pollAudio() { return this.audio.shift(); }
  pollEvent() { return this.events.shift(); }

  /** A party joined after the start (conference signaling): hosting may move to it. */
  add(entry: RosterEntry, now: number) {
    if (this.left || this.roster.some((r) => r.id === entry.id)) return;
    this.roster.push(entry);
    if (electHost(this.roster) !== this.host) { this.elect(now); return; }
    if (this.host === this.id) this.legs.set(entry.id, this.newLeg(now));
  }

  /** A party is gone by the signaling's word (it said so, or another party noticed): as a leave packet. */
  remove(id: string, now: number) { if (!this.left && id !== this.id) this.drop(id, now); }

  /** Leaves without ending the conference for the others. */
  leave(now: number) {
    for (const r of this.roster) if (r.id !== this.id) this.packets.push({ to: r.id, bytes: leavePacket });
    this.left = true;
    for (const leg of this.legs.values()) leg.receiver.stop();
    this.legs.clear();
    void now;
  }

  // ---- internals ----

  private mix(now: number) {
    const own = this.takeMic();
    const frames = new Map<string, Int16Array>();
    const sum = new Int32Array(frameSamples);
    for (let i = 0; i < frameSamples; i++) sum[i] = own[i];
    for (const [id, leg] of this.legs) {
      const f = leg.pending.shift() ?? new Int16Array(frameSamples);
      const fixed = f.length === frameSamples ? f : resize(f);
      frames.set(id, fixed);
      for (let i = 0; i < frameSamples; i++) sum[i] += fixed[i];
    }
    // The host hears everyone but itself.
    this.audio.push(limit(sum, own));
    for (const [id, leg] of this.legs) {
      leg.sender.pushPcm(limit(sum, frames.get(id)!));
      this.stats.mixesSent++;
    }
    this.flush(now);
  }

  /** Keeps the newest `samples` of the microphone: the host's own voice must not fall behind. */
  private trimMic(samples: number) {
    let total = 0;
    for (const c of this.mic) total += c.length;
    while (total > samples && this.mic.length > 0) {
      const over = total - samples, head = this.mic[0];
      if (head.length <= over) { this.mic.shift(); total -= head.length; } else { this.mic[0] = head.subarray(over); total -= over; }
    }
  }

  private takeMic(): Int16Array {
    const out = new Int16Array(frameSamples);
    let at = 0;
    while (at < frameSamples && this.mic.length > 0) {
      const head = this.mic[0];
      const n = Math.min(head.length, frameSamples - at);
      out.set(head.subarray(0, n), at);
      at += n;
      if (n === head.length) this.mic.shift(); else this.mic[0] = head.subarray(n);
    }
    return out;
  }

  private flush(_now: number) {
    for (const [id, leg] of this.legs) {
      for (let f = leg.sender.pollFrame(); f; f = leg.sender.pollFrame()) this.packets.push({ to: id, bytes: f });
    }
  }

  private drop(id: string, now: number) {
    if (!this.roster.some((r) => r.id === id)) return;
    this.roster = this.roster.filter((r) => r.id !== id);
    this.events.push({ type: 'left', id });
    if (id === this.host) this.elect(now);
    else if (this.host === this.id) { this.legs.get(id)?.receiver.stop(); this.legs.delete(id); }
  }

  private elect(now: number) {
    const host = electHost(this.roster);
    if (host === this.host) return;
    if (this.host !== undefined) this.stats.hostChanges++;
    this.host = host;
    for (const leg of this.legs.values()) leg.receiver.stop();
    this.legs.clear();
    this.mic = [];
    this.nextTickMs = undefined;
    this.lastFromHostMs = now;
    const peers = host === this.id ? this.roster.filter((r) => r.id !== this.id).map((r) => r.id) : host ? [host] : [];
    for (const p of peers) this.legs.set(p, this.newLeg(now));
    this.events.push({ type: 'host', host });
  }

  private newLeg(now: number): Leg {
    const s = ((this.o.seed ?? 1) * 7919 + this.streams++ * 104_729) >>> 0;
    return {
      receiver: new MediaReceiver({}),
      // DTX off: a mix is rarely silent, and steady streams let members tell a live host from a gone one.
      sender: new MediaSender({ seqStart: s & 0xffff, timestampStart: s, bitrateBps: this.o.bitrateBps ?? 32_000, fec: true, expectedLossPct: 5, dtx: false }),
      pending: [], lastHeardMs: now,
    };
  }
}

/** Sum less one voice, scaled down if it would clip (a frame-wise limiter). */
function limit(sum: Int32Array, minus: Int16Array): Int16Array {
  const out = new Int16Array(sum.length);
  let peak = 0;
  for (let i = 0; i < sum.length; i++) peak = Math.max(peak, Math.abs(sum[i] - minus[i]));
  const g = peak > 32_767 ? 32_767 / peak : 1;
  for (let i = 0; i < sum.length; i++) out[i] = Math.round((sum[i] - minus[i]) * g);
  return out;
}

function resize(f: Int16Array): Int16Array {
  const out = new Int16Array(frameSamples);
  out.set(f.subarray(0, frameSamples));
  return out;
}
