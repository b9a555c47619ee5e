# test/citus/lib.sh — a throwaway Citus cluster on this machine: a
# coordinator and two workers, three PostgreSQL 15 clusters listening on
# 127.0.0.1 only (and a Unix socket in their own directory), trust
# authentication.  Shared by test/citus/run.sh and bench/citus.sh.
#
# Source it after test/lib.sh; do not run it.  citus_cluster_start exports
# CITUS_PORTS (coordinator first) and stops and removes every node when the
# calling shell exits.  COMPENSATION_CITUS_PORT (default 5433) is the
# coordinator's port; the workers take the next two.

citus_log() { comp_log "citus: $*"; }

# psql on one node: citus_psql PORT [psql arguments...]
citus_psql() {
	local port=$1
	shift
	command psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

citus_cluster_start() {
	local first=${COMPENSATION_CITUS_PORT:-5433} port node
	CITUS_DIR=$(mktemp -d /tmp/compensation-citus.XXXXXX)
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CITUS_DIR"
	chmod 755 "$CITUS_DIR"
	CITUS_PORTS="$first $((first + 1)) $((first + 2))"
	trap citus_cluster_stop EXIT
	for port in $CITUS_PORTS; do
		if pg_isready -q -h 127.0.0.1 -p "$port"; then
			echo "citus: port $port is taken; set COMPENSATION_CITUS_PORT" >&2
			return 1
		fi
	done
	for port in $CITUS_PORTS; do
		node=$CITUS_DIR/node$port
		comp_as_owner initdb -D "$node" -U postgres --auth=trust --no-sync \
			-E UTF8 --locale=C.UTF-8 >/dev/null
		comp_as_owner pg_ctl -D "$node" -l "$node.log" -w -t 120 -o "-p $port -k $CITUS_DIR \
			-c listen_addresses=127.0.0.1 -c shared_preload_libraries=citus -c fsync=off \
			-c max_worker_processes=16 -c max_connections=200 -c log_min_messages=warning \
			-c citus.local_hostname=127.0.0.1 ${CITUS_SERVER_OPTIONS:-}" start >/dev/null
		citus_psql "$port" -c 'CREATE EXTENSION citus'
	done
	set -- $CITUS_PORTS
	citus_psql "$1" -c "SELECT citus_set_coordinator_host('127.0.0.1', $1)" >/dev/null
	citus_psql "$1" -c "SELECT citus_add_node('127.0.0.1', $2)" -c "SELECT citus_add_node('127.0.0.1', $3)" >/dev/null
	export CITUS_DIR CITUS_PORTS
	citus_log "coordinator on 127.0.0.1:$1, workers on :$2 and :$3 ($CITUS_DIR)"
}

citus_cluster_stop() {
	local port
	[ -n "${CITUS_DIR:-}" ] && [ -d "$CITUS_DIR" ] || return 0
	for port in $CITUS_PORTS; do
		[ -d "$CITUS_DIR/node$port" ] &&
			comp_as_owner pg_ctl -D "$CITUS_DIR/node$port" -m fast -w stop >/dev/null 2>&1 || true
	done
	if [ -z "${COMP_KEEP_CLUSTER:-}" ]; then
		rm -rf "$CITUS_DIR"
	else
		citus_log "clusters kept in $CITUS_DIR"
	fi
}

# A backend of any node died of a signal.
citus_server_crashed() {
	grep -E 'terminated by signal|was terminated by exception' "$CITUS_DIR"/node*.log
}
