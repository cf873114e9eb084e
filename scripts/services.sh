#!/usr/bin/env bash
# Make sure the services FleetMon and its tests need are up: TimescaleDB and Redis (and
# Chromium for the browser tests).
#
#   scripts/services.sh [up]   start/reuse everything (idempotent; seconds when already up)
#   scripts/services.sh stop   stop the chroot TimescaleDB server (Redis is left alone)
#   scripts/services.sh status report what is up; exit 0 only if both services answer
#
# stdout of `up` is only KEY=VALUE lines (plus a '#' comment), so callers can do
#   set -a; eval "$(scripts/services.sh)"; set +a
# Progress and errors go to stderr.
#
# Why a chroot: Debian 12 (the host) has no TimescaleDB package, Debian 13 (trixie)
# ships postgresql-17-timescaledb, and only Debian's mirrors are reachable. So we
# debootstrap a trixie root once (outside any repo clone, so later CI runs reuse it)
# and run its PostgreSQL 17 on 127.0.0.1:5433, next to the host's PostgreSQL on 5432.
#
# Environment:
#   DATABASE_URL        if set and reachable, used as is (no local server is made)
#   REDIS_URL           if set, must be reachable (else we fail); otherwise 127.0.0.1:6379
#   FLEETMON_TSDB_PORT  port of the local TimescaleDB server (default 5433)
#   FLEETMON_TSDB_ROOT  trixie root (default /var/lib/fleetmon/tsdb-trixie)
#   FLEETMON_REDIS_PORT port of the local Redis fallback (default 6379)
set -euo pipefail

PORT="${FLEETMON_TSDB_PORT:-5433}"
# Canonical path: it is compared with /proc/PID/root to recognise our server's processes.
ROOT="$(realpath -m "${FLEETMON_TSDB_ROOT:-/var/lib/fleetmon/tsdb-trixie}")"
REDIS_PORT="${FLEETMON_REDIS_PORT:-6379}"
PGBIN=/usr/lib/postgresql/17/bin          # paths below are inside the chroot
PGDATA=/var/lib/postgresql/17/fleetmon
# Not /var/run/...: in the chroot /var/run -> /run is an absolute symlink, so "$ROOT/var/run"
# seen from the host is the HOST's /run. Host-side paths into the root must have no symlinks.
PGSOCK=/run/postgresql
PGLOG=/var/log/postgresql/fleetmon.log
MARKER="$ROOT/.fleetmon-bootstrap-complete" # written last: its absence means "redo"
DBNAME=fleetmon
LOCAL_URL="postgres://postgres@127.0.0.1:$PORT/$DBNAME"

log() { echo "services: $*" >&2; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- host packages
APT_UPDATED=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have empty package lists; update once, and once more on failure
    # (stale lists give 404s).
    if [ "$APT_UPDATED" = 0 ] && ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        apt-get update -q >&2 || die "apt-get update failed; check network access to the Debian mirror"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    if ! apt-get install -y -q "$@" >&2; then
        [ "$APT_UPDATED" = 0 ] || die "apt-get install $* failed; see the apt output above"
        apt-get update -q >&2 || die "apt-get update failed; check network access to the Debian mirror"
        APT_UPDATED=1
        apt-get install -y -q "$@" >&2 || die "apt-get install $* failed; see the apt output above"
    fi
}
need() { command -v "$1" >/dev/null 2>&1 || apt_install "$2"; }  # need CMD DEBIAN_PACKAGE

# ------------------------------------------------------------------------ Redis
redis_ping() { [ "$(timeout 5 redis-cli "$@" ping 2>/dev/null)" = PONG ]; }

