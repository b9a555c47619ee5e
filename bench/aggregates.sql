-- bench/aggregates.sql — burn() and uplift() over 10M grants, against the
-- built-in aggregates they are made of.  Run by bench/run after bench.sql
-- (it uses bench.median_ms and bench.record).
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET jit = off;

-- 10,000,000 grants of 8 programs over 2026-Q4, amounts in cents, about 5%
-- held out, and an outcome per buyer (what they spent afterwards).
-- Deterministic: hashes of the row number, no random().
CREATE TABLE bench.grants AS
SELECT 'program_' || (i % 8) AS program,
	   (hashint8(i) & 1023) >= 51 AS treated,
	   round(1 + (hashint8(i * 7) & 65535) / 100.0, 2) AS amount,
	   round((hashint8(i * 13) & 1048575) / 1000.0, 2) AS outcome,
	   timestamptz '2026-10-01' + (i % 7776000) * interval '1 second' AS at
  FROM generate_series(1, 10000000) AS i;
VACUUM (ANALYZE) bench.grants;

-- as of the last day of the quarter, after every grant: all of them are spent
\set burn_query 'SELECT program, compensation.burn(amount, at, 10000000000, ''2026-Q4'', timestamptz ''2026-12-31'') FROM bench.grants GROUP BY program'
\set sum_query 'SELECT program, sum(amount) FROM bench.grants GROUP BY program'
\set uplift_query 'SELECT compensation.uplift(treated, outcome) FROM bench.grants'
\set avg_var_query 'SELECT avg(outcome), var_samp(outcome) FROM bench.grants'

-- The same money and the same statistics, or the comparison means nothing.
SELECT (SELECT array_agg((b).spent ORDER BY program) FROM (:burn_query) AS x(program, b))
	 = (SELECT array_agg(s ORDER BY program) FROM (:sum_query) AS x(program, s))
   AND (SELECT (u).treated_n + (u).control_n FROM (:uplift_query) AS x(u))
	 = (SELECT count(outcome) FROM bench.grants) AS aggregates_agree \gset
\if :aggregates_agree
\else
DO $$ BEGIN RAISE EXCEPTION 'bench: burn() or uplift() disagree with the built-in aggregates'; END $$;
\endif

SET max_parallel_workers_per_gather = 0;
SELECT bench.median_ms(:'sum_query') AS sum_ms \gset
SELECT bench.median_ms(:'burn_query') AS burn_ms \gset
SELECT bench.median_ms(:'avg_var_query') AS avg_var_ms \gset
SELECT bench.median_ms(:'uplift_query') AS uplift_ms \gset

SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT bench.median_ms(:'burn_query') AS burn_par_ms \gset
SELECT bench.median_ms(:'uplift_query') AS uplift_par_ms \gset
SELECT bench.median_ms(:'sum_query') AS sum_par_ms \gset
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

SELECT bench.record('burn() per program, 10M grants', 'sum(amount) per program',
					:burn_ms, :sum_ms, '<= 1.5x', :burn_ms <= 1.5 * :sum_ms);
SELECT bench.record('uplift(), 10M rows', 'avg(outcome), var_samp(outcome)',
					:uplift_ms, :avg_var_ms, '<= 1.5x', :uplift_ms <= 1.5 * :avg_var_ms);
SELECT bench.record('burn(), 2 parallel workers', 'burn() serial',
					:burn_par_ms, :burn_ms, 'speedup >= 1.6x', :burn_ms >= 1.6 * :burn_par_ms,
					format('speedup %s; sum(amount) with 2 workers: %s ms (speedup %s)',
						   round(:burn_ms / :burn_par_ms, 2), :sum_par_ms, round(:sum_ms / :sum_par_ms, 2)));
SELECT bench.record('uplift(), 2 parallel workers', 'uplift() serial',
					:uplift_par_ms, :uplift_ms, 'speedup >= 1.6x', :uplift_ms >= 1.6 * :uplift_par_ms,
					format('speedup %s', round(:uplift_ms / :uplift_par_ms, 2)));
