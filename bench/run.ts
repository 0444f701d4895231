// `npm run bench -- NAME`: runs one benchmark (wire, compress, sim).
const name = process.argv[2];
const benches: Record<string, () => Promise<unknown>> = {
  wire: () => import('./wire.ts'),
  compress: () => import('./compress.ts'),
  sim: () => import('./sim.ts'),
};
if (!name || !benches[name]) {
  process.stderr.write(`bench: name one of ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
await benches[name]();
