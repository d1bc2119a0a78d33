#!/usr/bin/env bash
# Redis: infra/redis.sh start|stop|status
set -euo pipefail
SERVICE=redis
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=$REDIS_PORT
MATCH=redis-server

ready() { [[ $(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]]; }

start() {
  if needs_launch; then
    mkdir -p "$DATA/redis"
    say "starting on 127.0.0.1:$PORT"
    run_detached redis-server "$ROOT/infra/redis.conf" --port "$PORT" --dir "$DATA/redis"
  fi
  wait_until 30 "PING to be answered with PONG" ready
  say "ready"
}

main "$@"
