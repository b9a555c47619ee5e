-- budget_cutoff(), budget_cutoff_funded(), burn_series() and the logical
-- time of grants in budget_status() (issue #12): small hand-checked cases,
-- NULLs, ties, bad input, time zones with a daylight-saving change.  The
-- plain-SQL oracles on generated and Olist data are in
-- test/pgtap/oracle_budgets.sql.
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------------------
-- budget_cutoff(budget) WITHIN GROUP (ORDER BY score DESC, cost)
-- ---------------------------------------------------------------------------
-- Best first: scores 9, 8, 8 (ties broken by cost), 7, 5, then a NULL score
-- and a NULL cost, which are left out.  Cumulative cost: 4, 5, 8, 14, 16.
CREATE TABLE public.bc_candidates (id text, score numeric, cost numeric);
INSERT INTO public.bc_candidates VALUES
	('a', 9, 4.00), ('b', 8, 3.00), ('c', 8, 1.00), ('d', 7, 6.00), ('e', 5, 2.00),
	('f', NULL, 0.50), ('g', 6, NULL);
SELECT b AS budget,
	   compensation.budget_cutoff(b) WITHIN GROUP (ORDER BY score DESC, cost) AS cutoff,
	   compensation.budget_cutoff_funded(b) WITHIN GROUP (ORDER BY score DESC, cost) AS funded
  FROM public.bc_candidates,
	   (VALUES (0), (3.99), (4), (5), (7.99), (8), (13.99), (14), (15.99), (16), (1000)) AS v(b)
 GROUP BY b ORDER BY b;
-- budget 10: the cutoff is at 8 (4 + 1 + 3 = 8; d's 6 does not fit); a
-- greedy pass also funds e (2), below the cutoff: 10.00 in all
SELECT (compensation.budget_cutoff_funded(10) WITHIN GROUP (ORDER BY score DESC, cost)).*
  FROM public.bc_candidates;
-- the order is the WITHIN GROUP clause's: worst first, or costliest first
SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score, cost) AS worst_first,
	   compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score DESC, cost DESC) AS costliest_tie_first
  FROM public.bc_candidates;
-- any sortable score: integer, float8, text, timestamptz; the result has its type
SELECT compensation.budget_cutoff(8) WITHIN GROUP (ORDER BY score::integer DESC, cost) AS int_score,
	   pg_typeof(compensation.budget_cutoff(8) WITHIN GROUP (ORDER BY score::integer DESC, cost)) AS int_type,
	   compensation.budget_cutoff(8) WITHIN GROUP (ORDER BY score::float8 / 3 DESC, cost) AS float_score,
	   compensation.budget_cutoff(8) WITHIN GROUP (ORDER BY id DESC, cost) AS text_score,
	   compensation.budget_cutoff(8) WITHIN GROUP (ORDER BY timestamptz '2026-01-01' + score * interval '1 day' DESC, cost) AS ts_score
  FROM public.bc_candidates;
-- no rows, only NULLs, a NULL budget: NULL cutoff; funded counts zeros
-- (NULL with a NULL budget)
SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score DESC, cost) AS no_rows,
	   compensation.budget_cutoff_funded(10) WITHIN GROUP (ORDER BY score DESC, cost) AS no_rows_funded
  FROM public.bc_candidates WHERE false;
SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score DESC, cost) AS only_nulls,
	   compensation.budget_cutoff_funded(10) WITHIN GROUP (ORDER BY score DESC, cost) AS only_nulls_funded
  FROM public.bc_candidates WHERE score IS NULL OR cost IS NULL;
SELECT compensation.budget_cutoff(NULL) WITHIN GROUP (ORDER BY score DESC, cost) AS null_budget,
	   compensation.budget_cutoff_funded(NULL) WITHIN GROUP (ORDER BY score DESC, cost) AS null_budget_funded
  FROM public.bc_candidates;
-- zero-cost candidates always fit, even in a zero budget
SELECT compensation.budget_cutoff(0) WITHIN GROUP (ORDER BY s DESC, c) AS zero_budget,
	   compensation.budget_cutoff_funded(0) WITHIN GROUP (ORDER BY s DESC, c) AS zero_budget_funded
  FROM (VALUES (3, 0), (2, 0), (1, 1), (0, 0)) AS t(s, c);
