import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArrivalQueue } from '../../src/overload/arrival-queue.ts';

describe('ArrivalQueue', () => {
  it('hands requests out in arrival order, with how long each waited', () => {
    const q = new ArrivalQueue<string>();
    q.push('a', 0);
    q.push('b', 5);
    q.push('c', 7);
    assert.deepEqual(q.take(2, 10), { items: ['a', 'b'], waitsMs: [10, 5] });
    q.push('d', 11);
    assert.deepEqual(q.take(10, 12).items, ['c', 'd']);
    assert.equal(q.length, 0);
  });

  it('expires from the head only what has waited its whole bound; a younger request keeps its place', () => {
    const q = new ArrivalQueue<string>();
    for (const [name, at] of [
      ['a', 0],
      ['b', 10],
      ['c', 20],
    ] as const)
      q.push(name, at);
    assert.deepEqual(q.expire(1_009, 1_000), ['a']);
    assert.deepEqual(q.expire(1_009, 0), [], 'a bound of 0 is no bound');
    assert.deepEqual(q.take(5, 1_009).items, ['b', 'c']);
  });

  it('keeps order across many pushes and takes (compaction)', () => {
    const q = new ArrivalQueue<number>();
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) q.push(next++, round);
      out.push(...q.take(70, round).items);
    }
    out.push(...q.take(Number.POSITIVE_INFINITY, 99).items);
    assert.deepEqual(
      out,
      Array.from({ length: 5_000 }, (_, i) => i),
    );
  });
});
