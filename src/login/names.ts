// User names: one spelling per person. Names are NFKC-normalised and lower-cased, then
// limited to a small ASCII alphabet, so "Alice", "ALICE" and fullwidth "ａｌｉｃｅ" are one
// name and look-alikes from other scripts (Cyrillic "а") are refused outright.
import { type Result, ok, err } from '../wire/result.ts';

export const userNameLengthMin = 3;
export const userNameLengthMax = 32;

export function normaliseUserName(raw: string): Result<string> {
  if (raw.length > 256) return err('name-too-long', `a user name has at most ${userNameLengthMax} characters`);
  const name = raw.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
  if (name.length < userNameLengthMin) return err('name-too-short', `a user name has at least ${userNameLengthMin} characters`);
  if (name.length > userNameLengthMax) return err('name-too-long', `a user name has at most ${userNameLengthMax} characters`);
  const bad = [...name].find((c) => !/[a-z0-9._-]/.test(c));
  if (bad !== undefined) {
    return err('name-bad-char', `a user name may only use a-z, 0-9, ".", "_" and "-" (found "${bad}")`);
  }
  if (!/^[a-z]/.test(name)) return err('name-bad-start', 'a user name starts with a letter');
  if (name.includes('..')) return err('name-bad-char', 'a user name has no ".." in it');
  if (/[.-]$/.test(name)) return err('name-bad-end', 'a user name does not end with "." or "-"');
  return ok(name);
}
