-- test/pgtap/oracle_budgets.sql — budget_cutoff(), budget_cutoff_funded()
-- and burn_series() against plain-SQL oracles (issue #12), on generated
-- data and, when it is loaded (schema olist, test/run loads it from
-- COMPENSATION_OLIST_DIR), on the Olist data.
--
--   budget_cutoff: a window sum (sum(cost) OVER (ORDER BY score DESC, cost
--     ROWS UNBOUNDED PRECEDING)) over the rows with a score and a cost; the
--     greedy pass of budget_cutoff_funded: a recursive query over the ranked
--     rows.  Generated data has ties in score and in (score, cost), NULL
--     scores and costs, zero costs; budgets at and around the boundaries.
--   burn_series: generate_series of timestamptz days in the session's
--     TimeZone (UTC and America/Sao_Paulo), grants summed per day by
--     timestamp ranges, exact division, for 2018-Q1 and 2018-Q4 (Olist:
--     2018-Q1 and 2017-Q4; Sao Paulo changed clocks in each), grants made by
--     apply() runs at many as_of times, some voided.
-- Everything is rolled back.

SELECT to_regnamespace('olist') IS NOT NULL
	   AND to_regclass('olist.order_experience') IS NOT NULL AS oracle_have_olist \gset

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;

SELECT * FROM no_plan();

-- ---------------------------------------------------------------------------
-- budget_cutoff: the oracle
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE oracle_candidates (score numeric, cost numeric);
CREATE TEMP TABLE oracle_budget (budget numeric);

-- The ranked rows: best first, with the running cost.
CREATE TEMP TABLE oracle_ranked (rn bigint PRIMARY KEY, score numeric, cost numeric, cumulative numeric);
CREATE FUNCTION pg_temp.oracle_rank() RETURNS void LANGUAGE sql AS $$
	TRUNCATE oracle_ranked;
	INSERT INTO oracle_ranked
	SELECT row_number() OVER w, score, cost, sum(cost) OVER w
	  FROM oracle_candidates
	 WHERE score IS NOT NULL AND cost IS NOT NULL
	WINDOW w AS (ORDER BY score DESC, cost ROWS UNBOUNDED PRECEDING);
	ANALYZE oracle_ranked;
$$;

-- Per budget: the cutoff (the last row whose running cost fits: costs are
-- never negative, so those rows are a prefix), the count and cost funded,
-- and the greedy pass.
CREATE FUNCTION pg_temp.oracle_cutoff()
RETURNS TABLE (budget numeric, cutoff numeric, funded bigint, funded_cost numeric,
			   greedy_funded bigint, greedy_cost numeric, candidates bigint)
LANGUAGE sql AS $$
	SELECT b.budget,
		   (SELECT r.score FROM oracle_ranked AS r WHERE r.cumulative <= b.budget ORDER BY r.rn DESC LIMIT 1),
		   (SELECT count(*) FROM oracle_ranked AS r WHERE r.cumulative <= b.budget),
		   (SELECT coalesce(max(r.cumulative), 0) FROM oracle_ranked AS r WHERE r.cumulative <= b.budget),
		   g.n, g.spent,
		   (SELECT count(*) FROM oracle_ranked)
	  FROM oracle_budget AS b,
		   LATERAL (WITH RECURSIVE walk(rn, remaining, n, spent) AS (
						SELECT 0::bigint, b.budget, 0::bigint, 0::numeric
						UNION ALL
						SELECT w.rn + 1,
							   CASE WHEN r.cost <= w.remaining THEN w.remaining - r.cost ELSE w.remaining END,
							   w.n + CASE WHEN r.cost <= w.remaining THEN 1 ELSE 0 END,
							   w.spent + CASE WHEN r.cost <= w.remaining THEN r.cost ELSE 0 END
						  FROM walk AS w JOIN oracle_ranked AS r ON r.rn = w.rn + 1)
					SELECT n, spent FROM walk ORDER BY rn DESC LIMIT 1) AS g
$$;

-- Both aggregates in one query over the same rows: they share one sort.
CREATE FUNCTION pg_temp.engine_cutoff()
RETURNS TABLE (budget numeric, cutoff numeric, funded bigint, funded_cost numeric,
			   greedy_funded bigint, greedy_cost numeric, candidates bigint)
LANGUAGE sql AS $$
	SELECT b.budget, x.cutoff,
		   (x.f).funded, (x.f).funded_cost, (x.f).greedy_funded, (x.f).greedy_cost, (x.f).candidates
	  FROM oracle_budget AS b,
		   LATERAL (SELECT compensation.budget_cutoff(b.budget)
							   WITHIN GROUP (ORDER BY c.score DESC, c.cost) AS cutoff,
						   compensation.budget_cutoff_funded(b.budget)
							   WITHIN GROUP (ORDER BY c.score DESC, c.cost) AS f
					  FROM oracle_candidates AS c) AS x
$$;

-- Budgets around the interesting points: nothing, the first candidate's
-- cost, running totals exactly and one cent below, everything.
CREATE FUNCTION pg_temp.oracle_budgets() RETURNS void LANGUAGE sql AS $$
	TRUNCATE oracle_budget;
	INSERT INTO oracle_budget
	SELECT DISTINCT b FROM (
		SELECT unnest(ARRAY[0, 0.01, 1, 100, 1000, 12345.67, 1e12]::numeric[]) AS b
		UNION ALL
		SELECT greatest(r.cumulative + d, 0)
		  FROM oracle_ranked AS r, unnest(ARRAY[-0.01, 0, 0.01]) AS d
		 WHERE r.rn IN (1, 2, 17, 100, 1234, (SELECT count(*) / 2 FROM oracle_ranked),
						(SELECT count(*) FROM oracle_ranked))) AS x;
$$;

-- Generated: 6000 candidates; scores in 0 .. 7.75 by quarters (many ties),
-- costs with two decimals, every 17th free, NULL scores and costs.
INSERT INTO oracle_candidates
SELECT CASE WHEN i % 53 = 0 THEN NULL ELSE (hashint4(i) & 31) / 4.0 END,
	   CASE WHEN i % 61 = 0 THEN NULL
			WHEN i % 17 = 0 THEN 0
			ELSE round((hashint4(i * 7) & 4095) / 100.0, 2) END
  FROM generate_series(1, 6000) AS i;
-- and exact duplicates of some rows (ties in score and cost)
INSERT INTO oracle_candidates SELECT * FROM oracle_candidates WHERE score > 7 LIMIT 200;
SELECT pg_temp.oracle_rank();
SELECT pg_temp.oracle_budgets();

SELECT ok((SELECT count(*) FROM oracle_budget) >= 20, 'generated: budgets to check');
SELECT results_eq('SELECT * FROM pg_temp.engine_cutoff() ORDER BY budget',
				  'SELECT * FROM pg_temp.oracle_cutoff() ORDER BY budget',
				  'generated: budget_cutoff and budget_cutoff_funded equal the window-sum and greedy oracles at every budget');
SELECT ok((SELECT bool_or(funded < greedy_funded) FROM pg_temp.oracle_cutoff()),
		  'generated: at some budget the greedy pass funds more than the cutoff');
-- the same with a sort that spills to disk
SET LOCAL work_mem = '64kB';
SELECT results_eq('SELECT * FROM pg_temp.engine_cutoff() ORDER BY budget',
				  'SELECT * FROM pg_temp.oracle_cutoff() ORDER BY budget',
				  'generated: the same when the sort spills to disk (work_mem 64kB)');
RESET work_mem;
-- scores as float8 (another sort): the same cutoffs
SELECT is((SELECT array_agg(x.c ORDER BY b.budget)
			 FROM oracle_budget AS b,
				  LATERAL (SELECT compensation.budget_cutoff(b.budget)
									  WITHIN GROUP (ORDER BY c.score::float8 DESC, c.cost) AS c
							 FROM oracle_candidates AS c) AS x),
		  (SELECT array_agg(o.cutoff::float8 ORDER BY o.budget) FROM pg_temp.oracle_cutoff() AS o),
		  'generated: float8 scores give the same cutoffs');

-- ---------------------------------------------------------------------------
-- burn_series: the oracle
-- ---------------------------------------------------------------------------
-- The all-markets budget of program and quarter, whose first day is
-- first_day and whose next quarter starts on next_first_day (calendar
-- quarters: the oracle is told them).  Days from a timestamptz series (its
-- dates are the local days, whatever daylight saving does to its times),
-- grants summed per day by timestamp range (those before the quarter on its
-- first day, after it on its last), exact integer division.
CREATE FUNCTION pg_temp.oracle_series(p_program text, p_quarter text, first_day date,
									  next_first_day date, p_as_of timestamptz)
RETURNS TABLE (day date, day_start timestamptz, budget numeric, spent numeric, grants bigint,
			   cumulative numeric, even_pace numeric, projected numeric, allowance numeric)
LANGUAGE sql STABLE AS $$
	WITH b AS (
		SELECT bu.budget_id, bu.amount_minor, bu.pacing, c.minor_unit::integer AS e,
			   10::numeric ^ c.minor_unit AS unit
		  FROM compensation.budgets AS bu JOIN compensation.currency AS c ON c.code::text = bu.currency
		 WHERE bu.program = p_program AND bu.quarter = p_quarter AND bu.market IS NULL),
	q AS (SELECT first_day::timestamptz AS qs, next_first_day::timestamptz AS qe),
	g AS (SELECT gr.as_of, gr.amount_minor
			FROM compensation.grants AS gr, b
		   WHERE gr.budget_id = b.budget_id AND gr.as_of <= p_as_of
			 AND (gr.voided_at IS NULL OR gr.voided_at > p_as_of)),
	days AS (SELECT DISTINCT t::date AS day
			   FROM q, generate_series(q.qs, q.qe - interval '1 microsecond', interval '1 day') AS t),
	per AS (SELECT d.day, d.day::timestamptz AS ds, least((d.day + 1)::timestamptz, q.qe) AS de,
				   (SELECT coalesce(sum(g.amount_minor), 0) FROM g
					 WHERE (g.as_of >= d.day::timestamptz OR d.day = first_day)
					   AND (g.as_of < (d.day + 1)::timestamptz OR d.day = next_first_day - 1)) AS spent_minor,
				   (SELECT count(*) FROM g
					 WHERE (g.as_of >= d.day::timestamptz OR d.day = first_day)
					   AND (g.as_of < (d.day + 1)::timestamptz OR d.day = next_first_day - 1)) AS n
			  FROM days AS d, q),
	run AS (SELECT per.*, sum(per.spent_minor) OVER (ORDER BY per.day) AS cum,
				   sum(per.spent_minor) OVER () AS total,
				   extract(epoch FROM per.de - q.qs) AS end_s,
				   extract(epoch FROM q.qe - q.qs) AS quarter_s,
				   extract(epoch FROM least(greatest(p_as_of, q.qs), q.qe) - q.qs) AS elapsed_s
			  FROM per, q)
	SELECT r.day, r.ds, round(b.amount_minor / b.unit, b.e),
		   CASE WHEN r.ds <= p_as_of THEN round(r.spent_minor / b.unit, b.e) END,
		   CASE WHEN r.ds <= p_as_of THEN r.n END,
		   CASE WHEN r.ds <= p_as_of THEN round(r.cum / b.unit, b.e) END,
		   round(div(b.amount_minor * r.end_s, r.quarter_s) / b.unit, b.e),
		   CASE WHEN r.de > p_as_of AND r.elapsed_s > 0
				THEN round(round((r.total * r.end_s)::numeric(60, 30) / r.elapsed_s) / b.unit, b.e) END,
		   CASE WHEN b.pacing = 'even' AND r.ds <= p_as_of
				THEN round((div(b.amount_minor * r.end_s, r.quarter_s) - r.cum) / b.unit, b.e) END
	  FROM run AS r, b
	 ORDER BY r.day
$$;

-- Compare burn_series with the oracle for a budget in both time zones, as
-- of several moments; also, for a moment within the quarter, its last
-- cumulative and projection with budget_status.  Returns the TAP lines.
CREATE FUNCTION pg_temp.check_series(label text, p_program text, p_quarter text, first_day date,
									 next_first_day date, as_ofs timestamptz[])
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	zone text;
	t timestamptz;
BEGIN
	FOREACH zone IN ARRAY ARRAY['UTC', 'America/Sao_Paulo'] LOOP
		PERFORM set_config('TimeZone', zone, true);
		RETURN NEXT is((SELECT count(*) FROM compensation.burn_series(p_program, p_quarter, NULL, as_ofs[1])),
					   (next_first_day - first_day)::bigint,
					   format('%s, %s: one row per calendar day (%s)', label, zone, next_first_day - first_day));
		FOREACH t IN ARRAY as_ofs LOOP
			RETURN NEXT results_eq(
				format('SELECT * FROM compensation.burn_series(%L, %L, NULL, %L)', p_program, p_quarter, t),
				format('SELECT * FROM pg_temp.oracle_series(%L, %L, %L, %L, %L)', p_program, p_quarter,
					   first_day, next_first_day, t),
				format('%s, %s, as of %s: burn_series equals the plain-SQL series', label, zone, t));
			-- (before the quarter the series has no cumulative yet, after it
			-- no projection: compared within it)
			CONTINUE WHEN t <= first_day::timestamptz OR t >= next_first_day::timestamptz;
			RETURN NEXT is(
				(SELECT row(s.spent, s.projected_spend)::text
				   FROM compensation.budget_status(p_quarter, t) AS s
				  WHERE s.program = p_program AND s.market IS NULL),
				(SELECT row(max(x.cumulative), (array_agg(x.projected ORDER BY x.day DESC))[1])::text
				   FROM compensation.burn_series(p_program, p_quarter, NULL, t) AS x),
				format('%s, %s, as of %s: the last cumulative and projection are budget_status''s spent and projected_spend',
					   label, zone, t));
		END LOOP;
	END LOOP;
	PERFORM set_config('TimeZone', 'UTC', true);
END
$$;

-- ---------------------------------------------------------------------------
-- burn_series on generated grants: 2018-Q1 and 2018-Q4
-- ---------------------------------------------------------------------------
-- 4000 orders delivered over both quarters; runs every 2 days at 01:30 UTC
-- (the evening before in Sao Paulo), and at noon, so that the day of a
-- grant depends on the time zone.
CREATE TABLE public.oracle_budgets_src (order_id text, buyer_id text, at timestamptz,
										value numeric, currency text, market text);
INSERT INTO public.oracle_budgets_src
SELECT 'gen' || i, 'buyer' || (i % 1500),
	   CASE WHEN i % 2 = 0 THEN timestamptz '2018-01-01 00:00 UTC' ELSE timestamptz '2018-10-01 00:00 UTC' END
		 + ((hashint4(i) & 1048575) % (90 * 24 * 60)) * interval '1 minute',
	   round(5 + (hashint4(i * 3) & 16383) / 100.0, 2), 'BRL', 'SP'
  FROM generate_series(1, 4000) AS i;
SELECT ok(compensation.set_budget('oracle_budgets', '2018-Q1', 4000.00, 'BRL') > 0
		  AND compensation.set_budget('oracle_budgets', '2018-Q4', 3000.00, 'BRL') > 0,
		  'generated: budgets set');
SELECT is(compensation.define_strategy('oracle_budgets_gen', $${
	"scenario": "budgets", "source": "public.oracle_budgets_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "value": "value",
			 "currency": "currency", "market": "market"},
	"when": {"col": "value", "op": ">", "value": 0},
	"amount": {"type": "percent", "of": "value", "rate": 0.1, "min": 1, "max": 15},
	"instrument": "voucher", "program": "oracle_budgets"}$$), 1, 'generated: strategy defined');
