#!/usr/bin/env bash
# Redo benchmark (issue "WAL redo"): the same WAL replayed by PostgreSQL's own startup process
# (a base backup recovering to the WAL's end) and by the pageserver's redo, records per second
# side by side; then GetPage@LSN latency for a block whose history is 1, 10 and 100 records long.
# WORKLOAD=pgbench (the default): pgbench's own tables (heap and B-tree records).
# WORKLOAD=gin-gist: a table of documents with a tsvector under a GIN index and a point under a
#   GiST index (SCALE x 10,000 rows), then a pgbench custom script inserting a document and
#   rewriting another's words and location in every transaction (GIN and GiST records); no
#   GetPage@LSN part (its block is a heap block).
# Usage: bash bench/redo.sh   (SCALE=10 LOAD_SECONDS=30 ROUNDS=5 WARMUP=5 by default; KEEP=1 keeps the WAL and backup)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOAD=${WORKLOAD:-pgbench}
case "$WORKLOAD" in
  pgbench|gin-gist) ;;
  *) echo "WORKLOAD must be pgbench or gin-gist, not $WORKLOAD" >&2; exit 2 ;;
esac
SCALE=${SCALE:-10}
LOAD=${LOAD_SECONDS:-30}
ROUNDS=${ROUNDS:-5}
bash scripts/setup.sh
mvn -q -B -DskipTests package
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.cp -Dmdep.includeScope=test >/dev/null
CP="target/classes:target/test-classes:$(cat target/bench.cp)"
. scripts/lib.sh
B=$(throwaway_dir pageserver-redobench)
cleanup() {
  set +e
  stop_pg "$B"
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$B/replica" -m immediate stop >/dev/null 2>&1
  if [ -n "${KEEP:-}" ]; then echo "kept $B"; else rm -rf "$B"; fi
}
trap cleanup EXIT
PGPORT=$(free_port)
mkdir -p "$B/archive"
[ "$(id -u)" -eq 0 ] && chown postgres "$B/archive"
# no checkpoint during the load: each page gets one full-page image, then incremental records
throwaway_pg "$B" "$PGPORT" "shared_buffers = 1GB" "max_wal_size = 16GB" "checkpoint_timeout = 1h" \
  "autovacuum = off" "archive_mode = on" "archive_command = 'cp %p $B/archive/%f'"
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
# gin-gist: words drawn skewed from 5,000 (random()^3: a few in most documents, so GIN has
# posting trees and long posting lists as well as rare keys), points uniform in 1000 x 1000
WORDS="(select string_agg('w' || (power(random(), 3) * 5000)::int, ' ') from generate_series(1, 12))"
POINT="point(random() * 1000, random() * 1000)"
if [ "$WORKLOAD" = pgbench ]; then
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1
else
  "${PSQL[@]}" -q <<SQL
create table docs (id serial primary key, body tsvector, loc point);
insert into docs (body, loc) select to_tsvector('simple', $WORDS || ' d' || g), $POINT
  from generate_series(1, $SCALE * 10000) g;
create index docs_body on docs using gin (body);
create index docs_loc on docs using gist (loc);
vacuum analyze docs;
SQL
  cat >"$B/gin-gist.pgbench" <<SQL
\set id random(1, $SCALE * 10000)
insert into docs (body, loc) values (to_tsvector('simple', $WORDS), $POINT);
update docs set body = to_tsvector('simple', $WORDS), loc = $POINT where id = :id;
SQL
fi
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$B/base" -X none -c fast
START=$(awk '/START WAL LOCATION/ {print $4}' "$B/base/backup_label")
if [ "$WORKLOAD" = pgbench ]; then
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -c 4 -j 2 -T "$LOAD" postgres >/dev/null 2>&1
else
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -n -f "$B/gin-gist.pgbench" -c 4 -j 2 -T "$LOAD" postgres \
    >"$B/load.txt" 2>&1 || { cat "$B/load.txt"; exit 1; }
