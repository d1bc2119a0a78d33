// Shared with bench/: the code lives in tools/harness/processes.ts.
export * from '../../tools/harness/processes.ts';
