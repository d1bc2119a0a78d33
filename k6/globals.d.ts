// k6's runtime has console (log, info, warn, error, debug), which @types/k6 does not declare, and
// no DOM library is loaded here (k6 has no DOM).
declare var console: {
  log(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
};
