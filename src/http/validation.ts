import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function ajv(coerceTypes: boolean): Ajv {
  const instance = new Ajv({ coerceTypes, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  (addFormats as unknown as (a: Ajv) => Ajv)(instance);
  return instance;
}

// Path and query strings must become numbers ("/coupons/42"); a JSON body must already have the
// right types: `{"name": 42}` or `{"add": "5"}` is a client bug to report, not to paper over.
const lenient = ajv(true);
const strict = ajv(false);

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : lenient).compile(schema) as ReturnType<FastifySchemaCompiler<object>>;
