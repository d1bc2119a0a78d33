import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createApi, type Api } from '../../src/api.ts';
import { couponKeys } from '../../src/admission/keys.ts';
import { createUsers } from '../../src/catalog/users.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { createTestTopics } from '../support/services.ts';

const ip = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}`;

async function start(overrides: Record<string, string>): Promise<Api> {
  const config = testConfig(testEnv({ SHARDS: '1', ...overrides }));
  await createTestTopics(config);
  const api = await createApi(config, pino({ level: 'warn' }));
  await api.app.ready();
  return api;
}

async function coupon(api: Api, totalQuantity: number): Promise<number> {
  const res = await api.app.inject({ method: 'POST', url: '/api/coupons', payload: { name: 'limits', totalQuantity }, headers: { authorization: 'Bearer test-admin-token-123' } });
  return res.json().id;
}

describe('rate limits on the issue route (Redis-backed)', () => {
  let api: Api;
  before(async () => {
    api = await start({ RATE_LIMIT_EXEMPT: '', RATE_LIMIT_PER_USER: '3', RATE_LIMIT_PER_IP: '20', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  after(() => api.close());

  it('answers 429 RATE_LIMITED with Retry-After past the per-user limit', async () => {
    const id = await coupon(api, 10);
    const [user] = await createUsers(api.orm, api.redis, ['eager']);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${user!.publicId}`, remoteAddress: ip() });
      statuses.push(res.statusCode);
      if (i === 3) {
        assert.equal(res.json().code, 'RATE_LIMITED');
        assert.ok(Number(res.headers['retry-after']) >= 1);
      }
    }
    assert.deepEqual(statuses, [202, 409, 409, 429]);
  });

  it('answers 429 past the per-IP limit, whoever the users are, and not for other addresses', async () => {
    const id = await coupon(api, 1_000);
    const users = await createUsers(api.orm, api.redis, Array.from({ length: 22 }, (_, i) => `u${i}`));
    const address = ip();
    const codes: number[] = [];
    for (const u of users.slice(0, 21)) {
      codes.push((await api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${u.publicId}`, remoteAddress: address })).statusCode);
    }
    assert.deepEqual(codes, [...Array(20).fill(202), 429]);
    const other = await api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${users[21]!.publicId}`, remoteAddress: ip() });
    assert.equal(other.statusCode, 202);
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /http_requests_rate_limited_total\{scope="ip"\} [1-9]/);
    assert.match(metrics.body, /http_requests_rate_limited_total\{scope="user"\} [1-9]/);
  });
});

describe('load shedding', () => {
  let api: Api;
  before(async () => {
    api = await start({ MAX_IN_FLIGHT: '4', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_IP: '0' });
  });
  after(() => api.close());

  it('sheds what is beyond the in-flight cap with 503 and Retry-After, and admits the rest', async () => {
    const id = await coupon(api, 1_000);
    const users = await createUsers(api.orm, api.redis, Array.from({ length: 200 }, (_, i) => `flood${i}`));
    const replies = await Promise.all(users.map((u) => api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${u.publicId}` })));
    const shed = replies.filter((r) => r.statusCode === 503);
    const accepted = replies.filter((r) => r.statusCode === 202);
    assert.equal(shed.length + accepted.length, users.length, 'only 202 or 503');
    assert.ok(shed.length > 0, 'a flood beyond the cap is shed');
    assert.ok(accepted.length >= 4, 'the cap still admits');
    for (const r of shed) {
      assert.equal(r.json().code, 'UNAVAILABLE');
      assert.equal(r.headers['retry-after'], '1');
    }
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /http_requests_shed_total\{reason="in_flight"\} [1-9]/);
  });
});

describe('shedding by time waited for the shard worker', () => {
  let api: Api;
  before(async () => {
    api = await start({ MAX_IN_FLIGHT: '0', MAX_QUEUE_WAIT_MS: '1', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_IP: '0' });
  });
  after(() => api.close());

  it('answers 503 to what waited too long once the queue stands, takes nothing for it, and admits the rest', async () => {
    // A burst long enough for the backlog to stand through whole intervals (src/shards/overload.ts).
    const id = await coupon(api, 20_000);
    const users = await createUsers(api.orm, api.redis, Array.from({ length: 20_000 }, (_, i) => `queued${i}`));
    const replies = await Promise.all(users.map((u) => api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${u.publicId}` })));
    const shed = replies.filter((r) => r.statusCode === 503);
    const accepted = replies.filter((r) => r.statusCode === 202);
    assert.equal(shed.length + accepted.length, users.length, 'only 202 or 503');
    assert.ok(shed.length > 0, 'a burst of seconds of work is partly shed');
    assert.ok(accepted.length > 0, 'the head of the queue is admitted');
    for (const r of shed) assert.equal(r.headers['retry-after'], '1');
    // A shed request took no stock: Redis holds exactly the admitted ones.
    assert.equal(await api.redis.scard(couponKeys(id).users), accepted.length);
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, new RegExp(`http_requests_shed_total\\{reason="queue_wait"\\} ${shed.length}\\b`));
  });
});
