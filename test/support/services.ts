// Shared with bench/: the code lives in tools/harness/services.ts.
export * from '../../tools/harness/services.ts';
