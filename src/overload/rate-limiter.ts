import type { AdmissionScripts } from '../store/scripts.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { rateLimited, type Refusal } from './refusal.ts';

/**
 * Per-user and per-IP limits on issue requests, counted in Redis so every API process shares them.
 * Fails open: if Redis cannot count, admission itself decides (and answers 503 if Redis is down).
 */
export class RateLimiter {
  readonly #limits: Config['limits'];
  readonly #exempt: Set<string>;
  readonly #scripts: AdmissionScripts;
  readonly #logger: Logger;
  readonly #onLimited: (scope: 'user' | 'ip' | 'error') => void;
  /** Whether any limit is on (then every request not exempt is counted in Redis). */
  readonly enabled: boolean;

  constructor(limits: Config['limits'], scripts: AdmissionScripts, logger: Logger, onLimited: (scope: 'user' | 'ip' | 'error') => void) {
    this.#limits = limits;
    this.#exempt = new Set(limits.exempt);
    this.#scripts = scripts;
    this.#logger = logger;
    this.#onLimited = onLimited;
    this.enabled = limits.perUser > 0 || limits.perIp > 0;
  }

  /** Whether requests from `ip` are counted at all. */
  counts(ip: string): boolean {
    return this.enabled && !this.#exempt.has(ip);
  }

  /** The refusal when `publicId` or `ip` is past its limit, after counting this request. */
  async check(ip: string, publicId: string): Promise<Refusal | undefined> {
    const { perUser, perIp, windowMs } = this.#limits;
    try {
      const [user, byIp] = await Promise.all([
        perUser > 0 ? this.#scripts.countInWindow(`rl:user:${publicId}`, windowMs) : undefined,
        perIp > 0 ? this.#scripts.countInWindow(`rl:ip:${ip}`, windowMs) : undefined,
      ]);
      const over =
        user && user.count > perUser
          ? { scope: 'user' as const, resetMs: user.resetMs }
          : byIp && byIp.count > perIp
            ? { scope: 'ip' as const, resetMs: byIp.resetMs }
            : undefined;
      if (!over) return undefined;
      this.#onLimited(over.scope);
      return rateLimited(Math.ceil(over.resetMs / 1000));
    } catch (err) {
      this.#onLimited('error');
      this.#logger.warn({ err }, 'rate limiter unavailable; letting the request through');
      return undefined;
    }
  }
}
