import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { existingCouponIds } from '../store/database/coupons.ts';
import type { Orm } from '../store/database/orm.ts';
import { insertIssuances } from '../store/database/user-coupons.ts';
import { missingUserIds } from '../store/database/users.ts';
import type { AdmissionScripts } from '../store/scripts.ts';
import { PARTITIONER } from '../store/kafka.ts';
import type { Logger } from '../log.ts';
import type { ConsumerMetrics } from '../metrics/consumer-metrics.ts';
import { decodeEvent, MalformedEventError, type CouponIssueRequested } from '../store/issue-event.ts';
import { backoffMs, isGroupChange, isTransient } from './failure.ts';
import { StallWatch } from './stall-watch.ts';

export interface IssuanceConsumerOptions {
  kafka: Kafka;
  topic: string;
  deadLetterTopic: string;
  groupId: string;
  orm: Orm;
  scripts: AdmissionScripts;
  metrics: ConsumerMetrics;
  logger: Logger;
  /** Attempts for a batch failing for a reason of its own, before its messages are tried one by one. */
  messageAttempts?: number;
  /**
   * How long an assigned partition may have events waiting with no batch handed over before the
   * Kafka client is restarted (StallWatch); 0 never.
   */
  stallMs?: number;
}

interface Parsed {
  message: KafkaMessage;
  event: CouponIssueRequested;
}

interface DeadLetter {
  message: KafkaMessage;
  reason: string;
}

class StoppedError extends Error {
  override name = 'StoppedError';
}

/**
 * Turns issue events into database rows, batch by batch: claim the events in Redis (skipping any
 * the API released), insert them in one multi-row statement that ignores (coupon, user) pairs
 * already present, bump each coupon's issued count in the same transaction, and only then commit
 * the Kafka offsets. A crash anywhere replays the batch, which inserts nothing twice.
 */
export class IssuanceConsumer {
  readonly #o: IssuanceConsumerOptions;
  readonly #dlq: Producer;
  readonly #admin: Admin;
  readonly #watch: StallWatch;
  #consumer: Consumer;
  #stopping = false;
  #watchTimer: NodeJS.Timeout | undefined;
  #restarting: Promise<void> | undefined;

  constructor(options: IssuanceConsumerOptions) {
    this.#o = options;
    this.#consumer = this.#newConsumer();
    this.#dlq = options.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: PARTITIONER });
    this.#admin = options.kafka.admin();
    this.#watch = new StallWatch(options.stallMs ?? 0);
  }

  async start(): Promise<void> {
    this.#stopping = false;
    await this.#dlq.connect();
    await this.#admin.connect();
    await this.#run();
    const stallMs = this.#o.stallMs ?? 0;
    if (stallMs > 0 && this.#watchTimer === undefined) {
      this.#watchTimer = setInterval(() => void this.#checkStalls(), Math.min(5_000, Math.max(100, stallMs / 4)));
      this.#watchTimer.unref();
    }
  }

