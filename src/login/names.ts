// User names: one spelling per person. A name is NFKC-normalised and lower-cased, then held to
// a small ASCII alphabet, so "Alice", "ALICE" and fullwidth "ａｌｉｃｅ" are one account and
// look-alikes from other scripts (Cyrillic "а", Greek "ο") are refused outright rather than
// becoming a second account that renders the same. Refusing is the whole confusable defence:
// with one script and no invisible characters there is nothing left to confuse.
//
// The result is idempotent (normalising a normalised name returns it unchanged), so callers
// may normalise at every boundary: the login server on register and login, the node on
// look-up, chat and call.
import { type Result, ok, err } from '../wire/result.ts';

export const userNameLengthMin = 3;
export const userNameLengthMax = 32;
// Only surrounding whitespace could bring a longer input down to a valid name, and nobody needs
// that much; refusing it before normalising keeps the cost bounded (NFKC can expand 18-fold).
const rawLengthMax = 256;

function describeChar(c: string): string {
  const cp = c.codePointAt(0) ?? 0;
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  // Invisible and combining characters print as nothing, so the code point is what the user can act on.
  return `"${c}" (U+${hex})`;
}

export function normaliseUserName(raw: string): Result<string> {
  if (raw.length > rawLengthMax) return err('name-too-long', `a user name has at most ${userNameLengthMax} characters`);
  // The second NFKC: lower-casing can leave a sequence that is no longer normalised (İ → i + U+0307).
  // toLowerCase is the full (not simple) mapping; ß stays ß and is refused below rather than folded to "ss".
  const name = raw.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
  if (name.length < userNameLengthMin) return err('name-too-short', `a user name has at least ${userNameLengthMin} characters`);
  if (name.length > userNameLengthMax) return err('name-too-long', `a user name has at most ${userNameLengthMax} characters`);
  const bad = [...name].find((c) => !/^[a-z0-9._-]$/.test(c));
  if (bad !== undefined) {
    return err('name-bad-char',
      `a user name may only use the letters a-z, digits 0-9, ".", "_" and "-"; found ${describeChar(bad)}` +
      ((bad.codePointAt(0) ?? 0) > 0x7f ? ', which is not a plain ASCII character even if it looks like one' : ''));
  }
  if (!/^[a-z]/.test(name)) return err('name-bad-start', 'a user name starts with a letter a-z');
  if (name.includes('..')) return err('name-double-dot', 'a user name has no ".." in it');
  if (/[.-]$/.test(name)) return err('name-bad-end', 'a user name does not end with "." or "-"');
  return ok(name);
}
