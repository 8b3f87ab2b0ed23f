#!/usr/bin/env bash
# Catch-up benchmark (issue 15, "Benchmarks: catch-up rate against a PostgreSQL 15 standby"):
# a primary at pgbench scale SCALE (default 20) with a stock PostgreSQL 15 streaming standby and
# a pageserver both following it; both stopped, LOAD_SECS (default 60) of `pgbench -c 8` written
# meanwhile; then each started alone and timed until it has the primary's flush LSN: the
# standby until pg_last_wal_replay_lsn() reaches it (received, written, fsynced and replayed),
# the pageserver until its durable LSN does (received, decoded, stored and fsynced with
# pageserver.storage.sync on, the default). Both times include the process start. CPU: the
# standby's postmaster tree (startup process, walreceiver, the rest), the pageserver's JVM.
# ROUNDS (default 2) rounds, each with its own fresh LOAD_SECS of WAL, the two sides
# alternating which starts first. Usage: bash bench/catchup.sh (JFR=1 profiles the pageserver;
# PS_LOG_COPY=FILE keeps its log)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-20}
LOAD_SECS=${LOAD_SECS:-60}
ROUNDS=${ROUNDS:-2}

bash scripts/setup.sh
mvn -q -B -DskipTests package

. scripts/lib.sh
B=$(throwaway_dir pageserver-catchup)
PS_PID=""
cleanup() {
  set +e
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$B/standby" -m immediate stop >/dev/null 2>&1
  stop_pg "$B"
  cp "$B/ps.log" "${PS_LOG_COPY:-/dev/null}" 2>/dev/null
  rm -rf "$B"
}
trap cleanup EXIT
PGPORT=$(free_port)
throwaway_pg "$B" "$PGPORT" "max_wal_size = '4GB'" "wal_keep_size = '8GB'"
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
PGB=("$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres)
"${PGB[@]}" -i -s "$SCALE" -q postgres >/dev/null 2>&1

# The standby: a stock streaming replica with PostgreSQL's defaults.
SBPORT=$(free_port)
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$B/standby" -R -X stream -c fast
"${AS_PG[@]}" sed -i "s/^port = .*/port = $SBPORT/" "$B/standby/postgresql.conf"
SB=(psql -X -At -h 127.0.0.1 -p "$SBPORT" -U postgres -d postgres)
start_standby() { "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$B/standby" -l "$B/standby.log" start >/dev/null; }
stop_standby() { "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$B/standby" -m fast -w stop >/dev/null; }

# The pageserver with its defaults (pageserver.storage.sync = true), started by scripts/pageserver.
PSPORT=$(free_port)
JVM=(-Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" -Dpageserver.data-dir="$B/ps")
STARTS=0
start_pageserver() {
  local jfr=()
  STARTS=$((STARTS + 1))
  # JFR=1: each pageserver start records a profile to /tmp/catchup-<n>.jfr
  [ "${JFR:-0}" = 1 ] && jfr=("-XX:StartFlightRecording=filename=/tmp/catchup-$STARTS.jfr,settings=profile")
  # as operators run it: the launcher (its class-data-sharing archive), which execs java
  bash scripts/pageserver "${JVM[@]}" "${jfr[@]}" >>"$B/ps.log" 2>&1 &
  PS_PID=$!
}
stop_pageserver() { kill -TERM "$PS_PID"; wait "$PS_PID" 2>/dev/null || true; PS_PID=""; }
PS=(psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres)
start_pageserver
wait_port "$PSPORT" || { echo "pageserver did not start:"; cat "$B/ps.log"; exit 1; }
"${PS[@]}" -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres" >/dev/null
start_standby

lsn_ge() { [ "$("${PSQL[@]}" -c "select '$1'::pg_lsn >= '$2'::pg_lsn")" = t ]; }
standby_lsn() { "${SB[@]}" -c "select pg_last_wal_replay_lsn()" 2>/dev/null || true; }
pageserver_lsn() { "${PS[@]}" -c status 2>/dev/null | cut -d'|' -f5 || true; }
# wait_for NAME TARGET: polls every 20 ms until NAME's LSN reaches TARGET.
wait_for() {
  local got
  while :; do
    got=$("$1")
    [ -n "$got" ] && lsn_ge "$got" "$2" && return
    sleep 0.02
  done
}
TCK=$(getconf CLK_TCK)
cpu_of() { sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TCK" '{printf "%.3f", ($12 + $13 + $14 + $15) / t}'; }
# CPU of the standby's whole tree: postmaster (with its reaped children) and the children alive.
standby_cpu() {
  local pm total c
  pm=$(head -1 "$B/standby/postmaster.pid")
  total=$(cpu_of "$pm")
  for c in $(pgrep -P "$pm"); do total=$(echo "$total + $(cpu_of "$c" 2>/dev/null || echo 0)" | bc); done
  echo "$total"
}
now() { date +%s.%N; }

FLUSH=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
wait_for standby_lsn "$FLUSH"
wait_for pageserver_lsn "$FLUSH"

# time_standby / time_pageserver: start it, wait until it has $FLUSH; sets T (seconds) and C
# (CPU seconds). Not run in a subshell: start_pageserver sets PS_PID.
time_standby() {
  local t0 t1
  t0=$(now)
  start_standby
  until [ -f "$B/standby/postmaster.pid" ] && "${SB[@]}" -c "select 1" >/dev/null 2>&1; do sleep 0.02; done
  wait_for standby_lsn "$FLUSH"
  t1=$(now)
  C=$(standby_cpu)
  T=$(echo "$t1 - $t0" | bc)
}
time_pageserver() {
  local t0 t1
  t0=$(now)
  start_pageserver
  wait_port "$PSPORT" >/dev/null
  wait_for pageserver_lsn "$FLUSH"
  t1=$(now)
  C=$(cpu_of "$PS_PID")
  T=$(echo "$t1 - $t0" | bc)
}

echo "| round | WAL to catch up | standby: time, CPU | pageserver: time, CPU | standby time / pageserver time | CPU ratio (standby / pageserver) |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  stop_standby
  stop_pageserver
  FROM=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
  "${PGB[@]}" -c 8 -j 2 -T "$LOAD_SECS" postgres >"$B/pgbench.$round.log" 2>&1
  FLUSH=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
  MB=$("${PSQL[@]}" -c "select round(('$FLUSH'::pg_lsn - '$FROM'::pg_lsn) / 1048576.0)")
  if [ $((round % 2)) = 1 ]; then
    time_standby; st=$T sc=$C
    time_pageserver; pt=$T pc=$C
  else
    time_pageserver; pt=$T pc=$C
    time_standby; st=$T sc=$C
  fi
  echo "| $round | $MB MB | $(printf '%.2f s (%.0f MB/s), %.2f s' "$st" "$(echo "$MB / $st" | bc -l)" "$sc") | $(printf '%.2f s (%.0f MB/s), %.2f s' "$pt" "$(echo "$MB / $pt" | bc -l)" "$pc") | $(printf '%.2fx' "$(echo "$st / $pt" | bc -l)") | $(printf '%.2fx' "$(echo "$sc / $pc" | bc -l)") |"
done
