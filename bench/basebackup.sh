#!/usr/bin/env bash
# Base backup benchmark (issue "Base backups at any LSN", section "Benchmark: bench/basebackup").
# One throwaway primary (WAL archived to a directory) and one pageserver following it:
#  0. pgbench -i -s SCALE (default 50); CHECKPOINT; a pg_basebackup of the primary (the PITR
#     tool's base backup) and L0 = the LSN then; pgbench -c CLIENTS for the largest of MINUTES
#     and PAST_MINUTES minutes, noting the primary's insert LSN at every minute mark;
#  1. after a CHECKPOINT, with the pageserver caught up, ROUNDS (default 2) rounds of:
#     `pg_basebackup -X none -F tar` from the primary, the same from the pageserver at its latest
#     LSN, and the same from the pageserver at L(PAST) (the LSN PAST_MINUTES minutes of pgbench
#     before the end): seconds, MB/s, CPU seconds of each server (the pageserver JVM; the
#     primary's whole process tree, postmaster's reaped children included);
#  2. for every M in MINUTES, L = the LSN M minutes of pgbench after the base backup, ROUNDS
#     times each: time until a stock PostgreSQL 15 answers a query as a primary (not in
#     recovery) at L, ours (pg_basebackup from the pageserver at L + start) against PITR
#     (extract the base backup + replay the archived WAL with recovery_target_lsn = L,
#     recovery_target_action = promote).
# The client of every backup is the stock pg_basebackup, so both servers do the same work for
# the same client (tar, backup_manifest with CRC32C checksums).
# Usage: bash bench/basebackup.sh   (SCALE=50 CLIENTS=4 MINUTES="1 5 15" PAST_MINUTES=5
# ROUNDS=2; JFR=1 records a flight recording of the pageserver into $JFR_OUT, default
# /tmp/basebackup.jfr; PS_OPTS adds JVM options to the pageserver). Everything it starts is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-50}
CLIENTS=${CLIENTS:-4}
MINUTES=${MINUTES:-1 5 15}
PAST_MINUTES=${PAST_MINUTES:-5}
ROUNDS=${ROUNDS:-2}
JFR=${JFR:-0}
JFR_OUT=${JFR_OUT:-/tmp/basebackup.jfr}

