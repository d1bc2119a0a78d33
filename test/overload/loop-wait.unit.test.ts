import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoopWait } from '../../src/overload/loop-wait.ts';

describe('LoopWait', () => {
  it('reads almost nothing while the timer fires on time', () => {
    const w = new LoopWait(5, 0);
    for (let t = 5.2; t <= 100; t += 5.2) w.tick(t);
    assert.ok(w.read(100) < 0.01);
  });

  it('weighs a long turn by its length squared: one 30 ms pause in 100 ms is a mean wait of 4.5 ms', () => {
    const w = new LoopWait(5, 0);
    w.tick(5);
    w.tick(40); // due at 10, fired 30 ms late
    for (let t = 45; t <= 100; t += 5) w.tick(t);
    assert.equal(w.read(100), (30 * 30) / (2 * 100));
  });

  it('counts a turn still running when read as badly late, not as idle, and the rest of it in the next window', () => {
    const w = new LoopWait(5, 0);
    w.tick(5);
    // Stuck since 5: the timer was due at 10 and has not fired by 100.
    assert.equal(w.read(100), (90 * 90) / (2 * 100));
    w.tick(150); // the turn ends 140 ms late in all; 50 of it fell in this window
    for (let t = 155; t <= 200; t += 5) w.tick(t);
    assert.equal(w.read(200), (140 * 140 - 90 * 90) / (2 * 100));
  });
});
