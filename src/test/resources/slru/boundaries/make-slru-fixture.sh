#!/bin/bash
# Regenerates the SLRU redo fixture of this directory from a real PostgreSQL 15.
# Run as root (PostgreSQL itself runs as the "postgres" user):
#   bash make-slru-fixture.sh [WORKDIR] [PORT]
# Writes next to itself:
#   before.tar.gz   pg_xact, pg_multixact and pg_commit_ts right after a CHECKPOINT, at index_from
#   after.tar.gz    the same directories after the workload and a second CHECKPOINT, at end_lsn
#   wal.bin.gz      the raw WAL from the start of the segment holding index_from up to end_lsn
#   waldump-stats.txt  pg_waldump --stats=record of [index_from, end_lsn)
#   fixture.properties
# Replaying every record ending after index_from on the "before" pages gives the "after" pages.
# LSNs, xids and timestamps differ from run to run: replace all files together.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/slrufix-boundaries}
PORT=${2:-55742}
. "$HERE/../../redo/fixture-cluster.sh"

cluster_init "max_prepared_transactions = 5" "track_commit_timestamp = on"
# Move the counters next to interesting boundaries (pg_resetwal, before the first start):
#  - next xid 300 short of the end of pg_xact segment 1 (page 63): the workload crosses
#    CLOG page 63 -> 64, i.e. segment 0001 -> 0002, and commit_ts pages (819 xids each);
#  - next multixact 2040, 8 short of the end of offsets page 0 (2048 per page);
#  - next member offset 0xFFFFFF00: 256 members short of the wraparound of the member
#    space, on the last members page (2625285, segment 14078, a five-digit file name).
# The segment files holding the new current pages must exist (zero-filled), as
# pg_resetwal's documentation says.
as_pg $BIN/pg_resetwal -x 2096852 -m 2040,2040 -O 4294967040 -D "$WORK/data" >/dev/null
as_pg dd if=/dev/zero of="$WORK/data/pg_xact/0001" bs=8192 count=32 status=none
as_pg dd if=/dev/zero of="$WORK/data/pg_multixact/members/14078" bs=8192 count=6 status=none
cluster_start

