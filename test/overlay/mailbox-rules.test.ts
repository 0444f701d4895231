// The core's mailbox rules on one supernode holding every slot: fetch and acknowledge go
// through the owner check when one is plugged in, and a full mailbox refuses new mail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayCore } from '../../src/overlay/overlay-core.ts';
import { Op, Status, ClRequest, ClAnswer, MailItem } from '../../src/overlay/messages.ts';
import { decodeMessage, encodeObjectList } from '../../src/wire/object-list.ts';
import { verifySimRecord } from '../../src/sim/sim-record.ts';

const now = 1_700_000_000_000;

function lone(opts: { mailboxMax?: number; owner?: string } = {}) {
  const seen: { op: Op; auth?: Uint8Array; ids: string[] }[] = [];
  const core = new OverlayCore({
    id: 1, inc: 1, params: { slotBits: 3, replicas: 10 }, rand: () => 4, verifyRecord: verifySimRecord, mailboxMax: opts.mailboxMax,
    authorizeMail: opts.owner === undefined ? undefined : (op, _user, auth, ids) => {
      seen.push({ op, auth, ids });
      return auth !== undefined && new TextDecoder().decode(auth) === opts.owner;
    },
  });
  core.seedMembers([1], [1], now);
  const ask = (op: Op, user: string, item?: Uint8Array, ids?: string[]) => {
    core.handleClient('c', ClRequest.toBytes({ op, req: 1, user, item, ids }), now);
    const a = core.pollAnswer();
    assert.ok(a);
    const m = decodeMessage(a.bytes);
    assert.ok(m.ok);
    const r = ClAnswer.decode(m.value.body);
    assert.ok(r.ok);
    return r.value;
  };
  return { core, ask, seen };
}

const mail = (id: string) => encodeObjectList(MailItem.encode({ id, to: 'bob', from: '', body: new Uint8Array([1]), expiresAtMs: now + 60_000 }));
const auth = (s: string) => new TextEncoder().encode(s);

test('with an owner check, fetch and acknowledgement need the owner\'s statement, with the ids it covers', () => {
  const { ask, seen } = lone({ owner: 'bob-signed' });
  assert.equal(ask(Op.MailPut, 'bob', mail('m1')).status, Status.Ok, 'anyone may leave mail');
  assert.equal(ask(Op.MailFetch, 'bob').status, Status.Rejected);
  assert.equal(ask(Op.MailFetch, 'bob', auth('mallory-signed')).status, Status.Rejected);
  assert.equal(ask(Op.MailAck, 'bob', auth('mallory-signed'), ['m1']).status, Status.Rejected);
  const got = ask(Op.MailFetch, 'bob', auth('bob-signed'));
  assert.equal(got.status, Status.Ok);
  assert.equal(got.items?.length, 1);
  assert.equal(ask(Op.MailAck, 'bob', auth('bob-signed'), ['m1']).status, Status.Ok);
  assert.deepEqual(seen.at(-1)?.ids, ['m1'], 'the check sees the ids to delete');
  assert.equal(ask(Op.MailFetch, 'bob', auth('bob-signed')).items, undefined);
});

test('a full mailbox refuses new mail', () => {
  const { ask } = lone({ mailboxMax: 3 });
  for (const id of ['a', 'b', 'c']) assert.equal(ask(Op.MailPut, 'bob', mail(id)).status, Status.Ok);
  assert.equal(ask(Op.MailPut, 'bob', mail('d')).status, Status.Rejected);
  assert.equal(ask(Op.MailFetch, 'bob').items?.length, 3);
});
