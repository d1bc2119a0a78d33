import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { lastRefusalOfSame, rememberRefusal } from '../../src/overload/intake-server.ts';

const A = '/api/coupons/7/issue-fcfs/0b6f2a4e-8f7c-4d7e-9a51-3c2d1e0f9a8b';
const B = '/api/coupons/7/issue-fcfs/5d0c9a51-3c2d-4e0f-9a8b-0b6f2a4e8f7c';

describe('what the intake tells the refusal pacer', () => {
  it('knows nothing of a connection never refused', () => {
    assert.equal(lastRefusalOfSame(new Socket(), A), undefined);
  });

  it('gives the time of the last refusal when the same request comes back', () => {
    const socket = new Socket();
    const before = performance.now();
    rememberRefusal(socket, A);
    const at = lastRefusalOfSame(socket, A);
    assert.ok(at !== undefined && at >= before && at <= performance.now());
  });

  it("treats another user's request on the connection as new work, as a load balancer's pooled connection carries", () => {
    const socket = new Socket();
    rememberRefusal(socket, A);
    assert.equal(lastRefusalOfSame(socket, B), undefined);
    // Refused in turn, B is now the request that counts as coming back; A no longer does.
    rememberRefusal(socket, B);
    assert.notEqual(lastRefusalOfSame(socket, B), undefined);
    assert.equal(lastRefusalOfSame(socket, A), undefined);
  });

  it('keeps connections apart', () => {
    const refused = new Socket();
    rememberRefusal(refused, A);
    assert.equal(lastRefusalOfSame(new Socket(), A), undefined);
  });
});
