#!/usr/bin/env bash
# Clone benchmark (issue 11 "File-less computes", section "Benchmark: bench/clone").
# One pageserver following one throwaway primary per pgbench scale in SCALES (default
# "10 50 100"; each primary: pgbench -i -s SCALE, then the pageserver follows it with
# callmemaybe, then pgbench -c 2 -t 200 so that L is past the pageserver's start). For each
# scale, L = the primary's flush LSN then, with the pageserver caught up, in this order:
#  a. pg_basebackup -X stream from the primary + pg_ctl start + a first query;
#  b. pg_basebackup -X none from the pageserver at L + pg_ctl start + a first query;
#  c. `mount --lsn L` (a new upper directory) + pg_ctl start + a first query;
# each timed from the command's start to the query's answer, after a sync and with the
# pageserver idle, (select sum(bbalance) from
# pgbench_branches, checked equal to the primary's), with the CPU seconds of the servers (the
# primary's whole process tree; the pageserver JVM) and of the client (pg_basebackup; the
# mount JVM).
# Then at the largest scale: pgbench -S -c 2 -T PGBENCH_SECONDS (default 20) cold (PostgreSQL
# just started on a clone just mounted) and warm (after pg_prewarm read pgbench_accounts and its key)
# on a clone and on the full copy of (b) (the pageserver's full backup at the same L), same run.
# Usage: bash bench/clone.sh   (SCALES="10 50 100" PGBENCH_SECONDS=20). Run as root (FUSE).
# Everything it starts is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES=${SCALES:-10 50 100}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-20}

bash scripts/setup.sh
mvn -q -B -o -DskipTests package
. scripts/lib.sh
B=$(throwaway_dir pageserver-clonebench)
PS_PID=""
MOUNT_PID=""
declare -a STARTED=()
cleanup() {
  set +e
  for d in "${STARTED[@]}"; do "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1; done
  [ -n "$MOUNT_PID" ] && kill -TERM "$MOUNT_PID" 2>/dev/null && wait "$MOUNT_PID" 2>/dev/null
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  for s in $SCALES; do stop_pg "$B/s$s"; done
  rm -rf "$B"
}
trap cleanup EXIT
mkdir -p "$B/out"
chown postgres "$B/out" 2>/dev/null || true

PSPORT=$(free_port)
java -Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" \
  -Dpageserver.data-dir="$B/ps" -jar target/pageserver.jar >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT" || { echo "pageserver did not start:"; cat "$B/ps.log"; exit 1; }
PS=(psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres)

TCK=$(getconf CLK_TCK)
cpu_of() {
  sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TCK" '{printf "%.3f", ($12 + $13 + $14 + $15) / t}'
}
# CPU of a primary's whole tree: the postmaster, the children it reaped, the children alive.
cpu_pg() {
  local pm sum c
  pm=$(head -1 "$1/pg/postmaster.pid")
  sum=$(cpu_of "$pm")
  for c in $(pgrep -P "$pm"); do
    c=$(cpu_of "$c" 2>/dev/null) || continue
    sum=$(awk "BEGIN{print $sum + $c}")
  done
  echo "$sum"
}
now() { date +%s.%N; }
since() { awk "BEGIN{printf \"%.2f\", $(now) - $1}"; }
minus() { awk "BEGIN{printf \"%.2f\", $1 - $2}"; }

declare -A PORT SYSID AT SUM DBMB
for s in $SCALES; do
  mkdir -p "$B/s$s"
  chown postgres "$B/s$s" 2>/dev/null || true
  PORT[$s]=$(free_port)
  throwaway_pg "$B/s$s" "${PORT[$s]}" "max_wal_size = '2GB'"
  echo "== scale $s: pgbench -i"
  "$PGBIN/pgbench" -h 127.0.0.1 -p "${PORT[$s]}" -U postgres -i -s "$s" -q postgres >/dev/null 2>&1
  SYSID[$s]=$("${PS[@]}" -c "callmemaybe host=127.0.0.1 port=${PORT[$s]} user=postgres")
  "$PGBIN/pgbench" -h 127.0.0.1 -p "${PORT[$s]}" -U postgres -c 2 -t 200 postgres >/dev/null 2>&1
  Q=(psql -X -At -h 127.0.0.1 -p "${PORT[$s]}" -U postgres -d postgres)
  AT[$s]=$("${Q[@]}" -c "select pg_current_wal_flush_lsn()")
  SUM[$s]=$("${Q[@]}" -c "select sum(bbalance) from pgbench_branches")
  DBMB[$s]=$("${Q[@]}" -c "select pg_database_size('postgres') / 1048576")
  until [ "$("${Q[@]}" -c "select '$("${PS[@]}" -c status | grep "^${SYSID[$s]}|" | cut -d'|' -f5)'::pg_lsn >= '${AT[$s]}'::pg_lsn")" = t ]; do
    sleep 0.2
  done
