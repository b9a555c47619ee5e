#!/usr/bin/env bash
# test/shell/crash.sh — a run killed halfway leaves nothing half-written.
#
# A source of COMP_CRASH_ROWS (default 240,000) orders spread over
# 2026-10-01 .. 2026-11-30, a strategy with a holdout and notifications, and
# a budget that covers everything.  A first run as of 2026-10-10 commits a
# part, so that the state the kills must leave alone is not empty.
#
#  (a) apply as of 2026-10-31 in a background session; once it has written
#      COMP_CRASH_KILL_AFTER grants (seen from outside through the grant id
#      sequence, which is not transactional), pg_terminate_backend() it.
#      Ledger, outbox, holdout records, runs and budgets must be exactly as
#      before (same rows, same checksums).  Then apply again: it must do
#      exactly what a dry run taken before the kill said, and every order
#      must be granted or held out exactly once.
#  (b) the same as of 2026-11-30 with kill -9 of the backend: the postmaster
#      restarts every backend and recovers; then the same checks.  (The
#      harness ignores "terminated by signal 9: Killed" in the log on
#      purpose.)
#  (c) a run that meets a bad row (a candidate whose buyer is NULL, after
#      more than a thousand grants were already written by the run): it
#      fails with an error naming the order, and leaves nothing behind.
#
# Exit 0 pass, 77 skip (no server, or kill -9 not permitted), 1 fail.
set -euo pipefail

DB=compensation_crash
ROWS=${COMP_CRASH_ROWS:-240000}
KILL_AFTER=${COMP_CRASH_KILL_AFTER:-20000}
started=$SECONDS