redis_up() {
    need redis-cli redis-tools
    if [ -n "${REDIS_URL:-}" ]; then
        redis_ping -u "$REDIS_URL" ||
            die "REDIS_URL=$REDIS_URL does not answer PING; start that Redis or unset REDIS_URL to use 127.0.0.1:$REDIS_PORT"
        return
    fi
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    redis_ping -h 127.0.0.1 -p "$REDIS_PORT" && return
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    # The package's own init script may have started one on 6379; only start ours if not.
    if ! redis_ping -h 127.0.0.1 -p "$REDIS_PORT"; then
        log "starting redis-server on 127.0.0.1:$REDIS_PORT (no persistence)"
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 9>&- ||
            die "redis-server failed to start; see /var/log/redis/ci.log"
    fi
    for _ in $(seq 50); do redis_ping -h 127.0.0.1 -p "$REDIS_PORT" && return; sleep 0.2; done
    die "Redis on 127.0.0.1:$REDIS_PORT did not answer PING within 10 s; see /var/log/redis/ci.log"
}

# ------------------------------------------------------------ TimescaleDB helpers
# libpq only knows postgres:// and postgresql://; Django-style schemes
# (timescale://, postgresql+psycopg://) are rewritten for psql only.
libpq_url() { echo "postgresql://${1#*://}"; }
lpsql() { PGCONNECT_TIMEOUT=5 psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }
local_ready() { pg_isready -q -t 3 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres >/dev/null 2>&1; }

# Mount points at or below $1, deepest first (to unmount before deleting or re-creating).
mounts_under() { awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r; }
is_mounted() { awk -v d="$1" '$2 == d { f = 1 } END { exit !f }' /proc/mounts; }

# Delete a half-built root safely: never rm -rf through a live bind mount (e.g. of /dev).
remove_tree() {
    local d="$1" m
    [ -e "$d" ] || return 0
    for m in $(mounts_under "$d"); do umount -l "$m" || true; done
    [ -z "$(mounts_under "$d")" ] || die "cannot unmount everything under $d; unmount by hand (see /proc/mounts) and rerun"
    rm -rf --one-file-system "$d"
}

pg_ids() {  # uid:gid of the chroot's postgres user (may differ from the host's)
    awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$ROOT/etc/passwd"
}
# Run a command inside the chroot as its postgres user, with a clean environment.
as_pg() {
    # 9>&-: the lock fd must not leak into the server, or it would hold the lock forever.
    chroot --userspec="$PG_IDS" "$ROOT" /usr/bin/env -i HOME=/var/lib/postgresql LANG=C.UTF-8 \
        PATH="$PGBIN:/usr/bin:/bin" "$@" 9>&-
}

bootstrap_root() {
    [ -f "$MARKER" ] && return
    local tmp="$ROOT.partial" blog
    blog="$(dirname "$ROOT")/debootstrap.log"
    log "building Debian trixie root with PostgreSQL 17 + TimescaleDB at $ROOT (about 1 min, 700 MB)"
    need debootstrap debootstrap
    # Leftovers of an interrupted run (ours or a root without the marker) are redone from scratch.
    remove_tree "$tmp"
    remove_tree "$ROOT"
    mkdir -p "$tmp/usr/sbin"
    # Stop package scripts from starting the packaged 'main' cluster (on 5432!) during bootstrap.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    if ! debootstrap --variant=minbase --include=postgresql-17,postgresql-17-timescaledb \
        trixie "$tmp" >"$blog" 2>&1; then
        for m in $(mounts_under "$tmp"); do umount -l "$m" || true; done
        die "debootstrap of trixie failed; see $blog and $tmp/debootstrap/debootstrap.log, then rerun"
    fi
    # debootstrap leaves /proc etc. unmounted on success; make sure before renaming.
    for m in $(mounts_under "$tmp"); do umount -l "$m" || true; done
    [ -x "$tmp$PGBIN/postgres" ] && [ -f "$tmp/usr/share/postgresql/17/extension/timescaledb.control" ] ||
        die "trixie root at $tmp lacks postgres 17 or timescaledb; see $blog"
    # We run our own cluster; drop the packaged default one so nothing can start it by mistake.
    rm -rf "$tmp/etc/postgresql/17/main" "$tmp/var/lib/postgresql/17/main"
    date -u +%FT%TZ >"$tmp/${MARKER##*/}"
    mv "$tmp" "$ROOT"
}