  /** Finishes the batch in hand (its offsets committed), then leaves the group. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#watchTimer);
    this.#watchTimer = undefined;
    await this.#restarting;
    await this.#consumer.disconnect();
    await this.#dlq.disconnect();
    await this.#admin.disconnect();
  }

  /**
   * Leaves the group and joins again with a new Kafka client, which asks the brokers afresh who
   * leads each partition. Whatever was in hand is committed or redelivered, as on any rebalance.
   */
  restart(reason: string): Promise<void> {
    this.#restarting ??= (async () => {
      this.#o.metrics.restarts.inc({ reason });
      // The replacement is made current before the old client is let go: from then on kafkajs may
      // not restart the old one (restartOnFailure below), whatever it is doing when disconnected.
      const old = this.#consumer;
      this.#consumer = this.#newConsumer();
      await old.disconnect().catch((err) => this.#o.logger.warn({ err }, 'the old Kafka consumer did not disconnect cleanly'));
      for (let attempt = 1; !this.#stopping; attempt++) {
        try {
          await this.#run();
          this.#o.logger.info({ reason }, 'Kafka consumer restarted');
          return;
        } catch (err) {
          this.#o.logger.warn({ err, attempt }, 'Kafka consumer could not restart yet; retrying');
          const failed = this.#consumer;
          this.#consumer = this.#newConsumer();
          await failed.disconnect().catch(() => undefined);
          await new Promise((r) => setTimeout(r, backoffMs(attempt)));
        }
      }
    })().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  #newConsumer(): Consumer {
    const consumer = this.#o.kafka.consumer({
      groupId: this.#o.groupId,
      allowAutoTopicCreation: false,
      // How long a member that stopped heartbeating stays in the group. A client replaced after its
      // coordinator died could not leave (its LeaveGroup went to the dead broker), and the group
      // would not form again without it: the new clients' JoinGroup waited for the old members,
      // as long as this (traced: 30 s without rows). A batch waiting out the database heartbeats
      // as it waits (#pause), so 10 s only ever drops a member that is gone or stuck.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      // A backlog (the consumer down through a sell-out) drains in batches of some 18,000 events
      // rather than 4,500: each batch's round trips (fetch, checks, claim, insert, commit) are paid
      // a quarter as often.
      maxBytesPerPartition: 4 * 1024 * 1024,
      // Under a spike, wait up to 100 ms for a fuller fetch: a batch of hundreds of rows costs the
      // database (and this process's CPU, which the API may share) about what a batch of ten does.
      // When traffic is light a row lands at most 100 ms later.
      minBytes: 64 * 1024,
      maxWaitTimeInMs: 100,
      retry: {
        retries: Number.MAX_SAFE_INTEGER,
        initialRetryTime: 300,
        maxRetryTime: 5_000,
        // kafkajs restarts a crashed consumer by itself, after a delay, even one this class has
        // already replaced: a client disconnected while it was joining crashed, restarted and
        // joined beside its replacement, a second member in this process that nothing would stop.
        restartOnFailure: async () => consumer === this.#consumer && !this.#stopping,
      },
      // kafkajs runs a fetcher per broker its metadata lists, and refreshes that metadata only when
      // it is this old (5 min by default). A broker that died stayed listed: its fetcher failed, took
      // the other fetchers down with it, and they started again, over and over, so nothing was
      // fetched until the stall watch replaced the client (10-20 s). A metadata request every few
      // seconds is nothing beside that.
      metadataMaxAge: 3_000,
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.#watch.assigned(payload.memberAssignment[this.#o.topic] ?? [], Date.now());
    });
    return consumer;
  }

  async #run(): Promise<void> {
    const consumer = this.#consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.#o.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: async (payload) => {
        const { partition } = payload.batch;
        this.#watch.batchStarted(partition, Date.now());
        try {
          await this.#handleBatch(payload, consumer);
        } finally {
          this.#watch.batchEnded(partition, Date.now());
        }
      },
    });
  }

  async #checkStalls(): Promise<void> {
    if (this.#stopping || this.#restarting !== undefined) return;
    const { topic, groupId, logger } = this.#o;
    let ends: Map<number, bigint>;
    let committed: Map<number, bigint>;
    try {
      const [topicOffsets, groupOffsets] = await Promise.all([
        this.#admin.fetchTopicOffsets(topic),
        this.#admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      ends = new Map(topicOffsets.map((o) => [o.partition, BigInt(o.high)]));
      const low = new Map(topicOffsets.map((o) => [o.partition, BigInt(o.low)]));
      committed = new Map(
        (groupOffsets.find((t) => t.topic === topic)?.partitions ?? []).map((o) => [
          o.partition,
          // No commit yet: the group starts from the beginning of what the partition holds.
          o.offset === '-1' ? (low.get(o.partition) ?? 0n) : BigInt(o.offset),
        ]),
      );
    } catch (err) {
      // A broker down or a leader moving: the next check will see.
      logger.debug({ err }, 'stall check could not read offsets');
      return;
    }
    const stalled = this.#watch.check(ends, committed, Date.now());
    if (stalled.length === 0 || this.#stopping || this.#restarting !== undefined) return;
    logger.error(
      { partitions: stalled, stallMs: this.#o.stallMs },
      'assigned partitions have events waiting and no batch for too long; restarting the Kafka consumer',
    );
    await this.restart('stalled');
  }

  async #handleBatch(
    { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload,
    consumer: Consumer,
  ): Promise<void> {
    const { metrics } = this.#o;
    if (batch.messages.length === 0) return;
    metrics.batchSize.observe(batch.messages.length);
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));

    const parsed: Parsed[] = [];
    const dead: DeadLetter[] = [];
    for (const message of batch.messages) {
      try {
        parsed.push({ message, event: decodeEvent(message.value) });
      } catch (err) {
        dead.push({ message, reason: err instanceof MalformedEventError ? `malformed: ${err.message}` : String(err) });
      }
    }

    const shouldStop = () => this.#stopping || !isRunning() || isStale();
    dead.push(...(await this.#persistWithRetry(parsed, heartbeat, shouldStop)));
    if (dead.length > 0)
      await this.#retrying('dead-letter', () => this.#deadLetter(batch.topic, batch.partition, dead), heartbeat, shouldStop);

    const last = batch.messages.at(-1)!.offset;
    resolveOffset(last);
    await this.#commit(batch.topic, batch.partition, (BigInt(last) + 1n).toString(), commitOffsetsIfNecessary, consumer);
    metrics.lag.set(
      { topic: batch.topic, partition: String(batch.partition) },
      Math.max(0, Number(batch.highWatermark) - Number(last) - 1),
    );
  }

  /**
   * Commits once, in this batch's own kafkajs consumer, and lets a failure end the batch: its rows
   * are written, so at worst the batch is delivered again and inserts nothing. Retrying in place is
   * what stalled partitions for minutes: kafkajs keeps the group coordinator it joined through, and
   * after a broker died both consumers asked it (refused, then "not the coordinator") forever, each
   * with its batches in hand, so neither fetched nor joined again. A group change goes to kafkajs,
   * which joins again and finds the coordinator; any other failure also replaces the client.
   */
  async #commit(
    topic: string,
    partition: number,
    offset: string,
    commit: EachBatchPayload['commitOffsetsIfNecessary'],
    consumer: Consumer,
  ): Promise<void> {
    try {
      await commit({ topics: [{ topic, partitions: [{ partition, offset }] }] });
    } catch (err) {
      this.#o.metrics.retries.inc({ kind: 'commit' });
      // (A batch of a client already replaced leaves the new one alone.)
      if (!isGroupChange(err) && !this.#stopping && consumer === this.#consumer) {
        this.#o.logger.warn({ err, partition }, 'committing offsets failed; replacing the Kafka client');
        // Not awaited: the restart waits for this batch to end.
        void this.restart('commit failed');
      }
      throw err;
    }
  }

  /**
   * Persists the batch, waiting out infrastructure failures; messages that fail on their own
   * account are returned for the dead-letter topic.
   */
  async #persistWithRetry(parsed: Parsed[], heartbeat: () => Promise<void>, shouldStop: () => boolean): Promise<DeadLetter[]> {
    const attempts = this.#o.messageAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#persist(parsed);
      } catch (err) {
        if (isTransient(err)) {
          this.#o.metrics.retries.inc({ kind: 'transient' });
          this.#o.logger.warn({ err, attempt }, 'persisting a batch failed; retrying');
          await this.#pause(attempt, heartbeat, shouldStop);
          continue;
        }
        this.#o.metrics.retries.inc({ kind: 'message' });
        if (attempt < attempts) {
          this.#o.logger.warn({ err, attempt }, 'batch rejected; retrying');
          await this.#pause(attempt, heartbeat, shouldStop);
          continue;
        }
        if (parsed.length === 1) return [{ message: parsed[0]!.message, reason: `rejected: ${(err as Error).message}` }];
        // Find the culprits: every message on its own, the good ones still persist.
        const dead: DeadLetter[] = [];
        for (const one of parsed) dead.push(...(await this.#persistWithRetry([one], heartbeat, shouldStop)));
        return dead;
      }
    }
  }

  async #persist(parsed: Parsed[]): Promise<DeadLetter[]> {
    const { toWrite, dead } = await this.#prepare(parsed);
    dead.push(...(await this.#write(toWrite)));
    return dead;
  }

  /** What of a batch is to be written, per coupon: known coupon and user, not released (claimed). */
  async #prepare(parsed: Parsed[]): Promise<{ toWrite: Map<number, Parsed[]>; dead: DeadLetter[] }> {
    const { orm, scripts, metrics } = this.#o;
    const dead: DeadLetter[] = [];

    // One event per (coupon, user) is enough; a replay or a re-publish may carry the same pair twice.
    // (Keyed by user: a backlog's batch holds thousands of one coupon's events, and scanning a list
    // for each was quadratic, a third of the consumer's CPU while it drained.)
    const byCoupon = new Map<number, Map<number, Parsed>>();
    for (const p of parsed) {
      let users = byCoupon.get(p.event.couponId);
      if (!users) byCoupon.set(p.event.couponId, (users = new Map()));
      if (!users.has(p.event.userId)) users.set(p.event.userId, p);
    }

    // The check and the claims do not depend on each other, so they run together. Claiming an
    // event later dead-lettered for an unknown coupon or user only drops its pending entry, which
    // would otherwise make every reconciliation publish it again.
    const coupons = [...byCoupon].map(([couponId, users]) => ({ couponId, events: [...users.values()] }));
    const [knownCoupons, claims] = await Promise.all([
      existingCouponIds(orm, [...byCoupon.keys()]),
      Promise.all(
        coupons.map(({ couponId, events }) =>
          scripts.claim(
            couponId,
            events.map((p) => p.event.eventId),
          ),
        ),
      ),
    ]);

    const toWrite = new Map<number, Parsed[]>();
    for (const [c, { couponId, events }] of coupons.entries()) {
      const claimed: Parsed[] = [];
      let released = 0;
      for (const [i, p] of events.entries()) {
        // INSERT IGNORE would skip a row breaking the coupon's foreign key without a word.
        if (!knownCoupons.has(couponId)) dead.push({ message: p.message, reason: `unknown coupon ${couponId}` });
        else if (claims[c]![i]) claimed.push(p);
        else released++;
      }
      metrics.rows.inc({ result: 'released' }, released);
      if (claimed.length > 0) toWrite.set(couponId, claimed);
    }
    return { toWrite, dead };
  }

  /**
   * Inserts what was claimed; returns, for the dead-letter topic, the events of users that do not
   * exist. Those are looked for only when a coupon's insert fell short of what it was offered
   * (replays, mostly): checking every batch's users first cost a backlog's batch of 18,000 an
   * IN list as long, a fifth of its time, to find nothing.
   */
  async #write(toWrite: Map<number, Parsed[]>): Promise<DeadLetter[]> {
    if (toWrite.size === 0) return [];
    const { orm, metrics } = this.#o;
    const started = performance.now();
    const inserted = await insertIssuances(
      orm,
      new Map(
        [...toWrite].map(([couponId, list]) => [
          couponId,
          list.map((p) => ({ userId: p.event.userId, eventId: p.event.eventId, issuedAt: new Date(p.event.requestedAt) })),
        ]),
      ),
    );
    metrics.dbWrite.observe((performance.now() - started) / 1000);
    // One lookup for every coupon that fell short, not one each: a replayed backlog falls short on
    // all of its coupons at once, and a user missing is missing for all of them.
    const short = [...toWrite].filter(([couponId, list]) => list.length > (inserted.get(couponId) ?? 0));
    const missing =
      short.length > 0
        ? await missingUserIds(
            orm,
            short.flatMap(([, list]) => list.map((p) => p.event.userId)),
          )
        : new Set<number>();
    const dead: DeadLetter[] = [];
    for (const [couponId, list] of toWrite) {
      const rows = inserted.get(couponId) ?? 0;
      let skipped = list.length - rows;
      if (skipped > 0) {
        for (const p of list) {
          if (!missing.has(p.event.userId)) continue;
          dead.push({ message: p.message, reason: `unknown user ${p.event.userId}` });
          skipped--;
        }
      }
      metrics.rows.inc({ result: 'inserted' }, rows);
      metrics.rows.inc({ result: 'duplicate' }, skipped);
    }
    return dead;
  }

  async #deadLetter(topic: string, partition: number, dead: DeadLetter[]): Promise<void> {
    await this.#dlq.send({
      topic: this.#o.deadLetterTopic,
      acks: -1,
      messages: dead.map(({ message, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          'x-dead-letter-reason': reason.slice(0, 500),
          'x-source-topic': topic,
          'x-source-partition': String(partition),
          'x-source-offset': message.offset,
        },
      })),
    });
    for (const { reason, message } of dead) {
      this.#o.metrics.deadLetters.inc({ reason: reason.split(':')[0]!.split(' ').slice(0, 2).join('_') });
      this.#o.logger.error({ reason, offset: message.offset, partition }, 'message sent to the dead-letter topic');
    }
  }

  async #retrying(what: string, fn: () => Promise<void>, heartbeat: () => Promise<void>, shouldStop: () => boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.#o.logger.warn({ err, attempt }, `${what} failed; retrying`);
        await this.#pause(attempt, heartbeat, shouldStop);
      }
    }
  }

  /** Waits before the next attempt, keeping the group membership alive; gives up when stopping. */
  async #pause(attempt: number, heartbeat: () => Promise<void>, shouldStop: () => boolean): Promise<void> {
    if (shouldStop()) throw new StoppedError('consumer stopping; the batch will be redelivered');
    await new Promise((r) => setTimeout(r, Math.max(50, backoffMs(attempt))));
    try {
      await heartbeat();
    } catch (err) {
      // The group moved on while this batch waited: give it back now and join again, rather than
      // write it and find the commit refused.
      if (isGroupChange(err)) throw err;
    }
    if (shouldStop()) throw new StoppedError('consumer stopping; the batch will be redelivered');
  }
}
