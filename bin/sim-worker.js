// The entry of a simulator worker thread (src/sim/scenario.ts). Like tincan.js it runs the
// TypeScript sources through tsx: a worker does not inherit the loader of the thread that
// started it, and `--import tsx` in a worker's execArgv does not reach its entry on Node 20.
import { register } from 'tsx/esm/api';
register();
await import('../src/sim/sim-worker.ts');
