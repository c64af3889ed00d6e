# shellcheck shell=bash source-path=SCRIPTDIR
# PostgreSQL + Redis (+ Chromium for browser tests) on a Debian machine without systemd.
# Source it after lib.sh. Safe under `set -euo pipefail`. Defines:
#   baton_apt_ensure       apt-get install whatever of postgresql/redis/chromium is missing
#   baton_postgres_start   start cluster <ver>/main on 127.0.0.1:5432; role+db baton/baton
#   baton_redis_start      start redis-server on 127.0.0.1:6379 unless it already answers
# and exports DATABASE_URL / REDIS_URL for those services unless the caller already set them.

if [[ -n "${BATON_SERVICES_LOADED:-}" ]]; then
    return 0
fi
BATON_SERVICES_LOADED=1

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BATON_PG_PORT=5432
BATON_REDIS_PORT=6379
export DATABASE_URL="${DATABASE_URL:-postgres://baton:baton@127.0.0.1:$BATON_PG_PORT/baton}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$BATON_REDIS_PORT/0}"

BATON_APT_UPDATED=""

# Run a command as root: directly, or through sudo (non-interactive) when available.
_baton_as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        baton_die "need root for: $* (not root, and sudo is not installed)"
    fi
}

# Run a command as the postgres OS user (peer authentication over the Unix socket).
_baton_as_postgres() {
    (
        cd / # postgres can't read root's cwd; avoids "could not change directory" noise
        if [[ "$(id -u)" -eq 0 ]]; then
            if command -v runuser >/dev/null 2>&1; then
                runuser -u postgres -- "$@"
            else
                su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
            fi
        elif [[ "$(id -un)" == postgres ]]; then
            "$@"
        elif command -v sudo >/dev/null 2>&1; then
            sudo -n -u postgres -- "$@"
        else
            baton_die "need to run '$1' as the postgres user (not root, and sudo is not installed)"
        fi
    )
}

_baton_pg_server_installed() {
    local bin
    command -v pg_ctlcluster >/dev/null 2>&1 || return 1
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        if [[ -x "$bin" ]]; then
            return 0
        fi
    done
    return 1
}

baton_apt_ensure() {
    local -a missing=()
    _baton_pg_server_installed || missing+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    [[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)

    if ((${#missing[@]} == 0)); then
        baton_log "apt: postgresql, redis-server, chromium, chromium-driver already installed"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 ||
        baton_die "missing ${missing[*]} and apt-get is not available: install them yourself"
    if [[ "$(id -u)" -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; then
        baton_die "missing ${missing[*]}: run as root (or install sudo) so apt-get can install them"
    fi

    baton_log "apt: installing ${missing[*]}"
    if [[ -z "$BATON_APT_UPDATED" ]]; then
        _baton_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null ||
            baton_die "apt-get update failed"
        BATON_APT_UPDATED=1
    fi
    _baton_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
        </dev/null >/dev/null || baton_die "apt-get install ${missing[*]} failed"
}

# Print "<version>" of the cluster to use: an existing cluster "main" (on port 5432 by
# preference), else the newest installed server version.
_baton_pg_version() {
    local ver cluster port rest best=""
    while read -r ver cluster port rest; do
        [[ "$cluster" == main ]] || continue
        if [[ "$port" == "$BATON_PG_PORT" ]]; then
            printf '%s\n' "$ver"
            return 0
        fi
        best="$ver"
    done < <(pg_lsclusters -h 2>/dev/null || true)
    if [[ -n "$best" ]]; then
        printf '%s\n' "$best"
        return 0
    fi
    best="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
        awk -F/ '{print $(NF-2)}' | sort -n | tail -n1)"
    [[ -n "$best" ]] || baton_die "no PostgreSQL server under /usr/lib/postgresql (run baton_apt_ensure)"
    printf '%s\n' "$best"
}

# Field N (1-based) of `pg_lsclusters -h` for <ver> main, or nothing.
_baton_pg_field() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v f="$2" '$1 == v && $2 == "main" {print $f}'
}

baton_postgres_start() {
    local ver port status i
    ver="$(_baton_pg_version)" || exit 1

    if [[ -z "$(_baton_pg_field "$ver" 2)" ]]; then
        baton_log "postgres: creating cluster $ver/main on port $BATON_PG_PORT"
        _baton_as_root pg_createcluster --port "$BATON_PG_PORT" "$ver" main </dev/null >/dev/null
    fi
    port="$(_baton_pg_field "$ver" 3)"
    if [[ "$port" != "$BATON_PG_PORT" ]]; then
        baton_log "postgres: warning: cluster $ver/main listens on $port, not $BATON_PG_PORT"
    fi

    status="$(_baton_pg_field "$ver" 4)"
    if [[ "$status" == online* ]]; then
        baton_log "postgres: $ver/main already running on port $port"
    else
        baton_log "postgres: starting $ver/main on port $port"
        # Debian's postinst/cleanup may leave no socket directory when /run is fresh.
        if [[ ! -d /var/run/postgresql ]]; then
            _baton_as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
        fi
        if ! _baton_as_root pg_ctlcluster "$ver" main start </dev/null; then
            tail -n 20 "/var/log/postgresql/postgresql-$ver-main.log" >&2 2>/dev/null || true
            baton_die "pg_ctlcluster $ver main start failed"
        fi
    fi

    for ((i = 0; i < 60; i++)); do
        if pg_isready -q -h 127.0.0.1 -p "$port" </dev/null; then
            break
        fi
        sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p "$port" </dev/null ||
        baton_die "PostgreSQL did not accept connections on 127.0.0.1:$port within 60 s"

    # Idempotent: role baton (LOGIN CREATEDB, password baton; pytest-django creates test_baton)
    # and database baton owned by it.
    if ! _baton_as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres >/dev/null <<'SQL'; then
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'baton') THEN
        CREATE ROLE baton LOGIN CREATEDB PASSWORD 'baton';
    ELSE
        ALTER ROLE baton LOGIN CREATEDB PASSWORD 'baton';
    END IF;
END
$$;
SELECT 'CREATE DATABASE baton OWNER baton'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'baton')\gexec
SQL
        baton_die "could not create the PostgreSQL role/database baton"
    fi
    baton_log "postgres: ready on 127.0.0.1:$port (role and database 'baton')"
}

baton_redis_start() {
    local i
    if [[ "$(redis-cli -h 127.0.0.1 -p "$BATON_REDIS_PORT" ping 2>/dev/null </dev/null)" == PONG ]]; then
        baton_log "redis: already running on 127.0.0.1:$BATON_REDIS_PORT"
        return 0
    fi
    baton_log "redis: starting on 127.0.0.1:$BATON_REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$BATON_REDIS_PORT" \
        --save '' --appendonly no </dev/null >/dev/null ||
        baton_die "redis-server failed to start"
    for ((i = 0; i < 100; i++)); do
        if [[ "$(redis-cli -h 127.0.0.1 -p "$BATON_REDIS_PORT" ping 2>/dev/null </dev/null)" == PONG ]]; then
            return 0
        fi
        sleep 0.2
    done
    baton_die "Redis did not answer PING on 127.0.0.1:$BATON_REDIS_PORT within 20 s" \
        "(try it in the foreground: redis-server --bind 127.0.0.1 --port $BATON_REDIS_PORT)"
}