SELECT is(compensation.activate('oracle_budgets_gen'), 1, 'generated: strategy active');
SELECT ok(sum(r.granted) > 0, 'generated: runs granted')
  FROM (SELECT t FROM generate_series(timestamptz '2018-01-01 01:30 UTC', '2018-04-02', interval '2 days') AS t
		UNION ALL
		SELECT t FROM generate_series(timestamptz '2018-10-01 12:00 UTC', '2019-01-02', interval '2 days') AS t
		ORDER BY 1) AS a,
	   LATERAL compensation.apply('oracle_budgets_gen', a.t) AS r;
-- some grants voided on a logical date within the quarter
UPDATE compensation.ledger SET voided_at = as_of + interval '20 days', voided_by = current_user,
	   void_reason = 'oracle'
 WHERE program = 'oracle_budgets' AND grant_id % 29 = 0;
-- 2018-Q1 paced even (set after the runs, so the runs are the same)
SELECT ok(compensation.set_budget('oracle_budgets', '2018-Q1', 4000.00, 'BRL', NULL, pacing => 'even') > 0,
		  'generated: 2018-Q1 paced even');

SELECT * FROM pg_temp.check_series('generated 2018-Q1', 'oracle_budgets', '2018-Q1', '2018-01-01', '2018-04-01',
	ARRAY['2018-02-14 15:00 UTC', '2018-02-18 02:30 UTC', '2017-12-01', '2018-01-01 03:00 UTC', '2018-06-01']::timestamptz[]);