prepare_chroot() {
    # /proc: postgres and pg_ctl look at it (e.g. pg_ctl's process checks).
    is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc" ||
        die "cannot mount /proc in $ROOT; this needs root with CAP_SYS_ADMIN"
    # Device nodes: debootstrap makes them, but not when it detects a container.
    local spec name maj min
    for spec in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9; do
        IFS=: read -r name maj min <<<"$spec"
        if [ ! -c "$ROOT/dev/$name" ]; then
            rm -f "$ROOT/dev/$name"
            mknod -m 666 "$ROOT/dev/$name" c "$maj" "$min" ||
                die "cannot create $ROOT/dev/$name; create it by hand (mknod) and rerun"
        fi
    done
    # POSIX shared memory (PostgreSQL's dynamic_shared_memory_type=posix) belongs on tmpfs.
    mkdir -p "$ROOT/dev/shm"
    is_mounted "$ROOT/dev/shm" || mount -t tmpfs -o mode=1777,nosuid,nodev fleetmon-shm "$ROOT/dev/shm" ||
        die "cannot mount a tmpfs on $ROOT/dev/shm"
    PG_IDS="$(pg_ids)"
    [ -n "$PG_IDS" ] || die "no postgres user in $ROOT/etc/passwd; delete $ROOT and rerun to rebuild it"
    # Socket dir: normally made by systemd-tmpfiles at boot, which never runs in the chroot.
    local d
    for d in "$PGSOCK" /var/log/postgresql "$(dirname "$PGDATA")"; do
        [ "$(realpath -m "$ROOT$d")" = "$ROOT$d" ] || die "$ROOT$d goes through a symlink (would touch the host); fix the root or delete $ROOT and rerun"
    done
    mkdir -p "$ROOT$PGSOCK" "$ROOT/var/log/postgresql"
    chown "$PG_IDS" "$ROOT$PGSOCK" "$ROOT/var/log/postgresql"
    chmod 2775 "$ROOT$PGSOCK"
}

init_cluster() {
    [ -f "$ROOT$PGDATA/PG_VERSION" ] && return
    log "initdb $PGDATA (inside $ROOT)"
    # initdb into a side directory and rename, so a killed initdb is simply redone.
    local tmp="$PGDATA.initdb"
    rm -rf "$ROOT$tmp"
    as_pg initdb -D "$tmp" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 >"$ROOT$tmp.log" 2>&1 ||
        die "initdb failed; see $ROOT$tmp.log"
    mv "$ROOT$tmp" "$ROOT$PGDATA"
    echo "include_if_exists = 'fleetmon.conf'" >>"$ROOT$PGDATA/postgresql.conf"
}

# Returns 0 if the config file changed (a running server then needs a restart).
write_config() {
    local want
    # No fsync=off: the data must survive a machine kill. Many locks: tests create and drop
    # lots of hypertables (each with chunks) per transaction. Worker slots: one TimescaleDB
    # scheduler per database that has the extension (template1, fleetmon, test databases).
    want="# Written by scripts/services.sh; edits are overwritten.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGSOCK'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 512MB
max_locks_per_transaction = 256
max_worker_processes = 32
timescaledb.max_background_workers = 16"
    [ "$(cat "$ROOT$PGDATA/fleetmon.conf" 2>/dev/null)" = "$want" ] && return 1
    printf '%s\n' "$want" >"$ROOT$PGDATA/fleetmon.conf"
    chown "$PG_IDS" "$ROOT$PGDATA/fleetmon.conf"
    return 0
}

# pid of a live postmaster of our cluster, or nothing (a zombie has no readable root).
our_postmaster() {
    local pid
    pid="$(head -n1 "$ROOT$PGDATA/postmaster.pid" 2>/dev/null)" || return 0
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOT" ] &&
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] && echo "$pid"
    return 0
}
# Any postgres process running inside our root (orphaned backends of a killed postmaster).
chroot_postgres_pids() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] &&
            [ "$(cat "$p/comm" 2>/dev/null)" = postgres ] && echo "${p#/proc/}"
    done
    return 0
}

