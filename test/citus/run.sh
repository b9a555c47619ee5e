#!/usr/bin/env bash
# test/citus/run.sh — the aggregates, the per-row functions and apply on a
# distributed table (issue #16).
#
#   bash test/citus/run.sh      (as root; test/run runs it as the suite "citus")
#
# Builds Citus from ../shared/citus into the PostgreSQL in use when it is
# not there yet (test/citus/build.sh; the build is cached), starts a
# coordinator and two workers on 127.0.0.1 (test/citus/lib.sh), creates the
# extension on the coordinator (Citus creates it on the workers), and
# distributes 200,000 generated orders by order id next to a plain copy on
# the coordinator.  Then, for burn(), uplift() and roi() grouped by a column
# that is not the distribution column, and over all rows:
#   - EXPLAIN (VERBOSE) shows the partial aggregate running on the workers
#     (worker_partial_agg('compensation.X(...)'::regprocedure, ...) in the
#     worker query) and the combine on the coordinator (coord_combine_agg);
#   - the results equal the same query over the plain table, exactly (every
#     column's text, floats included: the combined states are the same
#     exact numeric sums, so the final functions compute the same floats);
#   - with citus.coordinator_aggregation_strategy = 'disabled' the queries
#     run (no "unsupported aggregate function") and give the same results.
# Then, over 100,000 generated orders with buyers, distributed and plain:
#   - eligible(), amount() and evaluate() over the distributed table and over
#     a view on it equal one node row by row, and EXPLAIN shows the rule
#     (the *_spec twin, which carries the version's spec) in the workers'
#     queries; a version activated on the coordinator is used by the next
#     statement; a compensation_reader gets the same;
#   - apply (real runs, at several dates) and simulate over the distributed
#     table and over a view on it give the same grants (order keys,
#     amounts), holdouts and outcomes as the same strategy over a plain
#     copy, and the workers ship only the candidates;
#   - on the Olist data (when COMPENSATION_OLIST_DIR, default
#     ../shared/data/olist, has it): the three strategies of
#     test/pgtap/oracle_olist.sql over the rows of olist.order_experience
#     in a distributed table equal one node order by order, the oracle's
#     counts and sums from the base tables hold, and apply over the same
#     view on distributed base tables gives the same grants as one node.
# Prints TAP lines ("ok N - ...", "not ok N - ..."); exit status 0 when all
# pass, 77 (skipped) when the Citus source is not there, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib.sh
source test/citus/lib.sh
comp_require_root "$@"

set +e
bash test/citus/build.sh
status=$?
set -e
case $status in
	0) ;;
	77) echo "ok 1 # skip Citus source not found (COMPENSATION_CITUS_DIR)"; exit 77 ;;
	*) echo "not ok 1 - building Citus"; exit 1 ;;
esac

citus_cluster_start
set -- $CITUS_PORTS
coordinator=$1
# NOTICEs (apply's progress, Citus's) are not part of any result
q() { PGOPTIONS="-c client_min_messages=warning" citus_psql "$coordinator" -At "$@"; }

q <<'SQL'
CREATE EXTENSION compensation;
-- 200,000 orders in 12 markets; deterministic (hashes of the row number)
CREATE TABLE public.orders_local AS
SELECT i AS order_id,
	   'm' || (i % 12) AS market,
	   (hashint8extended(i, 1) & 3) <> 0 AS treated,
	   round(((hashint8extended(i, 2) & 1048575) - 10000)::numeric / 100, 2) AS amount,
	   timestamptz '2026-10-01 00:00+00' + (hashint8extended(i, 3) & 8191) * interval '15 minutes' AS at,
	   CASE WHEN i % 97 = 0 THEN NULL ELSE (hashint8extended(i, 4) & 65535)::numeric / 1000 END AS outcome,
	   CASE WHEN i % 89 = 0 THEN NULL ELSE round((hashint8extended(i, 5) & 4095)::numeric / 100, 2) END AS cost
  FROM generate_series(1, 200000) AS i;
CREATE TABLE public.orders (LIKE public.orders_local);
SELECT create_distributed_table('public.orders', 'order_id', shard_count => 8);
INSERT INTO public.orders SELECT * FROM public.orders_local;
ANALYZE public.orders_local;
ANALYZE public.orders;
SQL
citus_log "200,000 orders distributed over $(q -c "SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement") nodes"

