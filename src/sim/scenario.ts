// One simulated run: supernodes running a protocol core, users attached to them publishing
// presence, looking each other up and leaving offline mail, churn and faults, and the
// checkers. Everything random comes from the seed; the same options replay the same run,
// on any number of threads (part.ts holds the run itself, docs/decisions/0033).
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { ChurnModel } from './churn.ts';
import type { Protocol, ProtocolSpec } from './protocols.ts';
import { SimPart } from './part.ts';
import { Exchange, barrierWords, type Lane, newLane } from './exchange.ts';
import type { Metrics } from './metrics.ts';

export { faultDefaults } from './part.ts';

export interface ScenarioOptions {
  supernodes: number;
  users: number;
  minutes: number;
  seed: number;
  churn: ChurnModel;
  protocol: Protocol;
  /** Kill this fraction of supernodes at once, at `killAtMin`. */
  killFraction?: number;
  killAtMin?: number;
  /** Cut regions {NA, EU} from the rest from `partitionAtMin` for `partitionForS`. */
  partitionAtMin?: number;
  partitionForS?: number;
  /**
   * Clog this fraction of supernodes from `clogAtMin` for `clogForS`: they keep running, but
   * every datagram to or from them is held until the clog ends, then delivered (a stalled
   * uplink, a process paused by its host). Their neighbours think them dead, they think their
   * neighbours dead, and all of it must heal when the traffic flows again.
   */
  clogFraction?: number;
  clogAtMin?: number;
  clogForS?: number;
  lossRate?: number;
  lookupsPerUserHour?: number;
  mailsPerUserHour?: number;
  mail?: boolean;
  /** Threads to split the run over (default 1); the figures do not depend on it, only the speed. */
  threads?: number;
  onProgress?: (fraction: number, events: number) => void;
}

/** What a worker thread is given: the options as data, its part, and its ends of the channels. */
export interface WorkerStart {
  options: Omit<ScenarioOptions, 'protocol' | 'onProgress'> & { protocol: ProtocolSpec };
  w: number;
  threads: number;
  ports: (MessagePort | undefined)[];
  outLanes: (Lane | undefined)[];
  inLanes: (Lane | undefined)[];
  barrier: Int32Array;
}

/**
 * Threads for a run of `supernodes` when none are asked for. The figures do not depend on it,
 * only the speed: a large run takes the machine's cores; a small one stays on one, as its 25 ms
 * windows hold too few events to pay for meeting the other threads (300 supernodes ran at 0.14×).
 */
export const defaultThreads = (supernodes: number) => (supernodes >= 2000 ? Math.min(8, availableParallelism()) : 1);

export function runScenario(o: ScenarioOptions): Metrics {
  const threads = Math.max(1, Math.floor(o.threads ?? 1));
  if (threads === 1) return finished(new SimPart(o, 0, 1).run(), o.users);

  const barrier = new Int32Array(new SharedArrayBuffer(4 * barrierWords));
  const ports: (MessagePort | undefined)[][] = Array.from({ length: threads }, () => new Array(threads).fill(undefined));
  for (let i = 0; i < threads; i++) for (let j = i + 1; j < threads; j++) { const c = new MessageChannel(); ports[i][j] = c.port1; ports[j][i] = c.port2; }
  // lanes[i][j]: what thread i writes for thread j.
  const lanes: (Lane | undefined)[][] = Array.from({ length: threads }, (_, i) => Array.from({ length: threads }, (_, j) => (i === j ? undefined : newLane())));
  const inLanes = (w: number) => lanes.map((row) => row[w]);
  const { onProgress: _, protocol, ...rest } = o;
  // Run from source (decision 0002), a worker starts through bin/sim-worker.js, which loads the same TypeScript.
  const entry = new URL(import.meta.url.endsWith('.ts') ? '../../bin/sim-worker.js' : './sim-worker.js', import.meta.url);
  const heapMb = Math.ceil(getHeapStatistics().heap_size_limit / 2 ** 20);
  const workers: Worker[] = [];
  for (let w = 1; w < threads; w++) {
    const start: WorkerStart = { options: { ...rest, protocol: protocol.spec }, w, threads, ports: ports[w], outLanes: lanes[w], inLanes: inLanes(w), barrier };
    workers.push(new Worker(entry, {
      workerData: start, transferList: ports[w].filter((p): p is MessagePort => p !== undefined),
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    }));
  }
  const exchange = new Exchange(0, threads, ports[0], lanes[0], inLanes(0), barrier);
  try {
    const m = new SimPart(o, 0, threads, exchange).run();
    // Every worker posts its counts, then meets us once more.
    exchange.arrive();
    for (let w = 1; w < threads; w++) m.absorb(resultOf(exchange, w));
    return finished(m, o.users);
  } catch (e) {
    exchange.fail();
    for (let w = 1; w < threads; w++) {
      for (let msg = exchange.takeResult(w); msg !== undefined; msg = exchange.takeResult(w)) {
        if (msg && typeof msg === 'object' && 'error' in msg) throw new Error(`sim thread ${w} failed: ${(msg as { error: string }).error}`);
      }
    }
    throw e;
  } finally {
    for (const p of ports[0]) p?.close();
    for (const wk of workers) wk.unref();
  }
}

function resultOf(exchange: Exchange, w: number): ReturnType<Metrics['part']> {
  for (let msg = exchange.takeResult(w); msg !== undefined; msg = exchange.takeResult(w)) {
    if (msg && typeof msg === 'object' && 'part' in msg) return (msg as { part: ReturnType<Metrics['part']> }).part;
  }
  throw new Error(`sim thread ${w} sent no results`);
}

function finished(m: Metrics, users: number): Metrics { m.build(users); return m; }
