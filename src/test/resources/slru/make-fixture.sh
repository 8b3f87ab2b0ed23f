#!/bin/bash
# Regenerates the SLRU fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A quiet primary (track_commit_timestamp on) is checkpointed and its SLRU directories are
# copied (before/), then a workload of commits, aborts, subtransactions, two-phase commit and
# MultiXacts runs, the primary is checkpointed again and the SLRU directories are copied
# (after/). The WAL in between (wal.gz, from start_lsn) and its pg_waldump listing are kept:
# replaying the WAL's SLRU changes onto before/ must give after/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/slrufix}
PORT=${2:-55741}
. "$HERE/../redo/fixture-cluster.sh"

cluster_init "track_commit_timestamp = on" "max_prepared_transactions = 5"
cluster_start

sql -c "CREATE TABLE t (id int PRIMARY KEY, v int)" -c "INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g"
sql -c "CHECKPOINT"
wal_begin
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
mkdir -p "$HERE/after"
for d in pg_xact pg_multixact pg_commit_ts; do cp -r "$WORK/data/$d" "$HERE/after/"; done
wal_end
waldump 2>/dev/null | gzip -9 > "$HERE/pg_waldump.txt.gz"
fixture_done