# Setup, before the fixture's WAL.
sql >/dev/null <<'SQL'
CREATE EXTENSION dblink;
CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 800) g;
CREATE TABLE s (id int);
CREATE PROCEDURE burn(n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    PERFORM txid_current();
    IF i % 3 = 0 THEN ROLLBACK; ELSE COMMIT; END IF;
  END LOOP;
END $$;
CHECKPOINT;
SQL
INDEX_FROM=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
(cd "$WORK/data" && tar --format=ustar -cf - pg_xact pg_multixact pg_commit_ts) | gzip -9 -n > "$HERE/before.tar.gz"

# 900 transactions, every third aborted (CLOG page and segment change, commit_ts pages).
sql -c "SET synchronous_commit = off" -c "CALL burn(900)" >/dev/null
# 70 subtransactions in one transaction (more than PGPROC_MAX_CACHED_SUBXIDS = 64: XACT
# ASSIGNMENT records), some rolled back (subtransaction abort records).
{
  echo "BEGIN; INSERT INTO s VALUES (0);"
  for i in $(seq 1 70); do
    echo "SAVEPOINT p$i; INSERT INTO s VALUES ($i);"
    if [ $((i % 9)) -eq 0 ]; then echo "ROLLBACK TO p$i; INSERT INTO s VALUES (-$i);"; fi
  done
  echo "COMMIT;"
} | sql >/dev/null
# Two-phase commit, both ways, with subtransactions.
sql >/dev/null <<'SQL'
BEGIN; INSERT INTO s VALUES (1001); SAVEPOINT a; INSERT INTO s VALUES (1002); PREPARE TRANSACTION 'p1';
BEGIN; INSERT INTO s VALUES (1003); SAVEPOINT a; INSERT INTO s VALUES (1004); PREPARE TRANSACTION 'p2';
COMMIT PREPARED 'p1';
ROLLBACK PREPARED 'p2';
SQL
# Multixacts: four sessions share-lock the same 800 rows. A backend reuses a multixact
# for the same member set, so two of them lock each row in its own subtransaction (its
# own xid): every row gets multixacts of 2, 3 and 4 members, about 2400 multixacts and
# 7200 members, crossing offsets pages 0 -> 1 -> 2 and the member wraparound. Two use FOR
# KEY SHARE, and one no-key-updates rows the others hold (an update in a multixact).
sql -v conn="host=$WORK port=$PORT dbname=postgres user=postgres" >/dev/null <<'SQL'
SELECT dblink_connect('a', :'conn');
SELECT dblink_connect('b', :'conn');
SELECT dblink_connect('c', :'conn');
BEGIN;
SELECT count(*) FROM (SELECT id FROM t FOR KEY SHARE) x;
SELECT dblink_exec('a', 'BEGIN');
SELECT dblink_exec('a', $q$DO $d$ BEGIN FOR r IN 1..800 LOOP
  BEGIN PERFORM 1 FROM t WHERE id = r FOR SHARE; EXCEPTION WHEN others THEN RAISE; END;
END LOOP; END $d$$q$);
SELECT dblink_exec('b', 'BEGIN');
SELECT dblink_exec('b', $q$DO $d$ BEGIN FOR r IN 1..800 LOOP
  BEGIN PERFORM 1 FROM t WHERE id = r FOR KEY SHARE; EXCEPTION WHEN others THEN RAISE; END;
END LOOP; END $d$$q$);
SELECT dblink_exec('c', 'BEGIN');
SELECT * FROM dblink('c', 'SELECT count(*) FROM (SELECT id FROM t FOR SHARE) x') AS r(n bigint);
SELECT dblink_exec('a', 'COMMIT');
SELECT dblink_exec('c', 'COMMIT');
SELECT dblink_exec('b', 'UPDATE t SET v = v + 1 WHERE id <= 50');
SELECT dblink_exec('b', 'COMMIT');
COMMIT;
SQL
sql -c "CHECKPOINT" >/dev/null
END_LSN=$(sql -At -c "SELECT pg_current_wal_flush_lsn()")
(cd "$WORK/data" && tar --format=ustar -cf - pg_xact pg_multixact pg_commit_ts) | gzip -9 -n > "$HERE/after.tar.gz"
SYSID=$(as_pg $BIN/pg_controldata -D "$WORK/data" | awk -F: '/Database system identifier/ {gsub(/ /, "", $2); print $2}')
as_pg $BIN/pg_ctl -D "$WORK/data" -m fast stop >/dev/null
trap - EXIT

SEG=1048576
lsn2int() { local hi=${1%%/*} lo=${1##*/}; echo $(( (16#$hi << 32) | 16#$lo )); }
from=$(lsn2int "$INDEX_FROM"); to=$(lsn2int "$END_LSN")
start=$(( from / SEG * SEG ))
rm -f "$WORK/wal.bin"
for (( seg = start / SEG; seg * SEG < to; seg++ )); do
  name=$(printf '%08X%08X%08X' 1 $(( seg / 4096 )) $(( seg % 4096 )))
  cat "$WORK/data/pg_wal/$name" >> "$WORK/wal.bin"
done
head -c $(( to - start )) "$WORK/wal.bin" | gzip -9 -n > "$HERE/wal.bin.gz"
$BIN/pg_waldump --stats=record -p "$WORK/data/pg_wal" -s "$INDEX_FROM" -e "$END_LSN" > "$HERE/waldump-stats.txt"
{
  echo "wal_start=$(printf '%X/%X' $(( start >> 32 )) $(( start & 0xFFFFFFFF )))"
  echo "index_from=$INDEX_FROM"
  echo "end_lsn=$END_LSN"
  echo "wal_segment_size=$SEG"
  echo "system_identifier=$SYSID"
  echo "server_version=$(as_pg $BIN/postgres --version)"
} > "$HERE/fixture.properties"
ls -l "$HERE"
