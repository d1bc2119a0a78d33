import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Orm } from '../../src/store/database/orm.ts';
import { testConfig } from '../support/env.ts';
import { openTestOrm } from '../support/services.ts';

describe('MariaDB through MikroORM (real server)', () => {
  let orm: Orm;
  before(async () => {
    orm = await openTestOrm(testConfig());
  });
  after(() => orm.close());

  it('connects and has created the schema', async () => {
    assert.equal(await orm.isConnected(), true);
    const tables = (await orm.em
      .getConnection()
      .execute('select table_name as t from information_schema.tables where table_schema = database() order by table_name')) as {
      t: string;
    }[];
    const names = tables.map((r) => r.t);
    for (const t of ['coupons', 'user_coupons', 'users']) assert.ok(names.includes(t), `missing table ${t}: ${names.join(',')}`);
  });

  it('has nothing left to change in the schema', async () => {
    assert.equal((await orm.schema.getUpdateSchemaSQL({ safe: true })).trim(), '');
  });

  it('holds one issuance per (coupon, user) by a unique key', async () => {
    const indexes = (await orm.em
      .getConnection()
      .execute(
        "select index_name as i, group_concat(column_name order by seq_in_index) as cols from information_schema.statistics where table_schema = database() and table_name = 'user_coupons' and non_unique = 0 group by index_name",
      )) as { i: string; cols: string }[];
    assert.ok(
      indexes.some((x) => x.cols === 'coupon_id,user_id'),
      JSON.stringify(indexes),
    );
  });
});
