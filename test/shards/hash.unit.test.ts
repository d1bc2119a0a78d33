import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shardOf } from '../../src/shards/hash.ts';

describe('shardOf', () => {
  it('always gives the same shard for a coupon, within range', () => {
    for (let id = 1; id < 5_000; id++) {
      const s = shardOf(id, 7);
      assert.ok(s >= 0 && s < 7);
      assert.equal(shardOf(id, 7), s);
    }
  });

  it('spreads sequential coupon ids evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let id = 1; id <= 40_000; id++) counts[shardOf(id, 4)]!++;
    for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `uneven: ${counts.join(',')}`);
  });

  it('puts every coupon on shard 0 when there is one shard', () => {
    assert.equal(shardOf(123_456, 1), 0);
  });
});
