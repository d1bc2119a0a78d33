import type { Logger } from 'pino';
import type { Redis } from '../store/redis.ts';
import { USERS_BY_PUBLIC_ID } from '../store/keys.ts';
import { UuidMap } from './uuid-map.ts';

export interface UserDirectoryOptions {
  redis: Redis;
  /** The database lookup, used for what Redis does not know and whenever Redis fails. */
  fromDatabase: (publicIds: string[]) => Promise<Map<string, number>>;
  /** Told when a Redis read failed and the database answered instead. */
  onFallback: (reason: 'redis_error' | 'redis_miss') => void;
  logger: Logger;
  /**
   * Most users remembered (the preloaded ones included). Past half of it, the older half is
   * dropped whole: an event with more users than this costs a Redis read for the forgotten ones
   * that come back, not memory without bound.
   */
  maxKnown?: number;
  unknownTtlMs?: number;
  now?: () => number;
}

/**
 * Public id -> user id, for admission, with no SQL on the hot path: users seen are remembered
 * (users are never deleted, so a remembered id is never wrong) in compact tables (uuid-map.ts),
 * up to `maxKnown` in two generations: once the newer one holds half, it becomes the older and
 * the older is dropped; a user found in the older is moved to the newer, so those who keep coming
 * stay. Redis answers the rest, and the database is asked only for what Redis does not know or
 * when Redis fails (the seed's cache error handler). Unknown ids are remembered briefly, so a
 * flood of bogus ids costs one query per id per TTL.
 *
 * `preload` reads the users Redis knows into memory ahead of time (up to a cap), so that the
 * spike, made mostly of users who registered before the event, costs no I/O for the user check:
 * on the sold-out path that lookup was the one round trip left per batch.
 */
export class UserDirectory {
  #recent = new UuidMap();
  #older = new UuidMap();
  readonly #generation: number;
  readonly #unknownUntil = new Map<string, number>();
  readonly #opts: UserDirectoryOptions;
  readonly #unknownTtlMs: number;
  readonly #now: () => number;

  constructor(opts: UserDirectoryOptions) {
    this.#opts = opts;
    this.#unknownTtlMs = opts.unknownTtlMs ?? 5_000;
    this.#generation = Math.max(1, Math.floor((opts.maxKnown ?? 400_000) / 2));
    this.#now = opts.now ?? Date.now;
  }

  /** Resolves many public ids at once; missing from the result means no such user. */
  async resolve(publicIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const ask: string[] = [];
    const now = this.#now();
    for (const publicId of new Set(publicIds)) {
      const id = this.#lookup(publicId);
      if (id !== undefined) out.set(publicId, id);
      else if ((this.#unknownUntil.get(publicId) ?? 0) <= now) ask.push(publicId);
    }
    if (ask.length === 0) return out;

    let missing = ask;
    try {
      const ids = await this.#opts.redis.hmget(USERS_BY_PUBLIC_ID, ...ask);
      missing = [];
      ask.forEach((publicId, i) => {
        const id = Number(ids[i] ?? Number.NaN);
        // Anything but a user id (a damaged entry) is asked of the database, the source of truth.
        if (Number.isSafeInteger(id) && id > 0) this.#learn(publicId, id, out);
        else missing.push(publicId);
      });
      if (missing.length > 0) this.#opts.onFallback('redis_miss');
    } catch (err) {
      this.#opts.onFallback('redis_error');
      this.#opts.logger.warn({ err, users: ask.length }, 'user directory: Redis read failed, asking the database');
    }
    if (missing.length === 0) return out;

    const found = await this.#opts.fromDatabase(missing);
    const until = this.#now() + this.#unknownTtlMs;
    for (const publicId of missing) {
      const id = found.get(publicId);
      if (id === undefined) this.#unknownUntil.set(publicId, until);
      else this.#learn(publicId, id, out);
    }
    if (this.#unknownUntil.size > 100_000) this.#pruneUnknown();
    return out;
  }

  /** Users remembered now (one moved to the newer generation counts twice until the older is dropped). */
  get size(): number {
    return this.#recent.size + this.#older.size;
  }

  /**
   * Remembers up to `max` of the users in Redis (and at most half of `maxKnown`, what one
   * generation holds), scanning in pages so Redis is never blocked for long. A user created
   * meanwhile is simply learned on first sight. Returns how many it read.
   */
  async preload(requested: number): Promise<number> {
    const max = Math.min(requested, this.#generation - 1);
    let cursor = '0';
    let read = 0;
    do {
      const [next, page] = await this.#opts.redis.hscan(USERS_BY_PUBLIC_ID, cursor, 'COUNT', 5_000);
      cursor = next;
      for (let i = 0; i + 1 < page.length && read < max; i += 2) {
        const id = Number(page[i + 1]);
        if (Number.isSafeInteger(id) && id > 0) {
          this.#remember(page[i]!, id);
          read++;
        }
      }
    } while (cursor !== '0' && read < max);
    return read;
  }

  #lookup(publicId: string): number | undefined {
    const recent = this.#recent.get(publicId);
    if (recent !== undefined) return recent;
    const older = this.#older.get(publicId);
    if (older !== undefined) this.#remember(publicId, older);
    return older;
  }

  #remember(publicId: string, id: number): void {
    this.#recent.set(publicId, id);
    if (this.#recent.size >= this.#generation) {
      this.#older = this.#recent;
      this.#recent = new UuidMap();
    }
  }

  #learn(publicId: string, id: number, out: Map<string, number>): void {
    this.#remember(publicId, id);
    this.#unknownUntil.delete(publicId);
    out.set(publicId, id);
  }

  #pruneUnknown(): void {
    const now = this.#now();
    for (const [publicId, until] of this.#unknownUntil) if (until <= now) this.#unknownUntil.delete(publicId);
  }
}
