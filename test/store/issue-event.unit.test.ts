import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeEvent, encodeEvent, MalformedEventError, newIssueEvent } from '../../src/store/issue-event.ts';

const PUBLIC_ID = '0b6f2a4e-8f7c-4d7e-9a51-3c2d1e0f9a8b';

describe('CouponIssueRequested', () => {
  it('survives encoding and decoding', () => {
    const e = newIssueEvent(3, 42, PUBLIC_ID, new Date('2026-01-01T00:00:00Z'));
    assert.deepEqual(decodeEvent(Buffer.from(encodeEvent(e))), e);
    assert.match(e.eventId, /^[0-9a-f-]{36}$/);
  });

  it('gives each admission its own event id', () => {
    assert.notEqual(newIssueEvent(1, 1, PUBLIC_ID).eventId, newIssueEvent(1, 1, PUBLIC_ID).eventId);
  });

  it('rejects poison with a reason', () => {
    const good = newIssueEvent(3, 42, PUBLIC_ID);
    const cases: [Buffer | string | null, RegExp][] = [
      [null, /empty/],
      ['not json', /not JSON/],
      ['42', /not an object/],
      [JSON.stringify({ ...good, type: 'Other' }), /unknown type/],
      [JSON.stringify({ ...good, version: 2 }), /version/],
      [JSON.stringify({ ...good, couponId: -1 }), /couponId/],
      [JSON.stringify({ ...good, userId: 1.5 }), /userId/],
      [JSON.stringify({ ...good, eventId: 'x' }), /eventId/],
      [JSON.stringify({ ...good, publicId: 7 }), /publicId/],
      [JSON.stringify({ ...good, requestedAt: 'yesterday' }), /requestedAt/],
    ];
    for (const [value, reason] of cases) {
      assert.throws(
        () => decodeEvent(value),
        (e: Error) => e instanceof MalformedEventError && reason.test(e.message),
      );
    }
  });
});
