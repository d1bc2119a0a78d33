import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testConfig, testEnv } from '../support/env.ts';
import { Client } from '../support/http.ts';
import { startApi, type Proc } from '../support/processes.ts';
import { createTestTopics } from '../support/services.ts';

/**
 * Schemathesis (PyPI, pinned in infra/install.sh, in the venv .data/venv/schemathesis) fuzzes the
 * API from its own OpenAPI document at /docs/json: schema-valid and schema-invalid requests to
 * every operation, through the examples, coverage, fuzzing and stateful phases. Every response
 * must be no 5xx, have a documented status code and content type, and match the documented
 * response schema. The run must send at least 1,000 requests.
 *
 * Fuzzed ids almost never name a coupon or user that exists, which would leave the admission path
 * untested (every issue request a 404). So the test first creates coupons in each state (open,
 * single unit, not yet open, closed) and a few users, and binds the `couponId` and `publicId`
 * path parameters to them half of the time (schemathesis "dictionaries").
 */

const PORT = 18_100;
const BASE = `http://127.0.0.1:${PORT}`;
const ROOT = new URL('../../', import.meta.url).pathname;
const ST = join(ROOT, '.data/venv/schemathesis/bin/st');
const ADMIN = { authorization: 'Bearer test-admin-token-123' };
const SEED = 20_240_601;
/** Test cases per operation and phase: with 8 operations this comes to some 1,700 requests. */
const MAX_EXAMPLES = 150;
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance'];

interface RunResult {
  code: number | null;
  output: string;
  seconds: number;
}

function runSchemathesis(args: string[], cwd: string, timeoutMs: number): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(ST, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 400_000) output = output.slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: signal ? null : code,
        output: signal ? `${output}\n[killed by ${signal} after ${timeoutMs} ms]` : output,
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}

/** Per-response detail from the NDJSON event stream: one interaction per request sent. */
function responsesOf(ndjson: string): { operation: string; status: number; uri: string }[] {
  const out: { operation: string; status: number; uri: string }[] = [];
  for (const line of ndjson.split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as Record<string, any>;
    const finished = event.ScenarioFinished;
    if (!finished) continue;
    const { cases = {}, interactions = {} } = finished.recorder as { cases?: Record<string, any>; interactions?: Record<string, any> };
    for (const [id, interaction] of Object.entries(interactions)) {
      const value = cases[id]?.value;
      out.push({
        operation: value ? `${value.method} ${value.path}` : `${interaction.request.method} ?`,
        status: interaction.response?.status_code ?? 0,
        uri: interaction.request.uri,
      });
    }
  }
  return out;
}

describe('schemathesis fuzzes the OpenAPI document', { timeout: 300_000 }, () => {
  const env = testEnv({
    PORT: String(PORT),
    START_CONSUMER: 'false',
    // The fuzzer is one client sending thousands of requests: neither limited nor shed.
    RATE_LIMIT_PER_USER: '0',
    RATE_LIMIT_PER_IP: '0',
    MAX_IN_FLIGHT: '0',
  });
  let api: Proc;
  let dir: string;
  const client = new Client(BASE, 4);

  before(async () => {
    await createTestTopics(testConfig(env));
    api = await startApi(env);
    dir = await mkdtemp(join(tmpdir(), 'schemathesis-'));
  });
  after(async () => {
    client.close();
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sends at least 1,000 requests and gets no 5xx and nothing the document does not describe', async () => {
    assert.ok(existsSync(ST), `${ST} is missing: run infra/install.sh (it installs schemathesis into .data/venv)`);

    // Test data the fuzzer can hit: a coupon in each state and a few users.
    const coupon = async (body: object) => {
      const r = await client.request('POST', '/api/coupons', body, ADMIN);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as number;
    };
    const couponIds = [
      await coupon({ name: 'fuzz open', totalQuantity: 10_000_000 }),
      await coupon({ name: 'fuzz single', totalQuantity: 1 }),
      await coupon({ name: 'fuzz not yet open', totalQuantity: 5, startsAt: '2999-01-01T00:00:00Z' }),
      await coupon({ name: 'fuzz closed', totalQuantity: 5, startsAt: '2001-01-01T00:00:00Z', endsAt: '2002-01-01T00:00:00Z' }),
    ];
    const publicIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await client.request('POST', '/api/users', { name: `fuzz user ${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      publicIds.push(r.body.publicId as string);
    }

    const doc = (await client.request('GET', '/docs/json')).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    assert.ok(operations.length >= 8, operations.join(', '));

    const config = join(dir, 'schemathesis.toml');
    await writeFile(
      config,
      [
        '[cache]',
        'enabled = false',
        '[dictionaries.coupons]',
        `values = ${JSON.stringify(couponIds)}`,
        '[dictionaries.users]',
        `values = ${JSON.stringify(publicIds)}`,
        '[parameters]',
        '"path.couponId" = { dictionary = "coupons", probability = 0.5 }',
        '"path.publicId" = { dictionary = "users", probability = 0.5 }',
        '',
      ].join('\n'),
    );
    const jsonReport = join(dir, 'report.json');
    const ndjsonReport = join(dir, 'events.ndjson');

    const args = [
      '--config-file',
      config,
      'run',
      `${BASE}/docs/json`,
      '--header',
      `Authorization: ${ADMIN.authorization}`,
      '--checks',
      CHECKS.join(','),
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      // One worker: a reproducible order, and CPython 3.11's ast module is not thread-safe
      // (gh-106905: "AST constructor recursion depth mismatch" errors with several workers).
      '--workers',
      '1',
      '--continue-on-failure',
      '--generation-database',
      'none',
      '--request-timeout',
      '10',
      '--report',
      'json,ndjson',
      '--report-json-path',
      jsonReport,
      '--report-ndjson-path',
      ndjsonReport,
      '--no-color',
    ];
    const result = await runSchemathesis(args, dir, 240_000);
    const tail = result.output.slice(-12_000);

    const report = JSON.parse(await readFile(jsonReport, 'utf8')) as {
      exit_code: number;
      complete: boolean;
      test_cases: { generated: number; with_failures: number; errored: number };
      failures: { code: string; title: string; count: number; operations: string[] }[];
      errors: { title: string; count: number }[];
    };
    const responses = responsesOf(await readFile(ndjsonReport, 'utf8'));
    const serverErrors = responses.filter((r) => r.status >= 500);
    const byStatus: Record<string, number> = {};
    for (const r of responses) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;

    console.log(
      `schemathesis ${CHECKS.join(', ')}: ${responses.length} requests (${report.test_cases.generated} test cases) in ${result.seconds.toFixed(1)} s; ` +
        `5xx: ${serverErrors.length}; statuses ${JSON.stringify(byStatus)}`,
    );

    assert.deepEqual(serverErrors.slice(0, 10), [], `server errors:\n${tail}`);
    assert.deepEqual(report.errors, [], tail);
    assert.deepEqual(report.failures, [], tail);
    assert.equal(result.code, 0, tail);
    assert.equal(report.exit_code, 0, tail);
    assert.equal(report.complete, true, tail);
    assert.ok(responses.length >= 1_000, `only ${responses.length} requests sent`);
    // The admission path was reached, not only 404s: accepted, already issued and outside the window.
    assert.ok((byStatus['202'] ?? 0) > 0 && (byStatus['409'] ?? 0) > 0, JSON.stringify(byStatus));

    // And the API is still up and ready afterwards.
    assert.equal((await client.request('GET', '/health/ready')).status, 200);
  });
});