bash scripts/setup.sh
mvn -q -B -o -DskipTests package
. scripts/lib.sh
B=$(throwaway_dir pageserver-bbbench)
PS_PID=""
RESTORED=""
cleanup() {
  set +e
  [ -n "$RESTORED" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$RESTORED" -m immediate stop >/dev/null 2>&1
  [ -n "$PS_PID" ] && kill -TERM "$PS_PID" 2>/dev/null && wait "$PS_PID" 2>/dev/null
  stop_pg "$B"
  rm -rf "$B"
}
trap cleanup EXIT
mkdir -p "$B/archive" "$B/out"
chown postgres "$B/archive" "$B/out" 2>/dev/null || true
PGPORT=$(free_port)
throwaway_pg "$B" "$PGPORT" "shared_buffers = 256MB" "max_wal_size = '2GB'" \
  "archive_mode = on" "archive_command = 'cp %p $B/archive/%f'"
PSQL=(psql -X -At -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
PGB=("$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres)

PSPORT=$(free_port)
JVM=(-Dpageserver.listen="127.0.0.1:$PSPORT" -Dpageserver.http-listen="127.0.0.1:$(free_port)" -Dpageserver.data-dir="$B/ps")
[ "$JFR" = 1 ] && JVM+=("-XX:StartFlightRecording=filename=$JFR_OUT,settings=profile")
# PS_OPTS: more JVM options for the pageserver, e.g. "-Dpageserver.compaction.image-after=4"
read -r -a EXTRA <<<"${PS_OPTS:-}"
JVM+=("${EXTRA[@]}")
java "${JVM[@]}" -jar target/pageserver.jar >"$B/ps.log" 2>&1 &
PS_PID=$!
wait_port "$PSPORT" || { echo "pageserver did not start:"; cat "$B/ps.log"; exit 1; }
PS=(psql -X -At -h 127.0.0.1 -p "$PSPORT" -U postgres -d postgres)
SYSID=$("${PS[@]}" -c "callmemaybe host=127.0.0.1 port=$PGPORT user=postgres")

# Waits until the pageserver has stored everything the primary has flushed.
caught_up() {
  local flush dur
  flush=$("${PSQL[@]}" -c "select pg_current_wal_flush_lsn()")
  while :; do
    dur=$("${PS[@]}" -c status | cut -d'|' -f5)
    [ -n "$dur" ] && [ "$("${PSQL[@]}" -c "select '$dur'::pg_lsn >= '$flush'::pg_lsn")" = t ] && return
    sleep 0.2
  done
}

TCK=$(getconf CLK_TCK)
# CPU seconds so far of one process (with its reaped children)...
cpu_of() {
  sed 's/.*) //' "/proc/$1/stat" | awk -v t="$TCK" '{printf "%.3f", ($12 + $13 + $14 + $15) / t}'
}
# ...and of PostgreSQL's whole tree: the postmaster, the children it reaped, the children alive.
PM_PID=$(head -1 "$B/pg/postmaster.pid")
cpu_pg() {
  local sum c
  sum=$(cpu_of "$PM_PID")
  for c in $(pgrep -P "$PM_PID"); do
    c=$(cpu_of "$c" 2>/dev/null) || continue
    sum=$(awk "BEGIN{print $sum + $c}")
  done
  echo "$sum"
}
now() { date +%s.%N; }
since() { awk "BEGIN{printf \"%.2f\", $(now) - $1}"; }

echo "== pgbench -i -s $SCALE (pageserver $SYSID following)"
"${PGB[@]}" -i -s "$SCALE" -q postgres >/dev/null 2>&1
"${PSQL[@]}" -c checkpoint >/dev/null
DB_MB=$("${PSQL[@]}" -c "select pg_database_size('postgres') / 1048576")
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -X none -F tar -c fast -D "$B/pitr_base"
L0=$("${PSQL[@]}" -c "select pg_current_wal_insert_lsn()")
LAST=$PAST_MINUTES
for m in $MINUTES; do [ "$m" -gt "$LAST" ] && LAST=$m; done
echo "== pgbench -c $CLIENTS for $LAST min from L0 = $L0 (database $DB_MB MB)"
"${PGB[@]}" -c "$CLIENTS" -j 2 -T $((LAST * 60)) postgres >"$B/pgbench.out" 2>&1 &
BENCH=$!
declare -A AT
T0=$(now)
for m in $(seq 1 "$LAST"); do
  sleep "$(awk "BEGIN{d = $T0 + $m * 60 - $(now); print (d > 0 ? d : 0)}")"
  AT[$m]=$("${PSQL[@]}" -c "select pg_current_wal_insert_lsn()")
done
wait "$BENCH"
TPS=$(grep -oE "tps = [0-9.]+" "$B/pgbench.out" | head -1)
AT[0]=$L0
LPAST=${AT[$((LAST - PAST_MINUTES))]}
"${PSQL[@]}" -c checkpoint -c "select pg_switch_wal()" >/dev/null
caught_up
until [ "$("${PSQL[@]}" -c "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'")" = 0 ]; do sleep 0.2; done
END=$("${PSQL[@]}" -c "select pg_current_wal_insert_lsn()")
WAL_MB=$("${PSQL[@]}" -c "select round(('$END'::pg_lsn - '$L0'::pg_lsn) / 1048576)")
echo "$TPS, $WAL_MB MB of WAL; L(past) = $LPAST, end = $END"

# backup NAME PORT [lsn]: one pg_basebackup -X none -F tar into $B/out; prints
# "seconds MB server-CPU-seconds"
backup() {
  local name=$1 port=$2 lsn=${3:-} opts="" t c0 c1 s mb
  rm -rf "$B/out/$name"
  if [ "$port" = "$PSPORT" ]; then
    opts="-c system_id=$SYSID${lsn:+ -c lsn=$lsn}"
    c0=$(cpu_of "$PS_PID")
  else
    c0=$(cpu_pg)
  fi
  t=$(now)
  PGOPTIONS="$opts" "${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -X none -F tar -c fast \
    -D "$B/out/$name"
  s=$(since "$t")
  if [ "$port" = "$PSPORT" ]; then c1=$(cpu_of "$PS_PID"); else c1=$(cpu_pg); fi
  mb=$(du -sm "$B/out/$name" | cut -f1)
  rm -rf "$B/out/$name"
  echo "$s $mb $(awk "BEGIN{printf \"%.2f\", $c1 - $c0}")"
}

echo "== 1. full backups, $ROUNDS rounds"
ROWS1=""
for r in $(seq 1 "$ROUNDS"); do
  read -r ps pmb pc <<<"$(backup primary "$PGPORT")"
  read -r os omb oc <<<"$(backup ours "$PSPORT")"
  read -r qs qmb qc <<<"$(backup past "$PSPORT" "$LPAST")"
  ROWS1+=$(awk -v r="$r" -v ps="$ps" -v pmb="$pmb" -v pc="$pc" -v os="$os" -v omb="$omb" -v oc="$oc" \
    -v qs="$qs" -v qmb="$qmb" -v qc="$qc" 'BEGIN{
    printf "| %d | %.2f s, %.0f MB/s, CPU %.2f s | %.2f s, %.0f MB/s, CPU %.2f s | %.2fx time, %.2fx CPU | %.2f s, %.0f MB/s, CPU %.2f s | %.2fx time, %.2fx CPU |\n",
      r, ps, pmb / ps, pc, os, omb / os, oc, os / ps, oc / pc, qs, qmb / qs, qc, qs / ps, qc / pc}')$'\n'
  echo "round $r: primary $ps s $pmb MB cpu $pc | ours latest $os s $omb MB cpu $oc | ours past $qs s $qmb MB cpu $qc"
done

# ready DIR PORT: starts the server in DIR, waits until it answers a query outside recovery
ready() {
  local dir=$1 port=$2
  RESTORED=$dir
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" \
    -o "-p $port -c unix_socket_directories=$B -c listen_addresses=127.0.0.1 -c archive_mode=off" start >/dev/null
  until [ "$(psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "select pg_is_in_recovery()" 2>/dev/null)" = f ]; do
    sleep 0.1
  done
}
stop_restored() {
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$1" -m immediate stop >/dev/null 2>&1 || true
  RESTORED=""
  rm -rf "$1" "$1.log"
}

echo "== 2. time to a running server at L, $ROUNDS rounds each"
ROWS2=""
for m in $MINUTES; do
  L=${AT[$m]}
  REPLAY_MB=$("${PSQL[@]}" -c "select round(('$L'::pg_lsn - '$L0'::pg_lsn) / 1048576)")
  for r in $(seq 1 "$ROUNDS"); do
    port=$(free_port)
    t=$(now)
    PGOPTIONS="-c system_id=$SYSID -c lsn=$L" "${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PSPORT" -U postgres \
      -X none -D "$B/out/ours"
    tb=$(since "$t")
    ready "$B/out/ours" "$port"
    ours=$(since "$t")
    stop_restored "$B/out/ours"

    t=$(now)
    "${AS_PG[@]}" mkdir -m 700 "$B/out/pitr"
    "${AS_PG[@]}" tar xf "$B/pitr_base/base.tar" -C "$B/out/pitr"
    {
      echo "restore_command = 'cp $B/archive/%f %p'"
      echo "recovery_target_lsn = '$L'"
      echo "recovery_target_action = 'promote'"
    } >>"$B/out/pitr/postgresql.auto.conf"
    "${AS_PG[@]}" touch "$B/out/pitr/recovery.signal"
    ready "$B/out/pitr" "$port"
    pitr=$(since "$t")
    stop_restored "$B/out/pitr"
    echo "$m min ($REPLAY_MB MB of WAL), round $r: ours $ours s (backup $tb s), PITR $pitr s"
    ROWS2+=$(awk -v m="$m" -v w="$REPLAY_MB" -v r="$r" -v o="$ours" -v b="$tb" -v p="$pitr" \
      'BEGIN{printf "| %d min, %d MB of WAL | %d | %.1f s (backup %.1f s) | %.1f s | %.2fx |\n", m, w, r, o, b, p, p / o}')$'\n'
  done
done

cat <<EOF

== summary ($(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))
pgbench -i -s $SCALE: database $DB_MB MB; pgbench -c $CLIENTS for $LAST min: $TPS, $WAL_MB MB of WAL
1. pg_basebackup -X none -F tar -c fast, to local disk (primary: whole postgres tree's CPU; ours: the JVM's)
| round | primary | pageserver, latest | vs primary | pageserver, $PAST_MINUTES min before the end | vs primary |
|---|---|---|---|---|---|
$ROWS1
2. time until a query answers outside recovery at L (M minutes of pgbench after the base backup)
| L | round | pageserver: pg_basebackup at L + start | PITR: restore + replay to L + promote | PITR / ours |
|---|---|---|---|---|
$ROWS2
EOF