start_server() {
    local pid
    pid="$(our_postmaster)"
    if [ -z "$pid" ]; then
        # Postmaster is gone (killed, or machine restarted). Orphaned children still attached
        # to the old shared memory make the new postmaster refuse to start: wait, then kill them.
        for _ in $(seq 50); do [ -z "$(chroot_postgres_pids)" ] && break; sleep 0.2; done
        for pid in $(chroot_postgres_pids); do kill -9 "$pid" 2>/dev/null || true; done
        # Stale lock files block startup when their pid still "exists": an unreaped zombie of
        # the killed postmaster, or an unrelated process that got the pid after a restart.
        if [ -f "$ROOT$PGDATA/postmaster.pid" ] || [ -e "$ROOT$PGSOCK/.s.PGSQL.$PORT.lock" ]; then
            log "removing stale postmaster.pid and socket lock"
            rm -f "$ROOT$PGDATA/postmaster.pid" "$ROOT$PGSOCK/.s.PGSQL.$PORT.lock" "$ROOT$PGSOCK/.s.PGSQL.$PORT"
        fi
        log "starting PostgreSQL 17 + TimescaleDB on 127.0.0.1:$PORT"
        as_pg pg_ctl -D "$PGDATA" -w -t 300 -l "$PGLOG" start >/dev/null 2>&1 ||
            die "PostgreSQL in $ROOT failed to start on port $PORT; see $ROOT$PGLOG"
    fi
    # Also covers a postmaster that is still starting up or in crash recovery.
    for _ in $(seq 300); do local_ready && return; sleep 1; done
    die "PostgreSQL in $ROOT (pid ${pid:-?}) does not answer on 127.0.0.1:$PORT; see $ROOT$PGLOG"
}

# Create the app database and the extension (in template1 too, so test databases that
# Django creates from it already have it; CREATE EXTENSION IF NOT EXISTS is then a no-op).
setup_databases() {
    if [ -z "$(lpsql -d postgres -c "select 1 from pg_database where datname = '$DBNAME'")" ]; then
        log "creating database $DBNAME"
        lpsql -d postgres -c "create database $DBNAME" || die "CREATE DATABASE $DBNAME failed on 127.0.0.1:$PORT"
    fi
    [ -n "$(lpsql -d postgres -c "select 1 from pg_available_extensions where name = 'timescaledb'")" ] || return 0
    local db
    for db in template1 "$DBNAME"; do
        if [ -z "$(lpsql -d "$db" -c "select 1 from pg_extension where extname = 'timescaledb'")" ]; then
            log "CREATE EXTENSION timescaledb in $db"
            lpsql -d "$db" -c 'create extension if not exists timescaledb' 2>&1 | grep -v '^WARNING\|^ \|^$' >&2 || true
            [ -n "$(lpsql -d "$db" -c "select 1 from pg_extension where extname = 'timescaledb'")" ] ||
                die "CREATE EXTENSION timescaledb failed in $db; check shared_preload_libraries and $ROOT$PGLOG"
        fi
    done
}

