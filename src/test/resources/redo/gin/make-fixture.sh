#!/bin/bash
# Regenerates the GIN redo fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A primary with wal_consistency_checking = 'Gin' (and full_page_writes off: every Gin page
# change is redone by the test, none restored from an image but the ones Gin forces) runs a compact workload writing every Gin
# record type: GIN indexes on tsvector, on jsonb (jsonb_ops and jsonb_path_ops) and on int[],
# with fastupdate on (a 64 kB pending list, filled row by row and flushed by inserts and
# gin_clean_pending_list) and off; posting lists growing into posting trees; long keys whose
# entry tree splits above its leaves; a posting tree built by CREATE INDEX, grown by inserts
# (its leaves split below an internal root) and half deleted (VACUUM recompresses its leaves
# and deletes the emptied ones); an unlogged GIN index; REINDEX INDEX CONCURRENTLY. The WAL
# from start_lsn to end_lsn is kept (wal.gz, whole segments from first_segment on) with its
# pg_waldump --stats listing; GinRedoTest replays it against the consistency images.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/ginfix}
PORT=${2:-55743}
. "$HERE/../fixture-cluster.sh"

cluster_init "wal_consistency_checking = 'Gin'" "full_page_writes = off"
cluster_start

# the tables of the posting trees built by CREATE INDEX are loaded before the checkpoint
sql -c "CREATE TABLE pt (id int, k int[])" \
    -c "COPY pt FROM PROGRAM 'seq 1 38300 | awk ''{print \$1\"\\t{1}\"}'''" \
    -c "CREATE TABLE grow (k int[])" -c "COPY grow FROM PROGRAM 'seq 1 2600 | awk ''{print \"{7}\"}'''"
sql -c "CHECKPOINT"
wal_begin

sql >/dev/null <<'SQL'
CREATE TABLE docs (id int, body text, js jsonb, arr int[]);
CREATE INDEX docs_tsv ON docs USING gin (to_tsvector('simple', body)) WITH (fastupdate = on, gin_pending_list_limit = 64);
CREATE INDEX docs_js ON docs USING gin (js jsonb_ops) WITH (fastupdate = off);
CREATE INDEX docs_jsp ON docs USING gin (js jsonb_path_ops) WITH (fastupdate = on, gin_pending_list_limit = 64);
CREATE INDEX docs_arr ON docs USING gin (arr) WITH (fastupdate = off);
INSERT INTO docs SELECT g, 'common word' || (g % 20) || ' ' || md5(g::text),
  jsonb_build_object('k', g % 2, 'tag', 'x' || (g % 50)), array[g % 2, g % 7, g]
  FROM generate_series(1, 150) g;
-- a row of 400 words: its pending tuples make a sublist of several pages
INSERT INTO docs SELECT 9999, (SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 400) i), '{}', '{}';
SELECT gin_clean_pending_list('docs_tsv'::regclass);
DELETE FROM docs WHERE id % 4 = 0 OR id BETWEEN 50 AND 90;
VACUUM docs;
-- keys of 1984 characters: four to a page, so the entry tree splits above its leaves
CREATE TABLE longkeys (t text[]);
CREATE INDEX longkeys_t ON longkeys USING gin (t) WITH (fastupdate = off);
INSERT INTO longkeys SELECT array[(SELECT string_agg(md5((g * 100 + i)::text), '') FROM generate_series(1, 62) i)]
  FROM generate_series(1, 60) g;
-- an entry's posting list (2,600 TIDs, built by CREATE INDEX) outgrows its tuple: a posting tree
CREATE INDEX grow_k ON grow USING gin (k) WITH (fastupdate = off);
COPY grow FROM PROGRAM 'seq 1 500 | awk ''{print "{7}"}''';
-- a posting tree of 38,300 TIDs (its last leaf all but full) built whole, then grown at its right end and half emptied
CREATE INDEX pt_k ON pt USING gin (k) WITH (fastupdate = off);
COPY pt FROM PROGRAM 'seq 38301 38800 | awk ''{print $1"\t{1}"}''';
DELETE FROM pt WHERE id BETWEEN 3000 AND 35000;
VACUUM pt;
CREATE UNLOGGED TABLE ul (t text[]);
CREATE INDEX ul_t ON ul USING gin (t);
INSERT INTO ul SELECT array['a' || (g % 10), md5(g::text)] FROM generate_series(1, 300) g;
REINDEX INDEX CONCURRENTLY docs_arr;
INSERT INTO docs SELECT g, 'after reindex', '{}', array[g % 10] FROM generate_series(5001, 5100) g;
SQL
wal_end
waldump -r Gin --stats=record 2>/dev/null > "$HERE/pg_waldump-stats.txt"
fixture_done
