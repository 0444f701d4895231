// The call state machine as data (h11's rule: everything that moves a call lives here).
// `callTransitions` is the whole table; docs/calls.md shows the same table, rendered by
// `renderTransitionTable` (a test checks that the page matches). Anything not in the table
// is ignored, so a late, repeated or hostile signal can never move a call backwards or revive
// an ended one. Timers are data too: entering a state listed in `stateTimers` (re)arms that
// state's only timer; leaving it disarms the timer.
import type { CallState, CallEndReason } from '../node/types.ts';

export type { CallState, CallEndReason };

export type CallInput =
  // commands of the local user
  | 'answer' | 'reject' | 'hangup' | 'hold' | 'resume'
  // signals from the peer
  | 'remote-ringing'      // outgoing: a device of the callee rings
  | 'remote-answer'       // outgoing: a device of the callee answered (first one wins)
  | 'answer-confirmed'    // incoming: the caller took our answer
  | 'answered-elsewhere'  // incoming: another device of ours answered first
  | 'remote-reject'       // the callee (or another device of ours) declined
  | 'remote-busy'         // every reachable device of the callee is in a call
  | 'remote-hangup'       // the peer hung up or cancelled
  | 'remote-timeout'      // the peer's ring timer expired first
  | 'remote-hold' | 'remote-resume'
  | 'glare-lost'          // both called each other and the other call won the tie-break
  // timers and transport
  | 'setup-timeout' | 'ring-timeout' | 'failure';

export interface Transition { from: CallState; input: CallInput; to: CallState; reason?: CallEndReason }

const ends = (from: CallState, pairs: [CallInput, CallEndReason][]): Transition[] =>
  pairs.map(([input, reason]) => ({ from, input, to: 'ended', reason }));
const moves = (from: CallState, pairs: [CallInput, CallState][]): Transition[] =>
  pairs.map(([input, to]) => ({ from, input, to }));
/** Every state of an established call ends the same three ways. */
const hangups = (from: CallState) =>
  ends(from, [['hangup', 'hung-up'], ['remote-hangup', 'remote-hung-up'], ['failure', 'failed']]);

export const callTransitions: readonly Transition[] = [
  // Outgoing, before any device of the callee rings.
  ...moves('calling', [['remote-ringing', 'ringing'], ['remote-answer', 'active']]),
  ...ends('calling', [
    ['hangup', 'cancelled'], ['remote-busy', 'busy'], ['remote-reject', 'rejected'], ['remote-hangup', 'rejected'],
    ['remote-timeout', 'no-answer'], ['glare-lost', 'merged'], ['setup-timeout', 'failed'], ['failure', 'failed'],
  ]),
  // Outgoing, ringing on at least one device of the callee.
  ...moves('ringing', [['remote-answer', 'active']]),
  ...ends('ringing', [
    ['hangup', 'cancelled'], ['remote-busy', 'busy'], ['remote-reject', 'rejected'], ['remote-hangup', 'rejected'],
    ['remote-timeout', 'no-answer'], ['glare-lost', 'merged'], ['ring-timeout', 'no-answer'], ['failure', 'failed'],
  ]),
  // Incoming, ringing here (and on the user's other devices).
  ...moves('incoming', [['answer', 'answering']]),
  ...ends('incoming', [
    ['reject', 'rejected'], ['hangup', 'rejected'], ['remote-hangup', 'cancelled'], ['answered-elsewhere', 'answered-elsewhere'],
    ['remote-reject', 'rejected'], ['remote-timeout', 'no-answer'], ['ring-timeout', 'no-answer'], ['failure', 'failed'],
  ]),
  // Incoming, answered here; waiting for the caller to confirm we were first.
  // A hold can overtake the caller's confirmation: it implies the confirmation.
  ...moves('answering', [['answer-confirmed', 'active'], ['remote-hold', 'remote-hold']]),
  ...ends('answering', [
    ['hangup', 'hung-up'], ['remote-hangup', 'cancelled'], ['answered-elsewhere', 'answered-elsewhere'],
    ['remote-reject', 'rejected'], ['remote-timeout', 'no-answer'], ['setup-timeout', 'failed'], ['failure', 'failed'],
  ]),
  // In call, and its three kinds of hold: we hold, they hold, both hold.
  ...moves('active', [['hold', 'on-hold'], ['remote-hold', 'remote-hold']]),
  ...hangups('active'),
  ...moves('on-hold', [['resume', 'active'], ['remote-hold', 'both-hold']]),
  ...hangups('on-hold'),
  ...moves('remote-hold', [['remote-resume', 'active'], ['hold', 'both-hold']]),
  ...hangups('remote-hold'),
  ...moves('both-hold', [['resume', 'remote-hold'], ['remote-resume', 'on-hold']]),
  ...hangups('both-hold'),
];

export const callStates: readonly CallState[] =
  ['calling', 'ringing', 'incoming', 'answering', 'active', 'on-hold', 'remote-hold', 'both-hold', 'ended'];

export type CallTimer = 'setup-timeout' | 'ring-timeout';
/** The timer each state runs; its expiry is fed back as that input. */
export const stateTimers: Partial<Record<CallState, CallTimer>> = {
  calling: 'setup-timeout', ringing: 'ring-timeout', incoming: 'ring-timeout', answering: 'setup-timeout',
};

/** States in which the two sides are connected (media may flow in `active` only). */
export const connectedStates: ReadonlySet<CallState> = new Set(['active', 'on-hold', 'remote-hold', 'both-hold']);

const index = new Map(callTransitions.map((t) => [`${t.from} ${t.input}`, t]));

export function nextCallState(state: CallState, input: CallInput): { state: CallState; reason?: CallEndReason } | undefined {
  const t = index.get(`${state} ${input}`);
  return t && { state: t.to, reason: t.reason };
}

/** The table as markdown, one row per state: the form docs/calls.md shows. */
export function renderTransitionTable(): string {
  const lines = ['| state | timer | input → next state (end reason) |', '|---|---|---|'];
  for (const s of callStates) {
    const row = callTransitions.filter((t) => t.from === s)
      .map((t) => `${t.input} → ${t.to}${t.reason ? ` (${t.reason})` : ''}`);
    lines.push(`| ${s} | ${stateTimers[s] ?? ''} | ${row.join('<br>') || '(final)'} |`);
  }
  return lines.join('\n');
}
