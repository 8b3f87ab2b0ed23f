#!/usr/bin/env bash
# Page service benchmark (issue "Page service"): GetPage@latest of random blocks of a pgbench
# scale-20 pgbench_accounts, at 1, 8 and 32 connections, against the pageserver and, in the same
# run, against PostgreSQL itself serving the same pages (prepared get_raw_page).
# Usage: bash bench/pagebench.sh   (SCALE=20 SECONDS_PER_RUN=10 PAGE_CACHE=512m by default;
# PAGE_CACHE=8m makes most reads miss the page cache and go to the store; PIN_CLIENT=1 runs
# the benchmark client on CPU 0 and both servers on the other CPUs, so that the client's own CPU
# time does not come out of the servers').
# METRICS_COST=1: instead of PostgreSQL, a second pageserver with pageserver.metrics.enabled=false
# follows the same primary (SWAP=1: the first one has them off), and the two are compared, alternating ROUNDS=2 times per connection
# count at 1 and 8 connections (MetricsCostBench): the cost of the GetPage path's metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-20}
SECS=${SECONDS_PER_RUN:-10}
PAGE_CACHE=${PAGE_CACHE:-512m}
PIN_CLIENT=${PIN_CLIENT:-0}
METRICS_COST=${METRICS_COST:-0}
ROUNDS=${ROUNDS:-2}
SRV=()
CLI=()
if [ "$PIN_CLIENT" = 1 ]; then
  [ "$(nproc)" -ge 2 ] || { echo "PIN_CLIENT=1 needs at least 2 CPUs"; exit 1; }
  SRV=(taskset -c "1-$(( $(nproc) - 1 ))")
  CLI=(taskset -c 0)
fi
bash scripts/setup.sh
mvn -q -B -DskipTests package
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test >/dev/null
CP="target/classes:target/test-classes:$(cat target/bench.cp)"
. scripts/lib.sh
B=$(throwaway_dir pageserver-pagebench)
PS_PID=""
OFF_PID=""
cleanup() {
  set +e
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  [ -n "$OFF_PID" ] && kill -TERM "$OFF_PID" 2>/dev/null && wait "$OFF_PID" 2>/dev/null
  stop_pg "$B"
  rm -rf "$B"
}
trap cleanup EXIT
PGPORT=$(free_port)
PSPORT=$(free_port)
throwaway_pg "$B" "$PGPORT" "shared_buffers = 512MB" "max_connections = 100"
if [ "$PIN_CLIENT" = 1 ]; then
  # every process of the cluster, and the backends it forks later, on the server CPUs
  taskset -a -c -p "1-$(( $(nproc) - 1 ))" "$(head -1 "$B/pg/postmaster.pid")" >/dev/null
fi
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1
"${PSQL[@]}" -c "create extension pageinspect" >/dev/null
"${PSQL[@]}" -c "checkpoint" >/dev/null
# by default a page cache of 65536 pages = 512 MB, the same memory as the primary's shared_buffers
# METRICS_COST=1 SWAP=1: the first pageserver is the one with the metrics off (to tell their cost
# from any difference between the first and the second server)
FIRST_METRICS=true
SECOND_METRICS=false
if [ "${SWAP:-0}" = 1 ]; then FIRST_METRICS=false; SECOND_METRICS=true; fi
${SRV[@]+"${SRV[@]}"} java -Xmx2g -Dpageserver.metrics.enabled="$FIRST_METRICS" -Dpageserver.page-cache="$PAGE_CACHE" -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" -Dpageserver.data-dir="$B/ps" -jar target/pageserver.jar >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT" || { echo "pageserver did not start:"; cat "$B/ps.log"; exit 1; }
PS=(psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres)
SYSID=$("${PS[@]}" -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres")
read -r SPC DB REL NB < <("${PSQL[@]}" -F ' ' -c "select 1663, (select oid from pg_database where datname = current_database()),
  pg_relation_filenode('pgbench_accounts'), pg_relation_size('pgbench_accounts') / 8192")
# read every page once through PostgreSQL so both sides serve from memory (shared_buffers 512MB)
"${PSQL[@]}" -c "select count(*) from pgbench_accounts" >/dev/null
if [ "$METRICS_COST" = 1 ]; then
  OFFPORT=$(free_port)
  # its own replication slot: the first pageserver's is in use
  ${SRV[@]+"${SRV[@]}"} java -Xmx2g -Dpageserver.metrics.enabled="$SECOND_METRICS" -Dpageserver.wal-receiver.slot-prefix=pageserver_2_ \
    -Dpageserver.http-listen="127.0.0.1:$(free_port)" -Dpageserver.page-cache="$PAGE_CACHE" -Dpageserver.listen="127.0.0.1:$OFFPORT" \
    -Dpageserver.data-dir="$B/ps-off" -jar target/pageserver.jar >"$B/ps-off.log" 2>&1 &
  OFF_PID=$!
  wait_port "$OFFPORT" || { echo "second pageserver did not start:"; cat "$B/ps-off.log"; exit 1; }
  psql -X -At -h 127.0.0.1 -p "$OFFPORT" -U postgres -d postgres -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres" >/dev/null
  ON=("$PSPORT" "$PS_PID"); OFF=("$OFFPORT" "$OFF_PID")
  if [ "${SWAP:-0}" = 1 ]; then ON=("$OFFPORT" "$OFF_PID"); OFF=("$PSPORT" "$PS_PID"); fi
  echo "metrics on (port ${ON[0]}, the $([ "${SWAP:-0}" = 1 ] && echo second || echo first) server) against metrics off (port ${OFF[0]}): pgbench scale $SCALE, pgbench_accounts $NB blocks; page cache $PAGE_CACHE; ${SECS}s per run after 2s warm-up; $ROUNDS rounds; $(nproc) cores; client pinned: $PIN_CLIENT; $(date -u +%Y-%m-%d)"
  ${CLI[@]+"${CLI[@]}"} java -cp "$CP" org.pageserver.client.MetricsCostBench "${ON[@]}" "${OFF[@]}" \
    "$SYSID" "$SPC/$DB/$REL" "$NB" "$SECS" "$ROUNDS" 1 8
  exit 0
fi
echo "pgbench scale $SCALE: pgbench_accounts $NB blocks; page cache $PAGE_CACHE; ${SECS}s per run after 2s warm-up; $(nproc) cores; client pinned: $PIN_CLIENT; $(date -u +%Y-%m-%d)"
${CLI[@]+"${CLI[@]}"} java -cp "$CP" org.pageserver.client.PageBench "$PSPORT" "$PGPORT" "$SYSID" "$SPC/$DB/$REL" "$NB" "$SECS" 1 8 32