-- exact: a thousand costs of 0.001 fill a budget of 1 exactly
SELECT compensation.budget_cutoff_funded(1) WITHIN GROUP (ORDER BY i DESC, 0.001) AS exact
  FROM generate_series(1, 1500) AS i;
-- per group, sorted or hashed, and several in one query over the same rows
-- (one shared sort, rescanned for each final call)
SELECT score > 6 AS high,
	   compensation.budget_cutoff(5) WITHIN GROUP (ORDER BY score DESC, cost) AS b5,
	   compensation.budget_cutoff(6) WITHIN GROUP (ORDER BY score DESC, cost) AS b6,
	   compensation.budget_cutoff_funded(6) WITHIN GROUP (ORDER BY score DESC, cost) AS f6
  FROM public.bc_candidates WHERE score IS NOT NULL
 GROUP BY score > 6 ORDER BY 1;
SET enable_hashagg = off;
SELECT score > 6 AS high,
	   compensation.budget_cutoff(5) WITHIN GROUP (ORDER BY score DESC, cost) AS b5
  FROM public.bc_candidates WHERE score IS NOT NULL
 GROUP BY score > 6 ORDER BY 1;
RESET enable_hashagg;
-- a sort larger than work_mem spills to disk; the answer is the same
SET work_mem = '64kB';
SELECT compensation.budget_cutoff(100000) WITHIN GROUP (ORDER BY (i * 7919) % 10007 DESC, i % 13) AS spilled,
	   compensation.budget_cutoff_funded(100000) WITHIN GROUP (ORDER BY (i * 7919) % 10007 DESC, i % 13) AS spilled_funded
  FROM generate_series(1, 50000) AS i;
RESET work_mem;
SELECT compensation.budget_cutoff(100000) WITHIN GROUP (ORDER BY (i * 7919) % 10007 DESC, i % 13) AS in_memory
  FROM generate_series(1, 50000) AS i;
-- bad input: the error names the argument and says what to do
\x on
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(-1) WITHIN GROUP (ORDER BY score DESC, cost) FROM public.bc_candidates$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff('NaN') WITHIN GROUP (ORDER BY score DESC, cost) FROM public.bc_candidates$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff_funded('Infinity') WITHIN GROUP (ORDER BY score DESC, cost) FROM public.bc_candidates$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY s DESC, c) FROM (VALUES (1, 2.00), (2, -0.01)) AS t(s, c)$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY s DESC, c) FROM (VALUES (1, 'NaN'::numeric)) AS t(s, c)$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY s DESC, c) FROM (VALUES (1, '-Infinity'::numeric)) AS t(s, c)$$);
-- an ordered-set aggregate needs WITHIN GROUP; its support functions run
-- only inside it
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(10, score, cost) FROM public.bc_candidates$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score DESC) FROM public.bc_candidates$$);
SELECT * FROM regress.error_of($$SELECT compensation.budget_cutoff(10) OVER () FROM public.bc_candidates$$);
\x off
-- not split across parallel workers, even when the scan is parallel
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score DESC, cost) FROM public.bc_candidates;
SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY score DESC, cost) AS parallel_scan
  FROM public.bc_candidates;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- ---------------------------------------------------------------------------
-- Grants count at the logical time (as_of) of the run that made them
-- ---------------------------------------------------------------------------
-- Quarter 2026-Q1: 90 days.  Budgets of 900.00 EUR (10.00 a day on the
-- even line) for all markets, and 45 JPY for JP.  Runs as of 2026-01-05,
-- -01-20 and -02-14 grant what was delivered by then (amount = value).
CREATE TABLE public.bs_src (order_id text, buyer_id text, at timestamptz, value numeric,
							currency text, market text);
INSERT INTO public.bs_src VALUES
	('o1', 'u1', '2026-01-02 10:00', 30.00, 'EUR', 'DE'),
	('o2', 'u2', '2026-01-04 23:30', 20.00, 'EUR', 'FR'),
	('o3', 'u3', '2026-01-15 08:00', 55.50, 'EUR', 'DE'),
	('o4', 'u4', '2026-01-19 12:00', 14.50, 'EUR', 'DE'),	-- voided on 2026-02-01
	('o5', 'u5', '2026-02-10 09:00', 100.00, 'EUR', 'FR'),
	('o6', 'u6', '2026-01-03 09:00', 7, 'JPY', 'JP'),
	('o7', 'u7', '2026-02-13 09:00', 5, 'JPY', 'JP');
