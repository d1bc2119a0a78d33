import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, DEFAULT_ADMIN_TOKEN, loadConfig } from '../src/config.ts';

describe('config', () => {
  it('has working defaults for the local stack', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
    assert.equal(c.kafka.topic, 'coupon.issue.requested');
    assert.equal(c.kafka.deadLetterTopic, 'coupon.issue.requested.dlq');
    assert.equal(c.kafka.partitions, 10);
    assert.equal(c.adminToken, DEFAULT_ADMIN_TOKEN);
    assert.equal(c.adminTokenIsDefault, true);
    assert.ok(c.shards >= 1);
    assert.deepEqual(c.redisClusterNodes, [], 'a single Redis unless cluster nodes are named');
  });

  it('reads Redis Cluster seed nodes as host:port, and refuses anything else', () => {
    assert.deepEqual(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7001, redis-1.internal:6379' }).redisClusterNodes, [
      '127.0.0.1:7001',
      'redis-1.internal:6379',
    ]);
    assert.throws(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1' }), /REDIS_CLUSTER_NODES/);
    assert.throws(() => loadConfig({ KAFKA_BROKERS: ' , ' }), /KAFKA_BROKERS/);
  });

  it('names the variable when a value is bad', () => {
    assert.throws(
      () => loadConfig({ PORT: 'eighty' }),
      (e: Error) => e instanceof ConfigError && e.message.includes('PORT'),
    );
    assert.throws(() => loadConfig({ SHARDS: '0' }), /SHARDS/);
    assert.throws(() => loadConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/);
    assert.throws(() => loadConfig({ KAFKA_BROKERS: 'nohost' }), /KAFKA_BROKERS/);
    assert.throws(() => loadConfig({ START_CONSUMER: 'maybe' }), /START_CONSUMER/);
    assert.throws(() => loadConfig({ NODE_ENV: 'staging' }), /NODE_ENV/);
  });

  it('refuses to run in production without a real admin token', () => {
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }), /ADMIN_TOKEN/);
    assert.throws(() => loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: DEFAULT_ADMIN_TOKEN }), /ADMIN_TOKEN/);
    const c = loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a-long-enough-secret' });
    assert.equal(c.adminTokenIsDefault, false);
  });

  it('.env.example lists every variable the config module reads', () => {
    const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');
    const read = new Set([...source.matchAll(/\(env, '([A-Z][A-Z0-9_]+)'|env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]!));
    const listed = new Set(
      [...readFileSync(new URL('../.env.example', import.meta.url), 'utf8').matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!),
    );
    assert.ok(read.size >= 20, `found only ${read.size} variables in src/config.ts`);
    assert.deepEqual(
      [...read].filter((v) => !listed.has(v)),
      [],
    );
  });
});
