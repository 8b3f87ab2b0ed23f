#!/usr/bin/env bash
# GetPage from storage (issue 15, "Reads from storage"): random blocks of a pgbench scale-20
# pgbench_accounts (about 260 MB), larger than either side's page cache at its defaults
# (PostgreSQL's shared_buffers; the pageserver's page cache, though its RocksDB block cache holds
# most of it), read with a lean C client on both sides in the same run:
# - PostgreSQL 15 with its default memory (shared_buffers 128 MB), pages from the OS cache, by
#   pgbench itself: `pgbench -M prepared -n -c N -j min(N,2) -T S` of
#   `select get_raw_page('pgbench_accounts', 'main', :b)` (and, as a second PostgreSQL variant,
#   `select length(get_raw_page(...))`: the same read without sending the page), and by
#   getpage.c -q with the same get_raw_page prepared, binary results (the page as 8192 bytes,
#   as the pagestream sends it; pgbench only asks for text, the bytea in hex: 16 kB);
# - the pageserver with its defaults (application.conf, JVM default heap), GetPage@latest over
#   the pagestream sub-protocol by bench/getpage-client/getpage.c (libpq, the same -c/-j shape
#   as pgbench, one request in flight per connection, every page checked).
# At 1, 8 and 32 connections, ROUNDS rounds alternating which side goes first. CPU per request:
# the client's (user + system of its process) and the server's (the pageserver JVM's
# utime+stime from /proc; for PostgreSQL the postmaster's own and its children's, living and
# exited).
# Usage: bash bench/getpage-storage.sh   (SCALE=20 SECONDS_PER_RUN=10 ROUNDS=2 CONNS="1 8 32";
# PS_OPTS="-D..." adds JVM options to the pageserver (e.g. -Dpageserver.selector-idle-spin=0);
# JFR=FILE records a flight recording of the pageserver into FILE; PERF=FILE records `perf record -a -g`
# during the pageserver's runs into FILE.<connections> (the JIT's symbols go to /tmp/perf-<pid>.map)
# and ends with the pageserver's CPU per request by where it goes)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-20}
SECS=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-"1 8 32"}
JFR=${JFR:-}
PERF=${PERF:-}
read -r -a PS_EXTRA <<<"${PS_OPTS:-}"
bash scripts/setup.sh
if ! command -v gcc >/dev/null 2>&1 || [ ! -f /usr/include/postgresql/libpq-fe.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gcc libc6-dev libpq-dev >/dev/null
fi
mvn -q -B -o -DskipTests package 2>/dev/null || mvn -q -B -DskipTests package
. scripts/lib.sh
B=$(throwaway_dir pageserver-getpage-storage)
GETPAGE="$B/getpage"
gcc -O2 -Wall -pthread -I/usr/include/postgresql -o "$GETPAGE" bench/getpage-client/getpage.c -lpq
PS_PID=""
cleanup() {
  set +e
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  stop_pg "$B"
  rm -rf "$B"
}
trap cleanup EXIT
PGPORT=$(free_port)
PSPORT=$(free_port)
# PostgreSQL's default memory: no shared_buffers line (128 MB)
throwaway_pg "$B" "$PGPORT"
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1
"${PSQL[@]}" -c "create extension pageinspect" >/dev/null
"${PSQL[@]}" -c "checkpoint" >/dev/null
JFR_OPT=()
[ -n "$JFR" ] && JFR_OPT=("-XX:StartFlightRecording=filename=$JFR,settings=profile,dumponexit=true")
[ -n "$PERF" ] && JFR_OPT+=(-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer)
java ${JFR_OPT[@]+"${JFR_OPT[@]}"} ${PS_EXTRA[@]+"${PS_EXTRA[@]}"} -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" \
  -Dpageserver.data-dir="$B/ps" -jar target/pageserver.jar >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT" || { echo "pageserver did not start:"; cat "$B/ps.log"; exit 1; }
SYSID=$(psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres")
read -r SPC DB REL NB FILE LSN < <("${PSQL[@]}" -F ' ' -c "select 1663, (select oid from pg_database where datname = current_database()),
  pg_relation_filenode('pgbench_accounts'), pg_relation_size('pgbench_accounts') / 8192,
  current_setting('data_directory') || '/' || pg_relation_filepath('pgbench_accounts'), pg_current_wal_lsn()")

cat >"$B/raw.sql" <<EOF
\set b random(0, $((NB - 1)))
select get_raw_page('pgbench_accounts', 'main', :b);
EOF
cat >"$B/len.sql" <<EOF
\set b random(0, $((NB - 1)))
select length(get_raw_page('pgbench_accounts', 'main', :b));
EOF
chmod 644 "$B"/*.sql
TCK=$(getconf CLK_TCK)
PM=$(head -1 "$B/pg/postmaster.pid")
# CPU ticks (utime + stime) of the pageserver JVM
ps_ticks() { awk '{print $14 + $15}' "/proc/$PS_PID/stat"; }
# CPU ticks of PostgreSQL: the postmaster's own, its exited children's (cutime + cstime), and
# its living children's (the backends, checkpointer, walsender, ...)
pg_ticks() {
  local t c
  t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PM/stat")
  for c in $(pgrep -P "$PM"); do
    t=$(( t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0) ))
  done
  echo "$t"
}
j_of() { [ "$1" -lt 2 ] && echo "$1" || echo 2; }

# one run; prints: pages/s p50_ms p99_ms mean_ms client_us server_us (client CPU from
# /usr/bin/time: user + sys; the mean is connections / throughput)
run_ps() {
  local c=$1 s0 s1 out
  s0=$(ps_ticks)
  local perf_pid=""
  if [ -n "$PERF" ]; then
    # the whole machine (-p would miss the threads the JVM starts after it attached); the
    # report keeps the pageserver's samples
    perf record -q -a -F 499 -g -o "$PERF.$c" -- sleep "$SECS" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$(/usr/bin/time -f "cpu %U %S" "$GETPAGE" -h 127.0.0.1 -p "$PSPORT" -s "$SYSID" -r "$SPC/$DB/$REL" -n "$NB" -l "$LSN" \
        -c "$c" -j "$(j_of "$c")" -T "$SECS" 2>&1) || { echo "getpage failed: $out" >&2; exit 1; }
  sleep 0.3
  s1=$(ps_ticks)
  if [ -n "$perf_pid" ]; then wait "$perf_pid"; fi
  echo "$out" | awk -v s="$(( s1 - s0 ))" -v tck="$TCK" -v c="$c" '
    /^clients=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    /^cpu / { cpu = $2 + $3 }
    END { printf "%.0f %.3f %.3f %.3f %.1f %.1f\n", v["rps"], v["p50_ms"], v["p99_ms"], v["rps"] ? 1000 * c / v["rps"] : 0,
          cpu * 1e6 / v["requests"], s / tck * 1e6 / v["requests"] }'
}
# getpage.c against PostgreSQL: get_raw_page prepared, binary results
run_pgc() {
  local c=$1 s0 s1 out
  s0=$(pg_ticks)
  out=$(/usr/bin/time -f "cpu %U %S" "$GETPAGE" -h 127.0.0.1 -p "$PGPORT" -n "$NB" -c "$c" -j "$(j_of "$c")" -T "$SECS" \
        -q "select get_raw_page('pgbench_accounts', 'main', \$1)" 2>&1) || { echo "getpage -q failed: $out" >&2; exit 1; }
  sleep 0.3
  s1=$(pg_ticks)
  echo "$out" | awk -v s="$(( s1 - s0 ))" -v tck="$TCK" -v c="$c" '
    /^clients=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    /^cpu / { cpu = $2 + $3 }
    END { printf "%.0f %.3f %.3f %.3f %.1f %.1f\n", v["rps"], v["p50_ms"], v["p99_ms"], v["rps"] ? 1000 * c / v["rps"] : 0,
          cpu * 1e6 / v["requests"], s / tck * 1e6 / v["requests"] }'
}
run_pg() {
  local c=$1 script=$2 s0 s1 out
  s0=$(pg_ticks)
  out=$(/usr/bin/time -f "cpu %U %S" "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -n -c "$c" -j "$(j_of "$c")" \
        -T "$SECS" -f "$script" postgres 2>&1) || { echo "pgbench failed: $out" >&2; exit 1; }
  sleep 0.3
  s1=$(pg_ticks)
  echo "$out" | awk -v s="$(( s1 - s0 ))" -v tck="$TCK" '
    /actually processed:/ { n = $NF }
    /^tps = / { tps = $3 }
    /^latency average/ { lat = $4 }
    /^cpu / { cpu = $2 + $3 }
    END { printf "%.0f - - %.3f %.1f %.1f\n", tps, lat, cpu * 1e6 / n, s / tck * 1e6 / n }'
}

# warm up: the pageserver reaches the LSN and compiles its read path; both sides' files into
# the OS cache (what each reads from on a miss); one unrecorded run of each side
"$GETPAGE" -h 127.0.0.1 -p "$PSPORT" -s "$SYSID" -r "$SPC/$DB/$REL" -n "$NB" -l "$LSN" -c 8 -j 2 -T "$SECS" >/dev/null
cat "$FILE"* >/dev/null
find "$B/ps" -type f -exec cat {} + >/dev/null
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -n -c 8 -j 2 -T "$SECS" -f "$B/raw.sql" postgres >/dev/null 2>&1

echo "pgbench scale $SCALE: pgbench_accounts $NB blocks ($(( NB * 8 / 1024 )) MB), pageserver store $(du -sm "$B/ps" | cut -f1) MB on disk in $(find "$B/ps" -name '*.sst' | wc -l) SST files;"
echo "PostgreSQL shared_buffers $("${PSQL[@]}" -c "show shared_buffers"); pageserver defaults (application.conf: $(grep -E '^\s*page-cache' application.conf | xargs), $(grep -E '^\s*block-cache' application.conf | xargs));"
echo "${SECS}s per run, $ROUNDS rounds, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
RES="$B/results"
for r in $(seq 1 "$ROUNDS"); do
  for c in $CONNS; do
    if [ $(( r % 2 )) = 1 ]; then
      echo "$r $c ps $(run_ps "$c")" >>"$RES"; echo "$r $c bin $(run_pgc "$c")" >>"$RES"
      echo "$r $c raw $(run_pg "$c" "$B/raw.sql")" >>"$RES"; echo "$r $c len $(run_pg "$c" "$B/len.sql")" >>"$RES"
    else
      echo "$r $c len $(run_pg "$c" "$B/len.sql")" >>"$RES"; echo "$r $c raw $(run_pg "$c" "$B/raw.sql")" >>"$RES"
      echo "$r $c bin $(run_pgc "$c")" >>"$RES"; echo "$r $c ps $(run_ps "$c")" >>"$RES"
    fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Pages per second, mean latency (connections / throughput) and the pageserver's ratio to each PostgreSQL variant"
echo "(PG binary: getpage.c -q, get_raw_page with binary results; PG pgbench: get_raw_page as hex text; PG pgbench length: the read without the transfer):"
echo
echo "| round | connections | pageserver pages/s | p50 ms | p99 ms | mean ms | PG binary pages/s | mean ms | ratio | PG pgbench pages/s | mean ms | ratio | PG pgbench length pages/s | mean ms | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
TABLE='{ k = $1 " " $2; d[k, $3] = $0; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
  END { for (i = 1; i <= n; i++) { k = order[i]; split(d[k, "ps"], p, " "); split(d[k, "bin"], b, " "); split(d[k, "raw"], a, " ");
        split(d[k, "len"], l, " "); row(p, b, a, l) } }'
awk "function row(p, b, a, l) { printf \"| %s | %s | %s | %s | %s | %s | %s | %s | %.2fx | %s | %s | %.2fx | %s | %s | %.2fx |\\n\",
       p[1], p[2], p[4], p[5], p[6], p[7], b[4], b[7], p[4] / b[4], a[4], a[7], p[4] / a[4], l[4], l[7], p[4] / l[4] } $TABLE" "$RES"
echo
echo "CPU µs per request (client: its process's user + system; server: the pageserver JVM, or PostgreSQL's processes):"
echo
echo "| round | connections | pageserver client | pageserver server | PG binary client | PG binary server | PG pgbench client | PG pgbench server | PG pgbench length client | PG pgbench length server |"
echo "|---|---|---|---|---|---|---|---|---|---|"
awk "function row(p, b, a, l) { printf \"| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\\n\",
       p[1], p[2], p[8], p[9], b[8], b[9], a[8], a[9], l[8], l[9] } $TABLE" "$RES"
grep -c "ERROR\|Exception" "$B/ps.log" >/dev/null && { echo; echo "pageserver log errors:"; grep -m5 "ERROR\|Exception" "$B/ps.log"; } || true
if [ -n "$PERF" ]; then
  # the JIT's symbols are written when the JVM exits
  PS=$PS_PID
  kill -TERM "$PS_PID" && wait "$PS_PID" || true
  PS_PID=""
  echo
  echo "Pageserver CPU per request by where it goes (perf record -a, the pageserver's samples, inclusive; round 1):"
  for c in $CONNS; do
    n=$(awk -v c="$c" -v s="$SECS" '$1 == 1 && $2 == c && $3 == "ps" { print $4 * s }' "$RES")
    perf report -i "$PERF.$c" --pid "$PS" --children --sort sym -g none --stdio 2>/dev/null >"$B/perf.txt"
    # percentages are of every sample of the machine
    total=$(perf report -i "$PERF.$c" --sort comm -g none --stdio 2>/dev/null | awk '/Event count/ { print $NF }')
    mine=$(perf report -i "$PERF.$c" --pid "$PS" --no-children --sort pid -g none --stdio 2>/dev/null | awk '/%/ { v = $1; sub("%", "", v); s += v } END { print s }')
    echo
    echo "$c connections: $(awk -v t="$total" -v m="$mine" -v n="$n" 'BEGIN { printf "%.1f", m / 100 * t / 1000 / n }') µs per request sampled"
    for what in "TenantStore.pageHistoryUnlocked" "RocksIterator.seekForPrev0Jni" "RocksDB.iterator(" "RocksIterator.value0" \
                "Mailbox.processMailbox" "SelectorLoop.run" "sock_write_iter" "sock_read_iter" "do_epoll_wait" \
                "__x64_sys_sched_yield" "__x64_sys_futex" "CompileBroker::compiler_thread_loop" "G1EvacuateRegionsBaseTask::work"; do
      awk -v p="$what" -v t="$total" -v n="$n" 'index($0, p) { v = $1; sub("%", "", v); printf "  %6.1f µs  %s\n", v / 100 * t / 1000 / n, p; exit }' "$B/perf.txt"
    done
  done
fi
