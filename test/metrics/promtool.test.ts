import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, ruleFiles } from './observability.ts';

const exec = promisify(execFile);

/**
 * promtool (Debian's prometheus package, installed with the local services) on the repository's
 * Prometheus configuration: both configs parse and find their rule files, the rules are valid, and
 * the rule unit tests in prometheus/tests/ (every alert made to fire, and to stay quiet) pass.
 */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await exec('promtool', args, { cwd: ROOT.pathname, timeout: 120_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') assert.fail('promtool is not on PATH: install Prometheus (infra/install.sh) to run these checks');
    assert.fail(`promtool ${args.join(' ')} exited ${e.code}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('promtool', () => {
  for (const config of ['prometheus/prometheus.yml', 'prometheus/prometheus.cluster.yml', 'prometheus/prometheus.docker.yml']) {
    it(`check config ${config}`, async () => {
      const out = await promtool('check', 'config', config);
      // rule_files is a glob: make sure it found every rules file rather than none.
      assert.match(out, new RegExp(`SUCCESS: ${ruleFiles().length} rule files found`), out);
    });
  }

  it('check rules prometheus/rules/*.yml', async () => {
    const files = ruleFiles().map((f) => `prometheus/rules/${f}`);
    assert.ok(files.length >= 2, 'recording and alerting rules');
    await promtool('check', 'rules', ...files);
  });

  it('test rules prometheus/tests/*.yml', async () => {
    const files = readdirSync(new URL('prometheus/tests/', ROOT))
      .filter((f) => f.endsWith('.yml'))
      .map((f) => `prometheus/tests/${f}`);
    assert.ok(files.length > 0);
    const out = await promtool('test', 'rules', ...files);
    assert.match(out, /SUCCESS/);
  });
});
