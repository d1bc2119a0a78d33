import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig, renderEnvExample, VARIABLES } from '../src/config.ts';

describe('.env.example', () => {
  it('is what `npm run env:example` writes from src/config.ts', () => {
    const onDisk = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    assert.equal(onDisk, renderEnvExample(), '.env.example is out of date: run `npm run env:example`');
  });

  it('shows the defaults loadConfig uses, but for a rate-limit exemption it leaves out', () => {
    const example = Object.fromEntries(Object.entries(VARIABLES).map(([name, v]) => [name, String(v.default)]));
    const fromExample = loadConfig(example);
    const defaults = loadConfig({});
    assert.deepEqual(fromExample.limits.exempt, []);
    assert.deepEqual({ ...fromExample, limits: { ...fromExample.limits, exempt: defaults.limits.exempt } }, defaults);
  });
});
