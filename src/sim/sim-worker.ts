// A worker thread of a parallel simulated run (scenario.ts): runs its part, posts its counts to
// thread 0, and meets the others at the last barrier. A failure is posted too, and every other
// thread's barrier wait then throws instead of waiting for this one.
import { workerData } from 'node:worker_threads';
import { SimPart } from './part.ts';
import { Exchange } from './exchange.ts';
import { protocolOf } from './protocols.ts';
import type { WorkerStart } from './scenario.ts';

const start = workerData as WorkerStart;
const exchange = new Exchange(start.w, start.threads, start.ports, start.outLanes, start.inLanes, start.barrier);
try {
  const metrics = new SimPart({ ...start.options, protocol: protocolOf(start.options.protocol) }, start.w, start.threads, exchange).run();
  exchange.postResult({ part: metrics.part() });
  exchange.arrive();
} catch (e) {
  exchange.postResult({ error: e instanceof Error ? e.stack ?? e.message : String(e) });
  exchange.fail();
} finally {
  for (const p of start.ports) p?.close();
}
