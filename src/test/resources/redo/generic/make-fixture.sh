#!/bin/bash
# Regenerates the generic WAL fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A table is filled, the WAL switched to a new segment, and from its start a workload on a
# bloom index (contrib/bloom writes nothing but generic WAL) runs with wal_consistency_checking
# = 'generic', so that every generic record carries PostgreSQL's image of each page it changes:
# the build (pages logged as full images), inserts (deltas of a page and the metapage, new pages
# as full images), deletes and VACUUM (deltas of the pages it compacts). The WAL segments from
# there (wal.gz), where it starts and ends (fixture.properties) and the number of generic records
# and of their check images pg_waldump counts (generic-records.txt) are kept.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/genericfix}
PORT=${2:-55762}
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
fsync = off
wal_consistency_checking = 'generic'
CONF
as_pg $BIN/pg_ctl -D "$WORK/data" -l "$WORK/log" -w start >/dev/null
trap 'as_pg $BIN/pg_ctl -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true' EXIT

sql >/dev/null <<'SQL'
CREATE EXTENSION bloom;
CREATE TABLE bl (a int, b int, c text);
INSERT INTO bl SELECT g, g % 100, md5(g::text) FROM generate_series(1, 3000) g;
CHECKPOINT;
SELECT pg_switch_wal();
SQL
START_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
FIRST=$(sql -At -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")

sql >/dev/null <<'SQL'
CREATE INDEX bl_abc ON bl USING bloom (a, b, c) WITH (length = 80, col1 = 2, col3 = 4);
INSERT INTO bl SELECT g, g % 7, 'x' || g FROM generate_series(3001, 4000) g;
DELETE FROM bl WHERE a % 3 = 0;
VACUUM bl;
INSERT INTO bl SELECT g, g % 11, 'y' FROM generate_series(4001, 4300) g;
DELETE FROM bl WHERE a > 2000;
VACUUM bl;
SQL
END_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
LAST=$(sql -At -c "SELECT pg_walfile_name('$END_LSN')")
sql -c "SELECT pg_switch_wal()" >/dev/null
cat $(for f in $(ls "$WORK/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort); do
  if [[ "$f" > "$FIRST" || "$f" == "$FIRST" ]] && [[ "$f" < "$LAST" || "$f" == "$LAST" ]]; then echo "$WORK/data/pg_wal/$f"; fi
done) | gzip -9 > "$HERE/wal.gz"
# per record type as pg_waldump names it: the records, and the page images they carry only
# for wal_consistency_checking ("INSERT 548 1096")
as_pg $BIN/pg_waldump -p "$WORK/data/pg_wal" -s "$START_LSN" -e "$END_LSN" -r Generic 2>/dev/null \
  | awk '{ match($0, /desc: [A-Za-z]+/); t = substr($0, RSTART + 6, RLENGTH - 6); n[t]++;
           v[t] += gsub(/FPW for WAL verification/, "") } END { for (t in n) print t, n[t], v[t] }' \
  | sort > "$HERE/generic-records.txt"
cat > "$HERE/fixture.properties" <<PROPS
first_segment=$FIRST
start_lsn=$START_LSN
end_lsn=$END_LSN
wal_segment_size=1048576
PROPS
chmod -R a+r "$HERE"
echo "fixture: $FIRST .. $LAST, $START_LSN .. $END_LSN"; cat "$HERE/generic-records.txt"
