import { MikroORM } from '@mikro-orm/mysql';
import { entities } from './entities.ts';

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
  });
}

/** Creates or updates the tables to match the entities (safe: never drops data). */
export async function updateSchema(orm: Orm): Promise<void> {
  await orm.schema.ensureDatabase();
  await orm.schema.update({ safe: true });
}
