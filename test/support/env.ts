// Shared with bench/: the code lives in tools/harness/env.ts.
export * from '../../tools/harness/env.ts';
