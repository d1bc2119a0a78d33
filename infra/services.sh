#!/usr/bin/env bash
# The local stack, all at once: infra/services.sh start|stop|status
# (redis, mariadb, kafka, prometheus; each also has its own infra/<name>.sh).
# STACK=cluster: a Redis Cluster (infra/redis-cluster.sh, 3 masters and 3 replicas on 7001-7006)
# and three Kafka brokers (infra/kafka-cluster.sh, 9092/9094/9096) instead of the single Redis and
# broker; infra/cluster.env is how the app reaches them (`STACK=cluster npm run up` reads it).
# Stop one stack before starting the other: they share ports.
set -euo pipefail
INFRA=$(cd "$(dirname "$0")" && pwd)
case "${STACK:-single}" in
  single) REDIS=redis KAFKA=kafka ;;
  cluster) REDIS=redis-cluster KAFKA=kafka-cluster ;;
  *)
    echo "STACK must be single or cluster, got \"$STACK\"" >&2
    exit 2
    ;;
esac
SERVICES=("$REDIS" mariadb "$KAFKA" prometheus)

status_all() {
  printf '%-11s %-6s %s\n' SERVICE PORT STATE
  for s in "${SERVICES[@]}"; do bash "$INFRA/$s.sh" status || true; done
  # Without STACK, the other stack's nodes too, if any of them runs: status is asked of whatever is up.
  if [[ -z ${STACK:-} ]]; then
    local s out
    for s in redis-cluster kafka-cluster; do
      out=$(bash "$INFRA/$s.sh" status || true)
      if grep -q running <<<"$out"; then echo "$out"; fi
    done
  fi
}

case "${1:-}" in
  start)
    started=${EPOCHREALTIME/./} # microseconds; bash 5 has it built in, no bc needed
    bash "$INFRA/install.sh"
    # Kafka's JVM takes several seconds to come up: set it going first, start the quick ones
    # meanwhile, and only then wait for it (kafka.sh start finds it launched and just waits).
    bash "$INFRA/$KAFKA.sh" launch
    bash "$INFRA/$REDIS.sh" start
    bash "$INFRA/mariadb.sh" start
    bash "$INFRA/$KAFKA.sh" start
    bash "$INFRA/prometheus.sh" start
    echo
    status_all
    us=$((${EPOCHREALTIME/./} - started))
    printf 'services up in %d.%ds\n' $((us / 1000000)) $((us % 1000000 / 100000))
    ;;
  stop)
    # Reverse order: nothing is left running without what it talks to. Each stops only its own pid.
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do bash "$INFRA/${SERVICES[i]}.sh" stop; done
    ;;
  status) status_all ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
