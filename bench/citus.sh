#!/usr/bin/env bash
# bench/citus.sh — burn(), uplift() and roi(), amount() and a dry run of
# apply over 1M rows: one node against a coordinator and two workers on this
# machine (Citus, test/citus/lib.sh).
#
#   bash bench/citus.sh [ROWS]        (default 1000000; as root or with sudo)
#
# Skipped (exit 77) when the Citus source (../shared/citus) is not there;
# builds Citus once (test/citus/build.sh, cached).  Both sides run in the
# same three servers: "one node" is a plain table on the coordinator,
# "distributed" the same rows in a table distributed by order id over the
# two workers (8 shards).  Each figure is the median of 5 runs after a
# warm-up.  The workers and the coordinator share this machine's cores:
# Citus runs the shards of both workers at once, so it uses every core
# where the serial one-node query uses one; one node with 2 parallel
# workers is the fair comparison on this machine, and there the ratio is
# Citus's overhead (planning, connections, shipping the partial states as
# text, the coordinator's combine), not a speed-up, which needs workers on
# machines of their own.  The built-in sum() and avg()/var_samp() are
# measured the same way: Citus pushes sum() down, but not var_samp() of
# numeric (its state is internal), so every row goes to the coordinator.
# amount() runs on the workers (the planner passes the version's spec, so
# they need no catalog); a dry run of apply evaluates the rule on the
# workers and ships only the candidates, decided on the coordinator.
# Not part of CI; prints a table, writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source test/lib.sh
source test/citus/lib.sh
comp_require_root "$@"
rows=${1:-1000000}
case $rows in '' | *[!0-9]*) echo "usage: $0 [ROWS]" >&2; exit 2 ;; esac
set +e
bash test/citus/build.sh
status=$?
set -e
[ $status -eq 0 ] || exit $status
comp_install_deps
comp_build_install
CITUS_SERVER_OPTIONS="-c shared_buffers=512MB -c work_mem=64MB -c jit=off -c autovacuum=off \
	-c max_parallel_workers_per_gather=0" citus_cluster_start
set -- $CITUS_PORTS
q() { PGOPTIONS="-c client_min_messages=warning" citus_psql "$1" -At; }

q "$1" <<SQL
CREATE EXTENSION compensation;
CREATE TABLE public.grants_local AS
SELECT i AS order_id, 'program_' || (i % 8) AS program,
	   (hashint8(i) & 1023) >= 51 AS treated,
	   round(1 + (hashint8(i * 7) & 65535) / 100.0, 2) AS amount,
	   round((hashint8(i * 13) & 1048575) / 1000.0, 2) AS outcome,
	   timestamptz '2026-10-01' + (i % 7776000) * interval '1 second' AS at
  FROM generate_series(1, $rows) AS i;
CREATE TABLE public.grants (LIKE public.grants_local);
SELECT create_distributed_table('public.grants', 'order_id', shard_count => 8);
INSERT INTO public.grants SELECT * FROM public.grants_local;
VACUUM (ANALYZE) public.grants_local;
VACUUM (ANALYZE) public.grants;
SET client_min_messages = warning;
SELECT compensation.set_budget('bench', '2026-Q4', 1e9, 'EUR');
SELECT compensation.define_strategy(name, jsonb_build_object(
	'scenario', 'bench', 'source', source, 'program', 'bench', 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'program', 'at', 'at'),
	'currency', 'EUR', 'max_age', null,
	'when', jsonb_build_object('all', jsonb_build_array(
		jsonb_build_object('col', 'treated', 'op', '=', 'value', true),
		jsonb_build_object('col', 'outcome', 'op', '>=', 'value', 900))),
	'amount', jsonb_build_object('type', 'percent', 'of', 'amount', 'rate', 0.1, 'min', 1))),
	   compensation.activate(name)
  FROM (VALUES ('bench_grants', 'public.grants'), ('bench_grants_local', 'public.grants_local')) AS v(name, source);
CREATE FUNCTION public.median_ms(query text, n integer DEFAULT 5) RETURNS numeric
LANGUAGE plpgsql AS \$fn\$
DECLARE
	times numeric[] := '{}';
	started timestamptz;
	ignored bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM (%s) AS q WHERE q IS NOT NULL', query) INTO ignored;
	FOR i IN 1 .. n LOOP
		started := clock_timestamp();
		EXECUTE format('SELECT count(*) FROM (%s) AS q WHERE q IS NOT NULL', query) INTO ignored;
		times := times || (extract(epoch FROM clock_timestamp() - started) * 1000)::numeric;
	END LOOP;
	RETURN round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) AS t)::numeric, 1);
END
\$fn\$;
SQL

echo
echo "Aggregates over $rows rows: one node (plain table on the coordinator) vs coordinator + 2 workers, $(nproc) cores"
echo
echo "| query | one node ms | one node, 2 parallel workers ms | Citus ms | Citus / one node | Citus / one node parallel |"
echo "|---|---:|---:|---:|---:|---:|"
while IFS='|' read -r label query; do
	local_ms=$(q "$1" <<<"SELECT public.median_ms(\$q\$$(printf "$query" public.grants_local)\$q\$)")
	parallel_ms=$(q "$1" <<<"SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;
		SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
		SELECT public.median_ms(\$q\$$(printf "$query" public.grants_local)\$q\$)")
	citus_ms=$(q "$1" <<<"SELECT public.median_ms(\$q\$$(printf "$query" public.grants)\$q\$)")
	ratio=$(q "$1" <<<"SELECT round($citus_ms / $local_ms, 2)")
	parallel_ratio=$(q "$1" <<<"SELECT round($citus_ms / $parallel_ms, 2)")
	echo "| $label | $local_ms | $parallel_ms | $citus_ms | $ratio | $parallel_ratio |"
done <<'QUERIES'
burn() per program|SELECT program, compensation.burn(amount, at, 1e10, '2026-Q4', timestamptz '2026-12-31') FROM %s GROUP BY program
sum(amount) per program|SELECT program, sum(amount) FROM %s GROUP BY program
uplift()|SELECT compensation.uplift(treated, outcome) FROM %s
roi()|SELECT compensation.roi(treated, outcome, amount) FROM %s
avg(outcome), var_samp(outcome)|SELECT avg(outcome), var_samp(outcome) FROM %s
sum(amount()) of every row|SELECT sum(compensation.amount('bench_grants', e)) FROM %s AS e
apply dry run (13% of the rows candidates)|SELECT * FROM compensation.apply(replace('%s', 'public.', 'bench_'), '2026-12-31', dry_run => true)
QUERIES
