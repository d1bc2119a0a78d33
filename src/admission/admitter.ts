import type { Logger } from 'pino';
import { type CouponIssueRequested, encodeEvent, eventKey, newIssueEvent } from '../store/issue-event.ts';
import type { AdmissionMetrics } from '../metrics/admission-metrics.ts';
import type { CouponKnowledge } from './knowledge.ts';
import type { AdmissionOutcome, AdmissionRequest } from './outcome.ts';
import { AdmitCode, type AdmissionScripts, type AdmitRequest, type AdmitResult } from '../store/scripts.ts';
import type { UserDirectory } from './user-directory.ts';

/** What the admitter calls: only the methods it uses, so a unit test can hand it plain functions. */
export interface AdmitterDeps {
  scripts: Pick<AdmissionScripts, 'admitMany' | 'release'>;
  users: Pick<UserDirectory, 'resolve'>;
  knowledge: CouponKnowledge;
  /** Resolves once Kafka acknowledged the message. */
  publish: (key: string, value: string) => Promise<void>;
  /** False while Kafka is known to be failing for this key: admitting then would only be given back. */
  canPublish: (key: string) => boolean;
  metrics: Pick<AdmissionMetrics, 'batch' | 'outcome' | 'script' | 'remaining'>;
  logger: Logger;
  retryAfterSeconds: number;
}

interface Candidate {
  index: number;
  userId: number;
  publicId: string;
}

/** One coupon's candidates in a batch, with the events the script will store for them (a CouponBatch). */
interface CouponGroup {
  couponId: number;
  candidates: Candidate[];
  events: CouponIssueRequested[];
  requests: AdmitRequest[];
}

const CODE_RESULT = {
  [AdmitCode.ALREADY_ISSUED]: 'ALREADY_ISSUED',
  [AdmitCode.SOLD_OUT]: 'SOLD_OUT',
  [AdmitCode.NOT_OPEN]: 'NOT_OPEN',
  [AdmitCode.NOT_FOUND]: 'COUPON_NOT_FOUND',
} as const;

/**
 * The shard worker's admission: a batch of requests in, one outcome per request out, in order.
 * Memory answers what it can; the rest go to Redis in one script call (each coupon's requests one
 * atomic step; one call per coupon on a cluster); every admission is published to Kafka and only
 * reported ACCEPTED once the broker has it.
 */
export class Admitter {
  readonly #d: AdmitterDeps;
  readonly #unavailable: AdmissionOutcome;

  constructor(deps: AdmitterDeps) {
    this.#d = deps;
    this.#unavailable = { result: 'UNAVAILABLE', retryAfterSeconds: deps.retryAfterSeconds };
  }

  async admit(requests: readonly AdmissionRequest[]): Promise<AdmissionOutcome[]> {
    const started = performance.now();
    const out = new Array<AdmissionOutcome>(requests.length);
    try {
      await this.#admitInto(requests, out);
    } finally {
      this.#d.metrics.batch((performance.now() - started) / 1000, requests.length);
    }
    // One count per run of the same coupon and result (a sold-out batch is one run): prom-client
    // hashes the labels on every call, which per request was most of a sold-out answer's metrics.
    let from = 0;
    for (let i = 1; i <= requests.length; i++) {
      if (i < requests.length && requests[i]!.couponId === requests[from]!.couponId && out[i]!.result === out[from]!.result) continue;
      this.#d.metrics.outcome(requests[from]!.couponId, out[from]!.result, i - from);
      from = i;
    }
    return out;
  }

