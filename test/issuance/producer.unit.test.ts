import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { writtenPartitions } from '../../src/issuance/producer.ts';

const entry = (topicName: string, partition: number, errorCode = 0) => ({ topicName, partition, errorCode, baseOffset: '0' });

describe('writtenPartitions', () => {
  it('names the partitions of the topic that each broker answered for', () => {
    assert.deepEqual([...writtenPartitions([entry('t', 0), entry('t', 3), entry('t', 1)], 't')].sort(), [0, 1, 3]);
  });

  it('leaves out a partition the answer does not name, as a retry that skipped it (kafkajs#1303) returns', () => {
    const written = writtenPartitions([entry('t', 0)], 't');
    assert.equal(written.has(0), true);
    assert.equal(written.has(1), false);
  });

  it('leaves out other topics and partitions answered with an error code', () => {
    assert.deepEqual([...writtenPartitions([entry('other', 2), entry('t', 4, 6)], 't')], []);
  });
});
