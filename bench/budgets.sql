-- bench/budgets.sql — budget_status() and burn_series() over 10M grants,
-- budget_cutoff() over 10M candidates, against the plain SQL that computes
-- the same sums.  Run by bench/run after bench.sql (it uses
-- bench.median_ms and bench.record); writes 10M rows into the ledger.
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET jit = off;

-- A strategy for the grants to belong to (the grants view joins it).
CREATE TABLE bench.budgets_src (order_id text, buyer_id text, at timestamptz, currency text);
SELECT compensation.define_strategy('bench_budgets', jsonb_build_object(
	'scenario', 'bench', 'source', 'bench.budgets_src', 'instrument', 'voucher', 'program', 'bench_burn',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at', 'currency', 'currency'),
	'when', jsonb_build_object('col', 'order_id', 'op', 'is not null'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1)));
SELECT compensation.set_budget('bench_burn', '2026-Q4', 1e12, 'EUR');

-- 10,000,000 grants of one budget over 2026-Q4, made by runs every 5
-- minutes (their as_of), 1% voided three days later.  Deterministic.
INSERT INTO compensation.ledger (run_id, strategy_id, version, program, exclusive_group, order_key,
								 buyer, market, at, currency, amount_minor, instrument, budget_id,
								 as_of, voided_at, voided_by, void_reason)
SELECT 0, s.strategy_id, 1, 'bench_burn', 'bench_burn', 'o' || i, 'b' || (i % 1000003), NULL,
	   t.as_of - interval '1 hour', 'EUR', 100 + (hashint8(i) & 4095), 'voucher', b.budget_id, t.as_of,
	   CASE WHEN i % 100 = 0 THEN t.as_of + interval '3 days' END,
	   CASE WHEN i % 100 = 0 THEN 'bench' END,
	   CASE WHEN i % 100 = 0 THEN 'bench' END
  FROM generate_series(1, 10000000) AS i,
	   LATERAL (SELECT timestamptz '2026-10-01' + ((i::bigint * 26497) % 26496) * interval '5 minutes' AS as_of) AS t,
	   (SELECT strategy_id FROM compensation.strategy WHERE name = 'bench_budgets') AS s,
	   (SELECT budget_id FROM compensation.budget WHERE program = 'bench_burn') AS b;
VACUUM (ANALYZE) compensation.ledger;
SELECT budget_id AS burn_budget_id FROM compensation.budget WHERE program = 'bench_burn' \gset

-- as of 2026-12-15 12:00: 83% of the grants made, a few voided
\set status_query 'SELECT * FROM compensation.budget_status(''2026-Q4'', ''2026-12-15 12:00'')'
\set status_sql 'SELECT b.budget_id, sum(g.amount_minor) AS spent, count(g.amount_minor) AS grants FROM compensation.budgets AS b JOIN compensation.currency AS c ON c.code::text = b.currency LEFT JOIN compensation.grants AS g ON g.budget_id = b.budget_id AND g.as_of <= ''2026-12-15 12:00'' AND (g.voided_at IS NULL OR g.voided_at > ''2026-12-15 12:00'') WHERE b.quarter = ''2026-Q4'' GROUP BY b.budget_id'
\set series_query 'SELECT * FROM compensation.burn_series(''bench_burn'', ''2026-Q4'', NULL, ''2026-12-15 12:00'')'
\set series_sql 'SELECT d.day::date, coalesce(s.spent, 0) AS spent, s.grants, sum(coalesce(s.spent, 0)) OVER (ORDER BY d.day) AS cumulative FROM generate_series(timestamp ''2026-10-01'', ''2026-12-31'', ''1 day'') AS d(day) LEFT JOIN (SELECT g.as_of::date AS day, sum(g.amount_minor) AS spent, count(*) AS grants FROM compensation.grants AS g WHERE g.budget_id = ' :burn_budget_id ' AND g.as_of <= ''2026-12-15 12:00'' AND (g.voided_at IS NULL OR g.voided_at > ''2026-12-15 12:00'') GROUP BY 1) AS s ON s.day = d.day::date'