  async #admitInto(requests: readonly AdmissionRequest[], out: AdmissionOutcome[]): Promise<void> {
    let userIds: Map<string, number>;
    try {
      userIds = await this.#d.users.resolve(requests.map((r) => r.publicId));
    } catch (err) {
      this.#d.logger.error({ err }, 'user lookup failed in Redis and in the database');
      out.fill(this.#unavailable);
      return;
    }

    const byCoupon = new Map<number, Candidate[]>();
    requests.forEach((r, index) => {
      const userId = userIds.get(r.publicId);
      if (userId === undefined) {
        out[index] = { result: 'USER_NOT_FOUND' };
        return;
      }
      const shortcut = this.#d.knowledge.shortcut(r.couponId, userId);
      if (shortcut) {
        out[index] = { result: shortcut };
        return;
      }
      let list = byCoupon.get(r.couponId);
      if (!list) byCoupon.set(r.couponId, (list = []));
      list.push({ index, userId, publicId: r.publicId });
    });

    const groups: CouponGroup[] = [];
    for (const [couponId, candidates] of byCoupon) {
      if (!this.#d.canPublish(eventKey(couponId))) {
        for (const c of candidates) out[c.index] = this.#unavailable;
        continue;
      }
      const events = candidates.map((c) => newIssueEvent(couponId, c.userId, c.publicId));
      const requests = events.map((e) => ({ userId: e.userId, eventId: e.eventId, eventJson: encodeEvent(e) }));
      groups.push({ couponId, candidates, events, requests });
    }
    if (groups.length === 0) return;

    let results: AdmitResult[];
    const started = performance.now();
    try {
      results = await this.#d.scripts.admitMany(groups);
    } catch (err) {
      this.#d.logger.error({ err, couponIds: groups.map((g) => g.couponId) }, 'admission script failed');
      for (const g of groups) for (const c of g.candidates) out[c.index] = this.#unavailable;
      return;
    } finally {
      this.#d.metrics.script('admit', (performance.now() - started) / 1000);
    }
    await Promise.all(groups.map((g, i) => this.#settle(g, results[i]!, out)));
  }

  /** What the script answered for one coupon: outcomes, what memory learns, and the publishing. */
  async #settle({ couponId, candidates, events, requests }: CouponGroup, result: AdmitResult, out: AdmissionOutcome[]): Promise<void> {
    const { knowledge, metrics } = this.#d;
    if (result.remaining >= 0) metrics.remaining(couponId, result.remaining);
    if (result.remaining === 0) knowledge.soldOut(couponId);

    const publishing: Promise<void>[] = [];
    result.codes.forEach((code, i) => {
      const c = candidates[i]!;
      if (code === AdmitCode.ACCEPTED && !result.replicated) {
        // Only the master holds it: a failover now would forget it while Kafka had it. Not promised.
        publishing.push(this.#giveBack(couponId, events[i]!.eventId, c, out));
        return;
      }
      if (code === AdmitCode.ACCEPTED) {
        knowledge.admitted(couponId, c.userId);
        publishing.push(this.#publish(couponId, requests[i]!, events[i]!.eventId, c, out));
        return;
      }
      if (code === AdmitCode.ALREADY_ISSUED) knowledge.admitted(couponId, c.userId);
      else if (code === AdmitCode.SOLD_OUT) knowledge.soldOut(couponId);
      else if (code === AdmitCode.NOT_OPEN) knowledge.closed(couponId);
      else if (code === AdmitCode.NOT_FOUND) knowledge.notFound(couponId);
      out[c.index] = { result: CODE_RESULT[code] };
    });
    if (!result.replicated && result.codes.includes(AdmitCode.ACCEPTED)) {
      this.#d.logger.warn({ couponId }, 'admissions not acknowledged by the Redis replicas in time; given back and answered 503');
    }
    await Promise.all(publishing);
  }

  /** Publishes one admission; if Kafka will not take it, gives the admission back. */
  async #publish(couponId: number, req: AdmitRequest, eventId: string, c: Candidate, out: AdmissionOutcome[]): Promise<void> {
    try {
      await this.#d.publish(eventKey(couponId), req.eventJson);
      out[c.index] = { result: 'ACCEPTED', requestId: eventId };
      return;
    } catch (err) {
      this.#d.logger.warn({ err, couponId, eventId }, 'Kafka did not take an admission; releasing it');
    }
    await this.#giveBack(couponId, eventId, c, out);
  }

  /** Gives an admission back (answered UNAVAILABLE), unless the consumer already took its event. */
  async #giveBack(couponId: number, eventId: string, c: Candidate, out: AdmissionOutcome[]): Promise<void> {
    try {
      const released = await this.#d.scripts.release(couponId, eventId, c.userId);
      if (released) {
        this.#d.knowledge.released(couponId, c.userId);
        out[c.index] = this.#unavailable;
      } else {
        // The consumer already took the event: the send did land, so the promise can be made.
        out[c.index] = { result: 'ACCEPTED', requestId: eventId };
      }
    } catch (err) {
      // Neither Kafka nor Redis answered. The admission stays pending in Redis; reconciliation
      // will find it and publish it again, so the user is told to retry and will see ALREADY_ISSUED.
      this.#d.logger.error({ err, couponId, eventId }, 'release failed; left for reconciliation');
      out[c.index] = this.#unavailable;
    }
  }
}
