#!/usr/bin/env bash
# test/shell/concurrency.sh — every operation at once: apply, apply_all, dry
# runs, void_grant, set_budget, roll_quarter and the strategy lifecycle.
#
# Sixteen sessions for COMP_CONC_SECONDS (default 60) seconds, all on the
# same budgets:
#   - 4 sessions apply a random one of four strategies, as a scheduler would;
#   - 2 sessions run apply_all();
#   - 2 sessions void a random non-voided grant (money goes back, so the
#     applies keep finding room in budgets that are mostly exhausted);
#   - 1 session applies with dry_run, apply_all with dry_run, and reads the
#     dashboards' views;
#   - 1 session inserts new orders into the source all along, so that
#     every apply finds new candidates;
#   - 2 sessions set a random budget (of any quarter) to what it has spent
#     plus a random rest, as an administrator would: under the row lock that
#     set_budget takes anyway, so that the amount is never below what is
#     spent (an error that would end the session);
#   - 2 sessions roll quarters over, with and without carry_unspent: out of
#     the quarter being spent (2026-Q4) into 2027-Q1 and 2027-Q2, from there
#     on to 2027-Q3, and into 2026-Q4 from 2026-Q3 (which has a market budget
#     that 2026-Q4 lacks, so a budget appears in the quarter being spent);
#   - 2 sessions each cycle a strategy of their own (st_5, st_6) through
#     define_strategy (a new version), activate, pause and activate again;
#     st_5 shares the exclusive group and program of st_1 and st_2, st_6
#     those of st_4.  apply_all picks them up when they are active.
# The four steady strategies: two share the exclusive group "delivery"
# (different priorities, one with a per-buyer cap), a third spends the same
# budget from another group, a fourth another program with a holdout and no
# notify.  The "delivery" program has an all-markets budget and a market
# budget.
#
# Everything takes its locks in one global order (exclusive groups,
# programs, budgets in budget_id order; apply_all all of them first;
# roll_quarter its programs, then its source budgets), so a deadlock
# (40P01) is a failure: in pgbench's errors, in the server log, or as the
# error of a strategy that apply_all reports as failed.
# serialization_failure (40001) is retried by pgbench (--max-tries) and
# counted; any other error aborts a client and fails the test.  The only
# failed runs allowed are those of a strategy paused between apply_all's
# listing and its run ("has no active version").
#
# Then the invariants, each a failure when broken:
#   - no (exclusive_group, order_key) granted twice;
#   - no budget overspent (spent_minor <= amount_minor);
#   - every budget's spent_minor = the sum of its non-voided grants;
#   - every grant of a strategy with notify has exactly one outbox row, and
#     no other grant has one; no outbox row without its grant;
#   - every grant and holdout record refers to an existing run, budget (of
#     its program, quarter and currency) and strategy version (there are no
#     foreign keys on these tables);
#   - every run row is 'done', or 'failed' for the reason above, with no
#     grant;
#   - no order both granted and held out by the same strategy;
#   - every grant's amount is what compensation.amount() says for its row;
#   - no grant spent a market budget of another market;
#   - st_2's per-buyer count cap holds (as apply reads it: at most 2 grants
#     in the 90 days up to each grant, among the grants decided before it);
#   - the roll-overs wrote their quarters, the lifecycle made versions;
#   - one more apply of each strategy, alone, grants nothing it should not
#     (it may grant what the budget now allows, never a duplicate).
# Prints one summary line.  Exit 0 pass, 77 skip (no server), 1 fail.
set -euo pipefail

DB=compensation_concurrency
SECONDS_TO_RUN=${COMP_CONC_SECONDS:-60}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
command -v "$PGBENCH" >/dev/null 2>&1 || PGBENCH=pgbench

