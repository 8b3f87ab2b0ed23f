#!/bin/bash
# Regenerates the SP-GiST redo fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A primary with wal_consistency_checking = 'spgist' (every SPGist record carries an image of
# each page it changes, taken on the primary after the change) runs a compact workload writing
# every SPGist record type: text with long common prefixes (PICKSPLIT, MOVE_LEAFS, SPLIT_TUPLE,
# ADD_NODE, moving inner tuples off full pages), values longer than a page, quad-tree and k-d
# tree points, inet, NULLs, deletes and VACUUM (VACUUM_LEAF, DEAD chain heads replaced later,
# VACUUM_REDIRECT; VACUUM_ROOT on an index whose root is still a leaf), REINDEX CONCURRENTLY.
# SpgRedoTest counts the records taking each path of spg_redo.
# Kept: the WAL from start_lsn (wal.gz, its segments concatenated) and, in fixture.properties,
# the number of records of each SPGist type as pg_waldump counts them.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/spgistfix}
PORT=${2:-55751}
. "$HERE/../fixture-cluster.sh"

cluster_init "wal_consistency_checking = 'spgist'"
cluster_start

sql -c "CHECKPOINT"
wal_begin
sql >/dev/null <<'SQL'
CREATE TABLE words (id serial, w text);
CREATE INDEX words_spg ON words USING spgist (w);
INSERT INTO words (w) SELECT 'http://www.example.com/common/prefix/' || md5(g::text) FROM generate_series(1, 250) g;
INSERT INTO words (w) SELECT 'http://www.example.com/' || chr(33 + g % 90) || g FROM generate_series(1, 150) g;
INSERT INTO words (w) SELECT 'http://' || chr(33 + g % 90) || g FROM generate_series(1, 100) g;
INSERT INTO words (w) SELECT NULL FROM generate_series(1, 50);
-- 900-byte values in 12 groups: their picksplits make inner tuples with long prefixes that fill
-- inner pages, so that new next characters make ADD_NODE move the tuple to another page
INSERT INTO words (w) SELECT repeat(chr(65 + g % 12), 900) || chr(33 + g % 5) || g FROM generate_series(1, 300) g;
INSERT INTO words (w) SELECT repeat(chr(65 + g % 12), 900) || chr(40 + g % 50) || g FROM generate_series(1, 150) g;
-- values leaving those prefixes every 100 characters split them again and again (SPLIT_TUPLE),
-- mostly leaving the postfix on its parent's page until it is full; growing those tuples there
-- moves them with the parent downlink on the page they leave
INSERT INTO words (w) SELECT repeat(chr(65 + g % 12), 100 * (1 + g / 12 % 8)) || 'x' || g FROM generate_series(1, 192) g;
INSERT INTO words (w) SELECT repeat(chr(65 + g % 12), 100 * (1 + g / 12 % 8)) || chr(48 + g % 10) || g
  FROM generate_series(1, 240) g;
-- values longer than a page: picksplits chop prefixes off them, the first on a fresh leaf page (initSrc)
INSERT INTO words (w) SELECT repeat('~', 20000) || g FROM generate_series(1, 2) g;
-- a quadrant emptied: its chains' heads become DEAD, new points replace them (ADD_LEAF in place of
-- a DEAD head, or MOVE_LEAFS replaceDead when its page has been filled meanwhile)
CREATE TABLE grid (p point);
CREATE INDEX grid_spg ON grid USING spgist (p);
INSERT INTO grid SELECT point(g % 24, g / 24) FROM generate_series(0, 575) g;
DELETE FROM grid WHERE p[0] < 12 AND p[1] < 12;
VACUUM grid;
INSERT INTO grid SELECT point(12 + g % 12, g / 12 % 24) FROM generate_series(0, 143) g;
INSERT INTO grid SELECT point(g % 12, g / 12) FROM generate_series(0, 143) g;
-- 40 short chains under one inner tuple, every other one deleted whole: VACUUM leaves their heads
-- DEAD; values too big for the room left on their page then move there with replaceDead
CREATE TABLE chains (t text);
CREATE INDEX chains_spg ON chains USING spgist (t);
INSERT INTO chains SELECT 'k' || chr(48 + g % 40) || '/' || g FROM generate_series(1, 400) g;
DELETE FROM chains WHERE ascii(substr(t, 2, 1)) % 2 = 0;
VACUUM chains;
INSERT INTO chains SELECT 'k' || chr(49 + 2 * (g % 20)) || '/' || md5(g::text) FROM generate_series(1, 150) g;
INSERT INTO chains SELECT 'k' || chr(48 + 2 * (g % 20)) || '/' || repeat('y', 3000) || g FROM generate_series(1, 20) g;
CREATE TABLE pts (id int, p point);
CREATE INDEX pts_quad ON pts USING spgist (p);
CREATE INDEX pts_kd ON pts USING spgist (p kd_point_ops);
INSERT INTO pts SELECT g, point((g * 7919) % 1000, (g * 104729) % 997) FROM generate_series(1, 400) g;
CREATE TABLE nets (id int, n inet);
CREATE INDEX nets_spg ON nets USING spgist (n);
INSERT INTO nets SELECT g, ('10.' || (g / 256) % 256 || '.' || g % 256 || '.0/' || (16 + g % 17))::inet
  FROM generate_series(1, 200) g;
DELETE FROM words WHERE id % 3 = 0;
DELETE FROM pts WHERE id % 4 <> 0;
DELETE FROM nets WHERE id % 2 = 0;
VACUUM words, pts, nets;
CREATE TABLE tiny (p point);
CREATE INDEX tiny_spg ON tiny USING spgist (p);
INSERT INTO tiny SELECT point(g, g) FROM generate_series(1, 60) g;
DELETE FROM tiny WHERE p[0] > 20;
VACUUM tiny;
REINDEX INDEX CONCURRENTLY pts_quad;
INSERT INTO pts SELECT g, point((g * 13) % 1000, (g * 29) % 1000) FROM generate_series(1, 200) g;
DELETE FROM pts WHERE id % 5 = 0;
VACUUM pts;
SQL
wal_end
# "SPGist/ADD_LEAF   34 ( 1.23) ..." -> records.ADD_LEAF=34
waldump -r SPGist --stats=record 2>/dev/null \
  | awk '$1 ~ /^SPGist\// { sub("SPGist/", "", $1); print "records." $1 "=" $2 }' >> "$HERE/fixture.properties"
fixture_done; cat "$HERE/fixture.properties"; ls -l "$HERE"
