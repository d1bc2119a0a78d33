import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/mysql';
import { entities } from './entities.ts';
import { migrations } from './migrations/index.ts';

export type Orm = MikroORM;

export interface OrmOptions {
  databaseUrl: string;
  poolMax?: number;
}

/** The database adapter: one MikroORM per process, entities defined in code, no discovery. */
export async function openOrm({ databaseUrl, poolMax = 10 }: OrmOptions): Promise<Orm> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities,
    pool: { min: 1, max: poolMax },
    // Every per-request query here is explicit; nothing may load lazily behind our back.
    allowGlobalContext: false,
    debug: false,
    extensions: [Migrator],
    migrations: {
      migrationsList: migrations,
      // No snapshot file: it would be written into the sources (or a read-only image) on every run.
      snapshot: false,
      silent: true,
    },
  });
}

/**
 * Brings the database to the latest schema: creates the database if absent, then applies the
 * migrations not yet recorded in its mikro_orm_migrations table. Returns the names applied. Only
 * `npm run migrate` (and the tests) call this; no process changes tables as it starts.
 */
export async function migrate(orm: Orm): Promise<string[]> {
  await orm.schema.ensureDatabase();
  return (await orm.migrator.up()).map((m) => m.name);
}

/** Resolves once the database answered a trivial query: the readiness check. */
export async function pingDatabase(orm: Orm): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}

/** The parts of mysql2's callback Pool that say how busy it is (not in its typings). */
interface PoolInternals {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  config?: { connectionLimit?: number };
}

/**
 * Connections checked out of the ORM's mysql2 pool and the pool's limit, for the pool metric
 * (src/metrics/db-pool.ts); undefined while the pool cannot be reached.
 */
export async function poolUsage(orm: Orm): Promise<{ used: number; max: number } | undefined> {
  let pool: PoolInternals;
  try {
    pool = (await orm.em.getConnection().getNativeClient()) as unknown as PoolInternals;
  } catch {
    return undefined;
  }
  const all = pool._allConnections?.length ?? 0;
  const free = pool._freeConnections?.length ?? 0;
  return { used: Math.max(0, all - free), max: pool.config?.connectionLimit ?? 0 };
}
