#!/usr/bin/env bash
# A Redis Cluster on this machine: infra/redis-cluster.sh start|stop|status|kill PORT
#
# Six redis-server processes (REDIS_CLUSTER_PORTS, default 7001-7006) from the same Debian package as
# the single Redis; the first start joins them as three masters with one replica each
# (REDIS_CLUSTER_REPLICAS=2 and nine ports: two each). Each node
# keeps its nodes.conf in its own folder, so a node started again (after a crash or `kill`) rejoins
# the cluster it was in: a dead master's replica has been promoted meanwhile, and the old master
# comes back as its replica. `start` is idempotent: it starts only the nodes that are not running.
set -euo pipefail
INFRA=$(cd "$(dirname "$0")" && pwd)
read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003 7004 7005 7006}"
# Replicas per master (the nodes split into masters and replicas when the cluster is first formed).
REPLICAS=${REDIS_CLUSTER_REPLICAS:-1}
# How long a master may be unreachable before the others fail it over. Redis's default is 15 s;
# the availability target is a few seconds of refusals per fault, on a loopback where nothing is slow.
# The promotion takes this plus Redis's own 0.5-1 s election delay: at 1 s, a killed master's coupons
# were refused for up to 2.5 s of a storm (94.9 % served); at 0.5 s, 96.6 % or more was served
# (docs/failover.md).
NODE_TIMEOUT_MS=${REDIS_CLUSTER_NODE_TIMEOUT_MS:-500}

# A replica's first sync starts at once (Redis waits 5 s by default for more replicas to share it).
# One node as a service of infra/lib.sh (its own pidfile, log and data folder), in a subshell so
# that lib.sh's per-service variables do not leak from one node to the next.
node() {
  local port=$1 action=$2
  (
    SERVICE=redis-$port
    # shellcheck source=infra/lib.sh
    source "$INFRA/lib.sh"
    PORT=$port
    MATCH=redis-server
    ready() { [[ $(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]]; }
    start() {
      if needs_launch; then
        mkdir -p "$DATA/redis-cluster/$PORT"
        say "starting cluster node on 127.0.0.1:$PORT"
        run_detached redis-server "$ROOT/infra/redis.conf" --port "$PORT" --dir "$DATA/redis-cluster/$PORT" \
          --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT_MS" \
          --cluster-replica-validity-factor 0 --appendonly yes --repl-diskless-sync-delay 0
      fi
      wait_until 30 "PING to be answered with PONG" ready
    }
    role() { redis-cli -h 127.0.0.1 -p "$PORT" role 2>/dev/null | head -n 1; }
    case $action in
      start) start ;;
      stop) stop ;;
      status) member_status "$(role)" ;;
      kill) kill_hard ;;
    esac
  )
}

cli() { redis-cli -h 127.0.0.1 -p "${PORTS[0]}" "$@"; }

formed() { [[ $(cli cluster info 2>/dev/null | tr -d '\r' | grep -c '^cluster_known_nodes:1$') == 0 ]]; }

# Serving, and every master's replicas online: a replica still syncing would make the first
# admissions' WAIT time out (REDIS_WAIT_REPLICAS), so "ready" means ready to promise.
healthy() {
  local port replication online
  for port in "${PORTS[@]}"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok$' || return 1
    replication=$(redis-cli -h 127.0.0.1 -p "$port" info replication 2>/dev/null | tr -d '\r')
    if grep -q '^role:master$' <<<"$replication"; then
      online=$(grep -c '^slave[0-9]*:.*state=online' <<<"$replication" || true)
      ((online >= REPLICAS)) || return 1
    else
      grep -q '^master_link_status:up$' <<<"$replication" || return 1
    fi
  done
}

start() {
  local port
  for port in "${PORTS[@]}"; do node "$port" start; done
  if ! formed; then
    echo "[redis-cluster] joining ${#PORTS[@]} nodes: $((${#PORTS[@]} / (REPLICAS + 1))) masters, $REPLICAS replica(s) each"
    local nodes=()
    for port in "${PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$REPLICAS" --cluster-yes >/dev/null
  fi
  local deadline=$((SECONDS + 60))
  until healthy; do
    ((SECONDS < deadline)) || {
      echo "[redis-cluster] ERROR: cluster_state not ok, or a replica not online, after 60s" >&2
      exit 1
    }
    sleep 0.5
  done
  echo "[redis-cluster] ready: cluster_state ok and replicas online on ${PORTS[*]}"
}

case "${1:-}" in
  start) start ;;
  stop) for port in "${PORTS[@]}"; do node "$port" stop; done ;;
  status)
    down=0
    for port in "${PORTS[@]}"; do node "$port" status || down=1; done
    exit $((down * 3))
    ;;
  kill) node "${2:?usage: $0 kill PORT}" kill ;;
  *)
    echo "usage: $0 start|stop|status|kill PORT" >&2
    exit 2
    ;;
esac