say() { printf 'concurrency: %s\n' "$*"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
value() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" -c "$1"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
if ! command -v "$PGBENCH" >/dev/null 2>&1; then
	say "skipped: pgbench not found"
	exit 77
fi

# the server log (exported by test/lib.sh), and where this test's part starts
log=${COMP_PGLOG:-}
[ -n "$log" ] && [ -r "$log" ] || log=""
log_start=0
[ -z "$log" ] || log_start=$(stat -c %s "$log")

work=$(mktemp -d /tmp/compensation-concurrency.XXXXXX)
cleanup() {
	rm -rf "$work"
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
psql -X -q -d postgres -c "CREATE DATABASE $DB" >/dev/null

psql_db >/dev/null <<'SQL'
CREATE EXTENSION compensation;
CREATE TABLE public.conc_src (
	order_id	text PRIMARY KEY,
	buyer_id	text NOT NULL,
	at			timestamptz NOT NULL,
	value		numeric NOT NULL,
	market		text NOT NULL
);
CREATE SEQUENCE public.conc_seq;
-- a first batch, so that the first runs have work
INSERT INTO public.conc_src
SELECT 'o' || nextval('public.conc_seq'), 'b' || (random() * 300)::int,
	   timestamptz '2026-10-01' + random() * interval '50 days',
	   round((random() * 200)::numeric, 2), (ARRAY['FR', 'DE', 'BR'])[1 + (random() * 2)::int]
  FROM generate_series(1, 500);

SELECT compensation.set_budget('delivery', '2026-Q4', 2500, 'EUR');
SELECT compensation.set_budget('delivery', '2026-Q4', 400, 'EUR', 'FR');
SELECT compensation.set_budget('reviews', '2026-Q4', 600, 'EUR');

SELECT compensation.define_strategy('st_1', '{
	"scenario": "late_delivery", "source": "public.conc_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "market": "market"},
	"when": {"col": "value", "op": ">", "value": 20}, "currency": "EUR",
	"amount": {"type": "percent", "of": "value", "rate": 0.10, "min": 2, "max": 15},
	"instrument": "voucher", "program": "delivery", "exclusive": "delivery", "priority": 10,
	"notify": {"channel": "push", "template": "Order {order}: {amount} {currency}"}}');
SELECT compensation.define_strategy('st_2', '{
	"scenario": "late_delivery", "source": "public.conc_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "market": "market"},
	"when": {"col": "value", "op": ">", "value": 5}, "currency": "EUR",
	"amount": {"type": "fixed", "value": 3},
	"caps": {"per_buyer_count": {"max": 2, "window": "90 days"},
			 "per_buyer_amount": {"max": 20, "window": "quarter", "scope": "program"}},
	"instrument": "coupon", "program": "delivery", "exclusive": "delivery", "priority": 5,
	"notify": {"channel": "email", "template": "{buyer}: {amount} {currency} for {order}"}}');
SELECT compensation.define_strategy('st_3', '{
	"scenario": "low_rating", "source": "public.conc_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "market": "market"},
	"when": {"col": "value", "op": ">", "value": 100}, "currency": "EUR",
	"amount": {"type": "fixed", "value": 4},
	"instrument": "points", "program": "delivery", "exclusive": "reviews", "priority": 1,
	"notify": {"channel": "push", "template": "{order}"}}');
SELECT compensation.define_strategy('st_4', '{
	"scenario": "damaged", "source": "public.conc_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"},
	"when": {"col": "value", "op": ">=", "value": 0}, "currency": "EUR",
	"amount": {"type": "fixed", "value": 5}, "holdout": 0.2,
	"instrument": "cash_back", "program": "reviews", "exclusive": "damage"}');
-- the lifecycle sessions' strategies: session n cycles st_(5 + n)
CREATE TABLE public.conc_lifecycle (n integer PRIMARY KEY, name text NOT NULL, spec jsonb NOT NULL);
INSERT INTO public.conc_lifecycle VALUES
	(0, 'st_5', '{
	"scenario": "late_delivery", "source": "public.conc_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "market": "market"},
	"when": {"col": "value", "op": ">", "value": 150}, "currency": "EUR",
	"amount": {"type": "fixed", "value": 2},
	"instrument": "voucher", "program": "delivery", "exclusive": "delivery", "priority": 7,
	"notify": {"channel": "sms", "template": "{order}: {amount}"}}'),
	(1, 'st_6', '{
	"scenario": "damaged", "source": "public.conc_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"},
	"when": {"col": "value", "op": "<", "value": 30}, "currency": "EUR",
	"amount": {"type": "fixed", "value": 1},
	"instrument": "points", "program": "reviews", "exclusive": "damage", "priority": 3}');
