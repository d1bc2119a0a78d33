/**
 * `npm run migrate`: brings the database (DATABASE_URL) to the schema the code expects, applying
 * the migrations of src/store/database/migrations/ it has not recorded yet. Safe to re-run: with
 * nothing pending it changes nothing. `npm run up` runs it before anything else touches the
 * database; the processes themselves never alter tables.
 */
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { migrate, openOrm } from '../store/database/orm.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'migrate');
const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 1 });
try {
  const applied = await migrate(orm);
  logger.info({ applied }, applied.length > 0 ? `applied ${applied.length} migration(s)` : 'schema up to date; nothing to apply');
} catch (err) {
  logger.error({ err }, 'migration failed');
  process.exitCode = 1;
} finally {
  await orm.close();
}
