import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createApi, type Api } from '../../src/http/api.ts';
import { couponKeys } from '../../src/store/keys.ts';
import { createUsers } from '../../src/catalog/users.ts';
import { testConfig, testEnv } from '../support/env.ts';
import { eventually } from '../support/processes.ts';
import { createTestTopics, migrateTestDatabase } from '../support/services.ts';

const ip = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(256)}`;

async function start(overrides: Record<string, string>): Promise<Api> {
  const config = testConfig(testEnv({ SHARDS: '1', ...overrides }));
  await createTestTopics(config);
  await migrateTestDatabase(config);
  const api = await createApi(config, pino({ level: 'warn' }));
  await api.app.ready();
  // Every shard's Kafka producer connected: a burst before that is answered UNAVAILABLE by the
  // shards, which would be counted here as if it had been shed.
  await eventually('the API to be ready', async () => (await api.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200);
  return api;
}

async function coupon(api: Api, totalQuantity: number): Promise<number> {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/coupons',
    payload: { name: 'limits', totalQuantity },
    headers: { authorization: 'Bearer test-admin-token-123' },
  });
  return res.json().id;
}

/**
 * A closed loop of `clients` that each send the next user's issue request as soon as they have an
 * answer, a refused user again (each user admitted once, for at most `forMs`): the process is never idle, so every window counts as
 * busy and its throughput is measured. Every answer must be a 202 or a 503. Returns the admission
 * limit and the throughput estimate as /metrics shows them afterwards.
 */
async function underClosedLoop(
  api: Api,
  couponId: number,
  users: { publicId: string }[],
  clients: number,
  forMs = Number.POSITIVE_INFINITY,
): Promise<{ limit: number; throughput: number }> {
  let next = 0;
  const until = performance.now() + forMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until && next < users.length) {
        const user = users[next++]!;
        for (;;) {
          const res = await api.app.inject({ method: 'POST', url: `/api/coupons/${couponId}/issue-fcfs/${user.publicId}` });
          assert.ok(res.statusCode === 202 || res.statusCode === 503, 'only 202 or 503');
          // A refused client presses again shortly (not at once: it would spin without yielding to
          // the requests inside, and not after its Retry-After: the loop would go idle).
          if (res.statusCode === 202 || performance.now() >= until) break;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
    }),
  );
  const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
  return {
    limit: Number(/^issue_in_flight_limit (\d+)$/m.exec(metrics.body)?.[1]),
    throughput: Number(/^issue_throughput_estimate (\S+)$/m.exec(metrics.body)?.[1]),
  };
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
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 22 }, (_, i) => `u${i}`),
    );
    const address = ip();
    const codes: number[] = [];
    for (const u of users.slice(0, 21)) {
      codes.push(
        (await api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${u.publicId}`, remoteAddress: address })).statusCode,
      );
    }
    assert.deepEqual(codes, [...Array(20).fill(202), 429]);
    const other = await api.app.inject({
      method: 'POST',
      url: `/api/coupons/${id}/issue-fcfs/${users[21]!.publicId}`,
      remoteAddress: ip(),
    });
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
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 200 }, (_, i) => `flood${i}`),
    );
    const replies = await Promise.all(
      users.map((u) => api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${u.publicId}` })),
    );
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

describe('load shedding before routing (a real listener)', () => {
  let api: Api;
  let base: string;
  before(async () => {
    api = await start({ MAX_IN_FLIGHT: '4', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_IP: '0' });
    base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => api.close());

  it('answers the excess with the same 503 as the route before Fastify sees it, takes nothing for it, and counts it', async () => {
    const id = await coupon(api, 1_000);
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 300 }, (_, i) => `early${i}`),
    );
    const replies = await Promise.all(
      users.map(async (u) => {
        const res = await fetch(`${base}/api/coupons/${id}/issue-fcfs/${u.publicId}`, { method: 'POST' });
        return {
          status: res.status,
          type: res.headers.get('content-type'),
          retryAfter: res.headers.get('retry-after'),
          body: (await res.json()) as { code?: string },
        };
      }),
    );
    const shed = replies.filter((r) => r.status === 503);
    const accepted = replies.filter((r) => r.status === 202);
    assert.equal(shed.length + accepted.length, users.length, 'only 202 or 503');
    assert.ok(shed.length > 0, 'a burst beyond the limit is shed');
    assert.ok(accepted.length >= 4, 'the limit still admits');
    for (const r of shed) {
      assert.deepEqual([r.body.code, r.retryAfter, r.type], ['UNAVAILABLE', '1', 'application/json; charset=utf-8']);
    }
    assert.equal(await api.redis.scard(couponKeys(id).users), accepted.length, 'a shed request took no stock');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^issue_in_flight_limit 4$/m);
    const shedCount = Number(/^http_requests_shed_total\{reason="in_flight"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(shedCount >= shed.length, `every 503 counted (${shedCount} counted, ${shed.length} answered)`);
    assert.match(
      metrics,
      /http_request_duration_seconds_count\{route="\/api\/coupons\/:couponId\/issue-fcfs\/:publicId",method="POST",status_code="503"\} [1-9]/,
    );
  });

  it('sheds only issue requests: status reads among a burst are all answered', async () => {
    const id = await coupon(api, 1_000);
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 300 }, (_, i) => `mixed${i}`),
    );
    const replies = await Promise.all(
      users.map(async (u, i) => {
        const res = await fetch(`${base}/api/coupons/${id}/issue-fcfs/${u.publicId}`, { method: i % 3 === 0 ? 'GET' : 'POST' });
        await res.arrayBuffer();
        return { get: i % 3 === 0, status: res.status };
      }),
    );
    assert.ok(
      replies.some((r) => !r.get && r.status === 503),
      'the burst filled the limit',
    );
    assert.deepEqual([...new Set(replies.filter((r) => r.get).map((r) => r.status))], [200]);
  });

  it('answers malformed issue requests with 400 even while the limit is full: "retry shortly" would be a lie', async () => {
    const id = await coupon(api, 1_000);
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 300 }, (_, i) => `malformed${i}`),
    );
    const paths = users.map((u, i) =>
      i % 3 === 0
        ? `/api/coupons/${id}/issue-fcfs/${u.publicId.slice(1)}`
        : i % 3 === 1
          ? `/api/coupons/x${id}/issue-fcfs/${u.publicId}`
          : `/api/coupons/${id}/issue-fcfs/${u.publicId}`,
    );
    const replies = await Promise.all(
      paths.map(async (path, i) => {
        const res = await fetch(`${base}${path}`, { method: 'POST' });
        return { valid: i % 3 === 2, status: res.status, code: ((await res.json()) as { code?: string }).code };
      }),
    );
    assert.ok(
      replies.some((r) => r.valid && r.status === 503),
      'the burst filled the limit',
    );
    assert.deepEqual([...new Set(replies.filter((r) => !r.valid).map((r) => `${r.status} ${r.code}`))], ['400 INVALID_REQUEST']);
  });
});

describe('the admission limit (Little: measured throughput × latency target)', () => {
  let api: Api;
  before(async () => {
    // A target no request can meet: every busy window says the limit should be far below the
    // ceiling, so it must come down (to its floor, which is below the ceiling here).
    api = await start({ MAX_IN_FLIGHT: '300', IN_FLIGHT_TARGET_MS: '1', RATE_LIMIT_PER_USER: '0', RATE_LIMIT_PER_IP: '0' });
  });
  after(() => api.close());

  it('shrinks towards its floor while admitted requests take longer than the target', async () => {
    const id = await coupon(api, 20_000);
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 6_000 }, (_, i) => `adaptive${i}`),
    );
    const before = await api.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(before.body, /^issue_in_flight_limit 300$/m);
    // More clients than the ceiling: the limit binds while it is measured.
    const { limit, throughput } = await underClosedLoop(api, id, users, 400, 2_000);
    assert.ok(throughput > 0, 'throughput was measured');
    assert.ok(limit >= 16 && limit < 300, `limit ${limit} should be between its floor (16) and its ceiling (300)`);
  });
});

describe('the admission limit and a late event loop', () => {
  let api: Api;
  before(async () => {
    // No ceiling to speak of, and a target that 100 clients' demand stays within: only the event
    // loop can bring the limit down from where it starts.
    api = await start({
      MAX_IN_FLIGHT: '1000000',
      IN_FLIGHT_TARGET_MS: '100',
      LOOP_DELAY_TARGET_MS: '5',
      RATE_LIMIT_PER_USER: '0',
      RATE_LIMIT_PER_IP: '0',
    });
  });
  after(() => api.close());

  it('brings its limit down while requests would wait unread behind long turns of the event loop', async () => {
    const id = await coupon(api, 20_000);
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 20_000 }, (_, i) => `late${i}`),
    );
    const before = await api.app.inject({ method: 'GET', url: '/metrics' });
    const initial = Number(/^issue_in_flight_limit (\d+)$/m.exec(before.body)?.[1]);
    // Turns of 40 ms every 50 ms, window after window: an arrival would wait 16 ms on average before
    // being read, and is charged twice that against the 100 ms target.
    const hog = setInterval(() => {
      const until = performance.now() + 40;
      while (performance.now() < until);
    }, 10);
    let limit: number;
    try {
      ({ limit } = await underClosedLoop(api, id, users, 100, 1_500));
    } finally {
      clearInterval(hog);
    }
    // Scaled down from the initial limit, or from the floor if what the hog left of the process
    // was measured (this loop cannot raise it past the initial one: that would take over 5,000
    // requests a second). Which of the two is the unit tests' business.
    assert.ok(initial > 0, 'the initial limit is shown');
    assert.ok(limit < initial * 0.9, `limit ${limit} should be scaled below the initial ${initial}`);
  });
});

describe('the queue deadline (MAX_QUEUE_WAIT_MS)', () => {
  let api: Api;
  before(async () => {
    // Without the admission limit and the event-loop backstop: only the deadline may refuse here.
    api = await start({
      MAX_IN_FLIGHT: '0',
      MAX_QUEUE_WAIT_MS: '1000',
      MAX_EVENT_LOOP_DELAY_MS: '0',
      RATE_LIMIT_PER_USER: '0',
      RATE_LIMIT_PER_IP: '0',
    });
  });
  after(() => api.close());

  it('answers 503 to what waited past it, takes nothing for it, and admits what it reached in time', async () => {
    const id = await coupon(api, 40_000);
    const users = await createUsers(
      api.orm,
      api.redis,
      Array.from({ length: 30_100 }, (_, i) => `queued${i}`),
    );
    const send = (batch: { publicId: string }[]) =>
      Promise.all(batch.map((u) => api.app.inject({ method: 'POST', url: `/api/coupons/${id}/issue-fcfs/${u.publicId}` })));
    // A few first, served at once; then seconds of work for one shard worker at once.
    const replies = [...(await send(users.slice(0, 100))), ...(await send(users.slice(100)))];
    const shed = replies.filter((r) => r.statusCode === 503);
    const accepted = replies.filter((r) => r.statusCode === 202);
    assert.equal(shed.length + accepted.length, users.length, 'only 202 or 503');
    assert.ok(shed.length > 0, 'a burst of seconds of work is partly answered 503');
    assert.ok(accepted.length >= 100, 'what reached its worker in time is admitted');
    for (const r of shed) assert.equal(r.headers['retry-after'], '1');
    // A refused request took no stock: Redis holds exactly the admitted ones.
    assert.equal(await api.redis.scard(couponKeys(id).users), accepted.length);
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, new RegExp(`http_requests_shed_total\\{reason="queue_wait"\\} ${shed.length}\\b`));
    assert.match(metrics.body, /^issue_queue_wait_seconds_count [1-9]/m);
  });
});
