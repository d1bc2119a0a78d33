# shellcheck shell=bash
# Shared helpers for the per-service scripts (infra/redis.sh, ...). Sourced, not run.
#
# Each service script sets SERVICE (its name), PORT (what "is it up?" means) and MATCH (a string its
# process's command line contains), defines start() and ready(), then calls `main "$@"`.
#
# Everything a service owns lives under .data/ at the repo root, so `rm -rf .data` is a full reset:
#   .data/<service>/        its data
#   .data/log/<service>.log its stdout/stderr (and own log, where it has one)
#   .data/run/<service>.pid the pid we started, the only process stop() will ever signal
# So there is one instance of each service per checkout: give start and stop the same *_PORT.
# FCFS_DATA_DIR (with other *_PORTs) makes a second, separate instance: the fault tests start
# their own services that way, so killing them never disturbs the shared ones.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${FCFS_DATA_DIR:-$ROOT/.data}
mkdir -p "$DATA/log" "$DATA/run"

REDIS_PORT=${REDIS_PORT:-6379}
MYSQL_PORT=${MYSQL_PORT:-3306}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9094}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
# The brokers' JIT: the first tier only. A broker here shares a couple of cores with everything
# else, and HotSpot's optimising compiler kept both its threads busy through whole benchmarks; with
# the first tier a broker costs half the CPU per admission and is ready in 9 s instead of 12
# (docs/testing.md). A broker on machines of its own keeps the JVM's default: KAFKA_JIT_OPTS= (empty).
KAFKA_JIT_OPTS=${KAFKA_JIT_OPTS--XX:TieredStopAtLevel=1}

LOG=$DATA/log/$SERVICE.log
PIDFILE=$DATA/run/$SERVICE.pid

say() { echo "[$SERVICE] $*"; }

# Fails with the tail of the service's log: a readiness timeout alone never says *why*.
fail() {
  echo "[$SERVICE] ERROR: $*" >&2
  if [[ -s $LOG ]]; then
    echo "[$SERVICE] --- last 30 lines of $LOG ---" >&2
    tail -n 30 "$LOG" >&2
  fi
  exit 1
}

# A pid counts as ours only if it is alive, not a zombie (nobody may reap it once our shell is
# gone) and still runs our program: after a reboot a stale pidfile can name somebody else's pid.
is_ours() {
  local pid=$1
  [[ -r /proc/$pid/stat && $(awk '{print $3}' "/proc/$pid/stat") != Z ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$MATCH"
}

# Prints the pid from our pidfile if that process is (still) ours.
our_pid() {
  [[ -s $PIDFILE ]] || return 1
  local pid
  pid=$(<"$PIDFILE")
  is_ours "$pid" && echo "$pid"
}

started_by_us() { our_pid >/dev/null; }

# bash's /dev/tcp instead of ss/nc: one less package on a bare machine. Loopback refuses instantly.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Runs the service in its own session (setsid), so it outlives the shell that started it, never
# gets that terminal's SIGHUP/Ctrl-C, and holds none of its pipes (npm/CI would wait on them).
# The background child is not a process-group leader, so setsid execs in place and $! is the
# service's own pid.
run_detached() {
  setsid "$@" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
}

# wait_until SECONDS WHAT COMMAND... polls COMMAND until it succeeds. Gives up early if the
# process we started has died, since waiting out the timeout would only hide the crash.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if [[ -f $PIDFILE ]] && ! started_by_us; then
      rm -f "$PIDFILE"
      fail "exited while waiting for $what"
    fi
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.5
  done
}

# Returns 0 if the service needs launching. Otherwise it is already up, either ours or something
# else on the port (a system service, another checkout...) which we reuse and never touch.
needs_launch() {
  local pid
  if pid=$(our_pid); then
    say "already running (pid $pid)"
    return 1
  fi
  rm -f "$PIDFILE"
  if port_open "$PORT"; then
    say "port $PORT is in use by a process we did not start; reusing it"
    return 1
  fi
  return 0
}

# TERM, then up to 30 s for a clean shutdown (Kafka and MariaDB flush on the way out), then KILL.
# Only ever the pid in our pidfile: a service we did not start is not ours to stop.
stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    say "not running (nothing of ours to stop)"
    return 0
  fi
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do
    is_ours "$pid" || break
    sleep 0.5
  done
  if is_ours "$pid"; then
    say "still running after 30s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

# One line, so infra/services.sh can print it as a table row. Exit 3 (LSB "not running") when down.
status() {
  local pid state
  if pid=$(our_pid); then
    state="running (pid $pid)"
  elif port_open "$PORT"; then
    state="running (not started by us)"
  else
    state=stopped
  fi
  printf '%-11s %-6s %s\n' "$SERVICE" "$PORT" "$state"
  [[ $state != stopped ]] || return 3
}

# A cluster member's table row, its DETAIL (role, broker number) beside its pid; fails when down.
member_status() {
  local pid state
  if pid=$(our_pid); then state="running (pid $pid, $1)"; else state=stopped; fi
  printf '%-11s %-6s %s\n' "$SERVICE" "$PORT" "$state"
  [[ $state != stopped ]]
}

# SIGKILL, for the fault tests: a crash, with no chance to flush or hand over.
kill_hard() {
  local pid
  pid=$(our_pid) || {
    say "not running"
    return 0
  }
  say "SIGKILL pid $pid"
  kill -KILL "$pid"
}

main() {
  case "${1:-}" in
    start | stop | status) "$1" ;;
    *)
      echo "usage: $0 start|stop|status" >&2
      exit 2
      ;;
  esac
}
