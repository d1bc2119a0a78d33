import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.ts';

/** How long to wait before a restart: from `initialMs`, doubling up to `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** A child that stayed up this long had a good run: the next restart waits `initialMs` again. */
  resetAfterMs: number;
}

/**
 * The wait before each restart. Doubling keeps a child that dies at once (a dependency gone, a bad
 * deploy) from taking the machine in a restart loop; the reset lets one that ran well come back
 * quickly after its next crash.
 */
export class RestartDelay {
  readonly #backoff: Backoff;
  #next: number;

  constructor(backoff: Backoff) {
    this.#backoff = backoff;
    this.#next = backoff.initialMs;
  }

  /** The wait before restarting a child that was up for `upMs`. */
  next(upMs: number): number {
    if (upMs >= this.#backoff.resetAfterMs) this.#next = this.#backoff.initialMs;
    const delay = this.#next;
    this.#next = Math.min(this.#backoff.maxMs, this.#next * 2);
    return delay;
  }
}

export interface SupervisorOptions {
  /** What the logs call the child. */
  name: string;
  spawn: () => ChildProcess;
  backoff: Backoff;
  logger: Logger;
  /**
   * Called when the child exits on its own, before the restart is scheduled: false leaves it down
   * (a start that failed). Unset: always restart.
   */
  shouldRestart?: (code: number | null, signal: NodeJS.Signals | null) => boolean;
  /** Told each time the child is started again after it died. */
  onRestart?: () => void;
}

/**
 * Keeps one child process running: started again with backoff whenever it exits on its own,
 * whatever the exit code (something killed it, or it gave up), and never once `stop` was called.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #delay: RestartDelay;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#delay = new RestartDelay(options.backoff);
  }

  /** The running child, if one is. */
  get child(): ChildProcess | undefined {
    return this.#child;
  }

  start(): void {
    const child = this.#options.spawn();
    const startedAt = performance.now();
    this.#child = child;
    // A child that could not be spawned at all emits only this; one that ran also exits.
    child.on('error', (err) => this.#options.logger.error({ err }, `${this.#options.name}: process error`));
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#child = undefined;
        resolve();
        if (this.#stopping) return;
        const upMs = performance.now() - startedAt;
        if (this.#options.shouldRestart && !this.#options.shouldRestart(code, signal)) return;
        const delayMs = this.#delay.next(upMs);
        this.#options.logger.error(
          { child: child.pid, code, signal, upMs: Math.round(upMs), restartInMs: delayMs },
          `${this.#options.name} exited; restarting it`,
        );
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          if (this.#stopping) return;
          this.start();
          this.#options.onRestart?.();
        }, delayMs);
      });
    });
  }

  /** No more restarts; sends `signal` to the child if one runs, and resolves when it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#child?.kill(signal);
    await this.#exited;
  }
}
