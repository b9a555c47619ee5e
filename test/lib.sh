# test/lib.sh — shared by test/run, examples/demo and bench/run.
#
# Installs what the build and the tests need (Debian packages), builds and
# installs the extension, and runs a throwaway PostgreSQL 15 cluster in a
# temporary directory that listens on a Unix socket only.  PostgreSQL refuses
# to run as root, so when we are root the server runs as the "postgres" system
# user (created by the postgresql-15 package) while the clients stay root and
# connect as database user "postgres".
#
# Source it; do not run it.

PG_MAJOR=15
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$PG_BINDIR:$PATH"
COMP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

comp_log() { printf '==> %s\n' "$*" >&2; }

# Re-run the calling script as root (apt-get and "make install" need it).
comp_require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then
			exec sudo --preserve-env=COMPENSATION_OLIST_DIR,COMPENSATION_VALGRIND,CI bash "$0" "$@"
		fi
		echo "$0: must run as root (apt-get, make install), and sudo is not available" >&2
		exit 1
	fi
}

COMP_PACKAGES="make gcc libc6-dev postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR \
postgresql-$PG_MAJOR-pgtap libtap-parser-sourcehandler-pgtap-perl postgresql-$PG_MAJOR-cron"

# Install whatever of COMP_PACKAGES (and "$@") is missing.
comp_install_deps() {
	local missing="" pkg
	for pkg in $COMP_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	comp_log "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# The Debian package would create and start a system cluster; we never use it.
	mkdir -p /etc/postgresql-common
	[ -f /etc/postgresql-common/createcluster.conf ] ||
		echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Build with warnings as errors and install into the PostgreSQL 15 tree.
# Under valgrind, build without optimisation so that reports are exact.
comp_build_install() {
	local extra_cflags="${COMPENSATION_EXTRA_CFLAGS_BASE:-}" extra_ldflags=""
	if [ "${COMPENSATION_VALGRIND:-}" = 1 ]; then
		extra_cflags="$extra_cflags -O0 -g"
	fi
	comp_log "building compensation"
	make -C "$COMP_ROOT" -s clean PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
	make -C "$COMP_ROOT" -s PG_CONFIG="$PG_BINDIR/pg_config" \
		COMPENSATION_EXTRA_CFLAGS="$extra_cflags" COMPENSATION_EXTRA_LDFLAGS="$extra_ldflags"
	make -C "$COMP_ROOT" -s install PG_CONFIG="$PG_BINDIR/pg_config" >/dev/null
}

# Run a command as the server's owner.
comp_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Start a throwaway cluster; extra "-c name=value" server options may follow.
# Exports PGHOST/PGPORT/PGUSER/PGDATABASE and COMP_PGDATA, COMP_PGLOG; the
# cluster is stopped and removed when the calling shell exits.
comp_cluster_start() {
	COMP_CLUSTER_DIR=$(mktemp -d /tmp/compensation-pg.XXXXXX)
	COMP_PGDATA=$COMP_CLUSTER_DIR/data
	COMP_PGLOG=$COMP_CLUSTER_DIR/server.log
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$COMP_CLUSTER_DIR"
	fi
	chmod 755 "$COMP_CLUSTER_DIR"
	comp_as_owner initdb -D "$COMP_PGDATA" -U postgres --auth=trust --no-sync \
		-E UTF8 --locale=C.UTF-8 >/dev/null
	local options="-k $COMP_CLUSTER_DIR -c listen_addresses= -p 5432 -c fsync=off \
		-c shared_preload_libraries=pg_cron -c cron.database_name=postgres \
		-c cron.host=$COMP_CLUSTER_DIR \
		-c max_worker_processes=16 -c log_min_messages=warning $*"
	if [ "${COMPENSATION_VALGRIND:-}" = 1 ]; then
		# Every backend runs under valgrind; comp_server_crashed() reports
		# any error whose stack passes through compensation.so.
		comp_as_owner valgrind --quiet --trace-children=yes --error-limit=no \
			--leak-check=no --num-callers=30 --log-file="$COMP_CLUSTER_DIR/valgrind.%p.log" \
			postgres -D "$COMP_PGDATA" $options >"$COMP_PGLOG" 2>&1 &
		local tries=0
		until pg_isready -q -h "$COMP_CLUSTER_DIR" -p 5432; do
			tries=$((tries + 1))
			[ $tries -lt 600 ] || { cat "$COMP_PGLOG"; return 1; }
			sleep 0.5
		done
	else
		# MALLOC_PERTURB_ fills freed memory, so that a use of memory after
		# its context was freed crashes the test instead of passing by luck.
		comp_as_owner env ${COMP_MALLOC_PERTURB:+MALLOC_PERTURB_=$COMP_MALLOC_PERTURB} \
			pg_ctl -D "$COMP_PGDATA" -l "$COMP_PGLOG" -w -t 120 -o "$options" start >/dev/null
	fi
	export PGHOST=$COMP_CLUSTER_DIR PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
	export COMP_CLUSTER_DIR COMP_PGDATA COMP_PGLOG	# for test/shell/*.sh
	trap comp_cluster_stop EXIT
	comp_log "PostgreSQL $PG_MAJOR running in $COMP_CLUSTER_DIR"
}

comp_cluster_stop() {
	[ -n "${COMP_PGDATA:-}" ] && [ -d "$COMP_PGDATA" ] || return 0
	comp_as_owner pg_ctl -D "$COMP_PGDATA" -m fast -w stop >/dev/null 2>&1 || true
	if [ -z "${COMP_KEEP_CLUSTER:-}" ]; then
		rm -rf "$COMP_CLUSTER_DIR"
	else
		comp_log "cluster kept in $COMP_CLUSTER_DIR"
	fi
}

# The server crashed if a backend died of a signal; under valgrind, any
# error report whose stack passes through our library counts too.
comp_server_crashed() {
	local found=1
	# (signal 9 is what the crash-recovery test sends on purpose)
	grep -E 'terminated by signal|was terminated by exception' "$COMP_PGLOG" |
		grep -v 'terminated by signal 9: Killed' && found=0
	for log in "$COMP_CLUSTER_DIR"/valgrind.*.log; do
		[ -s "$log" ] || continue
		if grep -q 'compensation.so' "$log"; then
			echo "valgrind: $log"
			cat "$log"
			found=0
		fi
	done
	return $found
}

# Where the Olist CSVs are; tests that need them skip when absent.
export COMPENSATION_OLIST_DIR=${COMPENSATION_OLIST_DIR:-$COMP_ROOT/../shared/data/olist}

# Load the Olist subset into schema "olist" of database $1 (see examples/olist.sql).
comp_load_olist() {
	local db=$1
	[ -f "$COMPENSATION_OLIST_DIR/olist_orders_dataset.csv" ] || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v olist_dir="$COMPENSATION_OLIST_DIR" \
		-f "$COMP_ROOT/examples/olist.sql" >/dev/null
}
