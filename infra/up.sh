#!/usr/bin/env bash
# `npm ci && npm run up`: the whole system on a fresh machine, in the foreground.
# Installs and starts the local services, migrates the database, seeds a demo coupon and users once,
# then runs the API (with its shard workers and the consumer) until Ctrl-C.
# STACK=cluster: the cluster stack (infra/services.sh), and the app pointed at it (infra/cluster.env).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${STACK:-single} == cluster ]]; then
  set -a
  # shellcheck source=infra/cluster.env
  source infra/cluster.env
  set +a
fi
bash infra/services.sh start
node --disable-warning=TimeoutNegativeWarning src/cli/migrate.ts

seed_file=${SEED_USERS_FILE:-.data/seed/users.json}
if [[ ! -f $seed_file ]]; then
  echo "seeding a demo coupon (100 units) and 1,000 users..."
  node --disable-warning=TimeoutNegativeWarning src/cli/seed.ts --users 1000 --stock 100 --name "Demo coupon"
else
  echo "demo data already seeded ($seed_file); remove it to seed again"
fi

cat <<EOT

API on http://127.0.0.1:${PORT:-8080}  (docs /docs, metrics /metrics, readiness /health/ready)
Prometheus on http://127.0.0.1:9090
Try: curl -X POST http://127.0.0.1:${PORT:-8080}/api/coupons/<couponId>/issue-fcfs/<publicId>  (ids in $seed_file)

EOT
exec node --disable-warning=TimeoutNegativeWarning src/cli/start.ts
