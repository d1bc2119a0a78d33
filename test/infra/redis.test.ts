import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig } from '../support/env.ts';
import { openTestRedis } from '../support/services.ts';

describe('Redis (real server)', () => {
  let redis: Redis;
  before(async () => {
    redis = await openTestRedis(testConfig());
  });
  after(() => redis.disconnect());

  it('round-trips a value', async () => {
    const key = `test:roundtrip:${Date.now()}`;
    await redis.set(key, 'hello', 'EX', 60);
    assert.equal(await redis.get(key), 'hello');
    assert.equal(await redis.del(key), 1);
  });

  it('runs with AOF fsynced before every reply, so no crash loses an admission', async () => {
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, fsync] = (await redis.config('GET', 'appendfsync')) as string[];
    assert.equal(appendonly, 'yes');
    assert.equal(fsync, 'always');
  });

  it('takes no RDB snapshots: each would fork Redis and write the whole dataset in the middle of an event', async () => {
    const [, save] = (await redis.config('GET', 'save')) as string[];
    assert.equal(save, '');
  });
});
