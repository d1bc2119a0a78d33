/**
 * `npm run env:example`: writes `.env.example` from the variables src/config.ts declares, so the
 * file cannot drift from the defaults the process uses (test/env-example.unit.test.ts checks it did not).
 */
import { writeFileSync } from 'node:fs';
import { renderEnvExample } from '../src/config.ts';

writeFileSync(new URL('../.env.example', import.meta.url), renderEnvExample());
