import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createApi, type Api } from '../../src/http/api.ts';
import { USERS_BY_PUBLIC_ID } from '../../src/store/keys.ts';
import { MAX_TOTAL_QUANTITY } from '../../src/catalog/coupons.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { eventually } from '../support/processes.ts';
import { createTestTopics, migrateTestDatabase } from '../support/services.ts';

const ADMIN = { authorization: 'Bearer test-admin-token-123' };

/** Every route and error code of the contract, against the real services (app built in-process). */
describe('HTTP API contract', () => {
  const config = testConfig(testEnv({ SHARDS: '2' }));
  let api: Api;

  before(async () => {
    await createTestTopics(config);
    await migrateTestDatabase(config);
    api = await createApi(config, pino({ level: 'warn' }));
    await api.app.ready();
    // As a load balancer would: traffic only once the API says it is ready. Right after start the
    // event-loop backstop may still be judging the start-up's long turns (503 to everything).
    await eventually('the API to be ready', async () => (await api.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200);
  });
  after(() => api.close());

  const inject = (method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({ method, url, payload: payload as string | object | undefined, headers });

  async function newUser(): Promise<string> {
    const res = await inject('POST', '/api/users', { name: 'Kim' });
    assert.equal(res.statusCode, 201);
    const body = res.json();
    assert.equal(typeof body.id, 'number');
    assert.match(body.publicId, /^[0-9a-f-]{36}$/);
    return body.publicId;
  }

  async function newCoupon(body: Record<string, unknown> = {}): Promise<number> {
    const res = await inject('POST', '/api/coupons', { name: 'Spring sale', totalQuantity: 2, ...body }, ADMIN);
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id;
  }

  const issue = (couponId: number | string, publicId: string) => inject('POST', `/api/coupons/${couponId}/issue-fcfs/${publicId}`);
  const expectError = (res: { statusCode: number; json: () => any }, status: number, code: string) => {
    assert.equal(res.statusCode, status);
    assert.equal(res.json().code, code);
    assert.equal(typeof res.json().message, 'string');
  };

  it('creates users and rejects bad names', async () => {
    await newUser();
    expectError(await inject('POST', '/api/users', {}), 400, 'INVALID_REQUEST');
    expectError(await inject('POST', '/api/users', { name: '' }), 400, 'INVALID_REQUEST');
    expectError(await inject('POST', '/api/users', { name: 'x'.repeat(101) }), 400, 'INVALID_REQUEST');
    expectError(await inject('POST', '/api/users', { name: 42 }), 400, 'INVALID_REQUEST');
  });

  it('guards admin routes with the bearer token', async () => {
    expectError(await inject('POST', '/api/coupons', { name: 'x', totalQuantity: 1 }), 401, 'UNAUTHORIZED');
    expectError(await inject('POST', '/api/coupons', { name: 'x', totalQuantity: 1 }, { authorization: 'Bearer wrong' }), 403, 'FORBIDDEN');
    expectError(await inject('POST', '/api/coupons', { name: 'x', totalQuantity: 1 }, { authorization: 'Basic abc' }), 403, 'FORBIDDEN');
    expectError(await inject('GET', '/api/coupons/1/reconciliation'), 401, 'UNAUTHORIZED');
    expectError(await inject('POST', '/api/coupons/1/stock', { add: 1 }), 401, 'UNAUTHORIZED');
  });

  it('creates and shows coupons, and rejects absurd ones', async () => {
    const id = await newCoupon({ totalQuantity: 5 });
    const res = await inject('GET', `/api/coupons/${id}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { id, name: 'Spring sale', totalQuantity: 5, remaining: 5, issuedCount: 0, startsAt: null, endsAt: null });
    expectError(await inject('GET', '/api/coupons/999999999'), 404, 'COUPON_NOT_FOUND');
    expectError(await inject('GET', '/api/coupons/abc'), 400, 'INVALID_REQUEST');
    for (const bad of [
      { name: 'x', totalQuantity: 0 },
      { name: 'x', totalQuantity: -5 },
      { name: 'x', totalQuantity: 1e12 },
      { name: 'x', totalQuantity: 1.5 },
      { name: 'x', totalQuantity: 1, startsAt: 'tomorrow' },
      { name: 'x', totalQuantity: 1, startsAt: '9999-01-01T00:00:00Z' },
      { name: 'x', totalQuantity: 1, startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-01T00:00:00Z' },
    ]) {
      expectError(await inject('POST', '/api/coupons', bad, ADMIN), 400, 'INVALID_REQUEST');
    }
  });

  it('issues first come first served: 202, then ALREADY_ISSUED, then SOLD_OUT', async () => {
    const id = await newCoupon({ totalQuantity: 2 });
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const first = await issue(id, a);
    assert.equal(first.statusCode, 202);
    assert.equal(first.json().status, 'ACCEPTED');
    assert.match(first.json().requestId, /^[0-9a-f-]{36}$/);
    expectError(await issue(id, a), 409, 'ALREADY_ISSUED');
    assert.equal((await issue(id, b)).statusCode, 202);
    expectError(await issue(id, c), 409, 'SOLD_OUT');
    // Upper-case ids are the same user.
    expectError(await issue(id, a.toUpperCase()), 409, 'ALREADY_ISSUED');
  });

  it('refuses unknown and malformed ids with the contract codes', async () => {
    const id = await newCoupon();
    const user = await newUser();
    expectError(await issue(id, randomUUID()), 404, 'USER_NOT_FOUND');
    expectError(await issue(999_999_999, user), 404, 'COUPON_NOT_FOUND');
    for (const [coupon, publicId] of [
      [id, 'not-a-uuid'],
      ['abc', user],
      [0, user],
      [-1, user],
      ['1.5', user],
      [id, `${user}0`],
      ['99999999999', user],
    ] as const) {
      expectError(await issue(coupon, publicId), 400, 'INVALID_REQUEST');
    }
  });

  it('answers NOT_OPEN outside the issue window', async () => {
    const later = await newCoupon({ startsAt: new Date(Date.now() + 3_600_000).toISOString() });
    const over = await newCoupon({
      startsAt: new Date(Date.now() - 7_200_000).toISOString(),
      endsAt: new Date(Date.now() - 3_600_000).toISOString(),
    });
    const user = await newUser();
    expectError(await issue(later, user), 409, 'NOT_OPEN');
    expectError(await issue(over, user), 409, 'NOT_OPEN');
  });

  it('adds stock, and a sold-out coupon admits again at once', async () => {
    const id = await newCoupon({ totalQuantity: 1 });
    const [a, b] = [await newUser(), await newUser()];
    assert.equal((await issue(id, a)).statusCode, 202);
    expectError(await issue(id, b), 409, 'SOLD_OUT');
    const res = await inject('POST', `/api/coupons/${id}/stock`, { add: 2 }, ADMIN);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().totalQuantity, 3);
    assert.equal(res.json().remaining, 2);
    assert.equal((await issue(id, b)).statusCode, 202);
    expectError(await inject('POST', `/api/coupons/${id}/stock`, { add: 0 }, ADMIN), 400, 'INVALID_REQUEST');
    expectError(await inject('POST', `/api/coupons/${id}/stock`, { add: -3 }, ADMIN), 400, 'INVALID_REQUEST');
    expectError(await inject('POST', '/api/coupons/999999999/stock', { add: 1 }, ADMIN), 404, 'COUPON_NOT_FOUND');
  });

  it('refuses stock past the most a coupon can hold with 400, and leaves the coupon as it was', async () => {
    const id = await newCoupon({ totalQuantity: 10 });
    // Restocks are bounded one by one, their sum is not: a coupon restocked for long enough.
    await api.orm.em.getConnection().execute('update coupons set total_quantity = ? where id = ?', [MAX_TOTAL_QUANTITY - 5, id]);
    expectError(await inject('POST', `/api/coupons/${id}/stock`, { add: 10_000_000 }, ADMIN), 400, 'INVALID_REQUEST');
    expectError(await inject('POST', `/api/coupons/${id}/stock`, { add: 6 }, ADMIN), 400, 'INVALID_REQUEST');
    assert.equal((await inject('GET', `/api/coupons/${id}`)).json().totalQuantity, MAX_TOTAL_QUANTITY - 5);
    const res = await inject('POST', `/api/coupons/${id}/stock`, { add: 5 }, ADMIN);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().totalQuantity, MAX_TOTAL_QUANTITY);
  });

  it('reports status PENDING then ISSUED, lists the user coupons, and reconciles', async () => {
    const id = await newCoupon({ totalQuantity: 3 });
    const [a, b] = [await newUser(), await newUser()];
    assert.equal((await inject('GET', `/api/coupons/${id}/issue-fcfs/${a}`)).json().status, 'NOT_ISSUED');
    assert.equal((await issue(id, a)).statusCode, 202);
    // No consumer runs in this test: the admission stays PENDING until one does.
    assert.equal((await inject('GET', `/api/coupons/${id}/issue-fcfs/${a}`)).json().status, 'PENDING');
    let rec = (await inject('GET', `/api/coupons/${id}/reconciliation`, undefined, ADMIN)).json();
    assert.equal(rec.admitted, 1);
    assert.equal(rec.pending, 1);
    assert.equal(rec.consistent, false);

    // Persist it as the consumer would, then everything agrees.
    const user = (await api.orm.em.getConnection().execute('select id from users where public_id = ?', [a])) as { id: number }[];
    const event = JSON.parse(Object.values(await api.redis.hgetall(`{coupon:${id}}:pending`))[0]!);
    await api.redis.hdel(`{coupon:${id}}:pending`, event.eventId);
    await api.orm.em
      .getConnection()
      .execute('insert into user_coupons (coupon_id, user_id, event_id, issued_at) values (?, ?, ?, now())', [
        id,
        user[0]!.id,
        event.eventId,
      ]);
    await api.orm.em.getConnection().execute('update coupons set issued_count = issued_count + 1 where id = ?', [id]);
    assert.equal((await inject('GET', `/api/coupons/${id}/issue-fcfs/${a}`)).json().status, 'ISSUED');
    const list = await inject('GET', `/api/users/${a}/coupons`);
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().length, 1);
    assert.equal(list.json()[0].couponId, id);
    assert.deepEqual((await inject('GET', `/api/users/${b}/coupons`)).json(), []);
    rec = (await inject('GET', `/api/coupons/${id}/reconciliation`, undefined, ADMIN)).json();
    assert.deepEqual(
      {
        admitted: rec.admitted,
        remaining: rec.remaining,
        persisted: rec.persisted,
        duplicates: rec.duplicates,
        overIssued: rec.overIssued,
        consistent: rec.consistent,
      },
      { admitted: 1, remaining: 2, persisted: 1, duplicates: 0, overIssued: 0, consistent: true },
    );
    expectError(await inject('GET', `/api/users/${randomUUID()}/coupons`), 404, 'USER_NOT_FOUND');
    expectError(await inject('GET', `/api/coupons/${id}/issue-fcfs/${randomUUID()}`), 404, 'USER_NOT_FOUND');
    expectError(await inject('GET', '/api/coupons/999999999/reconciliation', undefined, ADMIN), 404, 'COUPON_NOT_FOUND');
  });

  it('keeps admitting known users when their Redis entry is missing, from the database', async () => {
    const id = await newCoupon();
    const user = await newUser();
    await api.redis.hdel(USERS_BY_PUBLIC_ID, user);
    assert.equal((await issue(id, user)).statusCode, 202);
    const metrics = await inject('GET', '/metrics');
    assert.match(metrics.body, /cache_fallbacks_total\{cache="users",reason="redis_miss"\} [1-9]/);
  });

  it('rejects bad bodies, content types and routes without a 5xx', async () => {
    expectError(
      await api.app.inject({ method: 'POST', url: '/api/users', payload: '{"name":', headers: { 'content-type': 'application/json' } }),
      400,
      'INVALID_REQUEST',
    );
    expectError(
      await api.app.inject({ method: 'POST', url: '/api/users', payload: 'name=x', headers: { 'content-type': 'text/plain' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expectError(
      await api.app.inject({
        method: 'POST',
        url: '/api/users',
        payload: JSON.stringify({ name: 'x'.repeat(20_000) }),
        headers: { 'content-type': 'application/json' },
      }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    expectError(await inject('GET', '/nope'), 404, 'NOT_FOUND');
    const long = await inject('POST', `/api/coupons/1/issue-fcfs/${'a'.repeat(5_000)}`);
    expectError(long, 400, 'INVALID_REQUEST');
    assert.ok(long.body.length < 200, 'the path is not echoed back');
    expectError(await inject('GET', '/api/coupons/%E0%A4%A'), 400, 'INVALID_REQUEST');
  });

  it('serves the OpenAPI document built from the validation schemas', async () => {
    const res = await inject('GET', '/docs/json');
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi.startsWith('3.'), true);
    const issuePath = doc.paths['/api/coupons/{couponId}/issue-fcfs/{publicId}'];
    assert.ok(issuePath?.post?.responses?.['202']);
    assert.ok(doc.paths['/api/coupons/{couponId}/reconciliation']?.get);
    const docs = await inject('GET', '/docs');
    assert.ok([200, 302].includes(docs.statusCode));
  });

  it('is ready when Redis, the database, Kafka and every shard worker answer', async () => {
    const res = await eventually(
      'readiness',
      async () => {
        const r = await inject('GET', '/health/ready');
        return r.statusCode === 200 ? r : undefined;
      },
      30_000,
    );
    assert.deepEqual(res.json().checks, { redis: true, database: true, kafka: true, shards: true });
    assert.equal((await inject('GET', '/health/live')).statusCode, 200);
  });
});