SELECT * FROM pg_temp.check_series('generated 2018-Q4', 'oracle_budgets', '2018-Q4', '2018-10-01', '2019-01-01',
	ARRAY['2018-11-04 02:59 UTC', '2018-11-04 03:00 UTC', '2018-12-31 23:59 UTC']::timestamptz[]);

-- ---------------------------------------------------------------------------
-- Olist
-- ---------------------------------------------------------------------------
\if :oracle_have_olist

-- budget_cutoff: late deliveries ranked by days late, cost 10% of the
-- order (NULL when it has no items; NULL score when not delivered)
TRUNCATE oracle_candidates;
INSERT INTO oracle_candidates
SELECT delivered_at::date - promised_at::date, round(order_value * 0.1, 2)
  FROM olist.order_experience;
SELECT pg_temp.oracle_rank();
SELECT pg_temp.oracle_budgets();
SELECT ok((SELECT count(*) FROM oracle_ranked) > 10000
		  AND (SELECT count(*) FROM oracle_candidates WHERE score IS NULL OR cost IS NULL) > 0,
		  'olist: candidates with scores, costs and NULLs');
SELECT results_eq('SELECT * FROM pg_temp.engine_cutoff() ORDER BY budget',
				  'SELECT * FROM pg_temp.oracle_cutoff() ORDER BY budget',
				  'olist: budget_cutoff and budget_cutoff_funded equal the window-sum and greedy oracles at every budget');

