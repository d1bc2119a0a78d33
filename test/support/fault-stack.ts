import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { isRunning } from './processes.ts';

const exec = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

export type Service = 'redis' | 'mariadb' | 'kafka';

/**
 * A private copy of Redis, MariaDB and Kafka for the fault tests, started by the project's own
 * infra scripts with another data folder and other ports, so that killing them never disturbs the
 * shared services the other tests use.
 */
export class FaultStack {
  readonly dataDir = `${ROOT}.data/faults`;
  readonly ports = { redis: 6390, mysql: 3316, kafka: 9192, controller: 9194 };

  get #scriptEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      FCFS_DATA_DIR: this.dataDir,
      REDIS_PORT: String(this.ports.redis),
      MYSQL_PORT: String(this.ports.mysql),
      KAFKA_PORT: String(this.ports.kafka),
      KAFKA_CONTROLLER_PORT: String(this.ports.controller),
    };
  }

  /** What the app needs to talk to this stack instead of the shared one. */
  get appEnv(): Record<string, string> {
    return {
      REDIS_URL: `redis://127.0.0.1:${this.ports.redis}`,
      DATABASE_URL: `mysql://coupons:coupons@127.0.0.1:${this.ports.mysql}/coupons_test`,
      KAFKA_BROKERS: `127.0.0.1:${this.ports.kafka}`,
    };
  }

  async #script(service: Service, action: 'start' | 'stop'): Promise<void> {
    try {
      await exec('bash', [`${ROOT}infra/${service}.sh`, action], { env: this.#scriptEnv, timeout: 180_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${service} ${action} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
    }
  }

  async startAll(): Promise<void> {
    for (const s of ['redis', 'mariadb', 'kafka'] as const) await this.#script(s, 'start');
  }

  async stopAll(): Promise<void> {
    for (const s of ['kafka', 'mariadb', 'redis'] as const) await this.#script(s, 'stop').catch(() => undefined);
  }

  start(service: Service): Promise<void> {
    return this.#script(service, 'start');
  }

  /** A clean stop (SIGTERM, waits for the process to exit). */
  stop(service: Service): Promise<void> {
    return this.#script(service, 'stop');
  }

  /** SIGKILL, as a crash or the OOM killer would. */
  async kill(service: Service): Promise<void> {
    const pid = Number(readFileSync(`${this.dataDir}/run/${service}.pid`, 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
}
