#!/usr/bin/env bash
# MariaDB: infra/mariadb.sh start|stop|status
set -euo pipefail
SERVICE=mariadb
# shellcheck source=infra/lib.sh
source "$(dirname "$0")/lib.sh"
PORT=$MYSQL_PORT
MATCH=mariadbd
DATADIR=$DATA/mariadb
SOCKET=$DATA/run/mariadb.sock

# As root over our own socket: mariadb-install-db gives root@localhost unix_socket auth, no password.
ready() { mariadb-admin --no-defaults --socket="$SOCKET" --user=root ping >/dev/null 2>&1; }
sql() { mariadb --no-defaults --socket="$SOCKET" --user=root; }

# Idempotent, so it runs on every start: a half-finished first start or a hand-dropped database
# is repaired by simply starting again. `coupons%` also covers databases tests create on the fly.
# ALTER USER resets the password in case someone changed it by hand.
setup_sql() {
  sql <<'SQL'
CREATE DATABASE IF NOT EXISTS coupons;
CREATE DATABASE IF NOT EXISTS coupons_test;
CREATE USER IF NOT EXISTS 'coupons'@'localhost' IDENTIFIED BY 'coupons';
CREATE USER IF NOT EXISTS 'coupons'@'127.0.0.1' IDENTIFIED BY 'coupons';
ALTER USER 'coupons'@'localhost' IDENTIFIED BY 'coupons';
ALTER USER 'coupons'@'127.0.0.1' IDENTIFIED BY 'coupons';
GRANT ALL PRIVILEGES ON `coupons%`.* TO 'coupons'@'localhost';
GRANT ALL PRIVILEGES ON `coupons%`.* TO 'coupons'@'127.0.0.1';
SQL
}

start() {
  if needs_launch; then
    if [[ ! -d $DATADIR/mysql ]]; then
      say "first start: creating system tables in $DATADIR"
      mkdir -p "$DATADIR"
      # --no-defaults keeps /etc/mysql out: Debian's config points at /var/lib/mysql and /run/mysqld.
      # On failure, remove the half-made datadir so the next start retries from scratch.
      mariadb-install-db --no-defaults --datadir="$DATADIR" --user=root --skip-test-db >>"$LOG" 2>&1 ||
        { rm -rf "$DATADIR"; fail "mariadb-install-db failed"; }
    fi
    say "starting on 127.0.0.1:$PORT (socket $SOCKET)"
    # utf8mb4 explicitly: without Debian's config the compiled-in default is latin1.
    run_detached mariadbd --no-defaults --user=root \
      --datadir="$DATADIR" --socket="$SOCKET" --pid-file="$DATADIR/mariadbd.pid" \
      --port="$PORT" --bind-address=127.0.0.1 --log-error="$LOG" \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
      --innodb-buffer-pool-size=256M --max-connections=500
  elif ! started_by_us; then
    # A server we did not start has its own socket and root account: we cannot (and should not)
    # set it up, only tell whether the app's account works there.
    mariadb --no-defaults -h127.0.0.1 -P"$PORT" -ucoupons -pcoupons coupons -e 'SELECT 1' >/dev/null 2>&1 ||
      say "WARNING: cannot log in as coupons/coupons to database coupons on port $PORT"
    return 0
  fi
  wait_until 60 "mariadb-admin ping on $SOCKET" ready
  setup_sql || fail "creating the coupons databases and user failed"
  say "ready (databases coupons, coupons_test; user coupons/coupons)"
}

main "$@"
