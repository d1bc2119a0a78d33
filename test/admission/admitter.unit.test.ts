/**
 * The admitter's logic with its collaborators as plain functions (no Redis, no Kafka): what memory
 * answers, how script codes become outcomes, and what happens when Kafka will not take an admission.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Admitter, type AdmitterDeps } from '../../src/admission/admitter.ts';
import { CouponKnowledge } from '../../src/admission/knowledge.ts';
import type { AdmissionOutcome } from '../../src/admission/outcome.ts';
import { decodeEvent, eventKey } from '../../src/store/issue-event.ts';
import { AdmitCode, type AdmitRequest, type AdmitResult } from '../../src/store/scripts.ts';

const ALICE = '0b6f2a4e-8f7c-4d7e-9a51-3c2d1e0f9a8b';
const BOB = '1c7a3b5f-9a8d-4e8f-8b62-4d3e2f1a0b9c';
const NOBODY = '2d8b4c6a-0b9e-4f9a-9c73-5e4f3a2b1c0d';
const USERS = new Map([
  [ALICE, 1],
  [BOB, 2],
]);

interface Calls {
  /** Each coupon's share of every script call. */
  admit: { couponId: number; requests: AdmitRequest[] }[];
  /** Script calls (one may carry several coupons). */
  scriptCalls: number;
  release: { couponId: number; eventId: string; userId: number }[];
  published: { key: string; value: string }[];
}

/** An admitter whose script answers `answer` per call, and whose other collaborators are recorded. */
function admitter(
  overrides: Partial<AdmitterDeps> & {
    answer?: (couponId: number, requests: AdmitRequest[]) => Omit<AdmitResult, 'replicated'> & { replicated?: boolean };
  } = {},
) {
  const calls: Calls = { admit: [], scriptCalls: 0, release: [], published: [] };
  const knowledge = overrides.knowledge ?? new CouponKnowledge();
  const answer = overrides.answer ?? ((_c, requests) => ({ remaining: 10, codes: requests.map(() => AdmitCode.ACCEPTED) }));
  const deps: AdmitterDeps = {
    scripts: {
      async admitMany(batches) {
        calls.scriptCalls++;
        return batches.map(({ couponId, requests }) => {
          calls.admit.push({ couponId, requests: [...requests] });
          return { replicated: true, ...answer(couponId, [...requests]) };
        });
      },
      async release(couponId, eventId, userId) {
        calls.release.push({ couponId, eventId, userId });
        return true;
      },
    },
    users: {
      async resolve(publicIds) {
        return new Map(publicIds.filter((p) => USERS.has(p)).map((p) => [p, USERS.get(p)!]));
      },
    },
    knowledge,
    async publish(key, value) {
      calls.published.push({ key, value });
    },
    canPublish: () => true,
    metrics: { batch: () => undefined, outcome: () => undefined, script: () => undefined, remaining: () => undefined },
    logger: pino({ level: 'silent' }),
    retryAfterSeconds: 3,
    ...overrides,
  };
  return { admitter: new Admitter(deps), calls, knowledge };
}

const UNAVAILABLE: AdmissionOutcome = { result: 'UNAVAILABLE', retryAfterSeconds: 3 };

