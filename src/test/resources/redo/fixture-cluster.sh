# Sourced by the make-fixture.sh scripts (run as root): a throwaway PostgreSQL 15 primary run as
# user postgres in $WORK (data directory $WORK/data, socket in $WORK, port $PORT), and the WAL
# of a workload copied out of it into $HERE. The sourcing script sets HERE, WORK and PORT.
BIN=/usr/lib/postgresql/15/bin
as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg $BIN/psql -h "$WORK" -p "$PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

# cluster_init [SETTING...]: a new cluster with 1 MB WAL segments (the wal_segment_size of every
# fixture), no autovacuum nor checkpoint during the workload and all its WAL kept; each SETTING
# ("wal_consistency_checking = 'hash'") is a further line of postgresql.conf.
cluster_init() {
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
CONF
  if (($#)); then printf '%s\n' "$@" >> "$WORK/data/postgresql.conf"; fi
}

# cluster_start: starts the cluster, stopped (immediate) when the script exits however it does.
cluster_start() {
  as_pg $BIN/pg_ctl -D "$WORK/data" -l "$WORK/log" -w start >/dev/null
  trap 'as_pg $BIN/pg_ctl -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true' EXIT
}

# wal_begin: the fixture's WAL starts here: START_LSN, and FIRST the name of its segment.
wal_begin() {
  START_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
  FIRST=$(sql -At -c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")
}

# wal_end: the fixture's WAL ends here (END_LSN, in segment LAST); the segments FIRST to LAST,
# finished by a WAL switch, are written concatenated to $HERE/wal.gz and their place to
# $HERE/fixture.properties (the properties WalFixture reads).
wal_end() {
  END_LSN=$(sql -At -c "SELECT pg_current_wal_insert_lsn()")
  LAST=$(sql -At -c "SELECT pg_walfile_name('$END_LSN')")
  sql -c "SELECT pg_switch_wal()" >/dev/null
  cat $(for f in $(ls "$WORK/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort); do
    if [[ "$f" > "$FIRST" || "$f" == "$FIRST" ]] && [[ "$f" < "$LAST" || "$f" == "$LAST" ]]; then echo "$WORK/data/pg_wal/$f"; fi
  done) | gzip -9 > "$HERE/wal.gz"
  cat > "$HERE/fixture.properties" <<PROPS
first_segment=$FIRST
start_lsn=$START_LSN
end_lsn=$END_LSN
wal_segment_size=1048576
PROPS
}

# waldump ARG...: pg_waldump of the fixture's WAL (START_LSN to END_LSN).
waldump() {
  as_pg $BIN/pg_waldump -p "$WORK/data/pg_wal" -s "$START_LSN" -e "$END_LSN" "$@"
}

# fixture_done: the fixture readable by all, and where it is.
fixture_done() {
  chmod -R a+r "$HERE"
  echo "fixture: $FIRST .. $LAST, $START_LSN .. $END_LSN, wal.gz $(stat -c %s "$HERE/wal.gz") bytes"
}
