import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdmissionScripts } from '../../src/store/scripts.ts';
import { createCoupon } from '../../src/catalog/coupons.ts';
import { createUsers } from '../../src/catalog/users.ts';
import type { Orm } from '../../src/store/database/orm.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { Client } from '../support/http.ts';
import { eventually, startApi, type Proc } from '../support/processes.ts';
import { createTestTopics, openTestOrm, openTestRedis } from '../support/services.ts';

/**
 * "Sold out" is answered from memory; adding stock through one API process must make every other
 * process admit again. The memory TTL is set to ten minutes here, so only the change notification
 * can explain the second process admitting.
 */
describe('adding stock reaches every API process', () => {
  const env = testEnv({ SHARDS: '2', START_CONSUMER: 'false', SOLD_OUT_TTL_MS: '600000' });
  let orm: Orm;
  let redis: Redis;
  let apis: Proc[] = [];

  before(async () => {
    const config = testConfig(env);
    await createTestTopics(config);
    orm = await openTestOrm(config);
    redis = await openTestRedis(config);
    apis = [await startApi({ ...env, PORT: '18091' }), await startApi({ ...env, PORT: '18092' })];
  });
  after(async () => {
    await Promise.all(apis.map((a) => a.stop()));
    redis.disconnect();
    await orm.close();
  });

  it('drops the sold-out knowledge on the process that did not serve the change', async () => {
    const coupon = await createCoupon({ orm, redis, scripts: new AdmissionScripts(redis) }, { name: 'restock', totalQuantity: 1 });
    const users = await createUsers(orm, redis, ['a', 'b', 'c']);
    const [a, b] = [new Client('http://127.0.0.1:18091'), new Client('http://127.0.0.1:18092')];
    const issue = (client: Client, i: number) => client.request('POST', `/api/coupons/${coupon.id}/issue-fcfs/${users[i]!.publicId}`);
    try {
      assert.equal((await issue(a, 0)).status, 202);
      assert.equal((await issue(a, 1)).body.code, 'SOLD_OUT');
      assert.equal((await issue(b, 1)).body.code, 'SOLD_OUT');
      // Both processes now answer SOLD_OUT from memory, with no Redis call.
      const added = await a.request(
        'POST',
        `/api/coupons/${coupon.id}/stock`,
        { add: 1 },
        { authorization: 'Bearer test-admin-token-123' },
      );
      assert.equal(added.status, 200);
      const reply = await eventually(
        'process B to admit again',
        async () => {
          const r = await issue(b, 1);
          return r.status === 202 ? r : undefined;
        },
        5_000,
        50,
      );
      assert.equal(reply.body.status, 'ACCEPTED');
      assert.equal((await issue(b, 2)).body.code, 'SOLD_OUT');
    } finally {
      a.close();
      b.close();
    }
  });
});