tsdb_up() {
    if [ -n "${DATABASE_URL:-}" ]; then
        if PGCONNECT_TIMEOUT=5 psql -X -q -A -t "$(libpq_url "$DATABASE_URL")" -c 'select 1' >/dev/null 2>&1; then
            TSDB_VERSION="$(PGCONNECT_TIMEOUT=5 psql -X -q -A -t "$(libpq_url "$DATABASE_URL")" -c \
                "select coalesce((select extversion from pg_extension where extname = 'timescaledb'),
                                 (select default_version || ' (available, not created)' from pg_available_extensions
                                  where name = 'timescaledb'))")"
            return
        fi
        log "DATABASE_URL=$DATABASE_URL is unreachable; using/making the local TimescaleDB on 127.0.0.1:$PORT instead"
    fi
    DATABASE_URL="$LOCAL_URL"
    # Serialise concurrent runs (e.g. a developer shell and CI) around the bootstrap/start.
    mkdir -p "$(dirname "$ROOT")"
    local lock
    lock="$(dirname "$ROOT")/.services.lock"
    exec 9>"$lock"
    flock -w 600 9 || die "another scripts/services.sh has held $lock for 10 min; wait for it or find it with: fuser -v $lock"
    if local_ready; then
        # Already up: only reapply our config if this server is ours and it changed.
        if [ -f "$MARKER" ] && [ -f "$ROOT$PGDATA/PG_VERSION" ] && [ -n "$(our_postmaster)" ]; then
            PG_IDS="$(pg_ids)"
            if write_config; then
                log "config changed; restarting PostgreSQL in $ROOT"
                as_pg pg_ctl -D "$PGDATA" -w -t 300 -m fast -l "$PGLOG" restart >/dev/null 2>&1 ||
                    die "PostgreSQL restart failed; see $ROOT$PGLOG"
            fi
        fi
    else
        bootstrap_root
        prepare_chroot
        init_cluster
        write_config || true
        start_server
    fi
    setup_databases
    TSDB_VERSION="$(lpsql -d "$DBNAME" -c "select extversion from pg_extension where extname = 'timescaledb'")"
    exec 9>&-
}

# ------------------------------------------------------------------ subcommands
cmd_up() {
    need psql postgresql-client
    need pg_isready postgresql-client
    # The browser tests drive Debian's Chromium with Playwright (its own download is blocked).
    need chromium chromium
    redis_up
    tsdb_up
    echo "DATABASE_URL=$DATABASE_URL"
    echo "REDIS_URL=$REDIS_URL"
    echo "FLEETMON_CHROMIUM=$(command -v chromium)"
    echo "# timescaledb: ${TSDB_VERSION:-not available}"
}

cmd_stop() {
    if [ ! -f "$ROOT$PGDATA/PG_VERSION" ]; then log "no local TimescaleDB cluster at $ROOT$PGDATA"; return; fi
    if [ -z "$(our_postmaster)" ]; then log "local TimescaleDB is not running"; return; fi
    PG_IDS="$(pg_ids)"
    as_pg pg_ctl -D "$PGDATA" -w -t 120 -m fast stop >/dev/null 2>&1 ||
        die "pg_ctl stop failed; see $ROOT$PGLOG"
    log "stopped local TimescaleDB on 127.0.0.1:$PORT"
}

cmd_status() {
    local rc=0 url
    if [ -n "${REDIS_URL:-}" ]; then url="$REDIS_URL"; else url="redis://127.0.0.1:$REDIS_PORT/0"; fi
    if command -v redis-cli >/dev/null 2>&1 && redis_ping -u "$url"; then echo "redis: up ($url)"; else echo "redis: DOWN ($url)"; rc=3; fi
    if [ -n "${DATABASE_URL:-}" ] && PGCONNECT_TIMEOUT=5 psql -X -q -A -t "$(libpq_url "$DATABASE_URL")" -c 'select 1' >/dev/null 2>&1; then
        echo "database: up (DATABASE_URL=$DATABASE_URL)"
    elif command -v pg_isready >/dev/null 2>&1 && local_ready; then
        echo "database: up ($LOCAL_URL, timescaledb $(lpsql -d "$DBNAME" -c "select extversion from pg_extension where extname = 'timescaledb'" 2>/dev/null || echo '?'))"
    else
        echo "database: DOWN (127.0.0.1:$PORT)"; rc=3
    fi
    if [ -f "$MARKER" ]; then echo "chroot: $ROOT (built $(cat "$MARKER")), log $ROOT$PGLOG"; else echo "chroot: not built ($ROOT)"; fi
    return "$rc"
}

case "${1:-up}" in
    up) cmd_up ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "unknown subcommand '$1'; use: $0 [up|stop|status]" ;;
esac
