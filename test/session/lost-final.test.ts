// An XX initiator holds a session as soon as it sends its final; the responder only once the
// final arrives. When the final is lost (and so are the responder's repeated replies, which are
// what used to bring the final again), the initiator's data reaches a responder that cannot read
// it: the session was half open until the responder's handshake expired, and then for good
// (call-sim seed 44: a node's login requests went unanswered on such a session).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPair, drain, pathA, pathB } from './pair.ts';

const enc = (s: string) => new TextEncoder().encode(s);

/** A opens XX to B; B's answer reaches A; A's final is lost. */
function finalLost() {
  const p = createPair({ seed: 44 });
  p.a.ep.connect(pathB, p.clock.now);
  drain(p.a);
  for (const t of p.a.outbox.splice(0)) p.b.ep.handleDatagram(pathA, t.bytes, p.clock.now);
  drain(p.b);
  for (const t of p.b.outbox.splice(0)) p.a.ep.handleDatagram(pathB, t.bytes, p.clock.now);
  drain(p.a);
  assert.ok(p.a.ep.isEstablished(pathB), 'A holds the session once it sent its final');
  assert.equal(p.a.outbox.length, 1, 'the final');
  p.a.outbox.length = 0;                                // lost
  assert.ok(!p.b.ep.isEstablished(pathA));
  return p;
}

test('a lost XX final goes again ahead of the initiator\'s next data: the responder reads it', () => {
  const p = finalLost();
  // B's repeated replies are lost too; only A's data gets through.
  p.clock.now += 400;
  p.b.ep.handleTimeout(p.clock.now); drain(p.b); p.b.outbox.length = 0;
  p.a.ep.send(pathB, enc('login request'), p.clock.now);
  p.flush();
  assert.ok(p.b.ep.isEstablished(pathA), 'B has the session');
  assert.deepEqual(p.text(p.b), ['login request']);
  assert.equal(p.b.ep.stats.unknownIndex, 0);
  p.b.ep.send(pathA, enc('answer'), p.clock.now);
  p.flush();
  assert.deepEqual(p.text(p.a), ['answer']);
});

test('the final is repeated at most once per retry interval, and no more once the responder is heard from', () => {
  const p = finalLost();
  p.clock.now += 100;
  p.a.ep.send(pathB, enc('too soon'), p.clock.now);    // within the retry interval: data alone (lost too)
  drain(p.a);
  assert.equal(p.a.outbox.length, 1);
  p.a.outbox.length = 0;
  p.clock.now += 300;
  p.a.ep.send(pathB, enc('one'), p.clock.now);
  drain(p.a);
  assert.equal(p.a.outbox.length, 2, 'final, then data');
  p.flush();
  assert.deepEqual(p.text(p.b), ['one']);
  // B cannot tell that final from a first one, and says nothing itself: A repeats it once more,
  // and B answers that repeat with a keep-alive, after which A stops.
  p.clock.now += 1000;
  p.a.ep.send(pathB, enc('two'), p.clock.now);
  drain(p.a);
  assert.equal(p.a.outbox.length, 2, 'final, then data');
  p.flush();
  p.clock.now += 1000;
  p.a.ep.send(pathB, enc('three'), p.clock.now);
  drain(p.a);
  assert.equal(p.a.outbox.length, 1, 'data alone');
  p.flush();
  assert.deepEqual(p.text(p.b), ['one', 'two', 'three']);
  assert.equal(p.b.ep.stats.unknownIndex, 0);
  assert.equal(p.a.ep.stats.unknownIndex, 0);
});

test('a quiet responder that got the final costs one repeated final and one keep-alive, no more', () => {
  const p = createPair({ seed: 45 });
  p.establish(false);
  for (let i = 0; i < 5; i++) {
    p.clock.now += 500;
    p.a.ep.send(pathB, enc(`m${i}`), p.clock.now);
    p.flush();
  }
  assert.deepEqual(p.text(p.b), ['m0', 'm1', 'm2', 'm3', 'm4']);
  assert.equal(p.a.ep.stats.packetsOut, 1 + 1 + 1 + 5, 'init, final, final once more, five data');
  assert.equal(p.b.ep.stats.packetsOut, 1 + 1, 'answer, one keep-alive');
  assert.equal(p.b.ep.stats.unknownIndex, 0);
  assert.equal(p.b.ep.stats.handshakesCompleted, 1);
});
