import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { LoadTestSummary } from '../../../tools/loadtest/runner.ts';
import { loadScenarioFile, usersNeeded } from '../../../tools/loadtest/scenario.ts';
import { testConfig, testEnv } from '../../support/env.ts';
import { run, runFile, startApi, type Proc } from '../../support/processes.ts';
import { createTestTopics } from '../../support/services.ts';

const PORT = 18_090;

function exitCode(proc: Proc): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return Promise.resolve(proc.child.exitCode);
  return new Promise((resolve) => proc.child.once('exit', (code) => resolve(code)));
}

/**
 * CI's load test: the smoke-ci profile of k6/scenarios/ through `npm run loadtest`'s CLI against a
 * real API (isolated: database coupons_test, Redis db 1, a topic of its own), seeded by the seed CLI.
 */
describe('load test: smoke-ci profile through the local runner', { timeout: 300_000 }, () => {
  it('passes its thresholds, and reconciliation finds the coupon consistent', async () => {
    const env = testEnv({ PORT: String(PORT), START_CONSUMER: 'true', CONSUMER_METRICS_PORT: '0' });
    await createTestTopics(testConfig(env));
    const dir = mkdtempSync(join(tmpdir(), 'loadtest-smoke-'));
    const usersFile = join(dir, 'users.json');
    const out = join(dir, 'out');
    const file = loadScenarioFile('smoke-ci');

    const seed = run('seed.ts', env, ['--users', String(usersNeeded(file)), '--stock', String(file.stock), '--out', usersFile]);
    assert.equal(await exitCode(seed), 0, seed.output().slice(-3000));

    const api = await startApi(env);
    let lt: Proc | undefined;
    try {
      lt = runFile('tools/loadtest/cli.ts', env, [
        'smoke-ci',
        '--base-url',
        `http://127.0.0.1:${PORT}`,
        '--users-file',
        usersFile,
        '--out',
        out,
        '--admin-token',
        env.ADMIN_TOKEN!,
      ]);
      const code = await exitCode(lt);
      console.log(
        lt
          .output()
          .split('\n')
          .filter((l) => !l.startsWith('  ') || /ok|FAIL/.test(l))
          .join('\n'),
      );
      if (code !== 0) {
        // Say why before the assertions fail: the API's (and its consumer's) warnings and errors.
        console.log(
          api
            .output()
            .split('\n')
            .filter((l) => /"level":(40|50|60)/.test(l))
            .slice(0, 30)
            .join('\n'),
        );
      }
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as LoadTestSummary;

      for (const t of summary.thresholds) assert.ok(t.ok, `threshold ${t.key} ${t.expression}: actual ${t.actual}`);
      assert.equal(summary.thresholds.length, Object.values(file.thresholds).flat().length);
      assert.ok(summary.reconciliation.ok, summary.reconciliation.reason);
      const rec = summary.reconciliation.report!;
      assert.equal(rec.consistent, true);
      assert.equal(rec.overIssued, 0);
      assert.equal(rec.duplicates, 0);
      assert.equal(rec.admitted, file.stock);
      assert.equal(rec.persisted, file.stock);
      // Every unit went to exactly one 202, and the rest of the users were told SOLD_OUT.
      assert.equal(summary.outcomes['202 ACCEPTED'], file.stock);
      assert.ok((summary.outcomes['409 SOLD_OUT'] ?? 0) > 0, JSON.stringify(summary.outcomes));
      assert.equal(summary.metrics.http_5xx.count, 0);
      assert.equal(summary.generator.aborted, null);
      assert.ok(summary.metrics.http_reqs.count > 1_500, `only ${summary.metrics.http_reqs.count} requests`);
      assert.equal(summary.passed, true, summary.failures.join('; '));
      assert.equal(code, 0, lt.output().slice(-3000));
      assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<svg/);
    } finally {
      await lt?.stop();
      await api.stop();
    }
  });
});
