#!/usr/bin/env bash
# test/shell/pg_cron.sh — pg_cron runs compensation.apply() on schedule.
#
# The scheduled job is the extension's main client: pg_cron runs
#   SELECT compensation.apply('cron_late', '2026-11-20')
# every minute in another database, where a source, a strategy and a budget
# wait.  Pass when, within 75 s, a run is recorded in compensation.runs,
# the orders are granted once, and cron.job_run_details says the job
# succeeded.  The job is then unscheduled and everything dropped.
#
# pg_cron must be preloaded (test/lib.sh starts the cluster with
# shared_preload_libraries=pg_cron and cron.database_name=postgres).  pg_cron
# 1.4 runs a job by connecting with libpq to cron.host, "localhost" by
# default, but the throwaway cluster listens on a Unix socket only.
# cron.host (like cron.use_background_workers) can only be set at server
# start, so when neither is usable this test sets cron.host to the socket
# directory with ALTER SYSTEM, restarts the cluster (pg_ctl restart keeps its
# command-line options), and at the end resets it and restarts again.  It
# needs COMP_PGDATA (exported by test/lib.sh) and to run as root or as the
# server's owner; otherwise, or under valgrind, it skips.
#
# Exit 0 pass, 77 skip, 1 fail.
set -euo pipefail

DB=compensation_cron
JOB=compensation_cron_test
WAIT_SECONDS=${COMP_CRON_WAIT:-75}
started=$SECONDS

say() { printf 'pg_cron: %s\n' "$*"; }
pg() { psql -X -q -v ON_ERROR_STOP=1 -At -d postgres "$@"; }
db() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" "$@"; }

if ! pg -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
if ! pg -c "SHOW shared_preload_libraries" | grep -q pg_cron; then
	say "skipped: pg_cron is not in shared_preload_libraries"
	exit 77
fi
if [ "$(pg -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_cron'")" != 1 ]; then
	say "skipped: the pg_cron extension is not installed"
	exit 77
fi
cron_db=$(pg -c "SHOW cron.database_name")
if [ "$cron_db" != postgres ]; then
	say "skipped: cron.database_name is '$cron_db', this test expects 'postgres'"
	exit 77
fi

# ---- can pg_cron reach the server? ------------------------------------------
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$(stat -c %U "$COMP_PGDATA")" -- "$@"
	else
		"$@"
	fi
}
restart_server() {
	as_owner pg_ctl -D "$COMP_PGDATA" -l "${COMP_PGLOG:-/dev/null}" -w -t 60 -m fast restart >/dev/null
	for _ in $(seq 1 60); do
		pg -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}
cron_host=$(pg -c "SHOW cron.host")
workers=$(pg -c "SHOW cron.use_background_workers")
restarted=0
if [ "$workers" != on ] && [ "${cron_host#/}" = "$cron_host" ]; then
	# cron.host is a TCP host name; does the server listen on TCP at all?
	listen=$(pg -c "SHOW listen_addresses")
	if [ -n "$listen" ]; then
		say "cron.host is '$cron_host' and the server listens on '$listen': using TCP"
	else
		socket_dir=$(pg -c "SELECT split_part(current_setting('unix_socket_directories'), ',', 1)")
		if [ "${COMPENSATION_VALGRIND:-}" = 1 ]; then
			say "skipped: pg_cron needs cron.host='$socket_dir' (set at server start), and a restart would drop valgrind"
			exit 77
		fi
		if [ -z "${COMP_PGDATA:-}" ] || ! as_owner test -w "$COMP_PGDATA/postmaster.opts" 2>/dev/null; then
			say "skipped: pg_cron needs cron.host='$socket_dir' (set at server start: test/lib.sh could pass -c cron.host=\$COMP_CLUSTER_DIR), and this test cannot restart the server (COMP_PGDATA=${COMP_PGDATA:-unset})"
			exit 77
		fi
		say "cron.host is '$cron_host' but the server listens on a Unix socket only: setting cron.host = '$socket_dir' and restarting"
		pg -c "ALTER SYSTEM SET cron.host = '$socket_dir'"
		restarted=1
		if ! restart_server; then
			say "FAIL: the server did not come back after the restart"
			exit 1
		fi
		cron_host=$(pg -c "SHOW cron.host")
	fi
fi

