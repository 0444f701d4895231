// `npm run bench -- NAME`: runs one benchmark (wire, compress, login, crypto, media, relay, sim, search, overlay-state).
const name = process.argv[2];
const benches: Record<string, () => Promise<unknown>> = {
  wire: () => import('./wire.ts'),
  compress: () => import('./compress.ts'),
  login: () => import('./login.ts'),
  crypto: () => import('./crypto.ts'),
  media: () => import('./media.ts'),
  relay: () => import('./relay.ts'),
  sim: () => import('./sim.ts'),
  search: () => import('./search.ts'),
  'overlay-state': () => import('./overlay-state.ts'),
};
if (!name || !benches[name]) {
  process.stderr.write(`bench: name one of ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
await benches[name]();
