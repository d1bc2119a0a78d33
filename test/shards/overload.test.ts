import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OverloadDetector } from '../../src/shards/overload.ts';

describe('OverloadDetector', () => {
  it('is not overloaded at first, nor while requests go straight through', () => {
    const d = new OverloadDetector({ targetMs: 5, intervalMs: 100 });
    assert.equal(d.overloaded(0), false);
    for (let t = 0; t < 1_000; t += 10) {
      d.dispatched(t % 30 === 0 ? 0 : 40);
      assert.equal(d.overloaded(t), false, `at ${t} ms`);
    }
  });

  it('turns overloaded only after a whole interval in which every request waited past the target', () => {
    const d = new OverloadDetector({ targetMs: 5, intervalMs: 100 });
    d.overloaded(0);
    d.dispatched(0);
    d.dispatched(30);
    assert.equal(d.overloaded(100), false, 'the first interval had a request with no wait');
    d.dispatched(30);
    d.dispatched(6);
    assert.equal(d.overloaded(150), false, 'still inside the interval: the verdict is the last one');
    assert.equal(d.overloaded(200), true, 'every request of [100, 200) waited more than 5 ms');
  });

  it('counts an interval with nothing dispatched and a standing queue as overload', () => {
    const d = new OverloadDetector({ targetMs: 5, intervalMs: 100 });
    d.overloaded(0);
    d.dispatched(50);
    d.overloaded(100);
    assert.equal(d.overloaded(200), true, 'no request got through [100, 200) at all');
  });

  it('recovers once the queue drains', () => {
    const d = new OverloadDetector({ targetMs: 5, intervalMs: 100 });
    d.overloaded(0);
    d.dispatched(50);
    assert.equal(d.overloaded(100), true);
    d.drained();
    assert.equal(d.overloaded(200), false);
  });
});