done

# first_query PORT EXPECTED: waits until the server on PORT answers the first query (outside
# recovery), checks the answer
first_query() {
  local got
  until got=$(psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "select sum(bbalance) from pgbench_branches" \
    2>/dev/null); do sleep 0.05; done
  [ "$got" = "$2" ] || { echo "wrong answer on port $1: $got, expected $2"; exit 1; }
}
start_pg() { # DIR PORT
  STARTED+=("$1")
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$1" -l "$1.log" \
    -o "-p $2 -c unix_socket_directories=$B -c listen_addresses=127.0.0.1" -t 300 start >/dev/null \
    || { echo "server in $1 did not start:"; tail -20 "$1.log"; exit 1; }
}
stop_pg_dir() {
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1 || true
}
# mount_clone SCALE NAME: starts the mount command in the background (MOUNT_PID), returns once it printed ready
mount_clone() {
  local s=$1 name=$2
  "${AS_PG[@]}" mkdir -p "$B/out/$name.mp"
  : >"$B/out/$name.ready"
  java -jar target/pageserver.jar mount --port "$PSPORT" --system-id "${SYSID[$s]}" --lsn "${AT[$s]}" \
    --upper "$B/out/$name.upper" --owner postgres "$B/out/$name.mp" >"$B/out/$name.ready" 2>"$B/out/$name.err" &
  MOUNT_PID=$!
  until grep -q '^ready ' "$B/out/$name.ready"; do
    kill -0 "$MOUNT_PID" 2>/dev/null || { echo "mount failed:"; cat "$B/out/$name.err"; exit 1; }
    sleep 0.02
  done
}
unmount_clone() {
  kill -TERM "$MOUNT_PID"
  wait "$MOUNT_PID" || true
  MOUNT_PID=""
}

# Before each timed step: the dirty pages of the step before written back (its copy of up to
# 1.5 GB would otherwise slow this one's fsyncs), and the pageserver idle (its store compacting
# after an import).
quiet() {
  local c0 c1
  sync
  for _ in $(seq 1 30); do
    c0=$(cpu_of "$PS_PID")
    sleep 1
    c1=$(cpu_of "$PS_PID")
    [ "$(awk "BEGIN{print ($c1 - $c0 < 0.1)}")" = 1 ] && return
  done
}

ROWS=""
for s in $SCALES; do
  P=$(free_port)
  quiet
  # a. the primary's own pg_basebackup (with the WAL it needs, streamed) + start
  c0=$(cpu_pg "$B/s$s")
  t=$(now)
  /usr/bin/time -f "%U %S" -o "$B/out/a.cpu" "${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "${PORT[$s]}" \
    -U postgres -X stream -c fast -D "$B/out/a"
  start_pg "$B/out/a" "$P"
  first_query "$P" "${SUM[$s]}"
  ta=$(since "$t")
  ca=$(minus "$(cpu_pg "$B/s$s")" "$c0")
  cla=$(awk '{printf "%.2f", $1 + $2}' "$B/out/a.cpu")
  stop_pg_dir "$B/out/a"
  rm -rf "$B/out/a" "$B/out/a.log"

  # b. pg_basebackup from the pageserver at L + start
  quiet
  c0=$(cpu_of "$PS_PID")
  t=$(now)
  PGOPTIONS="-c system_id=${SYSID[$s]} -c lsn=${AT[$s]}" /usr/bin/time -f "%U %S" -o "$B/out/b.cpu" "${AS_PG[@]}" \
    "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PSPORT" -U postgres -X none -D "$B/out/b$s"
  start_pg "$B/out/b$s" "$P"
  first_query "$P" "${SUM[$s]}"
  tb=$(since "$t")
  cb=$(minus "$(cpu_of "$PS_PID")" "$c0")
  clb=$(awk '{printf "%.2f", $1 + $2}' "$B/out/b.cpu")
  stop_pg_dir "$B/out/b$s"

  # c. mount at L + start
  quiet
  c0=$(cpu_of "$PS_PID")
  t=$(now)
  mount_clone "$s" "c$s"
  tready=$(since "$t")
  start_pg "$B/out/c$s.mp" "$P"
  first_query "$P" "${SUM[$s]}"
  tc=$(since "$t")
  cc=$(minus "$(cpu_of "$PS_PID")" "$c0")
  clc=$(cpu_of "$MOUNT_PID")
  upper_kb=$(du -sk "$B/out/c$s.upper" | cut -f1)
  stop_pg_dir "$B/out/c$s.mp"
  unmount_clone
  echo "scale $s (${DBMB[$s]} MB): primary $ta s | pageserver backup $tb s | mount $tc s (ready $tready s): $(grep '^mount: new' "$B/out/c$s.err")"
  ROWS+=$(awk -v s="$s" -v db="${DBMB[$s]}" -v ta="$ta" -v ca="$ca" -v cla="$cla" -v tb="$tb" -v cb="$cb" -v clb="$clb" \
    -v tc="$tc" -v tr="$tready" -v cc="$cc" -v clc="$clc" -v up="$upper_kb" 'BEGIN{
    printf "| %d | %d MB | %.1f s (CPU %.1f s primary, %.1f s client) | %.1f s (CPU %.1f s pageserver, %.1f s client) | %.1f s, ready at %.1f s (CPU %.1f s pageserver, %.1f s mount) | %d kB |\n",
      s, db, ta, ca, cla, tb, cb, clb, tc, tr, cc, clc, up}')$'\n'
  [ "$s" = "${SCALES##* }" ] || rm -rf "$B/out/b$s" "$B/out/b$s.log"
