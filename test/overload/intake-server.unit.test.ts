import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { type IntakeShedReason, intakeServer, lastRefusalOfSame, rememberRefusal } from '../../src/overload/intake-server.ts';
import { OverloadControl } from '../../src/overload/overload-control.ts';

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

describe('the intake', () => {
  /** An intake on a loopback port with room for everyone; `stuck` is the backstop's verdict. */
  async function intake(stuck: () => boolean) {
    const control = new OverloadControl({ maxInFlight: 100, inFlightTargetMs: 0, loopDelayTargetMs: 0 });
    control.useBackstop(stuck);
    const shed: IntakeShedReason[] = [];
    const routed: string[] = [];
    const server = intakeServer(control, (reason) => shed.push(reason))(
      (req, res) => {
        routed.push(req.url!);
        res.end('routed');
      },
      { keepAliveTimeout: 5_000, requestTimeout: 5_000, connectionTimeout: 0 },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { control, shed, routed, base, close: () => new Promise((r) => server.close(r)) };
  }

  it("refuses issue requests itself while the event-loop backstop holds, before they cost Fastify's routing", async () => {
    const { shed, routed, base, close } = await intake(() => true);
    try {
      const res = await fetch(`${base}${A}`, { method: 'POST' });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      assert.deepEqual(await res.json(), { code: 'UNAVAILABLE', message: 'Overloaded, retry shortly' });
      assert.deepEqual(shed, ['event_loop']);
      assert.deepEqual(routed, []);
      // Other routes are the backstop's own business, in Fastify.
      assert.equal(await (await fetch(`${base}/api/coupons/7`)).text(), 'routed');
    } finally {
      await close();
    }
  });

  it('takes issue requests in while the backstop does not hold', async () => {
    const { control, shed, routed, base, close } = await intake(() => false);
    try {
      assert.equal(await (await fetch(`${base}${A}`, { method: 'POST' })).text(), 'routed');
      assert.deepEqual(shed, []);
      assert.deepEqual(routed, [A]);
      assert.equal(control.inFlight, 0, 'its place given back once answered');
    } finally {
      await close();
    }
  });
});