say() { printf 'crash: %s\n' "$*"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
value() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" -c "$1"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi

work=$(mktemp -d /tmp/compensation-crash.XXXXXX)
bg=""
cleanup() {
	[ -z "$bg" ] || kill "$bg" 2>/dev/null || true
	rm -rf "$work"
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

fail=0
problem() { say "FAIL: $*"; fail=1; }
expect_eq() {	# what, got, expected
	[ "$2" = "$3" ] || problem "$1: got '$2', expected '$3'"
}

wait_for_server() {
	for _ in $(seq 1 120); do
		psql -X -q -d "$DB" -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null

psql_db -v rows="$ROWS" >/dev/null <<'SQL'
CREATE EXTENSION compensation;
CREATE TABLE public.crash_src (
	order_id	text PRIMARY KEY,
	buyer_id	text,
	at			timestamptz NOT NULL,
	value		numeric NOT NULL
);
INSERT INTO public.crash_src
SELECT 'o' || i, 'b' || (i % 40000),
	   timestamptz '2026-10-01' + (i::float8 / :rows) * interval '61 days' - interval '1 second',
	   10 + i % 190
  FROM generate_series(1, :rows) AS i;
ANALYZE public.crash_src;
SELECT compensation.set_budget('crash', '2026-Q4', 10000000, 'EUR');
SELECT compensation.define_strategy('crash', '{
	"scenario": "late_delivery", "source": "public.crash_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"},
	"when": {"col": "value", "op": ">", "value": 0}, "currency": "EUR",
	"amount": {"type": "percent", "of": "value", "rate": 0.05, "min": 1},
	"holdout": 0.1, "instrument": "voucher", "program": "crash",
	"notify": {"channel": "push", "template": "Order {order}: {amount} {currency}"}}');
SELECT compensation.activate('crash');
-- a first, committed part
SELECT compensation.apply('crash', '2026-10-10');

-- (c): a separate source whose 1500th candidate has no buyer
CREATE TABLE public.crash_bad AS
SELECT 'x' || i AS order_id, CASE WHEN i = 1500 THEN NULL ELSE 'b' || i END AS buyer_id,
	   timestamptz '2026-10-02' + i * interval '1 minute' AS at, 50::numeric AS value
  FROM generate_series(1, 2000) AS i;
SELECT compensation.define_strategy('crash_bad', '{
	"scenario": "late_delivery", "source": "public.crash_bad",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"},
	"when": {"col": "value", "op": ">", "value": 0}, "currency": "EUR",
	"amount": {"type": "fixed", "value": 1}, "instrument": "voucher", "program": "crash",
	"notify": {"channel": "push", "template": "{order}"}}');
SELECT compensation.activate('crash_bad');
SQL

# Everything a run writes, as one line of counts and checksums.
state() {
	value "SELECT concat_ws(' ',
		'ledger', (SELECT count(*) || ':' || md5(coalesce(string_agg(l::text, ',' ORDER BY grant_id), ''))
					 FROM compensation.ledger AS l),
		'outbox', (SELECT count(*) || ':' || md5(coalesce(string_agg(o::text, ',' ORDER BY grant_id), ''))
					 FROM compensation.outbox AS o),
		'holdout', (SELECT count(*) || ':' || md5(coalesce(string_agg(h::text, ',' ORDER BY strategy_id, order_key), ''))
					  FROM compensation.holdout_decision AS h),
		'runs', (SELECT count(*) || ':' || md5(coalesce(string_agg(r::text, ',' ORDER BY run_id), ''))
				   FROM compensation.run AS r),
		'budgets', (SELECT string_agg(b.budget_id || '=' || b.spent_minor, ',' ORDER BY b.budget_id)
					  FROM compensation.budget AS b))"
}

# The invariants after a run has completed the work up to as_of.  (No
# foreign keys hold the ledger, outbox and holdout tables together: the
# references are checked here.)
check_complete() {	# label, as_of
	local label=$1 as_of=$2 n
	n=$(value "SELECT count(*) FROM (SELECT FROM compensation.ledger
			GROUP BY exclusive_group, order_key HAVING count(*) > 1) AS d")
	expect_eq "$label: orders granted twice" "$n" 0
	# every order up to as_of: granted or held out, exactly once; none after
	n=$(value "WITH g AS (SELECT order_key, count(*) AS n FROM compensation.ledger
						  WHERE exclusive_group = 'strategy:crash' GROUP BY order_key),
					h AS (SELECT order_key, count(*) AS n FROM compensation.holdout_decision
						  GROUP BY order_key)
		SELECT count(*) FROM public.crash_src AS s
		  LEFT JOIN g ON g.order_key = s.order_id
		  LEFT JOIN h ON h.order_key = s.order_id
		 WHERE coalesce(g.n, 0) + coalesce(h.n, 0)
			   <> CASE WHEN s.at <= timestamptz '$as_of' THEN 1 ELSE 0 END")
	expect_eq "$label: orders not granted or held out exactly once" "$n" 0
	n=$(value "SELECT count(*) FROM compensation.budget AS b
		  LEFT JOIN (SELECT budget_id, sum(amount_minor) AS granted FROM compensation.ledger
					  WHERE voided_at IS NULL GROUP BY budget_id) AS l USING (budget_id)
		 WHERE b.spent_minor > b.amount_minor OR b.spent_minor <> coalesce(l.granted, 0)")
	expect_eq "$label: budgets whose spent is not the sum of their grants" "$n" 0
	n=$(value "SELECT count(*) FROM compensation.ledger AS l
		  FULL JOIN compensation.outbox AS o USING (grant_id)
		 WHERE l.grant_id IS NULL OR o.grant_id IS NULL")
	expect_eq "$label: grants without an outbox row, or outbox rows without a grant" "$n" 0
	n=$(value "SELECT count(*) FROM compensation.run AS r
		  LEFT JOIN (SELECT run_id, count(*) AS n FROM compensation.ledger GROUP BY run_id) AS l
			USING (run_id)
		 WHERE r.status <> 'done' OR r.finished_at IS NULL OR r.granted <> coalesce(l.n, 0)")
	expect_eq "$label: runs not done, or whose count is not their grants" "$n" 0
	n=$(value "SELECT (SELECT count(*) FROM compensation.ledger AS l
						WHERE NOT EXISTS (SELECT FROM compensation.run AS r WHERE r.run_id = l.run_id)
						   OR NOT EXISTS (SELECT FROM compensation.budget AS b WHERE b.budget_id = l.budget_id)
						   OR NOT EXISTS (SELECT FROM compensation.strategy_version AS v
										   WHERE v.strategy_id = l.strategy_id AND v.version = l.version))
				  + (SELECT count(*) FROM compensation.holdout_decision AS h
						WHERE NOT EXISTS (SELECT FROM compensation.run AS r WHERE r.run_id = h.run_id))")
	expect_eq "$label: ledger or holdout rows referring to a missing run, budget or version" "$n" 0
}

# Start apply(as_of) in the background (its psql is $bg); wait until it has
# written KILL_AFTER grants (uncommitted, seen through the sequence); set
# $pid to its backend and $written to the grants written so far.
start_and_wait() {	# as_of
	local as_of=$1 seq0 seq
	pid="" written=0
	seq0=$(value "SELECT last_value FROM compensation.ledger_grant_id_seq")
	PGAPPNAME=crash_apply psql -X -q -d "$DB" \
		-c "SELECT granted FROM compensation.apply('crash', '$as_of')" \
		>"$work/bg.out" 2>"$work/bg.err" &
	bg=$!
	for _ in $(seq 1 600); do
		[ -n "$pid" ] || pid=$(value "SELECT pid FROM pg_stat_activity
			WHERE application_name = 'crash_apply' AND datname = '$DB' AND state = 'active'")
		seq=$(value "SELECT last_value FROM compensation.ledger_grant_id_seq")
		written=$((seq - seq0))
		if [ -n "$pid" ] && [ "$written" -ge "$KILL_AFTER" ]; then
			kill -0 "$bg" 2>/dev/null && return 0
			return 1
		fi
		kill -0 "$bg" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ---- (a) pg_terminate_backend -------------------------------------------
before=$(state)
expected=$(value "SELECT concat_ws(' ', candidates, granted, skipped_holdout, skipped_duplicate)
	FROM compensation.apply('crash', '2026-10-31', dry_run => true)")
if ! start_and_wait 2026-10-31; then
	problem "(a) the apply finished (or failed) before $KILL_AFTER grants were seen: $(cat "$work/bg.err" "$work/bg.out" | head -3 | tr '\n' ' ')"
	exit 1
fi
value "SELECT pg_terminate_backend($pid)" >/dev/null
status=0
wait "$bg" || status=$?
bg=""
[ "$status" -ne 0 ] && grep -q 'terminat' "$work/bg.err" ||
	problem "(a) the apply was not terminated (psql status $status): $(head -c 300 "$work/bg.err")"
expect_eq "(a) state after pg_terminate_backend (killed after $written grants written)" "$(state)" "$before"
got=$(value "SELECT concat_ws(' ', candidates, granted, skipped_holdout, skipped_duplicate)
	FROM compensation.apply('crash', '2026-10-31')")
expect_eq "(a) the next apply (candidates granted holdout duplicate)" "$got" "$expected"
check_complete "(a)" 2026-10-31
say "(a) pg_terminate_backend after $written grants written: nothing left behind; the next run did the $(echo "$expected" | cut -d' ' -f2) grants of the dry run"

# ---- (c) a bad row ---------------------------------------------------------
before=$(state)
status=0
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "SELECT compensation.apply('crash_bad', '2026-11-20')" \
	>"$work/bad.out" 2>"$work/bad.err" || status=$?
if [ "$status" -eq 0 ]; then
	problem "(c) apply over a candidate with a NULL buyer succeeded"
else
	grep -q 'x1500' "$work/bad.err" ||
		problem "(c) the error does not name the order x1500: $(head -c 300 "$work/bad.err")"
fi
expect_eq "(c) state after the failed run" "$(state)" "$before"
say "(c) bad row: $(grep -m1 ERROR "$work/bad.err" || true)"
psql_db -c "UPDATE public.crash_bad SET buyer_id = 'b1500' WHERE order_id = 'x1500'" \
	-c "SELECT compensation.pause('crash_bad')" >/dev/null

# ---- (b) kill -9 -------------------------------------------------------------
before=$(state)
expected=$(value "SELECT concat_ws(' ', candidates, granted, skipped_holdout, skipped_duplicate)
	FROM compensation.apply('crash', '2026-11-30', dry_run => true)")
if ! start_and_wait 2026-11-30; then
	problem "(b) the apply finished (or failed) before $KILL_AFTER grants were seen: $(cat "$work/bg.err" "$work/bg.out" | head -3 | tr '\n' ' ')"
	exit 1
fi
if ! kill -9 "$pid" 2>"$work/kill.err"; then
	say "skipped (b): cannot kill -9 backend $pid: $(cat "$work/kill.err")"
	wait "$bg" || true
	bg=""
	[ $fail -eq 0 ] && exit 77
	exit 1
fi
wait "$bg" || true
bg=""
sleep 1
if ! wait_for_server; then
	problem "(b) the server did not come back after kill -9"
	exit 1
fi
expect_eq "(b) state after kill -9 and recovery (killed after $written grants written)" "$(state)" "$before"
got=$(value "SELECT concat_ws(' ', candidates, granted, skipped_holdout, skipped_duplicate)
	FROM compensation.apply('crash', '2026-11-30')")
expect_eq "(b) the next apply (candidates granted holdout duplicate)" "$got" "$expected"
check_complete "(b)" 2026-11-30
say "(b) kill -9 after $written grants written: recovered, nothing left behind; the next run did the $(echo "$expected" | cut -d' ' -f2) grants of the dry run"

if [ $fail -eq 0 ]; then
	say "ok: $ROWS orders, killed twice halfway, one bad row; $((SECONDS - started)) s"
fi
exit $fail
