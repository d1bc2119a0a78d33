import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261203000000_initial } from './Migration20261203000000_initial.ts';
import { Migration20261204000000_drop_coupon_id_index } from './Migration20261204000000_drop_coupon_id_index.ts';

/**
 * Every migration, oldest first. Listed rather than found by a glob, so the same list runs from
 * the sources, the Docker image and the tests. A new one: change the entities, see the SQL that
 * would bring a migrated database to them (`orm.schema.getUpdateSchemaSQL()`, which the database
 * test also asserts is empty), write it as the next class here, and add it below.
 */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261203000000_initial', class: Migration20261203000000_initial },
  { name: 'Migration20261204000000_drop_coupon_id_index', class: Migration20261204000000_drop_coupon_id_index },
];
