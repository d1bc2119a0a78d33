/**
 * The floors of src/, each importing only downward (`npm run lint:deps`, part of `npm test`):
 *
 *   cli/                                  processes (the top)
 *   http/                                 the API: routes, plugins, its composition root
 *   shards/  overload/                    the router and load shedding in front of admission
 *   admission/ issuance/ catalog/ reconcile/   the domain: rules and use cases, unaware of each other
 *   store/                                Redis keys and scripts, the database, Kafka: all I/O shapes
 *   metrics/  config.ts  log.ts           the base every floor may use; imports nothing of src
 *
 * workers/ (thread entry points, beside src/) may use anything under http/. What the domain
 * folders share (the issue event, the coupon-change message, key names) lives in store/, which is
 * why they need not import each other.
 */
const FLOORS = ['base', 'store', 'domain', 'control', 'http', 'cli'];
const PATHS = {
  base: '^src/(config\\.ts|log\\.ts|metrics/)',
  store: '^src/store/',
  domain: '^src/(admission|issuance|catalog|reconcile)/',
  control: '^src/(shards|overload)/',
  http: '^src/http/',
  cli: '^src/cli/',
};

/** One rule per floor: nothing from a floor may import a floor above it. */
const upward = FLOORS.slice(0, -1).map((floor, i) => ({
  name: `no-upward-from-${floor}`,
  comment: `${floor} imports only from the floors below it (${FLOORS.slice(0, i).join(', ') || 'none'}), never from ${FLOORS.slice(i + 1).join(', ')}`,
  severity: 'error',
  from: { path: PATHS[floor] },
  to: {
    path: FLOORS.slice(i + 1)
      .map((f) => PATHS[f])
      .join('|'),
  },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'metrics-import-only-prom-client',
      comment: 'metrics take plain numbers and callbacks, so they never need a type of the floors that use them',
      severity: 'error',
      from: { path: '^src/metrics/' },
      to: { path: '^src/', pathNot: '^src/metrics/' },
    },
    {
      name: 'domain-folders-apart',
      comment: 'a domain folder does not import another one: what they share is in store/, what they call is injected',
      severity: 'error',
      from: { path: '^src/(admission|issuance|catalog|reconcile)/' },
      to: { path: '^src/(admission|issuance|catalog|reconcile)/', pathNot: '^src/$1/' },
    },
    {
      name: 'routes-use-services',
      comment: 'routes speak to domain services and repositories handed to them, never to Redis, the ORM or Kafka',
      severity: 'error',
      from: { path: '^src/http/routes/' },
      to: { path: '^src/store/|^node_modules/(ioredis|kafkajs|@mikro-orm)/' },
    },
    {
      name: 'workers-below-http',
      comment: 'a worker thread runs the floors below http/; it never builds the API or a process',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: `${PATHS.http}|${PATHS.cli}` },
    },
    {
      name: 'service-apart-from-tooling',
      comment: 'the service does not import its tests, benches or tools (the image holds only src/ and workers/)',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { path: '^(test|bench|tools|k6)/' },
    },
    {
      name: 'src-not-into-workers',
      comment: 'workers are entry points: src/ starts them by file URL, never imports them',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^workers/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
