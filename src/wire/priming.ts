// The priming corpus of the shared compression model: synthetic messages with the shapes of
// Tincan's commands (records with certificates and signatures, chat, call signaling, replies),
// drawn from a fixed seed. Every node builds the same corpus and so the same model. Changing
// anything here changes the compressed format: bump the compressed form (envelope.ts) too.
import { encodeMessage, encodeObjectList, type ObjectList, type WireValue } from './object-list.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
  return {
    int: (n: number) => next() % n,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'walter'];
const words = ('the a to and of is in it you that for on are with be this have not at but can we my your was do so if me ' +
  'hi hello yes no ok thanks see call later now today tomorrow meeting time here there what when where how are doing good great ' +
  'sorry busy free lunch home work back soon minute talk send file photo call me please sure maybe let know').split(' ');
const errors: [string, string][] = [
  ['not-found', ' is not online'], ['busy', 'already in a call'], ['bad-credentials', 'wrong user name or password'],
  ['name-taken', 'the name is already registered'], ['bad-request', 'field user (id 1) missing'], ['not-ready', 'supernode has not reached the login server yet'],
];

const list = (entries: [number, WireValue][]): ObjectList => new Map(entries);

export function primingMessages(): Uint8Array[] {
  const r = rng(0x7157c0de);
  const now = () => 1_764_000_000_000 + r.int(2_000_000_000);
  const name = () => names[r.int(names.length)];
  const hex = (n: number) => Buffer.from(r.bytes(n)).toString('hex');
  const addr = () => (r.int(4) === 0
    ? { host: `2001:db8::${(1 + r.int(0xfffe)).toString(16)}`, port: 1024 + r.int(60000) }
    : { host: `${[203, 198, 100, 127][r.int(4)]}.${r.int(256)}.${r.int(256)}.${1 + r.int(254)}`, port: 1024 + r.int(60000) });
  const signed = (body: ObjectList) => encodeObjectList(list([[1, encodeObjectList(body)], [2, r.bytes(64)]]));
  const cert = (user: string) => signed(list([[1, user], [2, r.bytes(32)], [3, hex(9).slice(0, 12)], [4, now()], [5, now()], [6, r.bytes(32)]]));
  const presence = (user: string) => signed(list([
    [1, user], [2, cert(user)], [3, r.bytes(32)], [4, new Map([[0, addr()], [1, addr()]])], [5, addr()], [6, r.int(2 ** 32)], [7, now()], [8, now()],
  ]));
  const sentence = () => Array.from({ length: 1 + r.int(12) }, () => words[r.int(words.length)]).join(' ');
  const out: Uint8Array[] = [];
  for (let i = 0; i < 24; i++) {
    const user = name();
    out.push(encodeMessage(22, list([[1, presence(user)]])));                       // publish
    out.push(encodeMessage(24, list([[1, presence(user)]])));                       // look-up reply
    out.push(encodeMessage(23, list([[1, user]])));                                  // look-up
    out.push(encodeMessage(40, list([[1, hex(12)], [2, sentence()], [3, now()]]))); // chat
    out.push(encodeMessage(41, list([[1, hex(12)], [2, now()]])));                  // chat receipt
    out.push(encodeMessage(50, list([[1, hex(8)], [2, 'opus'], [3, 20]])));         // call invite
    out.push(encodeMessage([51, 52][r.int(2)], list([[1, hex(8)]])));               // ringing / answer
    out.push(encodeMessage(53, list([[1, hex(8)], [2, ['hung-up', 'rejected', 'no-answer'][r.int(3)]]])));
    out.push(encodeMessage(21, list([[1, addr()], [2, r.int(2 ** 32)], [3, new Map([[0, addr()], [1, addr()], [2, addr()]])]])));
    out.push(encodeMessage(11, list([[1, user], [2, sentence()], [3, hex(9).slice(0, 12)]])));
    out.push(encodeMessage(12, list([[1, user], [2, cert(user)], [3, new Map([[0, addr()], [1, addr()]])]])));
    const [code, message] = errors[r.int(errors.length)];
    out.push(encodeMessage(2, list([[1, code], [2, message.startsWith(' ') ? user + message : message]])));
    out.push(encodeMessage(1, new Map()));
  }
  return out;
}
