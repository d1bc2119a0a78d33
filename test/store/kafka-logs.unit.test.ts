import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { kafkaLogRecord } from '../../src/store/kafka.ts';

// kafkajs is CommonJS and names its error classes only on its default export.
const { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, logLevel } = kafkajs;

type Entry = { timestamp: string; message: string };
const at = (extra: Record<string, unknown>) => ({ timestamp: '2026-01-01T00:00:00.000Z', ...extra }) as Entry;

describe('kafkajs log entries in our log', () => {
  it('makes a retriable protocol error kafkajs logs at ERROR a warning: a group coordinator still loading', () => {
    const record = kafkaLogRecord(
      logLevel.ERROR,
      at({
        message: 'Response JoinGroup(key: 11, version: 5)',
        error: "The coordinator is loading and hence can't process requests for this group",
        correlationId: 3,
      }),
    );
    assert.equal(record.level, 'warn');
    assert.equal(record.message, 'Response JoinGroup(key: 11, version: 5)');
    assert.equal(record.fields.error, "The coordinator is loading and hence can't process requests for this group");
    assert.equal(record.fields.correlationId, 3);
  });

  it('makes a consumer crash kafkajs restarts from a warning, and keeps one it gives up on at ERROR', () => {
    const loading = "Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group";
    assert.equal(kafkaLogRecord(logLevel.ERROR, at({ message: loading, groupId: 'g', stack: 'KafkaJSProtocolError: ...' })).level, 'warn');
    assert.equal(kafkaLogRecord(logLevel.ERROR, at({ message: 'Restarting the consumer in 300ms', retryTime: 300 })).level, 'warn');
    const denied = 'Crash: KafkaJSProtocolError: Not authorized to access group: Group authorization failed';
    assert.equal(kafkaLogRecord(logLevel.ERROR, at({ message: denied })).level, 'error');
  });

  it('keeps a non-retriable protocol error and an unknown one at ERROR', () => {
    const denied = kafkaLogRecord(
      logLevel.ERROR,
      at({
        message: 'Response Produce(key: 0, version: 7)',
        error: 'Not authorized to access topics: [Topic authorization failed]',
      }),
    );
    assert.equal(denied.level, 'error');
    const unknown = kafkaLogRecord(logLevel.ERROR, at({ message: 'Crash: KafkaJSNumberOfRetriesExceeded', stack: 'Error: ...' }));
    assert.equal(unknown.level, 'error');
    assert.equal(unknown.fields.stack, 'Error: ...');
  });

  it('decides by the retriable flag of an error object, and hands the object to pino as err', () => {
    const retriable = new KafkaJSError('There is no leader for this topic-partition', { retriable: true });
    const { stack } = retriable;
    const record = kafkaLogRecord(logLevel.ERROR, at({ message: 'Error when calling eachBatch', error: retriable, stack }));
    assert.equal(record.level, 'warn');
    assert.equal(record.fields.err, retriable);
    assert.equal('error' in record.fields || 'stack' in record.fields, false);
    const fatal = new KafkaJSNonRetriableError('Invalid message');
    assert.equal(kafkaLogRecord(logLevel.ERROR, at({ message: 'Error when calling eachBatch', error: fatal })).level, 'error');
  });

  it('keeps a broker that cannot be reached at ERROR (kafkajs logs it without the error object)', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    assert.equal(kafkaLogRecord(logLevel.ERROR, at({ message: refused.message, stack: refused.stack })).level, 'error');
  });

  it('maps the other levels as they are, and the bounded-retries warning to debug', () => {
    assert.equal(kafkaLogRecord(logLevel.WARN, at({ message: 'something' })).level, 'warn');
    assert.equal(kafkaLogRecord(logLevel.INFO, at({ message: 'something' })).level, 'info');
    const boundedRetries = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';
    assert.equal(kafkaLogRecord(logLevel.WARN, at({ message: boundedRetries })).level, 'debug');
  });
});