n=0 failed=0
check() {	# check DESCRIPTION RESULT(t/f) [diagnostics]
	n=$((n + 1))
	if [ "$2" = t ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
		[ -z "${3:-}" ] || printf '%s\n' "$3" | sed 's/^/#   /'
	fi
}

declare -A aggregate_call=(
	[burn]="compensation.burn(amount, at, 50000000, '2026-Q4', timestamptz '2026-11-20 00:00+00')"
	[uplift]="compensation.uplift(treated, outcome)"
	[roi]="compensation.roi(treated, outcome, cost)"
)

for aggregate in burn uplift roi; do
	call=${aggregate_call[$aggregate]}
	plan=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT market, $call FROM public.orders GROUP BY market")
	pushed=$(grep -c "worker_partial_agg('compensation.$aggregate(" <<<"$plan" || true)
	combined=$(grep -c "coord_combine_agg(" <<<"$plan" || true)
	check "$aggregate() grouped by market: EXPLAIN shows the partial aggregate on the workers" \
		"$([ "$pushed" -gt 0 ] && [ "$combined" -gt 0 ] && echo t || echo f)" "$plan"
	plan=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT $call FROM public.orders")
	check "$aggregate() over all rows: EXPLAIN shows the partial aggregate on the workers" \
		"$(grep -q "worker_partial_agg('compensation.$aggregate(" <<<"$plan" && echo t || echo f)" "$plan"

	for strategy in row-gather disabled; do
		for shape in grouped total; do
			if [ $shape = grouped ]; then
				query="SELECT market, $call AS result FROM %s GROUP BY market ORDER BY market"
			else
				query="SELECT 'all' AS market, $call AS result FROM %s"
			fi
			# one text per group, the whole row of results: equal means every column
			compare="SET citus.coordinator_aggregation_strategy = '$strategy';
				SELECT count(*) FILTER (WHERE d.result::text IS NOT DISTINCT FROM l.result::text),
					   count(*)
				  FROM ($(printf "$query" public.orders)) AS d
				  FULL JOIN ($(printf "$query" public.orders_local)) AS l USING (market)"
			set +e
			result=$(q -F ' ' -c "$compare" 2>&1)
			set -e
			read -r equal total <<<"$result" || true
			check "$aggregate() $shape, coordinator_aggregation_strategy $strategy: equals one node exactly ($result)" \
				"$([ -n "${total:-}" ] && [ "$equal" = "$total" ] && [ "$total" -gt 0 ] && echo t || echo f)" "$result"
		done
	done
done

# burn() without as_of reads the transaction's timestamp.  Citus runs the
# workers' part in transactions of their own, started a little later: the
# states say "now" and the coordinator's timestamp is the one used.
set +e
result=$(q -c "SELECT d.b::text = l.b::text
	FROM (SELECT compensation.burn(amount, at, 50000000, '2026-Q4') AS b FROM public.orders) AS d,
		 (SELECT compensation.burn(amount, at, 50000000, '2026-Q4') AS b FROM public.orders_local) AS l" 2>&1)
set -e
check "burn() without as_of (the transaction's timestamp): equals one node ($result)" "$result" "$result"

# A reader (not a superuser) gets the same: Citus checks the support
# functions' rights as the caller.
set +e
result=$(q -c "CREATE ROLE citus_dashboard LOGIN IN ROLE compensation_reader" \
	-c "GRANT SELECT ON public.orders, public.orders_local TO citus_dashboard" \
	-c "SET ROLE citus_dashboard; SELECT d.u::text = l.u::text
	  FROM (SELECT compensation.roi(treated, outcome, cost) AS u FROM public.orders) AS d,
		   (SELECT compensation.roi(treated, outcome, cost) AS u FROM public.orders_local) AS l" 2>&1)
set -e
check "roi() as a compensation_reader: runs distributed and equals one node ($result)" "$result" "$result"

# The grand totals seen from both sides, for the log.
q -c "SELECT 'distributed', (compensation.burn(amount, at, 50000000, '2026-Q4', '2026-11-20')).spent,
			 (compensation.uplift(treated, outcome)).difference, (compensation.roi(treated, outcome, cost)).roi
		FROM public.orders
	  UNION ALL
	  SELECT 'one node', (compensation.burn(amount, at, 50000000, '2026-Q4', '2026-11-20')).spent,
			 (compensation.uplift(treated, outcome)).difference, (compensation.roi(treated, outcome, cost)).roi
		FROM public.orders_local" | sed 's/^/# /'

# ---- per-row functions and apply over a distributed source ----------------
q <<'SQL'
-- 100,000 orders of 4,000 buyers in 3 markets and 2 currencies
CREATE TABLE public.shop_local AS
SELECT i AS order_id, 'b' || (hashint8extended(i, 11) & 4095) AS buyer_id,
	   timestamptz '2026-10-01 00:00+00' + (hashint8extended(i, 12) & 8191) * interval '15 minutes' AS at,
	   round((hashint8extended(i, 13) & 65535)::numeric / 100, 2) AS value,
	   CASE WHEN i % 3 = 0 THEN 'EUR' ELSE 'USD' END AS currency,
	   'm' || (i % 3) AS market,
	   (hashint8extended(i, 14) & 15)::integer - 5 AS late_days,
	   CASE WHEN i % 11 = 0 THEN NULL ELSE (hashint8extended(i, 15) & 3)::integer + 1 END AS rating
  FROM generate_series(1, 100000) AS i;
CREATE TABLE public.shop (LIKE public.shop_local);
SELECT create_distributed_table('public.shop', 'order_id', shard_count => 8);
INSERT INTO public.shop SELECT * FROM public.shop_local;
CREATE INDEX ON public.shop_local (at);
CREATE INDEX ON public.shop (at);
ANALYZE public.shop_local;
ANALYZE public.shop;
SET client_min_messages = error;	-- Citus: the local view is created locally only
CREATE VIEW public.shop_view AS
SELECT order_id, buyer_id, at, value, currency, market, late_days, rating FROM public.shop WHERE rating IS NOT NULL;
CREATE VIEW public.shop_local_view AS
SELECT order_id, buyer_id, at, value, currency, market, late_days, rating FROM public.shop_local WHERE rating IS NOT NULL;
CREATE FUNCTION public.shop_spec(source text, program text, holdout numeric, rate numeric) RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'late', 'source', source, 'program', program, 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at',
							   'currency', 'currency', 'market', 'market', 'value', 'value'),
	'when', jsonb_build_object('any', jsonb_build_array(
		jsonb_build_object('col', 'late_days', 'op', '>=', 'value', 4),
		jsonb_build_object('col', 'rating', 'op', '<=', 'value', 1))),
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', rate, 'min', 2, 'max', 80,
								 'segment', jsonb_build_object('col', 'market',
									'multipliers', jsonb_build_object('m1', 1.5), 'default', 1)),
	'caps', jsonb_build_object('per_buyer_count', jsonb_build_object('max', 2, 'window', '30 days')),
	'holdout', jsonb_build_object('share', holdout, 'scope', 'program'),
	'max_age', null) $$;
SQL

# row by row: a query over the distributed source against the same over the local copy
same_rows() {	# same_rows DESCRIPTION SELECT-LIST DISTRIBUTED-FROM LOCAL-FROM [psql args]
	local description=$1 list=$2 distributed=$3 local_from=$4 result
	shift 4
	set +e
	result=$(q -F ' ' "$@" -c "SELECT count(*) FILTER (WHERE d.r IS NOT DISTINCT FROM l.r), count(*),
			count(*) FILTER (WHERE d.r::text LIKE '%t%')
		  FROM (SELECT e.order_id, ($list)::text AS r FROM $distributed AS e) AS d
		  FULL JOIN (SELECT e.order_id, ($list)::text AS r FROM $local_from AS e) AS l USING (order_id)" 2>&1)
	set -e
	read -r equal total _ <<<"$result" || true
	check "$description ($result)" \
		"$([ -n "${total:-}" ] && [ "$equal" = "$total" ] && [ "$total" -gt 0 ] && echo t || echo f)" "$result"
}

q -c "SELECT compensation.define_strategy('shop_eval', public.shop_spec('public.shop', 'eval', 0.1, 0.1)),
			 compensation.activate('shop_eval')" >/dev/null
row_functions="compensation.eligible('shop_eval', e), compensation.amount('shop_eval', e),
	compensation.evaluate('shop_eval', e), compensation.amount('shop_eval', e, 1)"
same_rows "eligible(), amount(), evaluate() over the distributed table equal one node row by row" \
	"$row_functions" public.shop public.shop_local
same_rows "eligible(), amount(), evaluate() over a view on the distributed table equal one node row by row" \
	"$row_functions" public.shop_view public.shop_local_view
plan=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT compensation.amount('shop_eval', e) FROM public.shop AS e")
check "EXPLAIN: the workers' queries evaluate the rule (amount_spec over the shard)" \
	"$(grep -q "Query: SELECT compensation.amount_spec('shop_eval'::text, 1, '{" <<<"$plan" &&
	   grep -q "FROM public.shop_1" <<<"$plan" && echo t || echo f)" "$plan"
plan=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT compensation.evaluate('shop_eval', e) FROM public.shop_view AS e")
check "EXPLAIN: over the view too (evaluate_spec, every column by name)" \
	"$(grep -q "Query: SELECT compensation.evaluate_spec('shop_eval'::text, 1, '{" <<<"$plan" && echo t || echo f)" "$plan"

# a version activated on the coordinator is used by the next statement
q -c "SELECT compensation.define_strategy('shop_eval', public.shop_spec('public.shop', 'eval', 0.1, 0.25))" >/dev/null
before=$(q -c "SELECT sum(compensation.amount('shop_eval', e)) FROM public.shop AS e")
q -c "SELECT compensation.activate('shop_eval')" >/dev/null
set +e
result=$(q -c "SELECT d.s = l.s AND d.s <> $before AND d.v = 2, d.s, l.s
	FROM (SELECT sum(compensation.amount('shop_eval', e)) AS s, max((compensation.evaluate('shop_eval', e)).version) AS v
			FROM public.shop AS e) AS d,
		 (SELECT sum(compensation.amount('shop_eval', e, 2)) AS s FROM public.shop_local AS e) AS l" 2>&1)
set -e
check "version 2 activated on the coordinator: the next statement uses it on the workers ($result; v1 $before)" \
	"$(cut -d'|' -f1 <<<"$result")" "$result"

# a reader: Citus propagates the role; the workers check its rights
q -c "CREATE ROLE citus_analyst LOGIN IN ROLE compensation_reader" \
	-c "GRANT SELECT ON public.shop, public.shop_local, public.shop_view, public.shop_local_view TO citus_analyst" >/dev/null
same_rows "as a compensation_reader: the per-row functions over the distributed table equal one node" \
	"$row_functions" public.shop public.shop_local -c "SET ROLE citus_analyst"
set +e
result=$(q -c "CREATE ROLE citus_outsider LOGIN IN ROLE compensation_reader" -c "SET ROLE citus_outsider" \
	-c "SELECT compensation.amount('shop_eval', e) FROM public.shop AS e LIMIT 1" 2>&1)
set -e
check "a role without rights on the source reads nothing through the twin" \
	"$(grep -q 'permission denied' <<<"$result" && echo t || echo f)" "$result"

# apply and simulate: the same strategy over the distributed table (and a
# view on it) and over the local copy, in one program (the holdout is salted
# by the program, the budget is shared and large), each in its own group
q <<'SQL' >/dev/null
SELECT compensation.set_budget('citus', '2026-Q4', 100000000, 'USD', 'm0');
SELECT compensation.set_budget('citus', '2026-Q4', 100000000, 'EUR', 'm0');
SELECT compensation.set_budget('citus', '2026-Q4', 100000000, 'USD', 'm1');
SELECT compensation.set_budget('citus', '2026-Q4', 100000000, 'USD', 'm2');
SELECT compensation.define_strategy(name, public.shop_spec(source, 'citus', 0.1, 0.1)),
	   compensation.activate(name)
  FROM (VALUES ('shop_dist', 'public.shop'), ('shop_local', 'public.shop_local'),
			   ('shop_dview', 'public.shop_view'), ('shop_lview', 'public.shop_local_view')) AS v(name, source);
-- tight budgets of their own: the order of the candidates decides who is paid
SELECT compensation.set_budget(program, '2026-Q4', 20000, 'USD')
  FROM (VALUES ('tight_dist'), ('tight_local')) AS v(program);
SELECT compensation.define_strategy(name, public.shop_spec(source, program, 0, 0.1)),
	   compensation.activate(name)
  FROM (VALUES ('tight_dist', 'public.shop', 'tight_dist'),
			   ('tight_local', 'public.shop_local', 'tight_local')) AS v(name, source, program);
SQL

cq=$(q -c "SELECT compensation.candidate_query('shop_dist', '2026-11-01')")
plan=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) $(sed "s/\\\$1/'strategy:shop_dist'/g; s/\\\$2/'-infinity'::timestamptz/; s/\\\$3/'infinity'::timestamptz/; s/\\\$4/'2026-11-01'::timestamptz/; s/\\\$5/0/" <<<"$cq")" 2>&1)
check "apply's candidate query: the workers evaluate the rule and filter on it (only candidates are shipped); the ledger is read on the coordinator, this group only" \
	"$(grep -A3 "Query: SELECT .*compensation.amount_spec('shop_dist'" <<<"$plan" | grep -q "FROM public.shop_1.*WHERE .*compensation.amount_spec(.*IS NOT NULL" &&
	   grep -A2 " on compensation.ledger" <<<"$plan" | grep -q "exclusive_group = 'strategy:shop_dist'" &&
	   echo t || echo f)" "$plan"

for as_of in 2026-10-20 2026-11-30 2026-12-31; do
	for pair in "shop_dist shop_local" "shop_dview shop_lview" "tight_dist tight_local"; do
		read -r distributed local_name <<<"$pair"
		set +e
		result=$(q -F ' ' -c "SELECT (SELECT row(candidates, granted, amount_by_currency, skipped_holdout, skipped_cap, skipped_budget,
									 skipped_duplicate, skipped_currency)::text
							FROM compensation.apply('$distributed', '$as_of')) AS d" \
					 -c "SELECT (SELECT row(candidates, granted, amount_by_currency, skipped_holdout, skipped_cap, skipped_budget,
									 skipped_duplicate, skipped_currency)::text
							FROM compensation.apply('$local_name', '$as_of')) AS l" 2>&1)
		set -e
		check "apply $distributed vs $local_name as of $as_of: the same counts ($(tr '\n' ' ' <<<"$result"))" \
			"$([ "$(sed -n 1p <<<"$result")" = "$(sed -n 2p <<<"$result")" ] && [ -n "$(sed -n 2p <<<"$result")" ] &&
			   ! grep -q ERROR <<<"$result" && echo t || echo f)" "$result"
	done
done
for pair in "shop_dist shop_local" "shop_dview shop_lview" "tight_dist tight_local"; do
	read -r distributed local_name <<<"$pair"
	set +e
	result=$(q -F ' ' -c "SELECT count(*) FILTER (WHERE d IS NOT DISTINCT FROM l), count(*), count(d.k)
		FROM (SELECT order_key AS k, row(amount_minor, currency, buyer, market, at, voided_at IS NULL)::text AS r
				FROM compensation.grants WHERE strategy = '$distributed') AS d
		FULL JOIN (SELECT order_key AS k, row(amount_minor, currency, buyer, market, at, voided_at IS NULL)::text AS r
					 FROM compensation.grants WHERE strategy = '$local_name') AS l USING (k)" \
		-c "SELECT count(*) FILTER (WHERE d IS NOT DISTINCT FROM l), count(*), count(d.k)
		FROM (SELECT order_key AS k, row(outcome, amount_minor, version)::text AS r
				FROM compensation.decisions WHERE strategy = '$distributed') AS d
		FULL JOIN (SELECT order_key AS k, row(outcome, amount_minor, version)::text AS r
					 FROM compensation.decisions WHERE strategy = '$local_name') AS l USING (k)" 2>&1)
	set -e
	read -r equal total grants <<<"$(sed -n 1p <<<"$result")" || true
	read -r equal2 total2 _ <<<"$(sed -n 2p <<<"$result")" || true
	check "apply $distributed vs $local_name: the same grants (order keys, amounts, buyers) and decisions ($(tr '\n' ' ' <<<"$result"))" \
		"$([ -n "${total2:-}" ] && [ "$equal" = "$total" ] && [ "${grants:-0}" -gt 0 ] &&
		   [ "$equal2" = "$total2" ] && [ "$total2" -gt "$total" ] && echo t || echo f)" "$result"
done

# a version authored by an admin who is not a superuser: apply reads the
# distributed source with the author's rights, on the workers too (Citus
# propagates the role and connects as it)
q -c "CREATE ROLE citus_admin LOGIN IN ROLE compensation_admin" \
	-c "GRANT SELECT ON public.shop, public.shop_local TO citus_admin" >/dev/null
set +e
result=$(PGOPTIONS="-c client_min_messages=warning" citus_psql "$coordinator" -At -U citus_admin \
	-c "SELECT compensation.define_strategy(name, public.shop_spec(source, 'citus', 0.1, 0.1)), compensation.activate(name)
		  FROM (VALUES ('author_dist', 'public.shop'), ('author_local', 'public.shop_local')) AS v(name, source)" 2>&1 &&
	q -F ' ' -c "SELECT (SELECT row(candidates, granted, amount_by_currency, skipped_holdout, skipped_cap)::text
					FROM compensation.apply('author_dist', '2026-12-31'))
				 = (SELECT row(candidates, granted, amount_by_currency, skipped_holdout, skipped_cap)::text
					FROM compensation.apply('author_local', '2026-12-31'))" \
		-c "SELECT count(*) FILTER (WHERE d IS NOT DISTINCT FROM l) = count(*) AND count(d.k) > 0
			FROM (SELECT order_key AS k, amount_minor FROM compensation.grants WHERE strategy = 'author_dist') AS d
			FULL JOIN (SELECT order_key AS k, amount_minor FROM compensation.grants WHERE strategy = 'author_local') AS l
			USING (k)" \
		-c "SELECT DISTINCT created_by FROM compensation.strategies WHERE name = 'author_dist'" 2>&1)
set -e
check "apply of a version authored by a non-superuser admin over the distributed table: the same grants as one node ($(tr '\n' ' ' <<<"$result"))" \
	"$([ "$(tail -3 <<<"$result" | tr '\n' ' ')" = "t t citus_admin " ] && echo t || echo f)" "$result"
q -c "REVOKE SELECT ON public.shop FROM citus_admin" >/dev/null
set +e
result=$(q -c "SELECT granted FROM compensation.apply('author_dist', '2026-12-31', dry_run => true)" 2>&1)
set -e
check "the author's right revoked: apply over the distributed table stops (42501)" \
	"$(grep -q 'may no longer read source public.shop' <<<"$result" && echo t || echo f)" "$result"

for pair in "shop_dist shop_local" "shop_dview shop_lview"; do
	read -r distributed local_name <<<"$pair"
	set +e
	result=$(q -F ' ' -c "SELECT count(*) FILTER (WHERE d IS NOT DISTINCT FROM l), count(*),
			count(*) FILTER (WHERE d.outcome = 'granted')
		FROM (SELECT order_key, outcome, amount, currency FROM compensation.simulate('$distributed',
				'2026-10-01', '2026-12-31', budget => 300000, budget_currency => 'USD', cadence => '7 days')) AS d
		FULL JOIN (SELECT order_key, outcome, amount, currency FROM compensation.simulate('$local_name',
				'2026-10-01', '2026-12-31', budget => 300000, budget_currency => 'USD', cadence => '7 days')) AS l
		USING (order_key)" 2>&1)
	set -e
	read -r equal total granted <<<"$(sed -n 1p <<<"$result")" || true
	check "simulate $distributed vs $local_name: the same outcome and amount for every order ($result)" \
		"$([ -n "${total:-}" ] && [ "$equal" = "$total" ] && [ "${granted:-0}" -gt 0 ] && echo t || echo f)" "$result"
done
set +e
result=$(q -F ' ' -c "SET ROLE citus_analyst" -c "SELECT count(*), count(*) FILTER (WHERE outcome = 'granted')
	FROM compensation.simulate('shop_dist', '2026-10-01', '2026-12-31', cadence => '7 days')" 2>&1)
set -e
check "simulate over the distributed table as a compensation_reader ($result)" \
	"$(grep -qE '^[1-9][0-9]* ' <<<"$result" && echo t || echo f)" "$result"

# ---- Olist: the oracle's strategies on distributed base tables -------------
olist_dir=${COMPENSATION_OLIST_DIR:-$COMP_ROOT/../shared/data/olist}
if [ -f "$olist_dir/olist_orders_dataset.csv" ]; then
	citus_psql "$coordinator" -v olist_dir="$olist_dir" -f examples/olist.sql >/dev/null
	# the same tables in schema olist_d: orders, items and reviews distributed
	# by order id (co-located), customers a reference table, the same view
	q <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE SCHEMA olist_d;
CREATE TABLE olist_d.customers (LIKE olist.customers INCLUDING ALL);
CREATE TABLE olist_d.orders (LIKE olist.orders INCLUDING ALL);
CREATE TABLE olist_d.order_items (LIKE olist.order_items);
CREATE TABLE olist_d.order_reviews (LIKE olist.order_reviews);
SELECT create_reference_table('olist_d.customers');
SELECT create_distributed_table('olist_d.orders', 'order_id', shard_count => 8);
SELECT create_distributed_table('olist_d.order_items', 'order_id', colocate_with => 'olist_d.orders');
SELECT create_distributed_table('olist_d.order_reviews', 'order_id', colocate_with => 'olist_d.orders');
INSERT INTO olist_d.customers SELECT * FROM olist.customers;
INSERT INTO olist_d.orders SELECT * FROM olist.orders;
INSERT INTO olist_d.order_items SELECT * FROM olist.order_items;
INSERT INTO olist_d.order_reviews SELECT * FROM olist.order_reviews;
SELECT format('CREATE VIEW olist_d.order_experience AS %s',
			  replace(pg_get_viewdef('olist.order_experience'::regclass), 'olist.', 'olist_d.')) \gexec
-- the view's rows in a distributed table, for the per-row functions
CREATE TABLE olist_d.experience AS SELECT * FROM olist.order_experience;
SELECT create_distributed_table('olist_d.experience', 'order_id', colocate_with => 'olist_d.orders');
ANALYZE olist_d.customers, olist_d.orders, olist_d.order_items, olist_d.order_reviews, olist_d.experience;
SELECT compensation.set_budget(program, '2018-Q4', 1e9, 'BRL')
  FROM (VALUES ('delivery'), ('reviews'), ('service')) AS v(program);
SELECT compensation.define_strategy(name || suffix, replace(spec, '"olist.', '"' || schema || '.')::jsonb)
  FROM (VALUES ('olist_late', $${
	"scenario": "late_delivery", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [
		{"col": "status", "op": "=", "value": "delivered"},
		{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3}]},
	"amount": {"type": "fixed", "value": 10,
			   "segment": {"col": "market", "multipliers": {"SP": 0.8, "RJ": 1.25}, "default": 1}},
	"instrument": "voucher", "program": "delivery", "max_age": null}$$),
	('olist_low_rating', $${
	"scenario": "low_rating", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "reviewed_at", "currency": "currency"},
	"when": {"all": [
		{"col": "rating", "op": "<=", "value": 2},
		{"not": {"col": "status", "op": "in", "value": ["canceled", "unavailable"]}}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.15, "min": 5, "max": 40},
	"instrument": "coupon", "program": "reviews", "max_age": null,
	"caps": {"per_buyer_count": {"max": 1, "window": "90 days"}}, "holdout": {"share": 0.1, "scope": "program"}}$$),
	('olist_tiered', $${
	"scenario": "poor_experience", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at"},
	"currency": "BRL",
	"when": {"any": [
		{"days": ["ordered_at", "delivered_at"], "op": ">", "value": 20},
		{"not": {"col": "rating", "op": ">=", "value": 3}},
		{"all": [{"col": "status", "op": "in", "value": ["canceled", "unavailable"]},
				 {"col": "items", "op": "between", "value": [1, 3]}]}]},
	"amount": {"type": "tiered", "by": "order_value",
			   "tiers": [{"to": 100, "amount": 5}, {"from": 100, "to": 500, "rate": 0.04},
						 {"from": 500, "amount": 25}],
			   "min": 1, "max": 22},
	"instrument": "points", "program": "service", "max_age": null}$$)) AS s(name, spec),
	   (VALUES ('', 'olist'), ('_d', 'olist_d')) AS v(suffix, schema);
SELECT compensation.activate(name) FROM compensation.strategy WHERE name LIKE 'olist%';
SQL
	for strategy in olist_late olist_low_rating olist_tiered; do
		same_rows "Olist $strategy: eligible(), amount(), evaluate() over the distributed rows equal one node order by order" \
			"compensation.eligible('$strategy', e), compensation.amount('$strategy', e), compensation.evaluate('$strategy', e)" \
			olist_d.experience olist.order_experience
	done
	# the oracle's figures, from the base tables (test/pgtap/oracle_olist.sql)
	set +e
	result=$(q -F ' ' -c "SELECT
		(SELECT count(*) FROM olist_d.experience AS e WHERE compensation.eligible('olist_late', e))
		  = (SELECT count(*) FROM olist.orders
			  WHERE order_status = 'delivered' AND order_delivered_customer_date IS NOT NULL
				AND order_estimated_delivery_date IS NOT NULL
				AND floor(extract(epoch FROM order_delivered_customer_date - order_estimated_delivery_date) / 86400) >= 3),
		(SELECT count(*) FROM olist_d.experience AS e WHERE compensation.eligible('olist_low_rating', e))
		  = (SELECT count(*) FROM olist.orders AS o
			  WHERE o.order_status NOT IN ('canceled', 'unavailable')
				AND EXISTS (SELECT FROM olist.order_items AS i WHERE i.order_id = o.order_id)
				AND (SELECT min(r.review_score) FROM olist.order_reviews AS r WHERE r.order_id = o.order_id) <= 2),
		(SELECT sum(compensation.amount('olist_low_rating', e)) FROM olist_d.experience AS e)
		  = (SELECT sum(least(greatest(round(v.total * 0.15, 2), 5), 40))
			   FROM olist.orders AS o
			   JOIN (SELECT order_id, sum(price + freight_value) AS total
					   FROM olist.order_items GROUP BY order_id) AS v USING (order_id)
			  WHERE o.order_status NOT IN ('canceled', 'unavailable')
				AND (SELECT min(r.review_score) FROM olist.order_reviews AS r WHERE r.order_id = o.order_id) <= 2),
		(SELECT count(*) FROM olist_d.experience AS e WHERE compensation.eligible('olist_late', e)),
		(SELECT sum(compensation.amount('olist_low_rating', e)) FROM olist_d.experience AS e)" 2>&1)
	set -e
	check "Olist on Citus: the oracle's counts and sums from the base tables hold ($result)" \
		"$([[ $result == "t t t "* ]] && echo t || echo f)" "$result"
	for strategy in olist_late olist_low_rating olist_tiered; do
		set +e
		result=$(q -F ' ' -c "SELECT (SELECT row(candidates, granted, amount_by_currency, skipped_holdout, skipped_cap)::text
								FROM compensation.apply('${strategy}_d', '2018-12-31'))
							 = (SELECT row(candidates, granted, amount_by_currency, skipped_holdout, skipped_cap)::text
								FROM compensation.apply('$strategy', '2018-12-31'))" \
			-c "SELECT count(*) FILTER (WHERE d IS NOT DISTINCT FROM l), count(*), count(d.k)
			FROM (SELECT order_key AS k, row(amount_minor, buyer, at)::text AS r
					FROM compensation.grants WHERE strategy = '${strategy}_d') AS d
			FULL JOIN (SELECT order_key AS k, row(amount_minor, buyer, at)::text AS r
						 FROM compensation.grants WHERE strategy = '$strategy') AS l USING (k)" 2>&1)
		set -e
		read -r equal total grants <<<"$(sed -n 2p <<<"$result")" || true
		check "Olist $strategy: apply over the distributed view gives the same grants as one node ($(tr '\n' ' ' <<<"$result"))" \
			"$([ "$(sed -n 1p <<<"$result")" = t ] && [ -n "${total:-}" ] && [ "$equal" = "$total" ] &&
			   [ "${grants:-0}" -gt 0 ] && echo t || echo f)" "$result"
	done
else
	echo "ok $((n + 1)) # skip the Olist data is not in $olist_dir"
	n=$((n + 1))
fi

if crashed=$(citus_server_crashed); then
	check "no backend of any node crashed" f "$crashed"
else
	check "no backend of any node crashed" t
fi
echo "1..$n"
[ $failed -eq 0 ]
