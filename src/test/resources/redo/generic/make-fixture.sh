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
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/genericfix}
PORT=${2:-55762}
. "$HERE/../fixture-cluster.sh"

cluster_init "wal_consistency_checking = 'generic'"
cluster_start

sql >/dev/null <<'SQL'
CREATE EXTENSION bloom;
CREATE TABLE bl (a int, b int, c text);
INSERT INTO bl SELECT g, g % 100, md5(g::text) FROM generate_series(1, 3000) g;
CHECKPOINT;
SELECT pg_switch_wal();
SQL
wal_begin

sql >/dev/null <<'SQL'
CREATE INDEX bl_abc ON bl USING bloom (a, b, c) WITH (length = 80, col1 = 2, col3 = 4);
INSERT INTO bl SELECT g, g % 7, 'x' || g FROM generate_series(3001, 4000) g;
DELETE FROM bl WHERE a % 3 = 0;
VACUUM bl;
INSERT INTO bl SELECT g, g % 11, 'y' FROM generate_series(4001, 4300) g;
DELETE FROM bl WHERE a > 2000;
VACUUM bl;
SQL
wal_end
# per record type as pg_waldump names it: the records, and the page images they carry only
# for wal_consistency_checking ("INSERT 548 1096")
waldump -r Generic 2>/dev/null \
  | awk '{ match($0, /desc: [A-Za-z]+/); t = substr($0, RSTART + 6, RLENGTH - 6); n[t]++;
           v[t] += gsub(/FPW for WAL verification/, "") } END { for (t in n) print t, n[t], v[t] }' \
  | sort > "$HERE/generic-records.txt"
fixture_done; cat "$HERE/generic-records.txt"