SELECT compensation.define_strategy(name, spec) FROM public.conc_lifecycle;
SELECT compensation.activate('st_' || i) FROM generate_series(1, 6) AS i;

-- what the roll-overs start from: 2026-Q3 has a market budget (DE) that
-- 2026-Q4 lacks, and one that it has (the all-markets budget, left alone)
SELECT compensation.set_budget('delivery', '2026-Q3', 300, 'EUR', 'DE');
SELECT compensation.set_budget('delivery', '2026-Q3', 1000, 'EUR');

-- set_budget as an administrator would: what is spent plus a random rest
-- (0 to 300.00), under the locks set_budget takes anyway, in its order (the
-- program, then the budget row), so that the amount is never below what is
-- spent
CREATE FUNCTION public.conc_set_budget() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	b compensation.budget;
BEGIN
	SELECT * INTO b FROM compensation.budget ORDER BY random() LIMIT 1;
	PERFORM pg_advisory_xact_lock(hashtext('compensation.program'), hashtext(b.program));
	SELECT * INTO b FROM compensation.budget WHERE budget_id = b.budget_id FOR UPDATE;
	RETURN compensation.set_budget(b.program, b.quarter,
								   (b.spent_minor + (random() * 30000)::bigint) / 100.0,
								   b.currency, b.market);
END
$$;
SQL

# ---- the sessions -----------------------------------------------------------
cat >"$work/apply.sql" <<'SQL'
\set s random(1, 4)
SELECT granted FROM compensation.apply('st_' || :s, '2026-11-20');
SQL
cat >"$work/apply_all.sql" <<'SQL'
SELECT count(*) FROM compensation.apply_all('2026-11-20');
\sleep 10 ms
SQL
# SKIP LOCKED and the re-checked "voided_at IS NULL": two voiders never
# pick the same grant, so "already voided" is not an expected error here.
cat >"$work/void.sql" <<'SQL'
SELECT compensation.void_grant(g.grant_id, 'stress: order refunded')
  FROM (SELECT grant_id FROM compensation.ledger
		 WHERE voided_at IS NULL ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED) AS g;
\sleep 30 ms
SQL
cat >"$work/reader.sql" <<'SQL'
\set s random(1, 4)
SELECT granted FROM compensation.apply('st_' || :s, '2026-11-20', dry_run => true);
SELECT count(*) FROM compensation.apply_all('2026-11-20', dry_run => true);
SELECT sum(spent) FROM compensation.budgets;
SELECT count(*) FROM compensation.grants WHERE NOT voided;
\sleep 20 ms
SQL
cat >"$work/insert.sql" <<'SQL'
INSERT INTO public.conc_src
SELECT 'o' || nextval('public.conc_seq'), 'b' || (random() * 300)::int,
	   timestamptz '2026-10-01' + random() * interval '50 days',
	   round((random() * 200)::numeric, 2), (ARRAY['FR', 'DE', 'BR'])[1 + (random() * 2)::int]
  FROM generate_series(1, 5);
\sleep 20 ms
SQL

cat >"$work/set_budget.sql" <<'SQL'
SELECT public.conc_set_budget();
\sleep 20 ms
SQL
# between a few quarters, with and without the unspent rest
cat >"$work/roll.sql" <<'SQL'
\set r random(1, 6)
SELECT compensation.roll_quarter(f, t, c)
  FROM (VALUES (1, '2026-Q4', '2027-Q1', true), (2, '2026-Q4', '2027-Q1', false),
			   (3, '2026-Q4', '2027-Q2', true), (4, '2027-Q1', '2027-Q2', false),
			   (5, '2026-Q3', '2026-Q4', false), (6, '2027-Q2', '2027-Q3', true)) AS v(n, f, t, c)
 WHERE n = :r;
\sleep 20 ms
SQL
# each client its own strategy: a new version, activate, pause, activate
cat >"$work/lifecycle.sql" <<'SQL'
\set pay random(1, 6)
SELECT compensation.define_strategy(name, jsonb_set(spec, '{amount,value}', to_jsonb(:pay)))
  FROM public.conc_lifecycle WHERE n = :client_id;
