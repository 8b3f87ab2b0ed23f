#!/usr/bin/env bash
# Memory and threads per tenant (issue "Storage fit for production"): one pageserver process
# (java -jar, the README's defaults unless PS_OPTS says otherwise) attaches small real primaries
# (each initdb'd on its own: every tenant is its own system_id; shared_buffers 16MB) one after
# another; after 1, 10 and 30 tenants (COUNTS), each primary having written a little and every
# tenant caught up, it prints the process's resident memory and threads (/proc/<pid>/status),
# and the Java heap in use after a full GC (jcmd).
# Usage: bash bench/tenants.sh   (COUNTS="1 10 30" PS_OPTS="-Xmx512m" by default; DETAIL=1 adds,
# at the end, the largest classes of the heap and, with -XX:NativeMemoryTracking=summary in
# PS_OPTS, the JVM's native memory)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTS=${COUNTS:-"1 10 30"}
PS_OPTS=${PS_OPTS:-"-Xmx512m"}
MAX=$(echo "$COUNTS" | tr ' ' '\n' | sort -n | tail -1)
bash scripts/setup.sh
mvn -q -B -DskipTests package
. scripts/lib.sh
B=$(throwaway_dir pageserver-tenants)
PS_PID=""
cleanup() {
  set +e
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  for i in $(seq 1 "$MAX"); do stop_pg "$B/pg$i"; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $B"; else rm -rf "$B"; fi
}
trap cleanup EXIT

# the primaries: initdb is most of the cost, two at a time (this machine has 2 cores)
start_primary() {
  mkdir -p "$B/pg$1" && chmod 755 "$B/pg$1"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$B/pg$1"; fi
  throwaway_pg "$B/pg$1" "$2" "shared_buffers = 16MB" "max_connections = 20" "fsync = off"
}
declare -a PORTS
for i in $(seq 1 "$MAX"); do PORTS[$i]=$(free_port); done
for i in $(seq 1 "$MAX"); do
  start_primary "$i" "${PORTS[$i]}" &
  if (( i % 2 == 0 )); then wait; fi
done
wait

PSPORT=$(free_port)
# as the README says to run it (glibc's per-thread arenas otherwise keep what RocksDB freed);
# MALLOC_ARENA_MAX=8 bash bench/tenants.sh shows the difference
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
# shellcheck disable=SC2086
java $PS_OPTS -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" \
  -Dpageserver.data-dir="$B/ps" -jar target/pageserver.jar >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT"
ps_sql() { psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres -c "$1"; }
pg_sql() { psql -X -At -h 127.0.0.1 -p "${PORTS[$1]}" -U postgres -d postgres -c "$2"; }

# every tenant streaming with its durable LSN at its primary's flush LSN
caught_up() {
  local n=$1 i flush row
  for _ in $(seq 1 600); do
    local behind=0
    local status
    status=$(ps_sql status)
    for i in $(seq 1 "$n"); do
      flush=$(pg_sql "$i" "select pg_current_wal_flush_lsn() - '0/0'::pg_lsn")
      row=$(grep "^${IDS[$i]}|" <<<"$status" || true)
      if [ -z "$row" ] || [ "$(cut -d'|' -f2 <<<"$row")" != streaming ]; then behind=$((behind + 1)); continue; fi
      local durable
      durable=$(pg_sql "$i" "select '$(cut -d'|' -f5 <<<"$row")'::pg_lsn - '0/0'::pg_lsn")
      if [ "${durable%.*}" -lt "${flush%.*}" ]; then behind=$((behind + 1)); fi
    done
    [ "$behind" = 0 ] && return 0
    sleep 0.5
  done
  echo "tenants not caught up" >&2
  return 1
}

echo "pageserver ($PS_OPTS, MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX, defaults otherwise: page-cache $(grep -E '^\s*page-cache =' application.conf | awk '{print $3}'), block-cache $(grep -E '^\s*block-cache =' application.conf | awk '{print $3}')); $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "| tenants | resident (MB) | threads | heap used after GC (MB) |"
echo "|---:|---:|---:|---:|"
declare -a IDS
done_n=0
for n in $COUNTS; do
  for i in $(seq $((done_n + 1)) "$n"); do
    IDS[$i]=$(ps_sql "callmemaybe host=127.0.0.1 port=${PORTS[$i]} user=postgres")
    pg_sql "$i" "create table t as select generate_series(1, 10000) g" >/dev/null
  done
  done_n=$n
  caught_up "$n"
  jcmd "$PS_PID" GC.run >/dev/null
  rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$PS_PID/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$PS_PID/status")
  heap=$(jcmd "$PS_PID" GC.heap_info | awk '/used/ {for (i = 1; i <= NF; i++) if ($i == "used") {print int($(i + 1) / 1024); exit}}')
  echo "| $n | $rss | $threads | $heap |"
done
if [ "${DETAIL:-0}" = 1 ]; then
  # threads by name, numbers dropped (pool members together)
  for t in /proc/"$PS_PID"/task/*; do cat "$t/comm"; done | sed 's/[-0-9]*$//' | sort | uniq -c | sort -rn
  jcmd "$PS_PID" GC.class_histogram | head -15
  jcmd "$PS_PID" VM.native_memory summary || true
fi
