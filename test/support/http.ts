// Shared with bench/: the code lives in tools/harness/http.ts.
export * from '../../tools/harness/http.ts';