-- burn_series: a voucher for every delivered order, runs every 3 days
SELECT ok(compensation.set_budget('oracle_budgets_olist', '2017-Q4', 20000.00, 'BRL') > 0
		  AND compensation.set_budget('oracle_budgets_olist', '2018-Q1', 25000.00, 'BRL') > 0,
		  'olist: budgets set');
SELECT is(compensation.define_strategy('oracle_budgets_olist', $${
	"scenario": "late_delivery", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"col": "status", "op": "=", "value": "delivered"},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.1, "min": 2, "max": 20},
	"instrument": "voucher", "program": "oracle_budgets_olist",
	"valid": {"from": "2017-10-01", "to": "2018-04-01"}}$$), 1, 'olist: strategy defined');
SELECT is(compensation.activate('oracle_budgets_olist'), 1, 'olist: strategy active');
SELECT ok(sum(r.granted) > 1000, 'olist: runs granted')
  FROM (SELECT t FROM generate_series(timestamptz '2017-10-01 01:30 UTC', '2018-04-01', interval '3 days') AS t) AS a,
	   LATERAL compensation.apply('oracle_budgets_olist', a.t) AS r;
UPDATE compensation.ledger SET voided_at = as_of + interval '10 days', voided_by = current_user,
	   void_reason = 'oracle'
 WHERE program = 'oracle_budgets_olist' AND grant_id % 31 = 0;
SELECT ok(compensation.set_budget('oracle_budgets_olist', '2017-Q4', 20000.00, 'BRL', NULL, pacing => 'even') > 0,
		  'olist: 2017-Q4 paced even');

SELECT * FROM pg_temp.check_series('olist 2017-Q4', 'oracle_budgets_olist', '2017-Q4', '2017-10-01', '2018-01-01',
	ARRAY['2017-10-15 02:00 UTC', '2017-11-20 12:00 UTC', '2018-02-01']::timestamptz[]);
SELECT * FROM pg_temp.check_series('olist 2018-Q1', 'oracle_budgets_olist', '2018-Q1', '2018-01-01', '2018-04-01',
	ARRAY['2018-02-18 02:00 UTC', '2018-03-10 18:00 UTC']::timestamptz[]);

\else

SELECT skip('Olist data not loaded (COMPENSATION_OLIST_DIR)');

\endif

SELECT * FROM finish();

ROLLBACK;
