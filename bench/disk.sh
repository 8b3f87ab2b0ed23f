#!/usr/bin/env bash
# Disk over time under pgbench (issue 15, "Benchmarks: disk bytes over 30 minutes of pgbench with
# a 5-minute window"): a throwaway primary at pgbench scale SCALE (default 20) attached to a
# pageserver run with -Dpageserver.retention.window=WINDOW (default 5m; every other setting its
# default), then DURATION (default 30m) of steady `pgbench -c 4 -j 2 -R RATE` (default 300 tps,
# rate-limited so that the primary, pgbench and the pageserver share 2 cores without saturating
# them). Every SAMPLE seconds (default 20) it records the tenant's directory size (du -sb, and
# inside it RocksDB's own WAL files *.log and its SST files), the primary's database size
# (pg_database_size), the WAL written since pgbench started (pg_current_wal_lsn difference) and
# how far the pageserver is behind (the primary's flush LSN minus the tenant's durable LSN).
# The issue's bound at time t: 1.5 x (database size + WAL written in (t - WINDOW, t]); it applies
# once the first window has passed.
# Output (OUT, default bench/results): disk-<window>.csv, disk-<window>.png (gnuplot, installed
# with apt-get when missing) and, on stdout, a markdown table of every TABLE_EVERY-th sample.
# Usage: bash bench/disk.sh   (DURATION=8m WINDOW=2m for a short run; KEEP=1 keeps the files;
# PS_LOG_COPY=FILE keeps the pageserver's log; SKIP_BUILD=1 JAR=copy.jar runs a jar built before,
# so that builds meanwhile do not replace it under the running server)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-20}
WINDOW=${WINDOW:-5m}
DURATION=${DURATION:-30m}
RATE=${RATE:-300}
SAMPLE=${SAMPLE:-20}
TABLE_EVERY=${TABLE_EVERY:-8}
OUT=${OUT:-bench/results}
JAR=${JAR:-target/pageserver.jar}
secs() { # 30m, 5m, 90s, 90 -> seconds
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
WINDOW_S=$(secs "$WINDOW")
DURATION_S=$(secs "$DURATION")

bash scripts/setup.sh
if ! command -v gnuplot >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null; }
fi
[ "${SKIP_BUILD:-0}" = 1 ] || mvn -q -B -DskipTests package

