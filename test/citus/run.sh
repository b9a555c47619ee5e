#!/usr/bin/env bash
# test/citus/run.sh — the aggregates on a distributed table (issue #16).
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
q() { citus_psql "$coordinator" -At "$@"; }

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

if crashed=$(citus_server_crashed); then
	check "no backend of any node crashed" f "$crashed"
else
	check "no backend of any node crashed" t
fi
echo "1..$n"
[ $failed -eq 0 ]
