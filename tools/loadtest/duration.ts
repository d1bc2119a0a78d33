/**
 * k6's duration strings ("500ms", "30s", "2m", "1m30s", "1h"), in milliseconds. parse-duration does
 * the arithmetic; the grammar check stays here because it and every other library we know also
 * accept forms k6 refuses ("1m 30s", "10", "1h30", "2 minutes"), and a scenario file must mean the
 * same to k6 as to the local runner.
 */
import parse from 'parse-duration';

const K6_DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`invalid duration ${text}`);
    return text * 1000; // a bare number is seconds, as in k6's options
  }
  const s = text.trim();
  if (s === '0') return 0;
  const ms = K6_DURATION.test(s) ? parse(s) : null;
  if (ms === null) throw new Error(`invalid duration "${text}": use e.g. 500ms, 30s, 2m, 1m30s`);
  return ms;
}
