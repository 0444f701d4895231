// White pages, the node's side (docs/overlay.md, "White pages"): the user's own profile, kept
// in the directory while the user is online (re-published every 12 h, living 72 h), and search.
//
// Search asks, all at once, the slot of every query word (w:WORD: profiles whose display name
// has that word) and, when the query is a user name, that user's profile and mail keys. Each
// profile is verified here (supernodes are not trusted); a user matches when its newest
// profile has every query word. A word's slot can still hold a profile from before a rename,
// so candidates are then checked against their current profile (p:USER), again all at once:
// two overlay round trips in all.
import type { KeyPair } from '../crypto/keys.ts';
import { type Result, ok, err } from '../wire/result.ts';
import { Op, Status } from '../overlay/messages.ts';
import { signProfile, verifyEntry, wordsOf, wordName, profileName, mailKeyName, entryTtlMaxMs, type Profile } from '../overlay/entries.ts';
import { normaliseUserName } from '../login/names.ts';
import type { OverlayAnswer } from './mailbox.ts';
import type { LogLine } from './core.ts';

export interface ProfileFields { displayName: string; city?: string; language?: string }
export interface SearchResult { user: string; displayName?: string; city?: string; language?: string }

export interface WhitePagesHost {
  signing: KeyPair;
  now(): number;
  me(): { user: string; certificate: Uint8Array } | undefined;
  loginKey(): Uint8Array | undefined;
  overlay(op: Op, name: string, item: Uint8Array | undefined, ids: string[] | undefined, cb: (r: Result<OverlayAnswer>) => void): void;
  log(level: LogLine['level'], message: string): void;
}

// Implementation constants.
const republishMs = 12 * 3600_000;
/** Specification: results of one search, and words of one query. */
export const searchResultsMax = 20;
const queryWordsMax = 4;

export class WhitePages {
  profile: ProfileFields | undefined;
  private publishedAtMs: number | undefined;
  private publishedFor: string | undefined;

  constructor(private readonly h: WhitePagesHost) {}

  /** Checks and adopts the user's profile, and files it in the directory when logged in. */
  setProfile(p: ProfileFields, cb: (r: Result<ProfileFields>) => void) {
    const checked = checkProfile(p);
    if (!checked.ok) return cb(checked);
    this.profile = checked.value;
    if (!this.h.me()) return cb(ok(checked.value));
    this.publish(this.h.now(), (r) => cb(r.ok ? ok(checked.value) : r));
  }

  /** After every presence publication: keep the profile filed. */
  onPublished(now: number) {
    const me = this.h.me();
    if (!me || !this.profile) return;
    if (this.publishedFor === me.user && this.publishedAtMs !== undefined && now - this.publishedAtMs < republishMs) return;
    this.publish(now, (r) => { if (!r.ok) this.h.log('warn', `could not file our profile in the white pages: ${r.error.message}`); });
  }

  private publish(now: number, cb: (r: Result<void>) => void) {
    const me = this.h.me();
    if (!me || !this.profile) return cb(err('not-logged-in', 'log in first'));
    this.publishedAtMs = now;
    this.publishedFor = me.user;
    const entries = signProfile({ user: me.user, certificate: me.certificate, ...this.profile, publishedAtMs: now, expiresAtMs: now + entryTtlMaxMs }, this.h.signing.privateKey);
    let left = entries.length;
    let failed: string | undefined;
    for (const e of entries) {
      this.h.overlay(Op.Publish, e.name, e.bytes, undefined, (r) => {
        if (!r.ok || r.value.status !== Status.Ok) failed = `${e.name}: ${r.ok ? 'refused' : r.error.message}`;
        if (--left > 0) return;
        if (failed) { this.publishedAtMs = undefined; return cb(err('not-stored', `the directory did not take the profile (${failed})`)); }
        cb(ok(undefined));
      });
    }
  }

