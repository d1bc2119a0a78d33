import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { backoffMs, isGroupChange, isTransient } from '../../src/issuance/failure.ts';

// The errors kafkajs makes of a broker's error codes (its own module, as its protocol layer uses it).
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode: (code: number) => Error;
};

describe('failure classification', () => {
  it('treats lost connections as transient and bad data as not', () => {
    assert.equal(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isTransient(new Error('Connection is closed.')), true);
    assert.equal(isTransient(new Error('x', { cause: Object.assign(new Error('y'), { code: 'PROTOCOL_CONNECTION_LOST' }) })), true);
    assert.equal(isTransient(Object.assign(new Error('Data too long'), { code: 'ER_DATA_TOO_LONG' })), false);
  });

  it("tells a group change (rejoin) from another Kafka failure, by kafkajs's error type", () => {
    // Kafka's error codes: 14 coordinator loading, 16 not the coordinator, 22 illegal generation,
    // 25 unknown member, 27 rebalance in progress.
    for (const code of [16, 22, 25, 27]) assert.equal(isGroupChange(createErrorFromCode(code)), true, `code ${code}`);
    assert.equal(isGroupChange(createErrorFromCode(14)), false);
    assert.equal(isGroupChange(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), false);
    assert.equal(isGroupChange(undefined), false);
  });

  it('backs off within its cap', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ms = backoffMs(attempt, 100, 5_000);
      assert.ok(ms >= 0 && ms <= 5_000);
    }
  });
});