describe('Admitter', () => {
  it('accepts once Kafka has the event the script stored, keyed by coupon, with its event id as the request id', async () => {
    const { admitter: a, calls } = admitter();
    const [outcome] = await a.admit([{ couponId: 7, publicId: ALICE }]);
    assert.equal(calls.admit.length, 1);
    const stored = calls.admit[0]!.requests[0]!;
    assert.equal(stored.userId, 1);
    assert.deepEqual(outcome, { result: 'ACCEPTED', requestId: stored.eventId });
    assert.deepEqual(calls.published, [{ key: '7', value: stored.eventJson }]);
    const event = decodeEvent(stored.eventJson);
    assert.deepEqual([event.couponId, event.userId, event.publicId, event.eventId], [7, 1, ALICE, stored.eventId]);
  });

  it('answers an unknown user without asking the script', async () => {
    const { admitter: a, calls } = admitter();
    assert.deepEqual(await a.admit([{ couponId: 7, publicId: NOBODY }]), [{ result: 'USER_NOT_FOUND' }]);
    assert.equal(calls.admit.length, 0);
  });

  it('sends one script call for every coupon of the batch and answers in the order asked', async () => {
    const { admitter: a, calls } = admitter({
      answer: (couponId, requests) => ({
        remaining: 5,
        codes: requests.map(() => (couponId === 8 ? AdmitCode.SOLD_OUT : AdmitCode.ACCEPTED)),
      }),
    });
    const out = await a.admit([
      { couponId: 7, publicId: ALICE },
      { couponId: 8, publicId: ALICE },
      { couponId: 7, publicId: BOB },
      { couponId: 8, publicId: NOBODY },
    ]);
    assert.deepEqual(
      out.map((o) => o.result),
      ['ACCEPTED', 'SOLD_OUT', 'ACCEPTED', 'USER_NOT_FOUND'],
    );
    assert.deepEqual(calls.admit.map((c) => [c.couponId, c.requests.map((r) => r.userId)]).sort(), [
      [7, [1, 2]],
      [8, [1]],
    ]);
    assert.equal(calls.scriptCalls, 1);
  });

  it('maps every refusal code of the script to its outcome', async () => {
    const codes = [AdmitCode.ALREADY_ISSUED, AdmitCode.SOLD_OUT, AdmitCode.NOT_OPEN, AdmitCode.NOT_FOUND];
    const results = [];
    for (const code of codes) {
      const { admitter: a } = admitter({ answer: () => ({ remaining: 5, codes: [code] }) });
      results.push((await a.admit([{ couponId: 7, publicId: ALICE }]))[0]!.result);
    }
    assert.deepEqual(results, ['ALREADY_ISSUED', 'SOLD_OUT', 'NOT_OPEN', 'COUPON_NOT_FOUND']);
  });

  it('answers a winner asking again, and everyone once sold out, from memory', async () => {
    const { admitter: a, calls } = admitter({
      answer: (_c, requests) => ({ remaining: 0, codes: requests.map(() => AdmitCode.ACCEPTED) }),
    });
    await a.admit([{ couponId: 7, publicId: ALICE }]);
    const out = await a.admit([
      { couponId: 7, publicId: ALICE },
      { couponId: 7, publicId: BOB },
    ]);
    assert.deepEqual(out, [{ result: 'ALREADY_ISSUED' }, { result: 'SOLD_OUT' }]);
    assert.equal(calls.admit.length, 1, 'the second batch cost no script call');
  });

  it('counts the outcomes once per run of the same coupon and result, adding up to every request', async () => {
    const counted: [number, string, number][] = [];
    const knowledge = new CouponKnowledge();
    knowledge.soldOut(7);
    const { admitter: a } = admitter({
      knowledge,
      metrics: {
        batch: () => undefined,
        outcome: (c, r, n) => counted.push([c, r, n!]),
        script: () => undefined,
        remaining: () => undefined,
      },
    });
    await a.admit([
      { couponId: 7, publicId: ALICE },
      { couponId: 7, publicId: BOB },
      { couponId: 7, publicId: ALICE },
      { couponId: 7, publicId: NOBODY },
      { couponId: 8, publicId: ALICE },
      { couponId: 7, publicId: BOB },
    ]);
    assert.deepEqual(counted, [
      [7, 'SOLD_OUT', 3],
      [7, 'USER_NOT_FOUND', 1],
      [8, 'ACCEPTED', 1],
      [7, 'SOLD_OUT', 1],
    ]);
  });

  it('admits nothing while Kafka is known to be failing', async () => {
    const { admitter: a, calls } = admitter({ canPublish: () => false });
    assert.deepEqual(await a.admit([{ couponId: 7, publicId: ALICE }]), [UNAVAILABLE]);
    assert.equal(calls.admit.length, 0);
  });

  it("refuses only the coupons whose Kafka partition is failing, and asks by the coupon's event key", async () => {
    const asked: string[] = [];
    const { admitter: a, calls } = admitter({
      canPublish: (key) => {
        asked.push(key);
        return key !== eventKey(7);
      },
    });
    const out = await a.admit([
      { couponId: 7, publicId: ALICE },
      { couponId: 8, publicId: BOB },
    ]);
    assert.deepEqual(out[0], UNAVAILABLE);
    assert.equal(out[1]!.result, 'ACCEPTED');
    assert.deepEqual(asked.sort(), [eventKey(7), eventKey(8)]);
    assert.equal(calls.admit.length, 1, 'only the other coupon ran the script');
  });

  it('answers UNAVAILABLE when the script or the user lookup fails', async () => {
    const failingScript = admitter({
      scripts: { admitMany: async () => Promise.reject(new Error('Redis down')), release: async () => true },
    });
    assert.deepEqual(await failingScript.admitter.admit([{ couponId: 7, publicId: ALICE }]), [UNAVAILABLE]);
    const failingLookup = admitter({ users: { resolve: async () => Promise.reject(new Error('Redis and database down')) } });
    assert.deepEqual(
      await failingLookup.admitter.admit([
        { couponId: 7, publicId: ALICE },
        { couponId: 8, publicId: BOB },
      ]),
      [UNAVAILABLE, UNAVAILABLE],
    );
    assert.equal(failingLookup.calls.admit.length, 0);
  });

  it('gives the admission back when Kafka will not take it, and lets the user try again', async () => {
    const { admitter: a, calls } = admitter({ publish: async () => Promise.reject(new Error('not acknowledged')) });
    assert.deepEqual(await a.admit([{ couponId: 7, publicId: ALICE }]), [UNAVAILABLE]);
    const eventId = calls.admit[0]!.requests[0]!.eventId;
    assert.deepEqual(calls.release, [{ couponId: 7, eventId, userId: 1 }]);
    await a.admit([{ couponId: 7, publicId: ALICE }]);
    assert.equal(calls.admit.length, 2, 'the released user is not remembered as admitted');
  });

  it('keeps the promise when the consumer already took the event the send reported lost', async () => {
    const { admitter: a, calls } = admitter({
      publish: async () => Promise.reject(new Error('ack lost')),
      scripts: {
        admitMany: async (batches) =>
          batches.map(({ requests }) => ({ remaining: 5, codes: requests.map(() => AdmitCode.ACCEPTED), replicated: true })),
        release: async (couponId, eventId, userId) => {
          calls.release.push({ couponId, eventId, userId });
          return false;
        },
      },
    });
    const [outcome] = await a.admit([{ couponId: 7, publicId: ALICE }]);
    assert.deepEqual(outcome, { result: 'ACCEPTED', requestId: calls.release[0]!.eventId });
  });

  it('answers UNAVAILABLE and leaves the admission to reconciliation when neither Kafka nor Redis answers', async () => {
    const { admitter: a } = admitter({
      publish: async () => Promise.reject(new Error('Kafka down')),
      scripts: {
        admitMany: async (batches) =>
          batches.map(({ requests }) => ({ remaining: 5, codes: requests.map(() => AdmitCode.ACCEPTED), replicated: true })),
        release: async () => Promise.reject(new Error('Redis down')),
      },
    });
    assert.deepEqual(await a.admit([{ couponId: 7, publicId: ALICE }]), [UNAVAILABLE]);
  });

  it('gives back what its replicas did not acknowledge, promises nothing of it, and still answers refusals', async () => {
    const {
      admitter: a,
      calls,
      knowledge,
    } = admitter({
      answer: () => ({ remaining: 4, codes: [AdmitCode.ACCEPTED, AdmitCode.ALREADY_ISSUED], replicated: false }),
    });
    const outcomes = await a.admit([
      { couponId: 7, publicId: ALICE },
      { couponId: 7, publicId: BOB },
    ]);
    assert.deepEqual(outcomes, [UNAVAILABLE, { result: 'ALREADY_ISSUED' }]);
    assert.deepEqual(calls.published, [], 'nothing unreplicated reaches Kafka');
    assert.deepEqual(
      calls.release.map((r) => [r.couponId, r.userId]),
      [[7, 1]],
    );
    assert.equal(knowledge.shortcut(7, 1), undefined, 'the given-back user is not remembered as admitted');
  });
});
