import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config.ts';

/**
 * The environment of a test run against the real local services, kept apart from development
 * data: database coupons_test, Redis database 1, and Kafka topics and consumer group of its own
 * (a suffix per call), so runs never read each other's messages. One API process per `npm start`
 * unless a test asks for more (API_PROCESSES), so what a test measures or kills is that process.
 */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return {
    ...env,
    NODE_ENV: 'test',
    // TEST_LOG_LEVEL=trace (with PROC_LOG_DIR, processes.ts) keeps what a failing fault test's
    // processes said, kafkajs's requests included.
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    DATABASE_URL: 'mysql://coupons:coupons@127.0.0.1:3306/coupons_test',
    REDIS_URL: 'redis://127.0.0.1:6379/1',
    KAFKA_TOPIC: `coupon.issue.requested.test-${suffix}`,
    KAFKA_CONSUMER_GROUP: `coupon-issuer-test-${suffix}`,
    ADMIN_TOKEN: 'test-admin-token-123',
    API_PROCESSES: '1',
    ...overrides,
  };
}

export function testConfig(env: Record<string, string> = testEnv()): Config {
  return loadConfig(env);
}
