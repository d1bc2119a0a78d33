#!/usr/bin/env bash
# Prometheus: infra/prometheus.sh start|stop|status
set -euo pipefail
SERVICE=prometheus
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=$PROMETHEUS_PORT
MATCH=prometheus

ready() { curl -fs "http://127.0.0.1:$PORT/-/ready" >/dev/null; }

start() {
  if needs_launch; then
    mkdir -p "$DATA/prometheus"
    say "starting on 127.0.0.1:$PORT"
    # --web.enable-lifecycle: `curl -X POST 127.0.0.1:9090/-/reload` picks up edits to
    # prometheus/*.yml without a restart.
    # The cluster stack runs two consumers, each with its metrics port.
    local config=prometheus.yml
    [[ ${STACK:-single} == cluster ]] && config=prometheus.cluster.yml
    run_detached prometheus --config.file="$ROOT/prometheus/$config" \
      --storage.tsdb.path="$DATA/prometheus" \
      --web.listen-address="127.0.0.1:$PORT" --web.enable-lifecycle
  fi
  wait_until 30 "http://127.0.0.1:$PORT/-/ready" ready
  say "ready"
}

main "$@"
