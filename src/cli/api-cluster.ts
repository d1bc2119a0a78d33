/**
 * The primary of `npm start` when API_PROCESSES > 1: forks that many API processes
 * (api-worker.ts), all on PORT through node:cluster, replaces any that dies while the others keep
 * serving, and merges their metrics into the one /metrics any of them answers. It serves nothing
 * itself; under cluster's default round-robin it accepts the connections and hands them out.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { ClusterMetrics, type ProcessSnapshot } from '../metrics/cluster-metrics.ts';
import { Supervisor } from './supervisor.ts';

/** What an API process sends the primary. */
export type WorkerMessage =
  /** /metrics was asked of it: the whole API's, please. */
  | { type: 'metrics'; id: number }
  /** Its answer to a snapshot request. */
  | { type: 'snapshot'; id: number; snapshot: ProcessSnapshot };

/** What the primary sends an API process. */
export type PrimaryMessage =
  /** The answer to its `metrics` request: Prometheus text, or why not. */
  | { type: 'metrics'; id: number; body?: string; error?: string }
  /** Send your registries (ApiMetrics.snapshot). */
  | { type: 'snapshot'; id: number };

/** A process slower than this to send its snapshot is merged as it was last seen. */
const SNAPSHOT_TIMEOUT_MS = 2_000;

export interface ApiCluster {
  /** The primary's registry and the merge, where the primary's own metrics (restarts) go. */
  metrics: ClusterMetrics;
  /** Every API process finishes its in-flight requests, flushes its producers and exits; none is replaced. */
  close(): Promise<void>;
}

/**
 * Starts the API processes and resolves once the first one listens. A process that exits before
 * any has listened is a start that failed (the port taken, a bad setting): nothing is restarted
 * and this rejects, as a single process's start would. After that, every exit is restarted with
 * backoff, each process slot on its own.
 */
export async function startApiCluster(config: Config, logger: Logger): Promise<ApiCluster> {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./api-worker.ts', import.meta.url)) });
  const metrics = new ClusterMetrics();
  const serving = new Set<Worker>();
  const snapshots = new Map<number, (snapshot: ProcessSnapshot) => void>();
  let nextId = 0;
  let listened = false;
  let started!: () => void;
  let failed!: (err: Error) => void;
  const firstListening = new Promise<void>((resolve, reject) => {
    started = resolve;
    failed = reject;
  });

  cluster.on('listening', (worker) => {
    serving.add(worker);
    listened = true;
    logger.info({ worker: worker.process.pid, serving: serving.size }, 'API process listening');
    started();
  });
  cluster.on('exit', (worker) => {
    serving.delete(worker);
    void metrics.retire(worker.id);
  });

  const send = (worker: Worker, message: PrimaryMessage) => {
    if (!worker.isConnected()) return;
    try {
      worker.send(message);
    } catch {
      // It is going away; its exit is handled on its own.
    }
  };

  const snapshotOf = (worker: Worker) =>
    new Promise<ProcessSnapshot | undefined>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        snapshots.delete(id);
        resolve(undefined);
      }, SNAPSHOT_TIMEOUT_MS);
      snapshots.set(id, (snapshot) => {
        clearTimeout(timer);
        snapshots.delete(id);
        resolve(snapshot);
      });
      send(worker, { type: 'snapshot', id });
    });

  const gather = async (): Promise<string> => {
    await Promise.all(
      [...serving].map(async (worker) => {
        const snapshot = await snapshotOf(worker);
        if (snapshot) metrics.update(worker.id, snapshot);
      }),
    );
    return metrics.render();
  };

  cluster.on('message', (worker, message: WorkerMessage) => {
    if (message.type === 'snapshot') snapshots.get(message.id)?.(message.snapshot);
    else if (message.type === 'metrics')
      gather().then(
        (body) => send(worker, { type: 'metrics', id: message.id, body }),
        (err: unknown) => send(worker, { type: 'metrics', id: message.id, error: String(err) }),
      );
  });

  const slots = Array.from(
    { length: config.apiProcesses },
    (_, slot) =>
      new Supervisor({
        name: `API process ${slot + 1} of ${config.apiProcesses}`,
        spawn: () => cluster.fork().process,
        backoff: { initialMs: 250, maxMs: 10_000, resetAfterMs: 30_000 },
        logger,
        shouldRestart: () => {
          if (!listened) failed(new Error('an API process exited before any listened; see its log above'));
          return listened;
        },
        onRestart: () => metrics.restarts.inc({ role: 'api' }),
      }),
  );
  for (const slot of slots) slot.start();
  const close = async () => {
    await Promise.all(slots.map((slot) => slot.stop('SIGTERM')));
  };
  try {
    await firstListening;
  } catch (err) {
    await close();
    throw err;
  }
  return { metrics, close };
}