. scripts/lib.sh
B=$(throwaway_dir pageserver-disk)
PS_PID=""
PGB_PID=""
cleanup() {
  set +e
  [ -n "$PGB_PID" ] && kill "$PGB_PID" 2>/dev/null && wait "$PGB_PID" 2>/dev/null
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  stop_pg "$B"
  cp "$B/ps.log" "${PS_LOG_COPY:-/dev/null}" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $B" >&2; else rm -rf "$B"; fi
}
trap cleanup EXIT
PGPORT=$(free_port)
# the primary keeps WAL for the slot anyway; checkpoints every 5 minutes as by default
throwaway_pg "$B" "$PGPORT" "shared_buffers = 128MB"
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
PGB=("$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres)
"${PGB[@]}" -i -s "$SCALE" -q postgres >/dev/null 2>&1

PSPORT=$(free_port)
java -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" \
  -Dpageserver.data-dir="$B/ps" -Dpageserver.retention.window="$WINDOW" \
  -jar "$JAR" >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT"
ps_sql() { psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres -c "$1"; }
ID=$(ps_sql "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres")
TDIR="$B/ps/tenants/$ID"

# caught up: the tenant's durable LSN at the primary's flush LSN
flush=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn() - '0/0'::pg_lsn")
for _ in $(seq 1 1200); do
  durable=$(ps_sql status | awk -F'|' -v id="$ID" '$1 == id {print $5}')
  if [ -n "$durable" ] && [ "$("${PSQL[@]}" -c "select '$durable'::pg_lsn - '0/0'::pg_lsn >= $flush")" = t ]; then break; fi
  sleep 0.5
done

START_LSN=$("${PSQL[@]}" -c "select pg_current_wal_lsn()")
"${PGB[@]}" -c 4 -j 2 -R "$RATE" -T "$DURATION_S" -n postgres >"$B/pgbench.log" 2>&1 &
PGB_PID=$!
T0=$(date +%s)
mkdir -p "$OUT"
CSV="$OUT/disk-$WINDOW.csv"
echo "t_s,tenant_bytes,rocksdb_wal_bytes,sst_bytes,db_bytes,wal_written_bytes,lag_bytes" >"$CSV"
sample() {
  local t total log sst db wal durable lag
  t=$(( $(date +%s) - T0 ))
  total=$(du -sb "$TDIR" | cut -f1)
  log=$(find "$TDIR" -name '*.log' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  sst=$(find "$TDIR" -name '*.sst' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  db=$("${PSQL[@]}" -c "select pg_database_size('postgres')")
  wal=$("${PSQL[@]}" -c "select pg_current_wal_lsn() - '$START_LSN'::pg_lsn")
  durable=$(ps_sql status 2>/dev/null | awk -F'|' -v id="$ID" '$1 == id {print $5}' || true)
  lag=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn() - '${durable:-0/0}'::pg_lsn" 2>/dev/null || true)
  echo "$t,$total,$log,$sst,$db,${wal%.*},${lag%.*}" >>"$CSV"
}
sample
while kill -0 "$PGB_PID" 2>/dev/null; do
  sleep "$SAMPLE"
  sample
done
wait "$PGB_PID" || true
PGB_PID=""
TPS=$(grep -E '^tps' "$B/pgbench.log" | head -1 | awk '{print $3}')

# the bound: WAL in the last window = WAL now - WAL at the last sample at or before t - WINDOW
awk -F, -v w="$WINDOW_S" 'BEGIN {n = 0} NR == 1 {print $0 ",window_wal_bytes,bound_bytes"; next}
  {t[n] = $1; wal[n] = $6; line[n] = $0; db[n] = $5; n++}
  END {for (i = 0; i < n; i++) {
         base = 0
         for (j = 0; j <= i; j++) if (t[j] <= t[i] - w) base = wal[j]
         ww = wal[i] - base
         printf "%s,%d,%d\n", line[i], ww, 1.5 * (db[i] + ww)}}' "$CSV" >"$CSV.tmp"
mv "$CSV.tmp" "$CSV"

PNG="$OUT/disk-$WINDOW.png"
gnuplot <<EOF
set terminal pngcairo size 900,500 font ",10"
set output "$PNG"
set datafile separator ","
set title "pageserver disk under pgbench -c 4 -R $RATE (scale $SCALE), retention window $WINDOW"
set xlabel "minutes of pgbench"
set ylabel "MB"
set key top left
set grid
set arrow from $WINDOW_S/60.0, graph 0 to $WINDOW_S/60.0, graph 1 nohead dt 3
plot "$CSV" every ::1 using (\$1/60):(\$2/1e6) with lines lw 2 title "tenant directory", \
     "" every ::1 using (\$1/60):(\$3/1e6) with lines title "of which RocksDB WAL (*.log)", \
     "" every ::1 using (\$1/60):(\$5/1e6) with lines lw 2 title "primary database size", \
     "" every ::1 using (\$1/60):(\$9/1e6) with lines dt 2 lw 2 title "bound 1.5 x (db + WAL of last window)"
EOF

echo "pgbench -c 4 -j 2 -R $RATE -T $DURATION_S at scale $SCALE (tps $TPS), pageserver -Dpageserver.retention.window=$WINDOW, defaults otherwise; sampled every ${SAMPLE} s; $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| minute | tenant dir (MB) | RocksDB WAL (MB) | SST (MB) | primary db (MB) | WAL written, total (MB) | WAL in last window (MB) | bound (MB) | dir / (db + window WAL) | pageserver lag (MB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -F, -v every="$TABLE_EVERY" 'NR > 1 && ((NR - 2) % every == 0) {
  printf "| %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.1f |\n", $1 / 60, $2 / 1e6, $3 / 1e6, $4 / 1e6, $5 / 1e6, $6 / 1e6, $8 / 1e6, $9 / 1e6, $2 / ($5 + $8), $7 / 1e6}' "$CSV"
awk -F, -v w="$WINDOW_S" 'NR > 1 && $1 >= w {n++; r = $2 / ($5 + $8); if (r > max) max = r; if ($2 > $9) over++}
  END {printf "\nafter the first window: %d samples, largest dir / (db + window WAL) %.2f, %d over the bound\n", n, max, over + 0}' "$CSV"
