import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { PARTITIONER } from '../../src/store/kafka.ts';
import { eventually, isRunning } from './processes.ts';

const exec = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * A private three-broker Kafka cluster for the tests, started by the project's own
 * infra/kafka-cluster.sh on other ports and in another data folder than `STACK=cluster`'s, so that
 * killing its brokers never disturbs a developer's. Formed afresh by each test file.
 */
export class KafkaClusterStack {
  readonly dataDir = `${ROOT}.data/kafka-cluster-tests`;
  readonly ports = [9392, 9394, 9396];

  get #env(): NodeJS.ProcessEnv {
    return { ...process.env, FCFS_DATA_DIR: this.dataDir, KAFKA_CLUSTER_PORTS: this.ports.join(' ') };
  }

  /** What the app needs to use this cluster, with the topics replicated as on the cluster stack. */
  get appEnv(): Record<string, string> {
    return {
      KAFKA_BROKERS: this.ports.map((p) => `127.0.0.1:${p}`).join(','),
      KAFKA_REPLICATION_FACTOR: '3',
      KAFKA_MIN_INSYNC_REPLICAS: '2',
    };
  }

  async #script(...args: string[]): Promise<void> {
    try {
      await exec('bash', [`${ROOT}infra/kafka-cluster.sh`, ...args], { env: this.#env, timeout: 180_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`kafka-cluster ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
  }

  /** A new cluster: whatever an earlier run left is stopped and forgotten. */
  async startFresh(): Promise<void> {
    await this.stop();
    rmSync(`${this.dataDir}/kafka-cluster`, { recursive: true, force: true });
    await this.#script('start');
  }

  /** Starts the brokers that are not running (a killed one rejoins). */
  start(): Promise<void> {
    return this.#script('start');
  }

  async stop(): Promise<void> {
    await this.#script('stop').catch(() => undefined);
  }

  /** SIGKILL one broker, as a crash would, and wait until it is gone. */
  async kill(port: number): Promise<void> {
    const pid = Number(readFileSync(`${this.dataDir}/run/kafka-${port}.pid`, 'utf8'));
    await this.#script('kill', String(port));
    await eventually(`broker ${port} (pid ${pid}) to be gone`, async () => !isRunning(pid), 10_000, 50);
  }

  /** The partition a key lands on, as the app's producer places it. */
  partitionOf(topic: string, partitions: number, key: string): number {
    const metadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [] }));
    return PARTITIONER()({ topic, partitionMetadata: metadata as never, message: { key, value: null } });
  }

  /**
   * The client port of the broker coordinating a consumer group now: the leader of the group's
   * partition of __consumer_offsets, which Kafka picks as the Java hash of the group id modulo the
   * topic's partitions (GroupMetadataManager.partitionFor).
   */
  async coordinatorOf(groupId: string): Promise<number> {
    const partitions = Number(
      /^offsets\.topic\.num\.partitions=(\d+)$/m.exec(readFileSync(`${ROOT}infra/kafka/cluster.properties`, 'utf8'))![1],
    );
    let hash = 0;
    for (let i = 0; i < groupId.length; i++) hash = (Math.imul(hash, 31) + groupId.charCodeAt(i)) | 0;
    return this.leaderOf('__consumer_offsets', (hash & 0x7fffffff) % partitions);
  }

  /** The client port of the broker leading a partition now (-1: none), as the cluster's metadata says. */
  async leaderOf(topic: string, partition: number): Promise<number> {
    const admin = new Kafka({
      clientId: 'test-leader',
      brokers: this.appEnv.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const leader = topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader ?? -1;
      return leader > 0 ? this.ports[leader - 1]! : -1;
    } finally {
      await admin.disconnect();
    }
  }
}
