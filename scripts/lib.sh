# Shared by the demo and the benchmarks: a throwaway PostgreSQL 15 primary in a temp directory,
# run as the postgres user when we are root (PostgreSQL refuses to run as root), on a free port.
# Source it, then: throwaway_pg DIR PORT [extra postgresql.conf lines...]; stop with stop_pg DIR.

PGBIN=/usr/lib/postgresql/15/bin
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then AS_PG=(runuser -u postgres --); fi

# A TCP port nobody listens on (random, checked by trying to connect).
free_port() {
  local p
  while :; do
    p=$(( (RANDOM % 30000) + 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

# Waits until something listens on 127.0.0.1:PORT (up to 60 s).
wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

# A new directory the postgres user may write to.
throwaway_dir() {
  local d
  d=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$d"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$d"; fi
  echo "$d"
}

# throwaway_pg DIR PORT [conf line...]: initdb DIR/pg, replication allowed from 127.0.0.1, start.
throwaway_pg() {
  local dir=$1 port=$2
  shift 2
  "${AS_PG[@]}" "$PGBIN/initdb" -D "$dir/pg" -U postgres --auth=trust >"$dir/initdb.log" 2>&1
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    echo "wal_level = replica"
    echo "max_wal_senders = 4"
    echo "max_replication_slots = 4"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/pg/postgresql.conf"
  echo "host replication all 127.0.0.1/32 trust" >>"$dir/pg/pg_hba.conf"
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w start >/dev/null
}

stop_pg() {
  "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$1/pg" -m immediate stop >/dev/null 2>&1 || true
}