done

# pgbench -S at the largest scale: a clone against the pageserver's full backup at the same L
S=${SCALES##* }
P=$(free_port)
pgbench_s() { # PORT: tps of pgbench -S
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$1" -U postgres -n -S -c 2 -j 2 -T "$PGBENCH_SECONDS" postgres 2>/dev/null \
    | grep -oE "tps = [0-9.]+" | head -1 | cut -d' ' -f3
}
quiet
# prewarm PORT: reads every page of pgbench_accounts and of its primary key once into the OS
# page cache (pg_prewarm's read mode; the mount's kernel_cache keeps them); prints the seconds
prewarm() {
  local t
  t=$(now)
  psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "create extension if not exists pg_prewarm" \
    -c "select pg_prewarm('pgbench_accounts', 'read'), pg_prewarm('pgbench_accounts_pkey', 'read')" >/dev/null
  since "$t"
}
c0=$(cpu_of "$PS_PID")
mount_clone "$S" "s$S"
start_pg "$B/out/s$S.mp" "$P"
first_query "$P" "${SUM[$S]}"
clone_cold=$(pgbench_s "$P")
clone_prewarm=$(prewarm "$P")
clone_warm=$(pgbench_s "$P")
clone_cpu_ps=$(minus "$(cpu_of "$PS_PID")" "$c0")
clone_cpu_mount=$(cpu_of "$MOUNT_PID")
stop_pg_dir "$B/out/s$S.mp"
unmount_clone
quiet
clone_stats=$(grep '^mount: unmounted' "$B/out/s$S.err" | sed 's/.*; //')
start_pg "$B/out/b$S" "$P"
first_query "$P" "${SUM[$S]}"
full_cold=$(pgbench_s "$P")
full_prewarm=$(prewarm "$P")
full_warm=$(pgbench_s "$P")
stop_pg_dir "$B/out/b$S"

cat <<EOF

== summary ($(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))
Time from the command to a first query answered (select sum(bbalance) from pgbench_branches)
| scale | database | a. pg_basebackup from the primary + start | b. pg_basebackup from the pageserver at L + start | c. mount at L + start | c. upper directory |
|---|---|---|---|---|---|
$ROWS
pgbench -S -c 2 -j 2 -T $PGBENCH_SECONDS at scale $S, tps (cold: just started; warm: after pg_prewarm read pgbench_accounts and its key)
| | cold | prewarm scan | warm |
|---|---|---|---|
| clone (mount at L) | $clone_cold | $clone_prewarm s | $clone_warm |
| full copy (pageserver's full backup at L) | $full_cold | $full_prewarm s | $full_warm |
| clone / full copy | $(awk "BEGIN{printf \"%.2fx\", $clone_cold / $full_cold}") | | $(awk "BEGIN{printf \"%.2fx\", $clone_warm / $full_warm}") |
clone: CPU $clone_cpu_ps s pageserver, $clone_cpu_mount s mount for both runs; $clone_stats
EOF