-- The same money, or the comparison means nothing.
SELECT (SELECT spent FROM compensation.budget_status('2026-Q4', '2026-12-15 12:00') WHERE program = 'bench_burn')
	 = (SELECT max(cumulative) / 100 FROM (:series_sql) AS x)
   AND (SELECT max(cumulative) FROM (:series_query) AS x)
	 = (SELECT max(cumulative) / 100 FROM (:series_sql) AS x)
   AND (SELECT array_agg(spent ORDER BY day) FROM (:series_query) AS x WHERE spent IS NOT NULL)
	 = (SELECT array_agg(spent / 100 ORDER BY day) FROM (:series_sql) AS x WHERE day <= '2026-12-15') AS budgets_agree \gset
\if :budgets_agree
\else
DO $$ BEGIN RAISE EXCEPTION 'bench: budget_status() or burn_series() disagree with the plain SQL'; END $$;
\endif

-- 10,000,000 candidates: 4096 distinct scores (ties), costs with two decimals.
CREATE TABLE bench.cutoff_candidates AS
SELECT round((hashint8(i) & 4095) / 64.0, 4) AS score,
	   round(1 + (hashint8(i * 7) & 65535) / 100.0, 2) AS cost
  FROM generate_series(1, 10000000) AS i;
VACUUM (ANALYZE) bench.cutoff_candidates;
SELECT sum(cost) / 2 AS half_cost FROM bench.cutoff_candidates \gset
\set cutoff_query 'SELECT compensation.budget_cutoff(' :half_cost ') WITHIN GROUP (ORDER BY score DESC, cost) FROM bench.cutoff_candidates'
\set funded_query 'SELECT compensation.budget_cutoff_funded(' :half_cost ') WITHIN GROUP (ORDER BY score DESC, cost) FROM bench.cutoff_candidates'
\set window_query 'SELECT score, sum(cost) OVER (ORDER BY score DESC, cost ROWS UNBOUNDED PRECEDING) AS cumulative FROM bench.cutoff_candidates'

SET max_parallel_workers_per_gather = 0;
SELECT (:cutoff_query) = (SELECT score FROM (:window_query) AS w WHERE cumulative <= :half_cost
						   ORDER BY cumulative DESC LIMIT 1) AS cutoff_agrees \gset
\if :cutoff_agrees
\else
DO $$ BEGIN RAISE EXCEPTION 'bench: budget_cutoff() disagrees with the window sum'; END $$;
\endif

SELECT bench.median_ms(:'status_sql') AS status_sql_ms \gset
SELECT bench.median_ms(:'status_query') AS status_ms \gset
SELECT bench.median_ms(:'series_sql') AS series_sql_ms \gset
SELECT bench.median_ms(:'series_query') AS series_ms \gset
SELECT bench.median_ms(:'window_query', 3) AS window_ms \gset
SELECT bench.median_ms(:'cutoff_query', 3) AS cutoff_ms \gset
SELECT bench.median_ms(:'funded_query', 3) AS funded_ms \gset
RESET max_parallel_workers_per_gather;

SELECT bench.record('budget_status(), 10M grants', 'the same sums in plain SQL over the same views',
					:status_ms, :status_sql_ms, '<= 1.5x', :status_ms <= 1.5 * :status_sql_ms, 'serial');
SELECT bench.record('burn_series(), one budget of 10M grants', 'per-day sums and cumulative in plain SQL',
					:series_ms, :series_sql_ms, '<= 1.5x', :series_ms <= 1.5 * :series_sql_ms, 'serial');
SELECT bench.record('budget_cutoff(), 10M candidates', 'sum(cost) OVER (ORDER BY score DESC, cost)',
					:cutoff_ms, :window_ms, '<= 1.5x', :cutoff_ms <= 1.5 * :window_ms,
					'budget = half the total cost; median of 3');
SELECT bench.record('budget_cutoff_funded(), 10M candidates', 'sum(cost) OVER (ORDER BY score DESC, cost)',
					:funded_ms, :window_ms, '<= 1.5x', :funded_ms <= 1.5 * :window_ms,
					'walks every row (the greedy pass); median of 3');
