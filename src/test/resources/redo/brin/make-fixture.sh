#!/bin/bash
# Regenerates the BRIN fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A table is filled (one row per heap page), the WAL switched to a new segment, and from its
# start a workload runs with wal_consistency_checking = 'brin', so that every BRIN record
# carries PostgreSQL's image of each page it changes: an index build (CREATE_INDEX,
# REVMAP_EXTEND, INSERT+INIT, INSERT), summaries widened in place (SAMEPAGE_UPDATE) and across
# pages (UPDATE, UPDATE+INIT), ranges summarized and desummarized (DESUMMARIZE). The WAL
# segments from there (wal.gz), where it starts and ends (fixture.properties) and the number
# of BRIN records of each type and of their check images pg_waldump counts (brin-records.txt)
# are kept.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/brinfix}
PORT=${2:-55761}
. "$HERE/../fixture-cluster.sh"

cluster_init "wal_consistency_checking = 'brin'"
cluster_start

sql >/dev/null <<'SQL'
CREATE TABLE bt (id int, k int, s text, pad text) WITH (fillfactor = 10);
INSERT INTO bt SELECT g, g, 'a' || g, repeat('x', 800) FROM generate_series(1, 400) g;
CHECKPOINT;
SELECT pg_switch_wal();
SQL
wal_begin

sql >/dev/null <<'SQL'
CREATE INDEX bt_k ON bt USING brin (k) WITH (pages_per_range = 1);
CREATE INDEX bt_s ON bt USING brin (s) WITH (pages_per_range = 4);
UPDATE bt SET k = -k WHERE id % 37 = 0;
UPDATE bt SET s = repeat('z', 300 + id % 200) WHERE id % 9 = 0;
INSERT INTO bt SELECT g, g, 'b' || g, repeat('y', 800) FROM generate_series(401, 440) g;
SELECT brin_summarize_range('bt_k', 420);
SELECT brin_summarize_new_values('bt_k');
SELECT brin_summarize_new_values('bt_s');
SELECT brin_desummarize_range('bt_k', 10);
SELECT brin_desummarize_range('bt_s', 0);
SELECT brin_summarize_range('bt_s', 0);
SQL
wal_end
# per record type as pg_waldump names it: the records, and the page images they carry only
# for wal_consistency_checking ("INSERT 548 1096")
waldump -r BRIN 2>/dev/null \
  | awk '{ match($0, /desc: [A-Z_+]+/); t = substr($0, RSTART + 6, RLENGTH - 6); n[t]++;
           v[t] += gsub(/FPW for WAL verification/, "") } END { for (t in n) print t, n[t], v[t] }' \
  | sort > "$HERE/brin-records.txt"
fixture_done; cat "$HERE/brin-records.txt"
