#!/bin/bash
# Regenerates the SLRU fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A quiet primary (track_commit_timestamp on) is checkpointed and its SLRU directories are
# copied (before/), then a workload of commits, aborts, subtransactions, two-phase commit and
# MultiXacts runs, the primary is checkpointed again and the SLRU directories are copied
# (after/). The WAL in between (wal.gz, from start_lsn) and its pg_waldump listing are kept:
# replaying the WAL's SLRU changes onto before/ must give after/.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/slrufix}
PORT=${2:-55741}
as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg $BIN/psql -h "$WORK" -p "$PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

rm -rf "$WORK"; mkdir -p "$WORK"; chown postgres "$WORK"
as_pg $BIN/initdb -D "$WORK/data" --wal-segsize=1 -U postgres -A trust --no-sync >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
wal_level = replica
wal_keep_size = 1GB
max_wal_size = 1GB
checkpoint_timeout = 1h
autovacuum = off
track_commit_timestamp = on
max_prepared_transactions = 5
fsync = off
CONF
as_pg $BIN/pg_ctl -D "$WORK/data" -l "$WORK/log" -w start >/dev/null
trap 'as_pg $BIN/pg_ctl -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true' EXIT

sql -c "CREATE TABLE t (id int PRIMARY KEY, v int)" -c "INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g"
sql -c "CHECKPOINT"
START_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
FIRST=$(sql -At -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
rm -rf "$HERE/before" "$HERE/after"
mkdir -p "$HERE/before"
for d in pg_xact pg_multixact pg_commit_ts; do cp -r "$WORK/data/$d" "$HERE/before/"; done

# 1,000 single-statement commits (past the 819 commit timestamps of one page)
echo "SELECT txid_current();" > "$WORK/txid.sql"
as_pg $BIN/pgbench -h "$WORK" -p "$PORT" -U postgres -n -t 1000 -f "$WORK/txid.sql" postgres >/dev/null
sql >/dev/null <<'SQL'
BEGIN; UPDATE t SET v = 1 WHERE id = 1; ROLLBACK;
-- 100 subtransactions, every third rolled back; more than 64, so XLOG_XACT_ASSIGNMENT too
DO $$
BEGIN
  FOR i IN 1..100 LOOP
    BEGIN
      UPDATE t SET v = v + 1 WHERE id = 1 + i % 100;
      IF i % 3 = 0 THEN RAISE EXCEPTION 'roll back'; END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
  END LOOP;
END $$;
BEGIN; UPDATE t SET v = 2 WHERE id = 2; SAVEPOINT a; UPDATE t SET v = 3 WHERE id = 3; PREPARE TRANSACTION 'commit me';
BEGIN; UPDATE t SET v = 4 WHERE id = 4; PREPARE TRANSACTION 'roll me back';
COMMIT PREPARED 'commit me';
ROLLBACK PREPARED 'roll me back';
-- MultiXacts in one session: a share lock, then an update of the row in a subtransaction
BEGIN; SELECT v FROM t WHERE id = 10 FOR SHARE; SAVEPOINT s; UPDATE t SET v = 10 WHERE id = 10; COMMIT;
BEGIN; SELECT v FROM t WHERE id = 11 FOR KEY SHARE; SAVEPOINT s; SELECT v FROM t WHERE id = 11 FOR SHARE; SAVEPOINT s2; UPDATE t SET v = 11 WHERE id = 11; COMMIT;
BEGIN; SELECT v FROM t WHERE id = 12 FOR SHARE; SAVEPOINT s; UPDATE t SET v = 12 WHERE id = 12; ROLLBACK;
CHECKPOINT;
SQL
END_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
mkdir -p "$HERE/after"
for d in pg_xact pg_multixact pg_commit_ts; do cp -r "$WORK/data/$d" "$HERE/after/"; done
LAST=$(sql -At -c "SELECT pg_walfile_name('$END_LSN')")
sql -c "SELECT pg_switch_wal()" >/dev/null
cat $(for f in $(ls "$WORK/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort); do
  if [[ "$f" > "$FIRST" || "$f" == "$FIRST" ]] && [[ "$f" < "$LAST" || "$f" == "$LAST" ]]; then echo "$WORK/data/pg_wal/$f"; fi
done) | gzip -9 > "$HERE/wal.gz"
as_pg $BIN/pg_waldump -p "$WORK/data/pg_wal" -s "$START_LSN" -e "$END_LSN" 2>/dev/null | gzip -9 > "$HERE/pg_waldump.txt.gz"
cat > "$HERE/fixture.properties" <<PROPS
first_segment=$FIRST
start_lsn=$START_LSN
end_lsn=$END_LSN
wal_segment_size=1048576
PROPS
chmod -R a+r "$HERE"
echo "fixture: $FIRST .. $LAST, $START_LSN .. $END_LSN"
