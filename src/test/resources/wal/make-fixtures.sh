#!/bin/bash
# Regenerates the golden WAL fixtures of this directory from a real PostgreSQL 15.
# Run as root (PostgreSQL itself runs as the "postgres" user):
#   bash make-fixtures.sh [WORKDIR] [PORT]
# It writes the segments (gzipped), pg_waldump.txt.gz and fixture.properties next to itself.
# The exact LSNs differ from run to run (timestamps, xids), so the committed
# fixture and its listing must always be regenerated together.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/walfix}
PORT=${2:-55731}

as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg $BIN/psql -h "$WORK" -p "$PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

rm -rf "$WORK"; mkdir -p "$WORK"; chown postgres "$WORK"
# 1 MB segments keep the fixtures small; -k (data checksums) makes hint-bit
# updates WAL-logged as XLOG FPI_FOR_HINT records.
as_pg $BIN/initdb -D "$WORK/data" --wal-segsize=1 -k -U postgres -A trust --no-sync >/dev/null
cat >> "$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
wal_level = replica
wal_keep_size = 1GB
max_wal_size = 1GB
checkpoint_timeout = 1h
autovacuum = off
max_prepared_transactions = 5
fsync = off
CONF
as_pg $BIN/pg_ctl -D "$WORK/data" -l "$WORK/log" -w start >/dev/null
trap 'as_pg $BIN/pg_ctl -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true' EXIT

# Setup, not part of the fixture.
as_pg $BIN/pgbench -h "$WORK" -p "$PORT" -U postgres -q -i -s 1 postgres >/dev/null 2>&1
sql -c "CHECKPOINT" -c "SELECT pg_switch_wal()" >/dev/null
FIRST=$(sql -At -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
START_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")

# Phase 1, wal_compression = off: many record types, FPIs with holes.
sql >/dev/null <<'SQL'
CHECKPOINT;
CREATE TABLE t1 (id int PRIMARY KEY, v text, n numeric);
INSERT INTO t1 SELECT g, 'val' || g, g * 1.5 FROM generate_series(1, 2000) g;
UPDATE t1 SET v = v || 'x' WHERE id % 10 = 0;
UPDATE t1 SET id = id + 100000 WHERE id % 97 = 0;
DELETE FROM t1 WHERE id % 7 = 0;
CREATE INDEX t1_v ON t1 (v);
CREATE INDEX t1_hash ON t1 USING hash (n);
CREATE TABLE docs (id int, words text[], r int4range, p point);
INSERT INTO docs SELECT g, ARRAY['w' || (g % 50), 'z' || (g % 7)], int4range(g, g + 10), point(g, g % 13)
  FROM generate_series(1, 500) g;
CREATE INDEX docs_gin ON docs USING gin (words);
CREATE INDEX docs_gist ON docs USING gist (r);
CREATE INDEX docs_spgist ON docs USING spgist (p);
CREATE INDEX docs_brin ON docs USING brin (id);
-- TOAST: values stored out of line, in toast chunks
CREATE TABLE t2 (id int, big text);
ALTER TABLE t2 ALTER big SET STORAGE EXTERNAL;
INSERT INTO t2 SELECT g, (SELECT string_agg(md5((g * 1000 + i)::text), '') FROM generate_series(1, 300) i)
  FROM generate_series(1, 5) g;
-- a record far larger than an 8 kB WAL page
SELECT pg_logical_emit_message(false, 'fixture', repeat('large-record-', 2000));
CREATE SEQUENCE s1;
SELECT nextval('s1') FROM generate_series(1, 40);
COPY t2 (id) FROM PROGRAM 'seq 1000 1400';
BEGIN;
INSERT INTO t1 VALUES (300001, 'sub', 1);
SAVEPOINT a; INSERT INTO t1 VALUES (300002, 'sub', 2);
SAVEPOINT b; INSERT INTO t1 VALUES (300003, 'sub', 3);
ROLLBACK TO a;
COMMIT;
BEGIN; INSERT INTO t1 VALUES (300004, 'prep', 4); PREPARE TRANSACTION 'p1';
COMMIT PREPARED 'p1';
BEGIN; INSERT INTO t1 VALUES (300005, 'abort', 5); ROLLBACK;
VACUUM t1;
VACUUM FREEZE docs;
DELETE FROM t2 WHERE id >= 1200;
VACUUM t2;
TRUNCATE docs;
CREATE DATABASE db2 STRATEGY FILE_COPY;
SQL
as_pg $BIN/pgbench -h "$WORK" -p "$PORT" -U postgres -n -t 30 -c 1 postgres >/dev/null
# Make sure one record spans a segment boundary: when the insert position gets
# close to the end of its segment, write one 30 kB record across it.
sql >/dev/null <<'SQL'
DO $$
DECLARE
  seg bigint := 1024 * 1024;
  pos bigint;
BEGIN
  LOOP
    pos := (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint;
    EXIT WHEN seg - pos % seg < 20000;
    PERFORM pg_logical_emit_message(false, 'fill', repeat('f', 4000));
  END LOOP;
  PERFORM pg_logical_emit_message(false, 'span', repeat('s', 30000));
END $$;
INSERT INTO t1 VALUES (400000, 'after the boundary', 0);
SELECT pg_switch_wal();
SQL

# Phases 2-4: compressed FPIs. wal_compression is superuser-settable per session.
for m in pglz:1 lz4:2 zstd:3; do
  method=${m%%:*}; k=${m##*:}
  sql >/dev/null <<SQL
SET wal_compression = $method;
CHECKPOINT;
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 2000 = $k;
UPDATE t1 SET n = n + 1 WHERE id % 50 = $k;
SELECT pg_switch_wal();
SQL
done

# Phase 5: wal_consistency_checking = all: every block gets an image; those not
# needed for redo come without BKPIMAGE_APPLY.
sql >/dev/null <<'SQL'
SET wal_consistency_checking = 'all';
CHECKPOINT;
INSERT INTO t1 VALUES (500000, 'consistency', 1);
UPDATE t1 SET v = 'checked' WHERE id BETWEEN 100 AND 112;
DELETE FROM t1 WHERE id BETWEEN 200 AND 206;
SQL
# pg_switch_wal() returns the end of the XLOG_SWITCH record: the last segment.
LAST=$(sql -At -c "SELECT pg_walfile_name(pg_switch_wal())")
as_pg $BIN/pg_ctl -D "$WORK/data" -m fast stop >/dev/null
trap - EXIT

rm -f "$HERE"/*.gz "$HERE/pg_waldump.txt"
segs=$(cd "$WORK/data/pg_wal" && ls | grep -E '^[0-9A-F]{24}$' | awk -v a="$FIRST" -v b="$LAST" '$0 >= a && $0 <= b')
for s in $segs; do gzip -9 -n -c "$WORK/data/pg_wal/$s" > "$HERE/$s.gz"; done
$BIN/pg_waldump --bkp-details -p "$WORK/data/pg_wal" "$FIRST" "$LAST" 2> "$HERE/pg_waldump.stderr" | gzip -9 -n > "$HERE/pg_waldump.txt.gz" || true
{
  echo "first_segment=$FIRST"
  echo "last_segment=$LAST"
  echo "start_lsn=$START_LSN"
  echo "wal_segment_size=1048576"
  echo "system_identifier=$(as_pg $BIN/pg_controldata -D "$WORK/data" | awk -F: '/Database system identifier/ {gsub(/ /, "", $2); print $2}')"
} > "$HERE/fixture.properties"
ls -l "$HERE"