SELECT compensation.activate(name) FROM public.conc_lifecycle WHERE n = :client_id;
\sleep 200 ms
SELECT compensation.pause(name) FROM public.conc_lifecycle WHERE n = :client_id;
\sleep 50 ms
SELECT compensation.activate(name) FROM public.conc_lifecycle WHERE n = :client_id;
\sleep 200 ms
SQL

started=$SECONDS
pids=()
names=()
bench() {	# name clients script
	"$PGBENCH" -n -c "$2" -j "$2" -T "$SECONDS_TO_RUN" --max-tries=50 --failures-detailed \
		--verbose-errors -f "$work/$3" "$DB" >"$work/$1.out" 2>"$work/$1.err" &
	pids+=($!)
	names+=("$1")
}
bench apply 4 apply.sql
bench apply_all 2 apply_all.sql
bench void 2 void.sql
bench reader 1 reader.sql
bench insert 1 insert.sql
bench set_budget 2 set_budget.sql
bench roll 2 roll.sql
bench lifecycle 2 lifecycle.sql
sessions=16

fail=0
problems=()
problem() { problems+=("$*"); fail=1; }

for i in "${!pids[@]}"; do
	if ! wait "${pids[$i]}"; then
		problem "pgbench ${names[$i]} exited with an error: $(grep -E 'aborted|ERROR|FATAL|PANIC' "$work/${names[$i]}.err" |
			grep -v -e 'deadlock detected' -e 'could not serialize access' | head -3 | tr '\n' ' ')"
	fi
done

# ---- errors: retried kinds are counted, any other kind fails ---------------
deadlocks=0 serialization=0 failed=0 transactions=0 other=0
for name in "${names[@]}"; do
	err=$work/$name.err out=$work/$name.out
	d=$(grep -c -E 'deadlock detected|40P01' "$err" || true)
	s=$(grep -c 'could not serialize access' "$err" || true)
	deadlocks=$((deadlocks + d))
	serialization=$((serialization + s))
	# every other error message pgbench printed (its error lines start with "client N")
	o=$(grep -E 'ERROR|FATAL|PANIC|aborted' "$err" | grep -v -e 'deadlock detected' \
		-e 'could not serialize access' | head -5 || true)
	if [ -n "$o" ]; then
		other=$((other + 1))
		problem "unexpected errors in $name: $(echo "$o" | tr '\n' ' ')"
	fi
	f=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$out")
	failed=$((failed + ${f:-0}))
	[ "$d" -eq 0 ] || problem "$d deadlocks in $name: runs must lock in one global order"
	t=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out")
	transactions=$((transactions + ${t:-0}))
	if [ -z "$t" ]; then
		problem "pgbench $name printed no summary: $(head -c 500 "$err" | tr '\n' ' ')"
	fi
done

if [ -n "$log" ]; then
	crash=$(tail -c +"$((log_start + 1))" "$log" | grep -E 'terminated by signal|was terminated by exception' || true)
	[ -z "$crash" ] || problem "the server crashed: $(echo "$crash" | head -3 | tr '\n' ' ')"
	# (apply_all turns a strategy's error into a WARNING, which the log keeps)
	logged=$(tail -c +"$((log_start + 1))" "$log" | grep -c -E 'deadlock detected|40P01' || true)
	[ "$logged" -eq 0 ] || problem "$logged deadlock lines in the server log: $(tail -c +"$((log_start + 1))" "$log" |
		grep -E -A2 'deadlock detected|40P01' | head -6 | tr '\n' ' ')"
fi
for _ in $(seq 1 60); do	# after a crash, wait for recovery before checking
	psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
	sleep 0.5
done

# ---- invariants -------------------------------------------------------------
check() {	# description, query returning the number of violations
	local n
	n=$(value "$2") || { problem "$1: query failed"; return; }
	[ "$n" = 0 ] || problem "$1: $n violation(s)"
}
check "order granted twice in an exclusive group" \
	"SELECT count(*) FROM (SELECT FROM compensation.ledger
	  GROUP BY exclusive_group, order_key HAVING count(*) > 1) AS d"