fi
END=$("${PSQL[@]}" -c "select pg_current_wal_insert_lsn()")
LAST=$("${PSQL[@]}" -c "select pg_walfile_name('$END')")
"${PSQL[@]}" -c "select pg_switch_wal()" >/dev/null
for _ in $(seq 1 300); do [ -f "$B/archive/$LAST" ] && break; sleep 0.2; done
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$B/pg" -m fast stop >/dev/null
RECORDS=$("$PGBIN/pg_waldump" -p "$B/archive" -s "$START" -e "$END" --stats 2>/dev/null | awk '/^Total/ {print $2}')
MB=$(python3 -c "
def l(s):
    a, b = s.split('/'); return (int(a, 16) << 32) + int(b, 16)
print(round((l('$END') - l('$START')) / 1e6, 1))")
if [ "$WORKLOAD" = pgbench ]; then
  echo "pgbench scale $SCALE, then ${LOAD}s of pgbench -c 4: WAL $START .. $END ($MB MB, $RECORDS records); $(nproc) cores; $(date -u +%Y-%m-%d)"
else
  echo "gin-gist: $((SCALE * 10000)) documents, then ${LOAD}s of the custom script, pgbench -c 4 ($(awk '/^tps/ {print int($3)}' "$B/load.txt") tps): WAL $START .. $END ($MB MB, $RECORDS records); $(nproc) cores; $(date -u +%Y-%m-%d)"
  echo "records by resource manager (pg_waldump --stats):"
  "$PGBIN/pg_waldump" -p "$B/archive" -s "$START" -e "$END" --stats 2>/dev/null | awk '$1 ~ /^(Heap|Heap2|Btree|Gin|Gist|Transaction|XLOG)$/ {print "  " $1 " " $2}'
fi

# PostgreSQL: the base backup recovers to END (standby mode, the WAL in pg_wal, stop at END),
# all of the database in shared_buffers; the time is from its log: redo start to reaching END
pg_replay() {
  rm -rf "$B/replica"
  cp -a "$B/base" "$B/replica"
  cp "$B/archive/"0* "$B/replica/pg_wal/"
  touch "$B/replica/standby.signal"
  {
    echo "archive_mode = off"
    echo "shared_buffers = 1GB"
    echo "hot_standby = off"
    echo "recovery_target_lsn = '$END'"
    # promote, not shutdown: only then does the startup process log "redo done at ... system
    # usage: CPU: user: .. s, system: .. s" (its own rusage over the redo loop)
    echo "recovery_target_action = 'promote'"
  } >>"$B/replica/postgresql.conf"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$B/replica"
  "${AS_PG[@]}" "$PGBIN/postgres" -D "$B/replica" >"$B/replica.log" 2>&1 &
  for _ in $(seq 1 3000); do
    grep -q "redo done at\|FATAL\|PANIC" "$B/replica.log" && break
    sleep 0.2
  done
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$B/replica" -m immediate -w stop >/dev/null 2>&1 || true
  wait
  # redo time: from "redo starts at" to "recovery stopping after" (the target), the log's
  # millisecond stamps; CPU: the startup process's user + system time over its redo loop
  python3 - "$B/replica.log" <<'PY'
import datetime, re, sys
t = {}
cpu = None
for line in open(sys.argv[1]):
    for key in ("redo starts at", "recovery stopping after"):
        if key in line:
            t[key] = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
    m = re.search(r"redo done at .* CPU: user: ([0-9.]+) s, system: ([0-9.]+) s", line)
    if m:
        cpu = float(m.group(1)) + float(m.group(2))
if len(t) == 2 and cpu is not None:
    print("%.3f %.2f" % ((t["recovery stopping after"] - t["redo starts at"]).total_seconds(), cpu))
PY
}
PG_TIMES=()
PG_CPU=()
for r in $(seq 1 "$ROUNDS"); do
  t=$(pg_replay)
  [ -n "$t" ] || { echo "PostgreSQL's replay did not finish:"; tail -20 "$B/replica.log"; exit 1; }
  PG_TIMES+=("${t% *}")
  PG_CPU+=("${t#* }")
done
echo "PostgreSQL startup process, redo time (s) per round: ${PG_TIMES[*]}; CPU (s): ${PG_CPU[*]}"
# ours, in one JVM: WARMUP rounds first (the JIT compiles the redo code, as it has in a running
# server), then ROUNDS measured; the first, cold round is printed too
WARMUP=${WARMUP:-5}
java -Xmx6g -cp "$CP" org.pageserver.engine.RedoBenchmark replay "$B/base" "$B/archive" 16777216 "$START" "$END" \
  $((WARMUP + ROUNDS)) | tee "$B/ours.txt"
python3 - "$RECORDS" "$B/ours.txt" "$ROUNDS" "${PG_TIMES[*]}" "${PG_CPU[*]}" <<'PY'
import re, statistics, sys
records = int(sys.argv[1]); ours_file = sys.argv[2]; rounds = int(sys.argv[3])
pg = [float(x) for x in sys.argv[4].split()]
pg_cpu = [float(x) for x in sys.argv[5].split()]
lines = [l for l in open(ours_file) if l.startswith("ours:")]
all_ours = [float(re.search(r"in ([0-9.]+) s", l).group(1)) for l in lines]
all_cpu = [float(re.search(r"CPU ([0-9.]+) s", l).group(1)) for l in lines]
ours, ours_cpu = all_ours[-rounds:], all_cpu[-rounds:]
pg_med, ours_med, cold = statistics.median(pg), statistics.median(ours), all_ours[0]
pg_cpu_med, ours_cpu_med, cold_cpu = statistics.median(pg_cpu), statistics.median(ours_cpu), all_cpu[0]
us = lambda secs: secs / records * 1e6
print()
print("| | redo time | records/s | per record | ratio | CPU per record | ratio (CPU) |")
print("|---|---|---|---|---|---|---|")
print("| PostgreSQL startup process (median of %d) | %.2f s | %.0f | %.2f us | 1.00x | %.2f us | 1.00x |"
      % (len(pg), pg_med, records / pg_med, us(pg_med), us(pg_cpu_med)))
print("| pageserver redo, warm JIT (median of last %d) | %.2f s | %.0f | %.2f us | %.2fx | %.2f us | %.2fx |"
      % (rounds, ours_med, records / ours_med, us(ours_med), pg_med / ours_med, us(ours_cpu_med), pg_cpu_med / ours_cpu_med))
print("| pageserver redo, first round (cold JVM) | %.2f s | %.0f | %.2f us | %.2fx | %.2f us | %.2fx |"
      % (cold, records / cold, us(cold), pg_med / cold, us(cold_cpu), pg_cpu_med / cold_cpu))
print("best round: PostgreSQL %.2f s (CPU %.2f s), pageserver warm %.2f s (CPU %.2f s): %.2fx (CPU %.2fx)"
      % (min(pg), min(pg_cpu), min(ours), min(ours_cpu), min(pg) / min(ours), min(pg_cpu) / min(ours_cpu)))
open(ours_file + ".pg_us", "w").write("%.3f" % (pg_med / records * 1e6))
PY
[ "$WORKLOAD" = pgbench ] || exit 0
echo
echo "GetPage@LSN through the store and PageRebuild (no page cache), one block, by chain length:"
java -Xmx2g -cp "$CP" org.pageserver.engine.RedoBenchmark chain "$B/base" "$B/archive" 16777216 "$START" "$END" "$B/chainstore" \
  "$(cat "$B/ours.txt.pg_us")"
