import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { USERS_BY_PUBLIC_ID } from '../../src/store/keys.ts';
import { UserDirectory } from '../../src/admission/user-directory.ts';
import type { Redis } from '../../src/store/redis.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { openTestRedis } from '../support/services.ts';

describe('user directory (real Redis)', () => {
  const config = testConfig(testEnv());
  let redis: Redis;
  const users = new Map(Array.from({ length: 3 }, (_, i) => [randomUUID(), 9_000_000 + i]));

  before(async () => {
    redis = await openTestRedis(config);
    await redis.hset(USERS_BY_PUBLIC_ID, Object.fromEntries([...users].map(([p, id]) => [p, String(id)])));
  });
  after(async () => {
    await redis.hdel(USERS_BY_PUBLIC_ID, ...users.keys());
    redis.disconnect();
  });

  function directory(client: Redis, asked: string[][], fallbacks: string[], maxKnown = Number.MAX_SAFE_INTEGER) {
    return new UserDirectory({
      maxKnown,
      redis: client,
      fromDatabase: async (publicIds) => {
        asked.push(publicIds);
        return new Map();
      },
      onFallback: (reason) => fallbacks.push(reason),
      logger: pino({ level: 'silent' }),
    });
  }

  it('answers preloaded users from memory, with Redis gone', async () => {
    const client = await openTestRedis(config);
    const asked: string[][] = [];
    const fallbacks: string[] = [];
    const dir = directory(client, asked, fallbacks);
    const read = await dir.preload(Number.MAX_SAFE_INTEGER);
    assert.ok(read >= users.size, `read ${read}`);
    client.disconnect();
    const found = await dir.resolve([...users.keys()]);
    assert.deepEqual(found, users);
    assert.deepEqual(fallbacks, []);
    assert.deepEqual(asked, []);
  });

  it('stops at its cap, and learns the others from Redis on first sight', async () => {
    const asked: string[][] = [];
    const fallbacks: string[] = [];
    const dir = directory(redis, asked, fallbacks);
    assert.equal(await dir.preload(1), 1);
    const found = await dir.resolve([...users.keys(), 'not-a-user']);
    assert.deepEqual(found, users);
    assert.deepEqual(asked, [['not-a-user']], 'only the unknown id reached the database');
  });

  it('keeps at most maxKnown users in memory: the least recently seen are forgotten and asked again', async () => {
    const many = new Map(Array.from({ length: 10 }, (_, i) => [randomUUID(), 9_100_000 + i]));
    await redis.hset(USERS_BY_PUBLIC_ID, Object.fromEntries([...many].map(([p, id]) => [p, String(id)])));
    const client = await openTestRedis(config);
    try {
      const asked: string[][] = [];
      const fallbacks: string[] = [];
      const dir = directory(client, asked, fallbacks, 4);
      const ids = [...many.keys()];
      for (const id of ids) assert.equal((await dir.resolve([id])).get(id), many.get(id));
      assert.ok(dir.size <= 4, `${dir.size} remembered`);
      // A user seen again moves to the newer half and stays.
      assert.equal((await dir.resolve([ids[8]!])).get(ids[8]!), many.get(ids[8]!));
      client.disconnect();
      assert.deepEqual(await dir.resolve([ids[8]!, ids[9]!]), new Map([ids[8]!, ids[9]!].map((id) => [id, many.get(id)!])));
      assert.deepEqual(fallbacks, [], 'the latest users came from memory');
      // The first ones were forgotten: with Redis gone, the database is asked for them.
      await dir.resolve([ids[0]!]);
      assert.deepEqual(fallbacks, ['redis_error']);
      assert.deepEqual(asked, [[ids[0]!]]);
    } finally {
      client.disconnect();
      await redis.hdel(USERS_BY_PUBLIC_ID, ...many.keys());
    }
  });

  it('preloads at most half of maxKnown, what one generation holds', async () => {
    const dir = directory(redis, [], [], 4);
    assert.equal(await dir.preload(100), 1);
    assert.equal(dir.size, 1);
  });
});
