#!/bin/bash
# Regenerates the GiST redo fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A primary with wal_consistency_checking = 'gist' runs a compact workload producing every
# Gist record type PG15 writes: btree_gist text keys of 292 bytes (two dozen per page, so a
# few hundred inserts give many leaf, internal and root splits), a key range deleted and vacuumed
# (PAGE_UPDATE deletions, PAGE_DELETE), vacuumed again once the deleted pages' deleteXid is
# old and refilled (PAGE_REUSE), tuples killed by an index scan then pruned by inserts into
# their full pages (DELETE), an exclusion constraint on tsrange, points and a tsvector index,
# and, after a restart with wal_level = minimal, an index filled in the transaction that
# created it (ASSIGN_LSN). The WAL from start_lsn to end_lsn (wal.gz, whole segments from
# first_segment) and its pg_waldump --stats=record are kept.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/gistfix}
PORT=${2:-55743}
. "$HERE/../fixture-cluster.sh"

cluster_init "wal_consistency_checking = 'gist'"
cluster_start

sql -c "CREATE EXTENSION btree_gist" -c "CHECKPOINT"
wal_begin
sql >/dev/null <<'SQL'
CREATE TABLE tx (id int, k text);
CREATE INDEX tx_k ON tx USING gist (k);
-- 292-byte keys sharing a 288-byte prefix: btree_gist's internal keys (truncated bounds) stay
-- about as big, so a few hundred rows give splits of leaves, internal pages and the root
CREATE FUNCTION key(int) RETURNS text IMMUTABLE LANGUAGE sql
  AS $$ SELECT string_agg(md5(i::text), '' ORDER BY i) || lpad($1::text, 4, '0') FROM generate_series(1, 9) i $$;
-- keys in hash order, so that splits happen all over the tree
INSERT INTO tx SELECT g, key(g) FROM generate_series(100, 899) g ORDER BY md5(g::text);
-- a whole key range: its leaves are emptied by VACUUM and deleted
DELETE FROM tx WHERE id BETWEEN 200 AND 499;
VACUUM tx;
-- once no snapshot can see the deleted pages, VACUUM puts them in the FSM and inserts reuse them
SELECT txid_current();
SELECT txid_current();
VACUUM tx;
INSERT INTO tx SELECT g, key(g) FROM generate_series(200, 349) g ORDER BY md5(g::text);
-- microvacuum: an index scan marks dead tuples LP_DEAD, an insert into their full page prunes them
DELETE FROM tx WHERE id BETWEEN 500 AND 899 AND id % 3 <> 0;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM (SELECT * FROM tx WHERE k >= key(500)) s;
RESET enable_seqscan;
RESET enable_bitmapscan;
INSERT INTO tx SELECT g, key(g) FROM generate_series(500, 899) g ORDER BY md5(g::text);
CREATE TABLE rr (id int, r tsrange, EXCLUDE USING gist (r WITH &&));
INSERT INTO rr SELECT g, tsrange('2020-01-01'::timestamp + g * interval '1 hour',
  '2020-01-01'::timestamp + g * interval '1 hour' + interval '30 minutes') FROM generate_series(1, 400) g;
CREATE TABLE pts (p point, b box, t tsvector);
CREATE INDEX pts_p ON pts USING gist (p);
CREATE INDEX pts_b ON pts USING gist (b);
CREATE INDEX pts_t ON pts USING gist (t);
INSERT INTO pts SELECT point(g % 20, g / 20), box(point(g % 20, g / 20), point(g % 20 + 1, g / 20 + 1)),
  to_tsvector('simple', 'w' || g % 50 || ' v' || g % 7) FROM generate_series(1, 400) g;
ALTER SYSTEM SET wal_level = minimal;
ALTER SYSTEM SET max_wal_senders = 0;
SQL
as_pg $BIN/pg_ctl -D "$WORK/data" -l "$WORK/log" -w restart >/dev/null
sql >/dev/null <<'SQL'
BEGIN;
CREATE TABLE fresh (p point);
CREATE INDEX fresh_p ON fresh USING gist (p);
INSERT INTO fresh SELECT point(g, g) FROM generate_series(1, 20) g;
COMMIT;
SQL
wal_end
waldump --stats=record -r Gist 2>/dev/null > "$HERE/pg_waldump-stats.txt"
fixture_done
