import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextCallState, callTransitions, type CallInput } from '../../src/calls/call-state.ts';

test('an outgoing call rings, is answered, and ends with the reason of whoever hung up', () => {
  assert.equal(nextCallState('calling', 'remote-ringing')?.state, 'ringing');
  assert.equal(nextCallState('ringing', 'remote-answered')?.state, 'active');
  assert.deepEqual(nextCallState('active', 'hangup'), { state: 'ended', reason: 'hung-up' });
  assert.deepEqual(nextCallState('active', 'remote-hangup'), { state: 'ended', reason: 'remote-hung-up' });
});

test('every way a call can fail to start has its own reason', () => {
  assert.equal(nextCallState('calling', 'remote-busy')?.reason, 'busy');
  assert.equal(nextCallState('ringing', 'remote-rejected')?.reason, 'rejected');
  assert.equal(nextCallState('ringing', 'timeout')?.reason, 'no-answer');
  assert.equal(nextCallState('ringing', 'hangup')?.reason, 'cancelled');
  assert.equal(nextCallState('incoming', 'remote-hangup')?.reason, 'cancelled');
  assert.equal(nextCallState('incoming', 'reject')?.reason, 'rejected');
  assert.equal(nextCallState('calling', 'failure')?.reason, 'failed');
});

test('an ended call never comes back, and late signals are ignored', () => {
  const inputs: CallInput[] = ['remote-ringing', 'remote-answered', 'answer', 'reject', 'hangup', 'remote-hangup', 'remote-busy', 'remote-rejected', 'timeout', 'failure'];
  for (const i of inputs) assert.equal(nextCallState('ended', i), undefined);
  assert.equal(nextCallState('active', 'remote-ringing'), undefined);
  assert.equal(nextCallState('active', 'answer'), undefined);
});

test('every transition that ends a call names a reason', () => {
  for (const [from, row] of Object.entries(callTransitions)) {
    for (const [input, next] of Object.entries(row)) {
      if (next!.state === 'ended') assert.ok(next!.reason, `${from} + ${input}`);
    }
  }
});