check "budget overspent" \
	"SELECT count(*) FROM compensation.budget WHERE spent_minor > amount_minor OR spent_minor < 0"
check "budget spent differs from its non-voided grants" \
	"SELECT count(*) FROM compensation.budget AS b
	  WHERE b.spent_minor <> (SELECT coalesce(sum(l.amount_minor), 0) FROM compensation.ledger AS l
							   WHERE l.budget_id = b.budget_id AND l.voided_at IS NULL)"
check "grant of a notifying strategy without an outbox row" \
	"SELECT count(*) FROM compensation.ledger AS l
	   JOIN compensation.strategy AS s USING (strategy_id)
	  WHERE s.name NOT IN ('st_4', 'st_6')
		AND NOT EXISTS (SELECT FROM compensation.outbox AS o WHERE o.grant_id = l.grant_id)"
check "outbox row without a grant, or of a strategy without notify" \
	"SELECT count(*) FROM compensation.outbox AS o
	   LEFT JOIN compensation.ledger AS l USING (grant_id)
	   LEFT JOIN compensation.strategy AS s USING (strategy_id)
	  WHERE l.grant_id IS NULL OR s.name IN ('st_4', 'st_6')"
# no foreign keys hold these tables together: check the references
check "grant or holdout record referring to a missing run, budget or strategy version" \
	"SELECT (SELECT count(*) FROM compensation.ledger AS l
			  WHERE NOT EXISTS (SELECT FROM compensation.run AS r WHERE r.run_id = l.run_id)
				 OR NOT EXISTS (SELECT FROM compensation.budget AS b WHERE b.budget_id = l.budget_id)
				 OR NOT EXISTS (SELECT FROM compensation.strategy_version AS v
								 WHERE v.strategy_id = l.strategy_id AND v.version = l.version))
		  + (SELECT count(*) FROM compensation.holdout_decision AS h
			  WHERE NOT EXISTS (SELECT FROM compensation.run AS r WHERE r.run_id = h.run_id))"
check "grant whose budget is not of its program and quarter" \
	"SELECT count(*) FROM compensation.ledger AS l JOIN compensation.budget AS b USING (budget_id)
	  WHERE b.program <> l.program OR b.quarter <> '2026-Q4' OR b.currency <> l.currency"
check "run neither done nor failed for a paused strategy" \
	"SELECT count(*) FROM compensation.run
	  WHERE finished_at IS NULL OR status NOT IN ('done', 'failed')
		 OR (status = 'failed' AND (error NOT LIKE '%has no active version (SQLSTATE 55000)' OR granted <> 0))"
check "deadlock reported as a failed run by apply_all" \
	"SELECT count(*) FROM compensation.run WHERE error LIKE '%40P01%' OR error LIKE '%deadlock%'"
check "grant outside its run's counts" \
	"SELECT count(*) FROM compensation.run AS r
	  WHERE r.granted <> (SELECT count(*) FROM compensation.ledger AS l WHERE l.run_id = r.run_id)"
check "order both granted and held out by one strategy" \
	"SELECT count(*) FROM compensation.holdout_decision AS h
	   JOIN compensation.ledger AS l USING (strategy_id, order_key)"
check "grant amount differs from compensation.amount()" \
	"SELECT count(*) FROM compensation.ledger AS l
	   JOIN compensation.strategy AS s USING (strategy_id)
	   JOIN public.conc_src AS c ON c.order_id = l.order_key
	  WHERE compensation.to_major_units(l.amount_minor, l.currency)
			IS DISTINCT FROM compensation.amount(s.name, c, l.version)"
check "grant in a market budget for another market" \
	"SELECT count(*) FROM compensation.ledger AS l JOIN compensation.budget AS b USING (budget_id)
	  WHERE b.market IS NOT NULL AND b.market IS DISTINCT FROM l.market"