SELECT compensation.set_budget('bs_prog', '2026-Q1', 900.00, 'EUR') > 0 AS all_markets,
	   compensation.set_budget('bs_prog', '2026-Q1', 45, 'JPY', 'JP') > 0 AS jp;
SELECT compensation.define_strategy('bs_strategy', jsonb_build_object(
		   'scenario', 'budgets', 'source', 'public.bs_src', 'program', 'bs_prog',
		   'instrument', 'voucher',
		   'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at',
									  'currency', 'currency', 'market', 'market'),
		   'when', jsonb_build_object('col', 'value', 'op', '>', 'value', 0),
		   'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 1),
		   'valid', jsonb_build_object('from', '2026-01-01', 'to', '2026-04-01'))) AS version,
	   compensation.activate('bs_strategy') AS active;
SELECT r.granted FROM unnest(ARRAY['2026-01-05', '2026-01-20', '2026-02-14']::timestamptz[]) AS a(as_of),
	   LATERAL compensation.apply('bs_strategy', a.as_of) AS r ORDER BY a.as_of;
-- the grants view shows each grant's logical time; created_at is the clock's
SELECT order_key, market, amount, as_of, created_at > as_of AS made_later_by_the_clock
  FROM compensation.grants WHERE strategy = 'bs_strategy' ORDER BY grant_id;
-- the void of o4 happened (logically) on 2026-02-01
UPDATE compensation.ledger SET voided_at = '2026-02-01', voided_by = current_user,
	   void_reason = 'order returned'
 WHERE order_key = 'o4' AND program = 'bs_prog';
-- as of 2026-01-10 only the first run's grants count, though every grant
-- was made before by the clock; as of 2026-01-25, o4 is not voided yet
SELECT as_of::date, market, spent, grants
  FROM unnest(ARRAY['2026-01-10', '2026-01-25', '2026-02-20']::timestamptz[]) AS a(as_of),
	   LATERAL compensation.budget_status('2026-Q1', a.as_of) AS s
 ORDER BY 1, 2 NULLS FIRST;

-- ---------------------------------------------------------------------------
-- burn_series(program, quarter, market, as_of)
-- ---------------------------------------------------------------------------
-- As of 2026-02-14 12:00 (44.5 of 90 days): 50.00 spent on 01-05, 55.50 on
-- 01-20 (o4's 14.50 was voided on 02-01, before as_of: gone from every
-- day), 100.00 on 02-14: 205.50.  Projection = 205.50 x elapsed at the end
-- of the day / 44.5 days: 02-14 ends at 45 days, 207.81 (207.8089..); the
-- quarter ends at 90 days, 415.62 = budget_status's projected_spend.
-- Days after as_of have no spent or cumulative.
SELECT * FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-02-14 12:00')
 WHERE day IN ('2026-01-01', '2026-01-04', '2026-01-05', '2026-01-06', '2026-01-20', '2026-01-31',
			   '2026-02-13', '2026-02-14', '2026-02-15', '2026-03-31')
 ORDER BY day;
SELECT count(*) AS days, min(day) AS first_day, max(day) AS last_day,
	   sum(spent) AS total_spent, max(cumulative) AS cumulative_as_of,
	   max(projected) AS projected_end, count(projected) AS projected_days,
	   count(allowance) AS allowance_days
  FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-02-14 12:00');
-- the series agrees with budget_status as of the same moment
SELECT s.spent = (SELECT cumulative FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-02-14 12:00')
				   WHERE day = '2026-02-14') AS cumulative_is_spent,
	   s.projected_spend = (SELECT projected FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-02-14 12:00')
							 WHERE day = '2026-03-31') AS projection_ends_at_projected_spend
  FROM compensation.budget_status('2026-Q1', '2026-02-14 12:00') AS s WHERE s.market IS NULL;
