import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, isTransient } from '../../src/issuance/failure.ts';

describe('failure classification', () => {
  it('treats lost connections as transient and bad data as not', () => {
    assert.equal(isTransient(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isTransient(new Error('Connection is closed.')), true);
    assert.equal(isTransient(new Error('x', { cause: Object.assign(new Error('y'), { code: 'PROTOCOL_CONNECTION_LOST' }) })), true);
    assert.equal(isTransient(Object.assign(new Error('Data too long'), { code: 'ER_DATA_TOO_LONG' })), false);
  });

  it('backs off within its cap', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ms = backoffMs(attempt, 100, 5_000);
      assert.ok(ms >= 0 && ms <= 5_000);
    }
  });
});