  search(query: string, cb: (r: Result<SearchResult[]>) => void) {
    const loginKey = this.h.loginKey();
    if (!loginKey) return cb(err('no-login-key', 'the login server key is not known yet'));
    const words = wordsOf(query).slice(0, queryWordsMax);
    const asName = normaliseUserName(query.trim());
    const name = asName.ok ? asName.value : undefined;
    if (words.length === 0 && !name) return cb(err('empty-query', 'search for a user name or words of a display name'));
    const names = [...words.map(wordName), ...(name ? [profileName(name), mailKeyName(name)] : [])];
    this.fetchAll(names, loginKey, (found) => {
      const newest = new Map<string, Profile>();
      const keep = (p: Profile) => { const o = newest.get(p.user); if (!o || p.publishedAtMs > o.publishedAtMs) newest.set(p.user, p); };
      for (const n of words.map(wordName)) for (const p of found.get(n)?.profiles ?? []) keep(p);
      const candidates = [...newest.values()].filter((p) => words.every((w) => wordsOf(p.displayName).includes(w)))
        .map((p) => p.user).filter((u) => u !== name).slice(0, searchResultsMax);
      // Second round: each candidate's current profile (a rename leaves old word entries behind for up to 72 h).
      this.fetchAll(candidates.map(profileName), loginKey, (current) => {
        const out: SearchResult[] = [];
        if (name) {
          const p = newestOf(found.get(profileName(name))?.profiles ?? [], name);
          if (p) out.push(result(p));
          else if (found.get(mailKeyName(name))?.keyUsers.includes(name)) out.push({ user: name });
        }
        for (const u of candidates) {
          const p = newestOf(current.get(profileName(u))?.profiles ?? [], u);
          if (p && words.every((w) => wordsOf(p.displayName).includes(w))) out.push(result(p));
        }
        cb(ok(out.slice(0, searchResultsMax)));
      });
    });
  }

  /** Looks up several directory names at once; each answer's entries verified, failures as empty. */
  private fetchAll(names: string[], loginKey: Uint8Array, done: (found: Map<string, { profiles: Profile[]; keyUsers: string[] }>) => void) {
    const found = new Map<string, { profiles: Profile[]; keyUsers: string[] }>();
    if (names.length === 0) return done(found);
    let left = names.length;
    for (const n of names) {
      this.h.overlay(Op.Lookup, n, undefined, undefined, (r) => {
        const got = { profiles: [] as Profile[], keyUsers: [] as string[] };
        if (r.ok && r.value.status === Status.Ok) {
          for (const bytes of r.value.items) {
            const v = verifyEntry(bytes, loginKey, this.h.now());
            if (!v.ok || v.value.name !== n) continue;
            if (v.value.kind === 'profile') got.profiles.push(v.value.profile);
            else got.keyUsers.push(v.value.key.user);
          }
        }
        found.set(n, got);
        if (--left === 0) done(found);
      });
    }
  }
}

function newestOf(ps: Profile[], user: string): Profile | undefined {
  return ps.filter((p) => p.user === user).sort((a, b) => b.publishedAtMs - a.publishedAtMs)[0];
}

function result(p: Profile): SearchResult {
  return { user: p.user, displayName: p.displayName, ...(p.city ? { city: p.city } : {}), ...(p.language ? { language: p.language } : {}) };
}

export function checkProfile(p: ProfileFields): Result<ProfileFields> {
  const displayName = String(p.displayName ?? '').normalize('NFKC').trim();
  if (displayName.length === 0 || displayName.length > 64) return err('bad-profile', 'a display name has 1 to 64 characters');
  if (wordsOf(displayName).length === 0) return err('bad-profile', 'a display name needs at least one word of two letters or digits');
  const city = p.city?.normalize('NFKC').trim() || undefined;
  const language = p.language?.normalize('NFKC').trim() || undefined;
  if (city && city.length > 64) return err('bad-profile', 'a city has at most 64 characters');
  if (language && language.length > 32) return err('bad-profile', 'a language has at most 32 characters');
  return ok({ displayName, ...(city ? { city } : {}), ...(language ? { language } : {}) });
}
