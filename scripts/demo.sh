#!/usr/bin/env bash
# The pageserver demo: a throwaway PostgreSQL 15 primary, a pageserver following it, a short
# pgbench, then `status` and one page read from the pageserver next to the primary's own; then
# point-in-time restore: more pgbench, and a stock PostgreSQL 15 started on a base backup the
# pageserver makes as of the LSN before it (no replay), with the tables as they were then.
# Everything it starts is stopped and its directory removed at the end (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/setup.sh
if [ ! -f target/pageserver.jar ]; then
  echo "== building target/pageserver.jar"
  mvn -q -B -DskipTests package
fi

. scripts/lib.sh
DEMO=$(throwaway_dir pageserver-demo)
PGPORT=$(free_port)
PSPORT=$(free_port)
PS_PID=""

cleanup() {
  set +e
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  [ -d "$DEMO/restored" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DEMO/restored" -m immediate stop >/dev/null 2>&1
  stop_pg "$DEMO"
  if [ "${KEEP:-0}" = 1 ]; then echo "== kept $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT

echo "== PostgreSQL 15 primary on port $PGPORT ($DEMO/pg)"
throwaway_pg "$DEMO" "$PGPORT" "shared_buffers = 64MB"
PSQL=(psql -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -s 2 -q postgres 2>&1 | tail -1

echo "== pageserver on port $PSPORT ($DEMO/pageserver)"
# the launcher operators use (the jar with its class-data-sharing archive); it execs java
bash "$ROOT/scripts/pageserver" -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" \
  -Dpageserver.data-dir="$DEMO/pageserver" >"$DEMO/pageserver.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT" || { echo "the pageserver did not start:"; cat "$DEMO/pageserver.log"; exit 1; }
PS=(psql -X -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres)

echo "== callmemaybe (first time: base backup import)"
"${PS[@]}" -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres"

echo "== pgbench -c 4 -T 10 against the primary"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -c 4 -T 10 postgres 2>&1 | grep -E "tps|transactions actually"

FLUSH=$("${PSQL[@]}" -At -c "select pg_current_wal_flush_lsn()")
echo "== status (primary flushed up to $FLUSH)"
for _ in $(seq 1 50); do
  DURABLE=$("${PS[@]}" -At -c status | awk -F'|' '{print $5}')
  if [ -n "$DURABLE" ] && "${PSQL[@]}" -At -c "select '$DURABLE'::pg_lsn >= '$FLUSH'::pg_lsn" | grep -q t; then break; fi
  sleep 0.2
done
"${PS[@]}" -c status

echo "== block 0 of pgbench_accounts at $FLUSH: pageserver vs primary"
"${PSQL[@]}" -c "create extension if not exists pageinspect" >/dev/null
read -r SPC DB REL < <("${PSQL[@]}" -At -F ' ' -c "select case when reltablespace = 0 then 1663 else reltablespace end,
  (select oid from pg_database where datname = current_database()), pg_relation_filenode(oid)
  from pg_class where relname = 'pgbench_accounts'")
SYSID=$("${PS[@]}" -At -c status | awk -F'|' '{print $1}')
java -jar "$ROOT/target/pageserver.jar" getpage --port "$PSPORT" --system-id "$SYSID" \
  --rel "$SPC/$DB/$REL" --blkno 0 --lsn "$FLUSH" --out "$DEMO/from-pageserver.page"
"${PSQL[@]}" -At -c "select encode(get_raw_page('pgbench_accounts', 0), 'hex')" | xxd -r -p >"$DEMO/from-primary.page"
printf '%-14s %-44s %s\n' "" "pageserver" "primary"
for OFF in 0 16 32 48; do
  printf '%04x          %-44s %s\n' "$OFF" \
    "$(xxd -s "$OFF" -l 16 -p "$DEMO/from-pageserver.page")" "$(xxd -s "$OFF" -l 16 -p "$DEMO/from-primary.page")"
done
DIFF=$(cmp -l "$DEMO/from-pageserver.page" "$DEMO/from-primary.page" | wc -l || true)
echo "bytes that differ: $DIFF of 8192 (pd_prune_xid and tuple hint bits are hints the primary sets without WAL, so a few may)"

ACCOUNTS="select count(*), sum(abalance), md5(string_agg(aid || ':' || abalance, ',' order by aid)) from pgbench_accounts"
THEN=$("${PSQL[@]}" -At -c "$ACCOUNTS")
echo
echo "== point in time: pgbench_accounts at $FLUSH is ($THEN); pgbench goes on"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -c 4 -T 5 postgres 2>&1 | grep -E "tps"
echo "   the primary now: ($("${PSQL[@]}" -At -c "$ACCOUNTS"))"

echo "== basebackup as of $FLUSH from the pageserver, into $DEMO/restored"
START=$(date +%s.%N)
java -jar "$ROOT/target/pageserver.jar" basebackup --port "$PSPORT" --system-id "$SYSID" --lsn "$FLUSH" -D "$DEMO/restored"
RESTPORT=$(free_port)
printf "\nport = %s\nunix_socket_directories = '%s'\n" "$RESTPORT" "$DEMO" >>"$DEMO/restored/postgresql.conf"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$DEMO/restored"; fi
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$DEMO/restored" -l "$DEMO/restored.log" -w start >/dev/null
END=$(date +%s.%N)
echo "   a stock PostgreSQL 15 runs on it (port $RESTPORT) $(echo "$END - $START" | bc) s after the request; its log:"
grep -E "database system (was shut down|is ready)" "$DEMO/restored.log" | sed 's/^/     /'
NOW=$(psql -X -q -h 127.0.0.1 -p "$RESTPORT" -U postgres -d postgres -At -c "$ACCOUNTS")
echo "   pgbench_accounts there: ($NOW)"
if [ "$NOW" = "$THEN" ]; then
  echo "== the restored server holds exactly what the primary had at $FLUSH, with nothing replayed"
else
  echo "== MISMATCH: expected ($THEN)"; exit 1
fi
