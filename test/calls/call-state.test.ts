import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { nextCallState, callTransitions, callStates, stateTimers, renderTransitionTable, type CallInput } from '../../src/calls/call-state.ts';

const allInputs: CallInput[] = [
  'answer', 'reject', 'hangup', 'hold', 'resume', 'remote-ringing', 'remote-answer', 'answer-confirmed', 'answered-elsewhere',
  'remote-reject', 'remote-busy', 'remote-hangup', 'remote-timeout', 'remote-hold', 'remote-resume', 'glare-lost',
  'setup-timeout', 'ring-timeout', 'failure',
];

test('docs/calls.md shows exactly the transition table in the code', () => {
  const doc = fs.readFileSync(new URL('../../docs/calls.md', import.meta.url), 'utf8');
  const m = /<!-- transitions:begin -->\n([\s\S]*?)\n<!-- transitions:end -->/.exec(doc);
  assert.ok(m, 'docs/calls.md has the transitions markers');
  assert.equal(m[1], renderTransitionTable());
});

test('an outgoing call rings, is answered, and ends with the reason of whoever hung up', () => {
  assert.equal(nextCallState('calling', 'remote-ringing')?.state, 'ringing');
  assert.equal(nextCallState('ringing', 'remote-answer')?.state, 'active');
  assert.deepEqual(nextCallState('active', 'hangup'), { state: 'ended', reason: 'hung-up' });
  assert.deepEqual(nextCallState('active', 'remote-hangup'), { state: 'ended', reason: 'remote-hung-up' });
});

test('an incoming call is active only once the caller confirms this device answered first', () => {
  assert.equal(nextCallState('incoming', 'answer')?.state, 'answering');
  assert.equal(nextCallState('answering', 'answer-confirmed')?.state, 'active');
  assert.deepEqual(nextCallState('answering', 'answered-elsewhere'), { state: 'ended', reason: 'answered-elsewhere' });
  assert.deepEqual(nextCallState('incoming', 'answered-elsewhere'), { state: 'ended', reason: 'answered-elsewhere' });
});

test('every way a call can fail to start has its own reason', () => {
  assert.equal(nextCallState('calling', 'remote-busy')?.reason, 'busy');
  assert.equal(nextCallState('ringing', 'remote-reject')?.reason, 'rejected');
  assert.equal(nextCallState('ringing', 'ring-timeout')?.reason, 'no-answer');
  assert.equal(nextCallState('ringing', 'hangup')?.reason, 'cancelled');
  assert.equal(nextCallState('incoming', 'remote-hangup')?.reason, 'cancelled');
  assert.equal(nextCallState('incoming', 'reject')?.reason, 'rejected');
  assert.equal(nextCallState('calling', 'setup-timeout')?.reason, 'failed');
  assert.equal(nextCallState('answering', 'setup-timeout')?.reason, 'failed');
  assert.equal(nextCallState('calling', 'glare-lost')?.reason, 'merged');
});

test('hold works from either side and both; resuming unwinds one side at a time', () => {
  assert.equal(nextCallState('active', 'hold')?.state, 'on-hold');
  assert.equal(nextCallState('active', 'remote-hold')?.state, 'remote-hold');
  assert.equal(nextCallState('on-hold', 'remote-hold')?.state, 'both-hold');
  assert.equal(nextCallState('remote-hold', 'hold')?.state, 'both-hold');
  assert.equal(nextCallState('both-hold', 'resume')?.state, 'remote-hold');
  assert.equal(nextCallState('both-hold', 'remote-resume')?.state, 'on-hold');
  assert.equal(nextCallState('on-hold', 'resume')?.state, 'active');
  assert.equal(nextCallState('remote-hold', 'remote-resume')?.state, 'active');
  // Only the side that held can resume.
  assert.equal(nextCallState('on-hold', 'remote-resume'), undefined);
  assert.equal(nextCallState('remote-hold', 'resume'), undefined);
  for (const s of ['on-hold', 'remote-hold', 'both-hold'] as const) {
    assert.equal(nextCallState(s, 'remote-hangup')?.reason, 'remote-hung-up');
    assert.equal(nextCallState(s, 'failure')?.reason, 'failed');
  }
});

test('an ended call never comes back, and late signals are ignored', () => {
  for (const i of allInputs) assert.equal(nextCallState('ended', i), undefined);
  assert.equal(nextCallState('active', 'remote-ringing'), undefined);
  assert.equal(nextCallState('active', 'answer'), undefined);
  assert.equal(nextCallState('active', 'remote-answer'), undefined);
  assert.equal(nextCallState('calling', 'hold'), undefined);
});

test('the table is well formed: one entry per state and input, reasons on every end, timers only where they can fire', () => {
  const seen = new Set<string>();
  for (const t of callTransitions) {
    const k = `${t.from} ${t.input}`;
    assert.ok(!seen.has(k), `duplicate ${k}`);
    seen.add(k);
    assert.ok(callStates.includes(t.from) && callStates.includes(t.to));
    assert.ok(allInputs.includes(t.input), t.input);
    assert.equal(t.to === 'ended', t.reason !== undefined, k);
  }
  for (const [s, timer] of Object.entries(stateTimers)) {
    assert.equal(nextCallState(s as never, timer!)?.state, 'ended', `${s} handles its own ${timer}`);
  }
  // Every state but `ended` can be left by hanging up and by a transport failure.
  for (const s of callStates.filter((x) => x !== 'ended')) {
    assert.equal(nextCallState(s, 'hangup')?.state, 'ended', s);
    assert.equal(nextCallState(s, 'failure')?.state, 'ended', s);
  }
});
