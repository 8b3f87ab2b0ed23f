#!/bin/bash
# Regenerates the hash index redo fixture of this directory from a real PostgreSQL 15 (run as root):
#   bash make-fixture.sh [WORKDIR] [PORT]
# A primary with wal_consistency_checking = 'hash' (every Hash record carries the page images
# PostgreSQL checks its own redo against) runs a workload producing every Hash record type it
# can: index creation (INIT_META_PAGE, INIT_BITMAP_PAGE, also on an unlogged index's init fork),
# inserts of many duplicates (INSERT, ADD_OVFL_PAGE), enough rows to split buckets many times
# (SPLIT_ALLOCATE_PAGE, SPLIT_PAGE, SPLIT_COMPLETE), deletes and VACUUM (DELETE, SPLIT_CLEANUP,
# MOVE_PAGE_CONTENTS, SQUEEZE_PAGE, UPDATE_META_PAGE), index scans killing dead tuples then
# inserts into their full page (VACUUM_ONE_PAGE), reuse of freed overflow pages, REINDEX INDEX
# CONCURRENTLY, and an index created with 1024 buckets. The WAL from start_lsn to end_lsn is kept gzipped (wal.gz, from the start
# of first_segment).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/hashfix}
PORT=${2:-55751}
. "$HERE/../fixture-cluster.sh"

cluster_init "wal_consistency_checking = 'hash'" "wal_compression = zstd"
cluster_start

sql -c "CHECKPOINT"
wal_begin
sql >/dev/null <<'SQL'
create table h (k int, pad int);
-- fillfactor 10: a bucket splits past 40 tuples
create index h_k on h using hash (k) with (fillfactor = 10);
-- distinct keys: the index starts with 2 buckets and splits again and again
insert into h select g, 0 from generate_series(10, 210) g;
-- key 1 a thousand times: its bucket overflows (a page holds 407 tuples). Only the inserts
-- around the first overflow page carry images: the fixture stays small, and the pages in
-- between are still redone from the ones before
set wal_consistency_checking = '';
insert into h select 1, g from generate_series(1, 400) g;
set wal_consistency_checking = 'hash';
insert into h select 1, g from generate_series(401, 420) g;
set wal_consistency_checking = '';
insert into h select 1, g from generate_series(421, 1000) g;
insert into h select 2, g from generate_series(1, 800) g;
-- more distinct keys: buckets holding those overflow chains split, filling new pages whole
insert into h select g, 0 from generate_series(211, 1000) g;
set wal_consistency_checking = 'hash';
insert into h select g, 0 from generate_series(1001, 1100) g;
-- deletes and VACUUM: tuples removed, overflow pages squeezed (and their tuples moved) and
-- freed, split leftovers cleaned up, the metapage's tuple count updated
delete from h where (k = 1 and pad % 2 = 0) or (k = 2 and pad % 4 <> 0) or (k >= 10 and k % 4 = 0);
vacuum h;
-- freed overflow pages are taken again
set wal_consistency_checking = '';
insert into h select 2, g from generate_series(1, 300) g;
set wal_consistency_checking = 'hash';
insert into h select 2, g from generate_series(301, 400) g;
-- dead tuples killed by an index scan, then inserts into their full pages vacuum them first
set wal_consistency_checking = '';
insert into h select 7, g from generate_series(1, 900) g;
delete from h where k = 7 and pad % 2 = 0;
set enable_seqscan = off;
set enable_bitmapscan = off;
select count(*) from h where k = 7;
reset enable_seqscan;
reset enable_bitmapscan;
set wal_consistency_checking = 'hash';
insert into h select 7, g from generate_series(1, 60) g;
-- an index built over rows (more initial buckets), concurrently
create table r (k int);
insert into r select generate_series(1, 300);
create index r_k on r using hash (k);
reindex index concurrently r_k;
-- an index over what the planner takes for 300000 rows: 1024 initial buckets, a bucket
-- count past the splitpoint groups of one phase
create table big (k int);
insert into big values (1);
update pg_class set reltuples = 300000, relpages = 1 where relname = 'big';
create index big_k on big using hash (k);
-- an unlogged hash index: only its init fork is logged
create unlogged table hu (k int);
create index hu_k on hu using hash (k);
insert into hu select generate_series(1, 100);
SQL
wal_end
waldump -r Hash --stats=record
fixture_done
