#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server on 127.0.0.1, stopped afterwards.
#
# When PG_TEST_DSN is already set (a server you run yourself) it is used as is. Otherwise
# Debian's PostgreSQL is installed if missing, a cluster is created in a temporary folder
# on a free port, and PG_TEST_DSN points at a fresh database in it. Without PostgreSQL
# (no apt, no root) the command still runs and the postgres-marked tests skip.
set -euo pipefail

if [[ -n "${PG_TEST_DSN:-}" ]]; then
  exec "$@"
fi

find_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" ]] && { echo "$dir"; return 0; }
  done
  return 1
}

BINDIR=$(find_bindir || true)
if [[ -z "$BINDIR" ]] && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "with-postgres: installing Debian's postgresql package" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "with-postgres: install failed; postgres tests will skip" >&2
  BINDIR=$(find_bindir || true)
fi
if [[ -z "$BINDIR" ]]; then
  echo "with-postgres: no PostgreSQL server available; postgres tests will skip" >&2
  exec "$@"
fi

WORK=$(mktemp -d /tmp/pg-test.XXXXXX)
chmod 755 "$WORK"
RUN_AS=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$WORK"
  RUN_AS=(runuser -u postgres --)
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cleanup() {
  "${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"${RUN_AS[@]}" "$BINDIR/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$WORK/data" -w -l "$WORK/log" \
  -o "-h 127.0.0.1 -p $PORT -k $WORK -c fsync=off -c full_page_writes=off" start >/dev/null
"${RUN_AS[@]}" "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres elt_test
# trust auth ignores the password, but dlt insists on one being set
export PG_TEST_DSN="postgresql://postgres:unused@127.0.0.1:$PORT/elt_test"
echo "with-postgres: throwaway server on 127.0.0.1:$PORT" >&2

set +e
"$@"
status=$?
set -e
exit $status
