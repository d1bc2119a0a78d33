import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Redis } from '../../src/store/redis.ts';
import { eventually, isRunning } from './processes.ts';

const exec = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * A private Redis Cluster for the tests (3 masters with one or two replicas each), started by the project's own
 * infra/redis-cluster.sh on other ports and in another data folder than `STACK=cluster`'s, so that
 * killing its nodes never disturbs a developer's. Formed afresh by each test file.
 */
export class RedisClusterStack {
  readonly dataDir: string;
  readonly ports: number[];
  readonly replicasPerMaster: number;

  /** Three masters with `replicasPerMaster` replicas each, on ports from `firstPort` up. */
  constructor({ firstPort = 7101, replicasPerMaster = 1 }: { firstPort?: number; replicasPerMaster?: number } = {}) {
    this.replicasPerMaster = replicasPerMaster;
    this.ports = Array.from({ length: 3 * (1 + replicasPerMaster) }, (_, i) => firstPort + i);
    this.dataDir = `${ROOT}.data/cluster-tests-${firstPort}`;
  }

  get #env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      FCFS_DATA_DIR: this.dataDir,
      REDIS_CLUSTER_PORTS: this.ports.join(' '),
      REDIS_CLUSTER_REPLICAS: String(this.replicasPerMaster),
    };
  }

  /** What the app needs to talk to this cluster: two seed nodes, so either may be down at start. */
  get appEnv(): Record<string, string> {
    return { REDIS_CLUSTER_NODES: `127.0.0.1:${this.ports[0]},127.0.0.1:${this.ports[1]}` };
  }

  async #script(...args: string[]): Promise<string> {
    try {
      const { stdout } = await exec('bash', [`${ROOT}infra/redis-cluster.sh`, ...args], { env: this.#env, timeout: 120_000 });
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`redis-cluster ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
  }

  /** A new cluster: whatever an earlier run left is stopped and forgotten. */
  async startFresh(): Promise<void> {
    await this.stop();
    rmSync(`${this.dataDir}/redis-cluster`, { recursive: true, force: true });
    await this.#script('start');
  }

  /** Starts the nodes that are not running (a killed master comes back as a replica). */
  async start(): Promise<void> {
    await this.#script('start');
  }

  async stop(): Promise<void> {
    await this.#script('stop').catch(() => undefined);
  }

  /** SIGKILL one node, as a crash would, and wait until it is gone. */
  async kill(port: number): Promise<void> {
    const pid = Number(readFileSync(`${this.dataDir}/run/redis-${port}.pid`, 'utf8'));
    await this.#script('kill', String(port));
    await eventually(`redis ${port} (pid ${pid}) to be gone`, async () => !isRunning(pid), 10_000, 50);
  }

  /** The port of the master that serves a key's slot now, as the cluster itself says. */
  async masterOf(redis: Redis, key: string): Promise<number> {
    const slot = Number(await redis.cluster('KEYSLOT', key));
    const ranges = await redis.cluster('SLOTS');
    const range = ranges.find(([from, to]) => from <= slot && slot <= to);
    if (!range) throw new Error(`no node serves slot ${slot} of ${key}`);
    return range[2]![1];
  }

  /** The ports of the replicas of the master that serves a key's slot now. */
  async replicasOf(redis: Redis, key: string): Promise<number[]> {
    const slot = Number(await redis.cluster('KEYSLOT', key));
    const ranges = await redis.cluster('SLOTS');
    const replicas = (ranges.find(([from, to]) => from <= slot && slot <= to)?.slice(3) ?? []) as unknown as [string, number][];
    if (replicas.length === 0) throw new Error(`slot ${slot} of ${key} has no replica`);
    return replicas.map((r) => r[1]);
  }

  /** The masters' ports, as the cluster says now. */
  async masters(redis: Redis): Promise<number[]> {
    const ranges = await redis.cluster('SLOTS');
    return [...new Set(ranges.map((r) => r[2]![1]))].sort();
  }
}
