#!/usr/bin/env bash
# A three-broker Kafka cluster on this machine: infra/kafka-cluster.sh start|stop|status|kill PORT
#
# Three KRaft nodes (each a broker and a controller voter) from the same Maven jars as the single
# broker, client ports KAFKA_CLUSTER_PORTS (default 9092 9094 9096) and each controller on its client
# port + 1. `start` is idempotent: it starts only the nodes that are not running, so a killed broker
# comes back into the cluster it left. The topics are created with replication factor 3 and
# min.insync.replicas 2 (KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS).
set -euo pipefail
INFRA=$(cd "$(dirname "$0")" && pwd)
read -r -a PORTS <<<"${KAFKA_CLUSTER_PORTS:-9092 9094 9096}"

voters() {
  local i out=()
  for i in "${!PORTS[@]}"; do out+=("$((i + 1))@127.0.0.1:$((PORTS[i] + 1))"); done
  (IFS=,; echo "${out[*]}")
}

# One node as a service of infra/lib.sh, in a subshell so that lib.sh's per-service variables do
# not leak from one node to the next.
broker() {
  local index=$1 action=$2
  (
    SERVICE=kafka-${PORTS[index]}
    # shellcheck source=infra/lib.sh
    source "$INFRA/lib.sh"
    PORT=${PORTS[index]}
    MATCH=kafka.Kafka
    DIR=$DATA/kafka-cluster/$PORT
    PROPS=$DIR/server.properties
    LIB=$ROOT/infra/kafka/lib
    CLUSTER_ID_FILE=$DATA/kafka-cluster/cluster.id
    kafka_java() { java -cp "$LIB/*" "$@"; }
    launch() {
      needs_launch || return 0
      compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null || fail "no Kafka jars in $LIB; run: bash infra/install.sh"
      mkdir -p "$DIR"
      sed -e "s|@NODE_ID@|$((index + 1))|g" -e "s|@VOTERS@|$(voters)|g" -e "s|@KAFKA_PORT@|$PORT|g" \
        -e "s|@KAFKA_CONTROLLER_PORT@|$((PORT + 1))|g" -e "s|@LOG_DIRS@|$DIR/logs|g" \
        "$ROOT/infra/kafka/cluster.properties" >"$PROPS"
      if [[ ! -f $DIR/logs/meta.properties ]]; then
        # One cluster id for the three nodes: they format their storage with it and find each other.
        if [[ ! -s $CLUSTER_ID_FILE ]]; then
          kafka_java kafka.tools.StorageTool random-uuid >"$CLUSTER_ID_FILE" 2>>"$LOG" || fail "random-uuid failed"
        fi
        kafka_java kafka.tools.StorageTool format -t "$(<"$CLUSTER_ID_FILE")" -c "$PROPS" >>"$LOG" 2>&1 ||
          fail "formatting storage failed"
      fi
      say "starting node $((index + 1)) on 127.0.0.1:$PORT (controller $((PORT + 1)))"
      run_detached java -Xms192m -Xmx384m -XX:+UseG1GC $KAFKA_JIT_OPTS -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.yaml" -cp "$LIB/*" kafka.Kafka "$PROPS"
    }
    case $action in
      launch) launch ;;
      wait) wait_until 90 "port $PORT to accept connections" port_open "$PORT" ;;
      stop) stop ;;
      status) member_status "broker $((index + 1))" ;;
      kill) kill_hard ;;
    esac
  )
}

index_of() {
  local i
  for i in "${!PORTS[@]}"; do [[ ${PORTS[i]} == "$1" ]] && echo "$i" && return 0; done
  echo "no broker on port $1" >&2
  return 1
}

node24() {
  if [[ $(node --version 2>/dev/null) == v24.* ]]; then node "$@"; else (cd "$INFRA/.." && npm exec -- node "$@"); fi
}

start() {
  local i brokers=()
  # All three JVMs at once: a quorum needs a majority up before any of them serves.
  for i in "${!PORTS[@]}"; do broker "$i" launch; done
  for i in "${!PORTS[@]}"; do broker "$i" wait; brokers+=("127.0.0.1:${PORTS[i]}"); done
  [[ -d $INFRA/../node_modules/kafkajs ]] || { echo "[kafka-cluster] node_modules/kafkajs is missing; run: npm ci" >&2; exit 1; }
  (IFS=,; cd "$INFRA/.." && KAFKA_BROKERS="${brokers[*]}" KAFKA_REPLICATION_FACTOR=${KAFKA_REPLICATION_FACTOR:-3} \
    KAFKA_MIN_INSYNC_REPLICAS=${KAFKA_MIN_INSYNC_REPLICAS:-2} node24 --disable-warning=TimeoutNegativeWarning \
    src/cli/create-topics.ts) | sed "s/^/[kafka-cluster] /" || { echo "[kafka-cluster] ERROR: the cluster is not ready" >&2; exit 1; }
  echo "[kafka-cluster] ready: ${#PORTS[@]} brokers on ${PORTS[*]}"
}

case "${1:-}" in
  start) start ;;
  launch) for i in "${!PORTS[@]}"; do broker "$i" launch; done ;;
  stop) for ((i = ${#PORTS[@]} - 1; i >= 0; i--)); do broker "$i" stop; done ;;
  status)
    down=0
    for i in "${!PORTS[@]}"; do broker "$i" status || down=1; done
    exit $((down * 3))
    ;;
  kill) broker "$(index_of "${2:?usage: $0 kill PORT}")" kill ;;
  *)
    echo "usage: $0 start|stop|status|kill PORT" >&2
    exit 2
    ;;
esac
