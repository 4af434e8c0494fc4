#!/bin/sh
# The team deployment's PostgreSQL (compose.yaml, service `postgres`), in the entourage/entourage image.
# First start: a cluster in $PGDATA owned by `postgres`, whose only role is `entourage` with the password
# $ENTOURAGE_DB_PASSWORD (scram-sha-256 on TCP, no trust anywhere), and the `entourage` database. Every start:
# the server listens on $ENTOURAGE_PG_LISTEN (default 127.0.0.1) port $ENTOURAGE_PG_PORT (default 5432), with
# no Unix socket. Then it is PID 1 of the container: SIGTERM from `docker-compose stop` is a smart shutdown.
set -eu
: "${ENTOURAGE_DB_PASSWORD:?set ENTOURAGE_DB_PASSWORD (the entourage role's password)}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
BIN=/usr/lib/postgresql/15/bin
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 0700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$ENTOURAGE_DB_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_postgres "$BIN/initdb" -D "$PGDATA" --username=entourage --pwfile="$pwfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "CREATE DATABASE entourage OWNER entourage;" |
    as_postgres "$BIN/postgres" --single -D "$PGDATA" -c unix_socket_directories= postgres >/dev/null
  echo "postgres.sh: new cluster in $PGDATA (role and database: entourage)"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$BIN/postgres" -D "$PGDATA" \
  -c listen_addresses="${ENTOURAGE_PG_LISTEN:-127.0.0.1}" -p "${ENTOURAGE_PG_PORT:-5432}" \
  -c unix_socket_directories= -c password_encryption=scram-sha-256
