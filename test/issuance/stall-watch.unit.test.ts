import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StallWatch } from '../../src/issuance/stall-watch.ts';

const offsets = (entries: [number, number][]) => new Map(entries.map(([p, o]) => [p, BigInt(o)]));

describe('stall watch', () => {
  it('calls a partition stalled once events wait past its offset and nothing moved for the window', () => {
    const watch = new StallWatch(10_000);
    watch.assigned([0, 1], 0);
    const ends = offsets([
      [0, 50],
      [1, 50],
    ]);
    const committed = offsets([
      [0, 50],
      [1, 20],
    ]);
    assert.deepEqual(watch.check(ends, committed, 9_999), []);
    assert.deepEqual(watch.check(ends, committed, 10_000), [1]);
  });

  it('does not call a partition stalled while one of its batches is in hand, however long', () => {
    const watch = new StallWatch(10_000);
    watch.assigned([3], 0);
    watch.batchStarted(3, 1_000);
    const ends = offsets([[3, 100]]);
    const committed = offsets([[3, 0]]);
    assert.deepEqual(watch.check(ends, committed, 60_000), []);
    watch.batchEnded(3, 61_000);
    assert.deepEqual(watch.check(ends, committed, 70_000), []);
    assert.deepEqual(watch.check(ends, committed, 71_000), [3]);
  });

  it('counts batches in hand, so one ending does not hide another', () => {
    const watch = new StallWatch(1_000);
    watch.assigned([0], 0);
    watch.batchStarted(0, 0);
    watch.batchStarted(0, 0);
    watch.batchEnded(0, 0);
    assert.deepEqual(watch.check(offsets([[0, 9]]), offsets([[0, 0]]), 5_000), []);
    watch.batchEnded(0, 5_000);
    assert.deepEqual(watch.check(offsets([[0, 9]]), offsets([[0, 0]]), 6_000), [0]);
  });

  it('restarts the clock when a partition is caught up: idle is not stalled', () => {
    const watch = new StallWatch(10_000);
    watch.assigned([0], 0);
    assert.deepEqual(watch.check(offsets([[0, 5]]), offsets([[0, 5]]), 50_000), []);
    // An event arrives after a long quiet time: the partition has the whole window to fetch it.
    assert.deepEqual(watch.check(offsets([[0, 6]]), offsets([[0, 5]]), 55_000), []);
    assert.deepEqual(watch.check(offsets([[0, 6]]), offsets([[0, 5]]), 60_000), [0]);
  });

  it('judges only the partitions assigned now, and only those whose offsets could be read', () => {
    const watch = new StallWatch(1_000);
    watch.assigned([0, 1], 0);
    watch.assigned([2, 3], 0);
    const ends = offsets([
      [0, 9],
      [1, 9],
      [2, 9],
    ]);
    const committed = offsets([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    assert.deepEqual(watch.check(ends, committed, 5_000), [2]);
    // A batch of a partition no longer assigned (handed over mid-rebalance) changes nothing.
    watch.batchStarted(0, 5_000);
    watch.batchEnded(0, 5_000);
    assert.deepEqual(watch.check(ends, committed, 5_000), [2]);
  });
});
