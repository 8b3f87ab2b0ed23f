#!/usr/bin/env bash
# Ingest benchmark (issue "WAL ingest"):
#  1. records a pgbench WAL stream of at least WAL_MB (default 512) MB from a throwaway PG15;
#  2. in the same run, times pg_waldump decoding those segments (the peer) and our decoder,
#     and our whole ingest path (decode + index + raw WAL + fsync per batch) on the same bytes;
#  3. runs a live pageserver following pgbench -c 8 for LIVE_SECS (default 60) seconds and
#     samples the lag (primary flush LSN - pageserver durable LSN) every second.
# Prints a summary to paste into BENCHMARKS.md. Usage: bash bench/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WAL_MB=${WAL_MB:-512}
LIVE_SECS=${LIVE_SECS:-60}

bash scripts/setup.sh
mvn -q -B -DskipTests package
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test >/dev/null
CP="target/classes:target/test-classes:$(cat target/bench.cp)"

. scripts/lib.sh
B=$(throwaway_dir pageserver-bench)
PS_PID=""
cleanup() {
  set +e
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  stop_pg "$B"
  rm -rf "$B"
}
trap cleanup EXIT
PGPORT=$(free_port)
throwaway_pg "$B" "$PGPORT" "wal_keep_size = '4GB'" "max_wal_size = '4GB'" "shared_buffers = 128MB"
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
PGB=("$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres)

echo "== recording at least $WAL_MB MB of pgbench WAL"
"${PGB[@]}" -i -s 10 -q postgres >/dev/null 2>&1
START=$("${PSQL[@]}" -c "select pg_current_wal_insert_lsn()")
while :; do
  "${PGB[@]}" -c 8 -T 20 postgres >/dev/null 2>&1
  DONE=$("${PSQL[@]}" -c "select (pg_current_wal_insert_lsn() - '$START'::pg_lsn) / 1048576")
  [ "${DONE%.*}" -ge "$WAL_MB" ] && break
done
"${PSQL[@]}" -c "select pg_switch_wal()" >/dev/null
END=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
mkdir -p "$B/wal"
cp "$B"/pg/pg_wal/0000000* "$B/wal/"
SEG=$("${PSQL[@]}" -c "select setting::int * (case unit when 'B' then 1 when 'kB' then 1024 else 1048576 end) from pg_settings where name='wal_segment_size'")
MB=$("${PSQL[@]}" -c "select round(('$END'::pg_lsn - '$START'::pg_lsn) / 1048576)")
echo "WAL $START .. $END ($MB MB)"

echo "== pg_waldump over the same WAL (peer)"
t0=$(date +%s.%N)
"$PGBIN/pg_waldump" -p "$B/wal" -s "$START" -e "$END" >/dev/null 2>&1 || true
t1=$(date +%s.%N)
"$PGBIN/pg_waldump" -p "$B/wal" -s "$START" -e "$END" --stats >/dev/null 2>&1 || true
t2=$(date +%s.%N)
WALDUMP_S=$(awk "BEGIN{print $t1 - $t0}")
STATS_S=$(awk "BEGIN{print $t2 - $t1}")

echo "== pageserver decoder and ingest over the same WAL"
OURS=$(java -Xmx4g -cp "$CP" org.pageserver.engine.IngestBenchmark "$B/wal" "$SEG" "$START" "$END" "$B/store")
echo "$OURS"

echo "== live: pageserver following pgbench -c 8 for $LIVE_SECS s"
PSPORT=$(free_port)
java -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" -Dpageserver.data-dir="$B/ps" -jar target/pageserver.jar >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT" || { echo "pageserver did not start:"; cat "$B/ps.log"; exit 1; }
PS=(psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres)
"${PS[@]}" -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres" >/dev/null
LIVE_START=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
"${PGB[@]}" -c 8 -T "$LIVE_SECS" postgres >"$B/pgbench.out" 2>&1 &
BENCH=$!
MAXLAG=0; SUM=0; N=0
while kill -0 "$BENCH" 2>/dev/null; do
  FLUSH=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
  DUR=$("${PS[@]}" -c status | cut -d'|' -f5)
  LAG=$("${PSQL[@]}" -c "select greatest(0, '$FLUSH'::pg_lsn - '$DUR'::pg_lsn)::bigint")
  SUM=$((SUM + LAG)); N=$((N + 1))
  [ "$LAG" -gt "$MAXLAG" ] && MAXLAG=$LAG
  sleep 1
done
wait "$BENCH" || true
TPS=$(grep -oE "tps = [0-9.]+" "$B/pgbench.out" | head -1)
FLUSH=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
t0=$(date +%s.%N)
while :; do
  DUR=$("${PS[@]}" -c status | cut -d'|' -f5)
  [ "$("${PSQL[@]}" -c "select '$DUR'::pg_lsn >= '$FLUSH'::pg_lsn")" = t ] && break
  sleep 0.1
done
CATCHUP=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")
LIVE_MB=$("${PSQL[@]}" -c "select round(('$FLUSH'::pg_lsn - '$LIVE_START'::pg_lsn) / 1048576)")

cat <<EOF

== summary ($(date -u +%Y-%m-%d), $(nproc) cores)
WAL recorded:            $MB MB of pgbench -s 10 -c 8 WAL
pg_waldump (listing):    $(awk "BEGIN{printf \"%.2f s = %.1f MB/s\", $WALDUMP_S, $MB / $WALDUMP_S}")
pg_waldump --stats:      $(awk "BEGIN{printf \"%.2f s = %.1f MB/s\", $STATS_S, $MB / $STATS_S}")
pageserver:              $OURS
live pgbench -c 8:       $TPS, $LIVE_MB MB of WAL in $LIVE_SECS s
lag (flush - durable):   max $MAXLAG bytes, mean $((SUM / (N > 0 ? N : 1))) bytes over $N samples; caught up ${CATCHUP}s after pgbench ended
EOF
