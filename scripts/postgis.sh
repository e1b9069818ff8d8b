#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL/PostGIS cluster:
#   bash scripts/postgis.sh COMMAND [ARG...]
# The cluster lives in a temporary folder, listens on 127.0.0.1 on a free port (and a socket in
# its own folder), runs as the `postgres` user when started as root (the server refuses root),
# holds one database `ecowatch_test` with the postgis extension, and is stopped and deleted when
# the command ends. The command sees its URL in POSTGIS_TEST_URL; the PostGIS tests use
# it and skip without it. With CI=true a missing PostgreSQL or PostGIS fails the run instead.
# The packages come from scripts/system-deps.sh. POSTGIS_FSYNC=on keeps the server's durability
# settings (for benchmarks); POSTGIS_PG_ROOT looks for the server elsewhere than /usr/lib/postgresql.
# (Not ECOWATCH_* names: the settings refuse ECOWATCH_* variables they do not know.)
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/postgis.sh COMMAND [ARG...]" >&2; exit 2; }

missing() {  # missing WHY COMMAND [ARG...]
  local why=$1
  shift
  if [ "${CI:-}" = "true" ]; then
    echo "postgis.sh: $why (CI=true: the PostGIS tests must run; scripts/system-deps.sh installs it)" >&2
    exit 1
  fi
  echo "postgis.sh: $why; the PostGIS tests will be skipped" >&2
  unset POSTGIS_TEST_URL
  exec "$@"
}

BIN=""
for dir in $(ls -d "${POSTGIS_PG_ROOT:-/usr/lib/postgresql}"/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then BIN=$dir; break; fi
done
[ -n "$BIN" ] || missing "no PostgreSQL server (initdb) under ${POSTGIS_PG_ROOT:-/usr/lib/postgresql}" "$@"
MAJOR=$(basename "$(dirname "$BIN")")
[ -f "/usr/share/postgresql/$MAJOR/extension/postgis.control" ] || missing "PostgreSQL $MAJOR has no PostGIS extension" "$@"

AS=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || missing "no postgres user to run the server as" "$@"
  AS=(runuser -u postgres --)
fi
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/ecowatch-pg.XXXXXX")
chmod 755 "$ROOT"
DATA="$ROOT/data"
mkdir "$DATA"
[ ${#AS[@]} -eq 0 ] || chown -R postgres: "$ROOT"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap stop EXIT

"${AS[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C >"$ROOT/initdb.log" 2>&1 \
  || { cat "$ROOT/initdb.log" >&2; echo "postgis.sh: initdb failed" >&2; exit 1; }
# a throwaway cluster: durability settings off (tests only; benchmarks start their own view of it)
"${AS[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $ROOT -c fsync=${POSTGIS_FSYNC:-off} -c full_page_writes=${POSTGIS_FSYNC:-off} -c max_connections=200" >/dev/null \
  || { cat "$ROOT/server.log" >&2; echo "postgis.sh: the server did not start" >&2; exit 1; }
PSQL=("${AS[@]}" "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE ecowatch_test"
"${PSQL[@]}" -d ecowatch_test -c "CREATE EXTENSION postgis" \
  || { echo "postgis.sh: CREATE EXTENSION postgis failed" >&2; exit 1; }
export POSTGIS_TEST_URL="postgresql://postgres@127.0.0.1:$PORT/ecowatch_test"
echo "postgis.sh: PostgreSQL $MAJOR with PostGIS on 127.0.0.1:$PORT (POSTGIS_TEST_URL)" >&2
set +e
"$@"
rc=$?
exit $rc
