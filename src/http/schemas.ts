/**
 * JSON schemas shared by validation and the OpenAPI document at /docs: one definition serves both,
 * so the document cannot drift from what the server accepts.
 */
export const errorBody = {
  $id: 'ErrorBody',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', examples: ['SOLD_OUT'] },
    message: { type: 'string' },
  },
} as const;

export const couponId = { type: 'integer', minimum: 1, maximum: 2_147_483_647 } as const;
export const publicId = { type: 'string', format: 'uuid', maxLength: 36 } as const;
// An instant with an explicit zone, within years 2000..2999: absurd dates are rejected.
export const instant = { type: 'string', format: 'date-time', pattern: '^2\\d{3}-', maxLength: 40 } as const;

export const couponView = {
  $id: 'Coupon',
  type: 'object',
  required: ['id', 'name', 'totalQuantity', 'remaining', 'issuedCount', 'startsAt', 'endsAt'],
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    totalQuantity: { type: 'integer' },
    remaining: { type: 'integer' },
    issuedCount: { type: 'integer' },
    startsAt: { type: ['string', 'null'], format: 'date-time' },
    endsAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const errorResponses = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, { $ref: 'ErrorBody#' }]));

export const adminSecurity = [{ adminToken: [] }];
