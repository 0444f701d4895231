// White pages on the virtual network: profiles filed in the overlay, found by exact user name
// and by words of the display name, from any supernode; lies from the index are not shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestnet, type Testnet, type TestUser } from '../../src/sim/testnet.ts';
import type { SearchResult, ProfileFields } from '../../src/node/white-pages.ts';

const search = (w: Testnet, u: TestUser, q: string) => w.settle<SearchResult[]>(u, (now, cb) => u.node.search(q, now, cb));
const setProfile = (w: Testnet, u: TestUser, p: ProfileFields) => w.settle<ProfileFields>(u, (now, cb) => u.node.setProfile(p, now, cb));

test('virtual network: search by exact user name and by words of display names', async () => {
  const w = createTestnet({ seed: 51 });
  await w.meshed();
  const users = [[1, 'alice', 'Alice Smith', 'Tallinn'], [2, 'bob', 'Bob Smith-Jones', undefined], [3, 'carol', 'Carol Jones', 'Oslo'], [4, 'dave', undefined, undefined]] as const;
  const us: TestUser[] = [];
  for (const [n, name, display, city] of users) {
    const u = w.addUser(n, { supernode: n % 3 });
    await w.signUp(u, name);
    if (display) { const r = await setProfile(w, u, { displayName: display, city }); assert.ok(r.ok, JSON.stringify(r)); }
    us.push(u);
  }
  const [alice, , carol] = us;
  const names = async (q: string, from = carol) => { const r = await search(w, from, q); assert.ok(r.ok, JSON.stringify(r)); return r.value.map((x) => x.user).sort(); };
  assert.deepEqual(await names('smith'), ['alice', 'bob']);
  assert.deepEqual(await names('Jones'), ['bob', 'carol']);
  assert.deepEqual(await names('smith jones'), ['bob']);
  assert.deepEqual(await names('nobody'), []);
  const exact = await search(w, alice, 'carol');
  assert.ok(exact.ok);
  assert.deepEqual(exact.value, [{ user: 'carol', displayName: 'Carol Jones', city: 'Oslo' }]);
  // A user without a profile is still found by exact name (its mail key is in the directory).
  assert.deepEqual(await names('dave'), ['dave']);

  // A rename: the old word's slot still holds the old profile, but the searcher checks the current one.
  assert.ok((await setProfile(w, alice, { displayName: 'Alice Brown' })).ok);
  assert.deepEqual(await names('smith'), ['bob']);
  assert.deepEqual(await names('brown'), ['alice']);

  // Bad profiles and queries get clear errors.
  const bad = await setProfile(w, carol, { displayName: '  ' });
  assert.ok(!bad.ok && bad.error.code === 'bad-profile');
  const empty = await search(w, carol, '!');
  assert.ok(!empty.ok && empty.error.code === 'empty-query');
});
