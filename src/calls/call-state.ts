// The call state machine as data: a transition table (drawn in docs/calls.md).
// Anything not in the table is ignored, so a late or repeated signal can never move a call
// backwards or revive an ended one.
import type { CallState, CallEndReason } from '../node/types.ts';

export type CallInput =
  | 'remote-ringing'   // outgoing: the callee's node rings
  | 'remote-answered'  // outgoing: the callee answered
  | 'answer'           // incoming: we answer
  | 'reject'           // incoming: we decline
  | 'hangup'           // we hang up (or cancel)
  | 'remote-hangup'    // the peer hung up, cancelled or declined
  | 'remote-busy'
  | 'remote-rejected'
  | 'timeout'          // nobody answered in time
  | 'failure';         // no path, session lost

type Next = { state: CallState; reason?: CallEndReason };

export const callTransitions: Record<CallState, Partial<Record<CallInput, Next>>> = {
  calling: {
    'remote-ringing': { state: 'ringing' },
    'remote-answered': { state: 'active' },
    hangup: { state: 'ended', reason: 'cancelled' },
    'remote-busy': { state: 'ended', reason: 'busy' },
    'remote-rejected': { state: 'ended', reason: 'rejected' },
    'remote-hangup': { state: 'ended', reason: 'rejected' },
    timeout: { state: 'ended', reason: 'no-answer' },
    failure: { state: 'ended', reason: 'failed' },
  },
  ringing: {
    'remote-answered': { state: 'active' },
    hangup: { state: 'ended', reason: 'cancelled' },
    'remote-rejected': { state: 'ended', reason: 'rejected' },
    'remote-hangup': { state: 'ended', reason: 'rejected' },
    timeout: { state: 'ended', reason: 'no-answer' },
    failure: { state: 'ended', reason: 'failed' },
  },
  incoming: {
    answer: { state: 'active' },
    reject: { state: 'ended', reason: 'rejected' },
    hangup: { state: 'ended', reason: 'rejected' },
    'remote-hangup': { state: 'ended', reason: 'cancelled' },
    timeout: { state: 'ended', reason: 'no-answer' },
    failure: { state: 'ended', reason: 'failed' },
  },
  active: {
    hangup: { state: 'ended', reason: 'hung-up' },
    'remote-hangup': { state: 'ended', reason: 'remote-hung-up' },
    failure: { state: 'ended', reason: 'failed' },
  },
  ended: {},
};

export function nextCallState(state: CallState, input: CallInput): Next | undefined {
  return callTransitions[state][input];
}