# (the window is anchored at the candidate and looks back: what a run saw
# is the grants decided before it, i.e. with a smaller grant_id, as runs of
# one exclusive group take turns)
check "per-buyer count cap of st_2 exceeded" \
	"SELECT count(*) FROM compensation.ledger AS a
	   JOIN compensation.strategy AS s USING (strategy_id)
	  WHERE s.name = 'st_2' AND a.voided_at IS NULL
		AND (SELECT count(*) FROM compensation.ledger AS b
			  WHERE b.strategy_id = a.strategy_id AND b.buyer = a.buyer AND b.voided_at IS NULL
				AND b.grant_id <= a.grant_id
				AND b.at > a.at - interval '90 days' AND b.at <= a.at) > 2"

# one more run of everything, alone: never a duplicate, and the invariants hold
psql_db -At -c "SELECT strategy, skipped_duplicate FROM compensation.apply_all('2026-11-20')" >/dev/null ||
	problem "final apply_all failed"
check "order granted twice after the final apply_all" \
	"SELECT count(*) FROM (SELECT FROM compensation.ledger
	  GROUP BY exclusive_group, order_key HAVING count(*) > 1) AS d"
check "budget spent differs from its grants after the final apply_all" \
	"SELECT count(*) FROM compensation.budget AS b
	  WHERE b.spent_minor > b.amount_minor
		 OR b.spent_minor <> (SELECT coalesce(sum(l.amount_minor), 0) FROM compensation.ledger AS l
							   WHERE l.budget_id = b.budget_id AND l.voided_at IS NULL)"

stats=$(value "SELECT (SELECT count(*) FROM compensation.run) || ' runs, '
	|| (SELECT count(*) FROM compensation.ledger) || ' grants ('
	|| (SELECT count(*) FROM compensation.ledger WHERE voided_at IS NOT NULL) || ' voided), '
	|| (SELECT count(*) FROM public.conc_src) || ' orders, '
	|| (SELECT sum(skipped_budget) FROM compensation.run) || ' budget skips, '
	|| (SELECT sum(skipped_duplicate) FROM compensation.run) || ' duplicate skips, '
	|| (SELECT count(*) FROM compensation.run WHERE status = 'failed') || ' runs of paused strategies, '
	|| (SELECT count(*) FROM compensation.budget) || ' budgets, '
	|| (SELECT count(*) FROM compensation.strategy_version) || ' strategy versions'") ||
	stats="(no statistics: the server did not answer)"
[ "$(value "SELECT count(*) FROM compensation.ledger WHERE voided_at IS NOT NULL")" -gt 0 ] ||
	problem "no grant was voided: the test did not exercise void_grant"
[ "$(value "SELECT count(DISTINCT s.name) FROM compensation.ledger JOIN compensation.strategy AS s USING (strategy_id)
	WHERE s.name IN ('st_1', 'st_2', 'st_3', 'st_4')")" = 4 ] ||
	problem "not every steady strategy granted something"
[ "$(value "SELECT count(DISTINCT quarter) FROM compensation.budget WHERE quarter IN ('2027-Q1', '2027-Q2', '2027-Q3')")" = 3 ] ||
	problem "the roll-overs did not write 2027-Q1, 2027-Q2 and 2027-Q3"
[ "$(value "SELECT count(*) FROM compensation.budget WHERE quarter = '2026-Q4' AND market = 'DE'")" = 1 ] ||
	problem "the roll-over from 2026-Q3 did not add its DE budget to 2026-Q4"
[ "$(value "SELECT min(versions) FROM (SELECT count(*) AS versions FROM compensation.strategy_version
	JOIN compensation.strategy AS s USING (strategy_id) WHERE s.name IN ('st_5', 'st_6') GROUP BY s.name) AS v")" -gt 2 ] ||
	problem "the lifecycle sessions made no new versions"

for p in "${problems[@]}"; do
	say "FAIL: $p"
done
summary="$sessions sessions, $((SECONDS - started)) s, $transactions transactions: $stats; \
retried errors: $deadlocks deadlock, $serialization serialization ($failed transactions failed after retries)"
if [ $fail -eq 0 ]; then
	say "ok: $summary"
else
	say "FAILED: $summary"
	for name in "${names[@]}"; do
		say "---- $name"; tail -5 "$work/$name.err" | sed 's/^/    /'
	done
fi
exit $fail
