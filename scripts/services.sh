# Services the integration tests need: a PostgreSQL server (for the crash store) and
# headless Chromium with chromedriver (for the HTML report). Sourced by scripts/test.sh:
#
#     source scripts/services.sh
#
# On Debian 12 as root, it installs what is missing with apt, starts (creating if need be)
# a PostgreSQL cluster, makes sure a role `faultline` (password `faultline`) that may log in
# and create databases, and nothing more (not a superuser), can log in over TCP on
# 127.0.0.1, and exports
#
#     FAULTLINE_TEST_POSTGRES=postgres://faultline:faultline@127.0.0.1:<port>/postgres
#     FAULTLINE_REQUIRE_SERVICES=1   (tests fail, rather than skip, without the services)
#
# Idempotent: a second run, or a cluster already running, changes nothing and takes about
# a second. No systemd needed: clusters are driven with Debian's pg_ctlcluster.
#
# The server's configuration is left alone: Debian's defaults already listen on localhost
# and accept password logins from 127.0.0.1 (pg_hba.conf: `host all all 127.0.0.1/32
# scram-sha-256`). When a changed configuration refuses the login, the script says which
# setting to restore instead of editing it. The tests need CREATEDB only: each creates a
# database of its own, owns it (and so its tables), and drops it.

_fl_log() { echo "services: $*" >&2; }

# Installs the Debian packages whose commands are missing; `apt-get update` only when the
# package lists are missing or stale enough that the install fails.
_fl_apt_install() {
    local packages=()
    command -v pg_ctlcluster >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 || packages+=(postgresql)
    command -v chromium >/dev/null 2>&1 || packages+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)
    [ ${#packages[@]} -eq 0 ] && return 0
    _fl_log "installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null \
        || ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    fi
}

# As the postgres OS user, on the cluster's Unix socket.
_fl_psql() {
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$_fl_port" -d postgres -tA "$@")
}

# Sets _fl_version, _fl_name and _fl_port to the cluster to use, creating and starting it
# when needed.
_fl_postgres_cluster() {
    local line status
    line=$(pg_lsclusters -h | awk '$4 ~ /^online/ {print; exit}')
    [ -n "$line" ] || line=$(pg_lsclusters -h | head -n 1)
    if [ -z "$line" ]; then
        _fl_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        _fl_log "creating PostgreSQL $_fl_version cluster main"
        pg_createcluster "$_fl_version" main >/dev/null
        line=$(pg_lsclusters -h | head -n 1)
    fi
    read -r _fl_version _fl_name _fl_port status _ <<<"$line"
    if [[ "$status" != online* ]]; then
        _fl_log "starting PostgreSQL $_fl_version/$_fl_name on port $_fl_port"
        pg_ctlcluster "$_fl_version" "$_fl_name" start
    fi
}

_fl_postgres() {
    _fl_postgres_cluster

    # LOGIN and CREATEDB, explicitly NOSUPERUSER: also demotes a `faultline` superuser made
    # by an earlier version of this script.
    local role="with login createdb nosuperuser nocreaterole password 'faultline'"
    if [ "$(_fl_psql -c "select count(*) from pg_roles where rolname = 'faultline'")" = 0 ]; then
        _fl_log "creating the PostgreSQL role faultline (may create databases; not a superuser)"
        _fl_psql -c "create role faultline $role" >/dev/null
    else
        _fl_psql -c "alter role faultline $role" >/dev/null
    fi

    export FAULTLINE_TEST_POSTGRES="postgres://faultline:faultline@127.0.0.1:${_fl_port}/postgres"
    # The server may still be opening its TCP socket after a start.
    local i
    for i in $(seq 50); do
        psql "$FAULTLINE_TEST_POSTGRES" -X -tAc 'select 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    _fl_log "cannot log in as faultline at 127.0.0.1:${_fl_port}. The tests need the server to listen"
    _fl_log "on 127.0.0.1 (listen_addresses = 'localhost', now '$(_fl_psql -c 'show listen_addresses')') and"
    _fl_log "to accept password logins from there: $(_fl_psql -c 'show hba_file') needs the line"
    _fl_log "'host all all 127.0.0.1/32 scram-sha-256' (Debian's default) before any line that rejects it."
    psql "$FAULTLINE_TEST_POSTGRES" -X -tAc 'select 1' >/dev/null
}

_fl_apt_install
_fl_postgres
export FAULTLINE_REQUIRE_SERVICES=1
_fl_log "PostgreSQL at 127.0.0.1:${_fl_port}, $(chromium --version 2>/dev/null | head -n 1)"
unset -f _fl_log _fl_apt_install _fl_psql _fl_postgres_cluster _fl_postgres
unset _fl_version _fl_name _fl_port