-- the market budget: yen, no decimals; the projection rounds half up
SELECT day, spent, cumulative, even_pace, projected
  FROM compensation.burn_series('bs_prog', '2026-Q1', 'JP', '2026-02-14 12:00')
 WHERE day IN ('2026-01-03', '2026-02-13', '2026-02-14', '2026-03-31') ORDER BY day;
-- paced 'even': the allowance is the even line less what was spent, on the
-- days up to as_of (negative: ahead of the line)
SELECT compensation.set_budget('bs_prog', '2026-Q1', 900.00, 'EUR', NULL, pacing => 'even') > 0 AS paced_even;
SELECT day, cumulative, even_pace, allowance
  FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-02-14 12:00')
 WHERE day IN ('2026-01-01', '2026-01-05', '2026-01-06', '2026-01-20', '2026-02-14', '2026-02-15')
 ORDER BY day;
-- as of before the quarter: nothing spent yet, no projection; after it:
-- every day has happened, no projection
SELECT count(spent) AS days_with_spent, count(projected) AS projected_days, max(even_pace) AS budget
  FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2025-12-31');
SELECT count(spent) AS days_with_spent, count(projected) AS projected_days, max(cumulative) AS spent
  FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-06-01');
-- as_of at the quarter's very start: the first day has begun, nothing
-- elapsed, so no projection (as burn())
SELECT count(spent) AS days_with_spent, count(projected) AS projected_days
  FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-01-01 00:00');

-- One row per local calendar day, in the session's TimeZone.  In
-- America/Sao_Paulo 2018-Q4 had a daylight-saving change at midnight
-- (2018-11-04 00:00 -03 became 01:00 -02): 92 days, one of 23 hours.
SET TimeZone = 'America/Sao_Paulo';
SELECT compensation.set_budget('bs_prog', '2018-Q4', 920.00, 'BRL') > 0 AS brl_budget;
SELECT count(*) AS days, min(day_start) AS first_start, max(day_start) AS last_start
  FROM compensation.burn_series('bs_prog', '2018-Q4', NULL, '2019-01-01');
SELECT day, day_start, lead(day_start) OVER (ORDER BY day) - day_start AS length, even_pace
  FROM compensation.burn_series('bs_prog', '2018-Q4', NULL, '2019-01-01')
 WHERE day BETWEEN '2018-11-02' AND '2018-11-05' ORDER BY day;
-- 2018-Q1 in Sao Paulo: 90 days, the DST end (2018-02-18) gives a 25-hour day
SELECT compensation.set_budget('bs_prog', '2018-Q1', 900.00, 'BRL') > 0 AS brl_budget_q1;
SELECT count(*) AS days, count(*) FILTER (WHERE l = interval '25 hours') AS long_days
  FROM (SELECT day, lead(day_start, 1, timestamptz '2018-04-01') OVER (ORDER BY day) - day_start AS l
		  FROM compensation.burn_series('bs_prog', '2018-Q1', NULL, '2019-01-01')) AS s;
-- quarters follow compensation.fiscal_start_month: from April, fiscal
-- 2026-Q2 is July to September
SET compensation.fiscal_start_month = 4;
SELECT compensation.set_budget('bs_prog', '2026-Q2', 910.00, 'EUR') > 0 AS fiscal_budget;
SELECT count(*) AS days, min(day) AS first_day, max(day) AS last_day
  FROM compensation.burn_series('bs_prog', '2026-Q2', NULL, '2026-01-01');
RESET compensation.fiscal_start_month;
SET TimeZone = 'UTC';

-- a reader may call everything here
SET ROLE compensation_reader;
SELECT count(*) AS reader_days FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, '2026-02-14');
SELECT compensation.budget_cutoff(10) WITHIN GROUP (ORDER BY s DESC, c) AS reader_cutoff
  FROM (VALUES (2, 4), (1, 7)) AS t(s, c);
RESET ROLE;

-- bad input: the error names the argument and says what to do
\x on
SELECT * FROM regress.error_of($$SELECT * FROM compensation.burn_series(NULL, '2026-Q1')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.burn_series('bs_prog', NULL)$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.burn_series('bs_prog', '2026-Q5')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.burn_series('bs_prog', '2026-Q1', NULL, NULL)$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.burn_series('bs_prog', '2026-Q1', 'NL')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.burn_series('no_such_program', '2026-Q3')$$);
\x off