created_cron=0
cleanup() {
	set +e
	pg -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$JOB'" >/dev/null 2>&1
	[ $created_cron -eq 0 ] || pg -c "DROP EXTENSION IF EXISTS pg_cron" >/dev/null 2>&1
	pg -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
	if [ $restarted -eq 1 ]; then
		pg -c "ALTER SYSTEM RESET cron.host" >/dev/null 2>&1
		restart_server || say "WARNING: the server did not come back after restoring cron.host"
	fi
}
trap cleanup EXIT

# ---- the database the job works in -------------------------------------------
pg -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
pg -c "CREATE DATABASE $DB" >/dev/null
db >/dev/null <<'SQL'
CREATE EXTENSION compensation;
CREATE TABLE public.cron_src (order_id text, buyer_id text, delivered_at timestamptz, value numeric);
INSERT INTO public.cron_src VALUES
	('o1', 'b1', '2026-10-15', 40), ('o2', 'b2', '2026-11-02', 80), ('o3', 'b3', '2026-11-10', 0);
SELECT compensation.set_budget('cron', '2026-Q4', 100, 'EUR');
SELECT compensation.define_strategy('cron_late', '{
	"scenario": "late_delivery", "source": "public.cron_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"},
	"when": {"col": "value", "op": ">", "value": 0}, "currency": "EUR",
	"amount": {"type": "percent", "of": "value", "rate": 0.10},
	"instrument": "voucher", "program": "cron",
	"notify": {"channel": "push", "template": "Order {order}: {amount} {currency}"}}');
SELECT compensation.activate('cron_late');
SQL

# ---- schedule it --------------------------------------------------------------
if [ "$(pg -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 0 ]; then
	pg -c "CREATE EXTENSION pg_cron" >/dev/null
	created_cron=1
fi
pg -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = '$JOB'" >/dev/null
jobid=$(pg -c "SELECT cron.schedule_in_database('$JOB', '* * * * *',
	\$\$SELECT compensation.apply('cron_late', '2026-11-20')\$\$, '$DB')")
say "job $jobid scheduled every minute in $DB (cron.host=$cron_host, background workers: $workers)"

runs=0
for _ in $(seq 1 "$WAIT_SECONDS"); do
	runs=$(db -c "SELECT count(*) FROM compensation.runs WHERE strategy = 'cron_late'")
	[ "$runs" -gt 0 ] && break
	sleep 1
done
# the job's own record is written when it finishes: give it a moment
status=""
for _ in $(seq 1 10); do
	status=$(pg -c "SELECT string_agg(status, ',' ORDER BY runid) FROM cron.job_run_details WHERE jobid = $jobid")
	case $status in *succeeded* | *failed*) break ;; esac
	sleep 0.5
done
pg -c "SELECT cron.unschedule($jobid)" >/dev/null

fail=0
if [ "$runs" -eq 0 ]; then
	say "FAIL: no run recorded after ${WAIT_SECONDS} s"
	fail=1
fi
case $status in
	*succeeded*) ;;
	*) say "FAIL: cron.job_run_details for job $jobid: '${status:-nothing}' $(pg -c "SELECT string_agg(return_message, ' | ') FROM cron.job_run_details WHERE jobid = $jobid")"
	   fail=1 ;;
esac
if [ "$runs" -gt 0 ]; then
	# every firing grants each order at most once; the first granted both
	got=$(db -c "SELECT (SELECT string_agg(order_key || '=' || amount, ' ' ORDER BY order_key) FROM compensation.grants)
		|| ' / ' || (SELECT spent FROM compensation.budgets WHERE program = 'cron')
		|| ' / ' || (SELECT bool_and(status = 'done' AND as_of = '2026-11-20') FROM compensation.runs)
		|| ' / ' || (SELECT count(*) FROM compensation.outbox)")
	if [ "$got" != "o1=4.00 o2=8.00 / 12.00 / true / 2" ]; then
		say "FAIL: grants / spent / runs done / outbox: got '$got', expected 'o1=4.00 o2=8.00 / 12.00 / true / 2'"
		fail=1
	fi
fi
if [ $fail -eq 0 ]; then
	say "ok: pg_cron ran compensation.apply(): $runs run(s) recorded, job status $status, $((SECONDS - started)) s"
fi
exit $fail
