-- burn(), uplift(), roi(), student_t_quantile(), budget_status(): small
-- cases computed by hand (the expected values are in the comments), the
-- errors, parallel plans against serial ones, and budget_status over grants
-- made by apply().
SET TimeZone = 'UTC';
SET extra_float_digits = 0;		-- 15 significant digits: libm may differ in the last bit

-- The aggregates and their support functions pin no search_path (a SET
-- clause would save and restore a setting on every row; they resolve no
-- name), unlike student_t_quantile and budget_status.
SELECT p.oid::regprocedure::text AS analysis_function, p.prokind,
	   coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false) AS pinned_search_path
  FROM pg_proc p
 WHERE p.pronamespace = 'compensation'::regnamespace
   AND p.proname ~ '^(burn|uplift|roi|student_t_quantile|budget_status)'
 ORDER BY 1;

-- ---------------------------------------------------------------------------
-- burn
-- ---------------------------------------------------------------------------
-- 2026-Q4 runs 92 days, 2026-10-01 to 2027-01-01.  As of 2026-11-15 00:00,
-- 45 days have elapsed: share_elapsed = 45/92 = 0.489130434782609.
CREATE TABLE public.an_spend (case_name text, amount numeric, at timestamptz);
INSERT INTO public.an_spend VALUES
	-- under: spent 300.50; daily 300.50/45 = 6.67777.. -> 6.6778 (scale 2 + 2);
	-- projected 300.50*92/45 = 614.3555.. -> 614.36 < 950 (95% of 1000);
	-- at this pace 1000 lasts 1000*45/300.50 = 149.75 days > 92: no exhaustion.
	-- The NULL amount is no grant; the amount dated after as_of is not yet spent.
	('under', 100.00, '2026-10-02'), ('under', 200.50, '2026-11-01'),
	('under', NULL, '2026-11-02'), ('under', 5.00, '2026-12-01'),
	-- on_track: 480.00 -> projected 981.33 in [950, 1050]; daily 10.6667;
	-- exhaustion 1000*45/480 = 93.75 days: after the quarter's end, NULL
	('on_track', 480.00, '2026-10-20'),
	-- over: 600.00 -> projected 1226.67 > 1050; daily 13.3333; lasts
	-- 1000*45/600 = 75 days: 2026-10-01 + 75 days = 2026-12-15 00:00
	('over', 250.00, '2026-10-05'), ('over', 350.00, '2026-11-14'),
	-- exhausted: spent 1000.00 >= 1000: exhausted, exhaustion = as_of
	('exhausted', 600.00, '2026-10-03'), ('exhausted', 400.00, '2026-11-01'),
	-- negative amounts (a correction) are summed as they are: 50.00
	('negative', 80.00, '2026-10-03'), ('negative', -30.00, '2026-10-04'),
	-- one row
	('one', 12.34, '2026-11-01');

SELECT case_name, (compensation.burn(amount, at, 1000, '2026-Q4', '2026-11-15')).*
  FROM public.an_spend GROUP BY case_name ORDER BY case_name;

-- The 105% and 95% lines themselves are on_track.  Budget 920, 45 of 92
-- days: projected = spent * 92/45; spent 472.50 projects 966 = 1.05 * 920,
-- spent 427.50 projects 874 = 0.95 * 920; one cent more or less tips it.
SELECT spent, (compensation.burn(spent, '2026-10-02', 920, '2026-Q4', '2026-11-15')).pace,
	   (compensation.burn(spent, '2026-10-02', 920, '2026-Q4', '2026-11-15')).projected_spend
  FROM (VALUES (472.50), (472.51), (427.50), (427.49)) AS v(spent)
 GROUP BY spent ORDER BY spent;

-- as_of before the quarter or at its start: nothing elapsed, so no rate,
-- projection or pace (and the grant of 2026-10-05 is not yet spent); after
-- the quarter: everything elapsed, the projection is what was spent, the
-- rate is per 92 days (300.00/92 = 3.26086.. -> 3.2609).
SELECT as_of, (compensation.burn(amount, at, 1000, '2026-Q4', as_of)).*
  FROM (VALUES (300.00, '2026-10-05'::timestamptz)) AS v(amount, at),
	   (VALUES ('2026-09-01'::timestamptz), ('2026-10-01'), ('2027-03-01')) AS a(as_of)
 GROUP BY as_of ORDER BY as_of;

-- budget NULL: no remaining, share spent, exhaustion or pace; budget 0:
-- exhausted at once, share spent NULL (no division by 0).  A budget given
-- on some rows only is the group's budget.
SELECT b.label, (compensation.burn(amount, '2026-10-02', b.budget, '2026-Q4', '2026-11-15')).*
  FROM (VALUES (10.00), (20.00)) AS v(amount),
	   (VALUES ('null budget', NULL::numeric), ('zero budget', 0)) AS b(label, budget)
 GROUP BY b.label ORDER BY b.label;
SELECT (compensation.burn(amount, '2026-10-02', budget, '2026-Q4', '2026-11-15')).remaining
  FROM (VALUES (10.00, NULL::numeric), (20.00, 100), (5.00, NULL)) AS v(amount, budget);
-- 100 and 100.00 are the same budget
SELECT (compensation.burn(amount, '2026-10-02', budget, '2026-Q4', '2026-11-15')).remaining
  FROM (VALUES (10.00, 100::numeric), (20.00, 100.00)) AS v(amount, budget);

-- without a quarter only the money is known
SELECT (compensation.burn(amount, '2026-10-02', 100, NULL, '2026-11-15')).*
  FROM (VALUES (10.00), (20.00)) AS v(amount);

-- zero rows: NULL, like sum(); rows whose amounts are all NULL (a budget
-- LEFT JOINed to no grants): spent 0, and the pace from the budget
SELECT compensation.burn(amount, at, 1000, '2026-Q4', '2026-11-15') IS NULL AS no_rows_is_null
  FROM public.an_spend WHERE false;
SELECT (compensation.burn(NULL::numeric, NULL, 1000, '2026-Q4', '2026-11-15')).*;

-- without as_of: the transaction's timestamp
SELECT compensation.burn(amount, at, 1000, '2026-Q4') = compensation.burn(amount, at, 1000, '2026-Q4', now())
	   AS four_arguments_use_now
  FROM public.an_spend WHERE case_name = 'under';

-- the quarter follows compensation.fiscal_start_month: with April, 2026-Q3
-- is October to December, the same range as calendar 2026-Q4
SET compensation.fiscal_start_month = 4;
SELECT (compensation.burn(amount, at, 1000, '2026-Q3', '2026-11-15')).share_elapsed AS fiscal_q3_elapsed,
	   (compensation.burn(amount, at, 1000, '2026-Q3', '2026-11-15')).daily_rate AS fiscal_q3_daily_rate
  FROM public.an_spend WHERE case_name = 'under';
RESET compensation.fiscal_start_month;

-- errors
\x on
SELECT * FROM regress.error_of($$SELECT compensation.burn(amount, now(), budget, '2026-Q4') FROM (VALUES (1, 100), (2, 200)) AS v(amount, budget)$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(1, now(), 100, quarter) FROM (VALUES ('2026-Q4'), ('2026-Q3')) AS v(quarter)$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(1, now(), 100, '2026-q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(1, now(), 100, '2026-Q4', NULL)$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(1, now(), 100, '2026-Q4', as_of) FROM (VALUES ('2026-11-01'::timestamptz), ('2026-11-02')) AS v(as_of)$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(1, now(), -1, '2026-Q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(1, now(), 'NaN', '2026-Q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.burn(amount, now(), 100, '2026-Q4') FROM (VALUES (1::numeric), ('NaN')) AS v(amount)$$);
-- the support functions update their state in place: outside their aggregate they refuse
SELECT * FROM regress.error_of($$SELECT compensation.burn_transition(NULL::compensation.burn_state, 1::numeric, now(), 1::numeric, '2026-Q4')$$);
\x off

-- ---------------------------------------------------------------------------
-- uplift and roi
-- ---------------------------------------------------------------------------
-- treated 1, 2, 4: mean 7/3, s^2 = 7/3;  control 1, 1.5, 0.5: mean 1, s^2 = 1/4
-- difference 4/3; se = sqrt(7/9 + 1/12) = sqrt(31)/6 = 0.927960727138337
-- df = (31/36)^2 / ((7/9)^2/2 + (1/12)^2/2) = 2.42370744010088
-- t(0.975, 2.4237..) = 3.65645969586.. (mpmath), interval 4/3 -/+ t * se =
-- [-2.05971766479, 4.72638433146].  The NULL rows are left out.
CREATE TABLE public.an_outcome (treated boolean, outcome numeric, cost numeric);
INSERT INTO public.an_outcome VALUES
	(true, 1, 0.50), (true, 2, 0.50), (true, 4, 0.50),
	(false, 1, NULL), (false, 1.5, NULL), (false, 0.5, NULL),
	(NULL, 100, 0.25), (true, NULL, 0.25);
SELECT (compensation.uplift(treated, outcome)).* FROM public.an_outcome;
SELECT abs(u.std_error - sqrt(31::float8) / 6) < 1e-15 AS se_exact,
	   abs(u.df - 2.42370744010088) < 1e-12 AS df_exact,
	   abs((u.ci_high - u.ci_low) / 2 - 3.6564596958625899504 * u.std_error) < 1e-12
		   AS half_width_is_t_times_se,
	   abs((u.ci_high + u.ci_low) / 2 - 4 / 3::float8) < 1e-15 AS centred_on_difference
  FROM (SELECT (compensation.uplift(treated, outcome)).* FROM public.an_outcome) AS u;

-- roi: cost is every row's non-NULL cost, outcome or not: 3*0.50 + 0.25 +
-- 0.25 = 2.00; incremental = 4/3 * 3 = 4 (up to the means' rounding);
-- roi = (4 - 2) / 2 = 1
SELECT (compensation.roi(treated, outcome, cost)).* FROM public.an_outcome;

-- an arm with one row has no variance: no se, df or interval; an empty
-- arm has no mean and no difference; equal outcomes in both arms: se 0,
-- the interval is the difference itself and df is NULL (0/0)
SELECT label, (compensation.uplift(treated, outcome)).*
  FROM (VALUES ('one control row', true, 1), ('one control row', true, 3), ('one control row', false, 2),
			   ('no control', true, 1), ('no control', true, 3),
			   ('zero variance', true, 2), ('zero variance', true, 2),
			   ('zero variance', false, 1), ('zero variance', false, 1)) AS v(label, treated, outcome)
 GROUP BY label ORDER BY label;
SELECT compensation.uplift(treated, outcome) IS NULL AS no_rows_is_null,
	   compensation.roi(treated, outcome, cost) IS NULL AS roi_no_rows_is_null
  FROM public.an_outcome WHERE false;
-- cost 0 or no cost: no roi
SELECT c.label, (compensation.roi(treated, outcome, c.cost)).cost, (compensation.roi(treated, outcome, c.cost)).roi
  FROM public.an_outcome, (VALUES ('zero cost', 0::numeric), ('no cost', NULL)) AS c(label, cost)
 GROUP BY c.label ORDER BY c.label;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.uplift(t, o) FROM (VALUES (true, 1::numeric), (true, 'NaN')) AS v(t, o)$$);
SELECT * FROM regress.error_of($$SELECT compensation.roi(true, 1, c) FROM (VALUES (1::numeric), ('Infinity')) AS v(c)$$);
\x off

-- ---------------------------------------------------------------------------
-- the t quantile
-- ---------------------------------------------------------------------------
-- Published 97.5% quantiles (10 decimals).  For df = 1e9 the true value is
-- 1.9599639869 (the normal's 1.9599639845 plus (z^3+z)/(4 df) = 2.4e-9).
SELECT df, expected, abs(compensation.student_t_quantile(0.975, df) - expected) < 1e-8 AS within_1e8
  FROM (VALUES (1, 12.7062047362), (2, 4.3026527297), (5, 2.5705818366), (10, 2.2281388520),
			   (30, 2.0422724563), (1000, 1.9623390808), (1e9, 1.9599639869), (1e9, 1.9599639845))
	   AS v(df, expected);
-- symmetric; the median is 0; other levels (df = 1: tan(pi (p - 1/2)));
-- a fractional df against mpmath (60 digits): t(0.995, 4.5) = 4.27282399301129
SELECT abs(compensation.student_t_quantile(0.025, 7) + compensation.student_t_quantile(0.975, 7)) < 1e-13 AS symmetric,
	   compensation.student_t_quantile(0.5, 3) AS median,
	   abs(compensation.student_t_quantile(0.9, 1) - tan(pi() * 0.4)) < 1e-12 AS cauchy_90,
	   abs(compensation.student_t_quantile(0.999, 1) - tan(pi() * 0.499)) < 1e-9 AS cauchy_999,
	   -- df = 2 has a closed form: t = (2p - 1) / sqrt(2 p (1 - p))
	   abs(compensation.student_t_quantile(0.99, 2) - 0.98 / sqrt(2 * 0.99 * 0.01)) < 1e-12 AS df2_99,
	   abs(compensation.student_t_quantile(0.995, 4.5) - 4.2728239930112930) < 1e-12 AS fractional_df;
-- Large df: from 1e6 on, the normal quantile plus its expansion in 1/df,
-- within 1e-15 of mpmath (50 digits, at the double nearest p), where the
-- continued fraction was off by 4e-8 (df 1e12) to 25% (df 1e18) in the
-- tails; just below 1e6, still the continued fraction (within 5e-15).
SELECT df::float8, p::float8, abs(compensation.student_t_quantile(p, df) / expected - 1) < tolerance AS within
  FROM (VALUES (999999, 0.975, 1.9599663568164789346, 1e-14), (1e6, 0.975, 1.9599663568141066553, 1e-15),
			   (1e6, 0.9999999, 5.1993740209144227819, 1e-15), (1e9, 0.9999999, 5.1993376187290635908, 1e-15),
			   (1e9, 1e-300, -37.047109020294319186, 1e-15), (1e12, 0.975, 1.9599639845424261268, 1e-15),
			   (1e12, 0.9999999, 5.1993375823270994959, 1e-15), (1e16, 0.9999999, 5.1993375822906647375, 1e-15),
			   (1e18, 0.9999999, 5.1993375822906610973, 1e-15))
	   AS v(df, p, expected, tolerance);
-- Huge df: the normal limit.  Once the expansion is below the last bit of
-- the normal quantile z (df above 2^52 (z^2 + 1), at most 7e18), the
-- answer is z itself, the same for every larger df up to the largest
-- double.  The normal quantiles (mpmath): 1.95996398454005386,
-- 5.19933758229066109, -37.0470962993611992 and 2.50662827331164830e-7
-- (this one only to 1e-9: a double resolves its tail, 0.4999999, to 1e-16,
-- which is 1e-9 of p - 0.5).
SELECT df,
	   abs(compensation.student_t_quantile(0.975, df) / 1.95996398454005386 - 1) < 1e-15 AS normal_975,
	   abs(compensation.student_t_quantile(0.9999999, df) / 5.19933758229066109 - 1) < 1e-15 AS normal_9999999,
	   abs(compensation.student_t_quantile(1e-300, df) / -37.0470962993611992 - 1) < 1e-15 AS normal_1e300,
	   abs(compensation.student_t_quantile(0.5000001, df) / 2.50662827331164830e-7 - 1) < 1e-9 AS normal_5000001,
	   (SELECT bool_and(compensation.student_t_quantile(p, df) = compensation.student_t_quantile(p, 1.7976931348623157e308))
		  FROM unnest(ARRAY[1e-300, 0.025, 0.3, 0.5000001, 0.975, 0.9999999]::float8[]) AS p) AS same_as_largest_df
  FROM unnest(ARRAY[1e19, 1e100, 1e308]::float8[]) AS df;
SELECT compensation.student_t_quantile(0.975, 1e308) AS t_975_df_1e308,
	   compensation.student_t_quantile(0.5, 1e308) AS median_df_1e308;
-- NULL in, NULL out (the function is STRICT); every other bad input is an
-- error with its SQLSTATE, never an internal one
SELECT compensation.student_t_quantile(NULL, 5) IS NULL AS null_p,
	   compensation.student_t_quantile(0.975, NULL) IS NULL AS null_df;
SELECT args, e.code, e.message, e.detail
  FROM (VALUES ($$'-Infinity', 5$$), ($$'Infinity', 5$$), ('-0.5, 5'), ('1.5, 5'), ('-0.0, 5'),
			   ($$0.975, 'NaN'$$), ('0.975, -1'), ('0.975, -0.0'), ($$0.975, '-Infinity'$$), ('0.975, -1e308'))
	   AS v(args),
	   LATERAL regress.error_of(format('SELECT compensation.student_t_quantile(%s)', args)) AS e;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.student_t_quantile(0, 5)$$);
SELECT * FROM regress.error_of($$SELECT compensation.student_t_quantile(1, 5)$$);
SELECT * FROM regress.error_of($$SELECT compensation.student_t_quantile('NaN', 5)$$);
SELECT * FROM regress.error_of($$SELECT compensation.student_t_quantile(0.975, 0)$$);
SELECT * FROM regress.error_of($$SELECT compensation.student_t_quantile(0.975, 'Infinity')$$);
\x off

-- ---------------------------------------------------------------------------
-- parallel plans: partial states are serialized by the workers and
-- combined by the leader; the results equal the serial ones exactly
-- ---------------------------------------------------------------------------
CREATE TABLE public.an_big AS
SELECT i,
	   'g' || (i % 7) AS grp,
	   (hashint8extended(i, 11) & 3) = 0 AS treated,
	   round(((hashint8extended(i, 12) & 1048575) - 10000)::numeric / 100, 2) AS amount,
	   '2026-10-01'::timestamptz + ((hashint8extended(i, 13) & 8191) * interval '20 minutes') AS at,
	   CASE WHEN i % 97 = 0 THEN NULL ELSE (hashint8extended(i, 14) & 65535)::numeric / 1000 END AS outcome
  FROM generate_series(1, 200000) AS i;
ANALYZE public.an_big;
CREATE TEMP VIEW an_big_results AS
SELECT grp,
	   compensation.burn(amount, at, 30000000, '2026-Q4', '2026-11-20') AS burn,
	   compensation.uplift(treated, outcome) AS uplift,
	   compensation.roi(treated, outcome, amount) AS roi
  FROM public.an_big GROUP BY grp;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE an_serial AS SELECT * FROM an_big_results;
CREATE TEMP TABLE an_serial_total AS
SELECT compensation.burn(amount, at, 30000000, '2026-Q4', '2026-11-20')::text AS burn,
	   compensation.uplift(treated, outcome)::text AS uplift,
	   compensation.roi(treated, outcome, amount)::text AS roi
  FROM public.an_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT * FROM an_big_results;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE p.burn::text = s.burn::text AND p.uplift::text = s.uplift::text
							AND p.roi::text = s.roi::text) AS equal_to_serial,
	   sum((p.burn).grants) AS grants, sum((p.uplift).treated_n + (p.uplift).control_n) AS outcomes
  FROM an_big_results AS p JOIN an_serial AS s USING (grp);
EXPLAIN (COSTS OFF)
SELECT compensation.burn(amount, at, 30000000, '2026-Q4', '2026-11-20') FROM public.an_big;
SELECT compensation.burn(amount, at, 30000000, '2026-Q4', '2026-11-20')::text = s.burn AS burn_equal,
	   compensation.uplift(treated, outcome)::text = s.uplift AS uplift_equal,
	   compensation.roi(treated, outcome, amount)::text = s.roi AS roi_equal
  FROM public.an_big, an_serial_total AS s GROUP BY s.burn, s.uplift, s.roi;
-- force_parallel_mode: the whole query, final functions included, runs in
-- one worker (EXPLAIN hides that Gather); the worker sees the session's
-- compensation.fiscal_start_month and TimeZone: with April, 2026-Q3 is
-- calendar 2026-Q4
SET force_parallel_mode = on;
SET max_parallel_workers_per_gather = 0;
SET compensation.fiscal_start_month = 4;
SELECT p.burn::text = s.burn::text AS forced_burn_equal, p.uplift::text = s.uplift::text AS forced_uplift_equal
  FROM (SELECT compensation.burn(amount, at, 30000000, '2026-Q3', '2026-11-20') AS burn,
			   compensation.uplift(treated, outcome) AS uplift
		  FROM public.an_big WHERE grp = 'g3') AS p,
	   an_serial AS s WHERE s.grp = 'g3';
RESET compensation.fiscal_start_month;
RESET force_parallel_mode;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- ---------------------------------------------------------------------------
-- the states as types (compensation.burn_state, compensation.uplift_state):
-- what Citus does, in one node.  A worker runs the transition function and
-- sends the state as text; the coordinator reads the text back, combines
-- and finalizes.  Partial states per slice of rows, printed and read back,
-- then merged, equal the aggregate over all the rows exactly.
-- ---------------------------------------------------------------------------
CREATE AGGREGATE regress.burn_partial(numeric, timestamptz, numeric, text, timestamptz) (
	SFUNC = compensation.burn_transition, STYPE = compensation.burn_state);
CREATE AGGREGATE regress.burn_merge(compensation.burn_state) (
	SFUNC = compensation.burn_combine, STYPE = compensation.burn_state,
	FINALFUNC = compensation.burn_final);
CREATE AGGREGATE regress.uplift_partial(boolean, numeric) (
	SFUNC = compensation.uplift_transition, STYPE = compensation.uplift_state);
CREATE AGGREGATE regress.roi_partial(boolean, numeric, numeric) (
	SFUNC = compensation.roi_transition, STYPE = compensation.uplift_state);
CREATE AGGREGATE regress.uplift_merge(compensation.uplift_state) (
	SFUNC = compensation.uplift_combine, STYPE = compensation.uplift_state,
	FINALFUNC = compensation.uplift_final);
CREATE AGGREGATE regress.roi_merge(compensation.uplift_state) (
	SFUNC = compensation.uplift_combine, STYPE = compensation.uplift_state,
	FINALFUNC = compensation.roi_final);
CREATE TEMP TABLE an_partials AS
SELECT grp, i % 5 AS slice,
	   regress.burn_partial(amount, at, 30000000, '2026-Q4', '2026-11-20')::text AS burn,
	   regress.uplift_partial(treated, outcome)::text AS uplift,
	   regress.roi_partial(treated, outcome, amount)::text AS roi
  FROM public.an_big GROUP BY grp, i % 5;
SELECT count(*) AS groups,
	   count(*) FILTER (WHERE m.burn::text = s.burn::text AND m.uplift::text = s.uplift::text
							AND m.roi::text = s.roi::text) AS merged_equal_to_serial
  FROM (SELECT grp, regress.burn_merge(burn::compensation.burn_state) AS burn,
			   regress.uplift_merge(uplift::compensation.uplift_state) AS uplift,
			   regress.roi_merge(roi::compensation.uplift_state) AS roi
		  FROM an_partials GROUP BY grp) AS m
  JOIN an_serial AS s USING (grp);
-- the text form reads back to the same text, and so does the binary form
SELECT bool_and(burn::compensation.burn_state::text = burn) AS burn_text_round_trip,
	   bool_and(uplift::compensation.uplift_state::text = uplift) AS uplift_text_round_trip,
	   bool_and(compensation.burn_state_send(burn::compensation.burn_state)
				= compensation.burn_state_send(burn::compensation.burn_state::text::compensation.burn_state))
		   AS burn_binary_stable
  FROM an_partials;
-- a state of no row, and states with and without a budget or an arm, merge
SELECT (regress.burn_merge(s)).*
  FROM (SELECT regress.burn_partial(amount, '2026-10-02', budget, quarter, '2026-11-15') AS s
		  FROM (VALUES (NULL::numeric, NULL::numeric, NULL::text), (10.00, 100, '2026-Q4'),
					   (5.5, NULL, NULL)) AS v(amount, budget, quarter)
		 GROUP BY amount) AS p;
SELECT (regress.uplift_merge(s)).treated_n, (regress.uplift_merge(s)).control_n,
	   (regress.uplift_merge(s)).difference
  FROM (SELECT regress.uplift_partial(treated, outcome) AS s
		  FROM (VALUES (true, 1::numeric), (true, 3), (false, 2), (NULL, 7)) AS v(treated, outcome)
		 GROUP BY treated) AS p;
-- as window functions: the state is updated in place row after row and
-- read by the final function after each (a running total), and a moving
-- frame restarts it
SELECT at::date, (compensation.burn(amount, at, 1000, '2026-Q4', '2026-11-15') OVER w).spent AS running_spent,
	   (compensation.uplift(amount > 100, amount) OVER w).treated_n AS running_treated,
	   (compensation.burn(amount, at, 1000, '2026-Q4', '2026-11-15')
			OVER (ORDER BY at ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)).spent AS last_two
  FROM public.an_spend WHERE case_name IN ('under', 'over') AND amount IS NOT NULL
WINDOW w AS (ORDER BY at ROWS UNBOUNDED PRECEDING)
 ORDER BY at;
-- two states of different budgets, quarters or as_of cannot merge
\x on
SELECT * FROM regress.error_of($$SELECT regress.burn_merge(s) FROM (SELECT regress.burn_partial(1, '2026-10-02', b, '2026-Q4', '2026-11-15') AS s FROM (VALUES (100), (200)) AS v(b) GROUP BY b) AS p$$);
SELECT * FROM regress.error_of($$SELECT regress.burn_merge(s) FROM (SELECT regress.burn_partial(1, '2026-10-02', 100, '2026-Q4', a) AS s FROM (VALUES ('2026-11-15'::timestamptz), ('2026-11-16')) AS v(a) GROUP BY a) AS p$$);
\x off
-- bad text or binary input is an error with its SQLSTATE, never a crash:
-- empty, odd length, not hexadecimal, unknown version, unknown flags,
-- truncated, trailing bytes, a negative count, a forged quarter or budget
SELECT label, e.code, e.message
  FROM (VALUES ('empty', ''), ('odd length', '010'), ('not hex', '01zz'),
			   ('version 2', '02000000000000000000'),
			   ('unknown flags', '01f00000000000000000'),
			   ('truncated', '0100000000'),
			   ('trailing bytes', '010000000000000000000000'),
			   ('negative count', '0100ffffffffffffffff'),
			   ('grants without amounts', '01000000000000000001'),
			   ('forged quarter', '01040000000000000000323032362d5135'),
			   ('budget length beyond the end', '010200000000000000000000ffff'),
			   ('negative budget', '010200000000000000000000000a00010000400000000001'),
			   ('truncated numeric state', '0101000000000000000100000004000000'))
	   AS v(label, input),
	   LATERAL regress.error_of(format('SELECT %L::compensation.burn_state', input)) AS e;
SELECT label, e.code, e.message
  FROM (VALUES ('a count without its state', '010000000000000000000000000000000001'),
			   ('unknown flags', '018000000000000000000000000000000000'),
			   ('negative count', '0101ffffffffffffffff0000000000000000'))
	   AS v(label, input),
	   LATERAL regress.error_of(format('SELECT %L::compensation.uplift_state', input)) AS e;
-- outside an aggregate, every support function refuses, with its SQLSTATE
SELECT f, e.code, e.message
  FROM (VALUES ('compensation.burn_combine(NULL, NULL)'),
			   ($$compensation.burn_final('01000000000000000000')$$),
			   ('compensation.uplift_transition(NULL, true, 1)'),
			   ('compensation.roi_transition(NULL, true, 1, 1)'),
			   ('compensation.uplift_combine(NULL, NULL)'),
			   ($$compensation.uplift_final('010000000000000000000000000000000000')$$),
			   ($$compensation.roi_final('010000000000000000000000000000000000')$$)) AS v(f),
	   LATERAL regress.error_of('SELECT ' || f) AS e;
DROP AGGREGATE regress.burn_partial(numeric, timestamptz, numeric, text, timestamptz);
DROP AGGREGATE regress.burn_merge(compensation.burn_state);
DROP AGGREGATE regress.uplift_partial(boolean, numeric);
DROP AGGREGATE regress.roi_partial(boolean, numeric, numeric);
DROP AGGREGATE regress.uplift_merge(compensation.uplift_state);
DROP AGGREGATE regress.roi_merge(compensation.uplift_state);

-- ---------------------------------------------------------------------------
-- budget_status over grants made by apply()
-- ---------------------------------------------------------------------------
-- Quarter 2030-Q1 (90 days), so that the real time at which the grants are
-- made (created_at = now()) is always before as_of.  As of 2030-02-15,
-- 45 days have elapsed: share_elapsed 0.5.
CREATE TABLE public.an_src (order_id text, buyer_id text, at timestamptz, value numeric,
							currency text, market text);
INSERT INTO public.an_src VALUES
	('a1', 'x1', '2030-01-02 10:00', 100.00, 'EUR', 'DE'),	-- 10.00
	('a2', 'x2', '2030-01-03 10:00', 250.00, 'EUR', 'DE'),	-- 25.00
	('a3', 'x3', '2030-01-04 10:00', 80.00, 'EUR', 'DE'),	-- 8.00, voided below
	('a4', 'x4', '2030-01-05 10:00', 120.00, 'EUR', 'FR'),	-- 12.00 from the all-markets budget
	('a5', 'x5', '2030-01-06 10:00', 5000, 'JPY', 'JP');	-- 500 yen
SELECT compensation.set_budget('an_prog', '2030-Q1', 50.00, 'EUR', 'DE') > 0 AS de,
	   compensation.set_budget('an_prog', '2030-Q1', 500.00, 'EUR') > 0 AS all_markets,
	   compensation.set_budget('an_prog', '2030-Q1', 900, 'JPY', 'JP') > 0 AS jp,
	   compensation.set_budget('an_prog', '2030-Q1', 70.00, 'EUR', 'NL') > 0 AS nl_no_grants,
	   compensation.set_budget('an_prog', '2030-Q2', 99.00, 'EUR', 'DE') > 0 AS other_quarter;
SELECT compensation.define_strategy('an_strategy', jsonb_build_object(
		   'scenario', 'analysis', 'source', 'public.an_src', 'program', 'an_prog',
		   'instrument', 'voucher',
		   'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at',
									  'currency', 'currency', 'market', 'market'),
		   'when', jsonb_build_object('col', 'value', 'op', '>', 'value', 0),
		   'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.1),
		   'valid', jsonb_build_object('from', '2030-01-01', 'to', '2030-04-01'))),
	   compensation.activate('an_strategy');
SELECT candidates, granted FROM compensation.apply('an_strategy', '2030-01-31');
SELECT compensation.void_grant(grant_id, 'order returned') AS voided
  FROM compensation.grants WHERE strategy = 'an_strategy' AND order_key = 'a3';
-- DE: 35.00 of 50.00 in 45 of 90 days (a3 voided): daily 35/45 = 0.7778,
--     projected 70.00 > 52.50 -> over; the budget lasts 50*45/35 =
--     64.2857142857.. days: 2030-03-06 06:51:25.714286 (to the microsecond)
-- all markets: 12.00 of 500.00, daily 0.2667, projected 24.00 -> under
-- JP: 500 of 900 yen, daily 11.11 (0 + 2 decimals), projected 1000 > 945
--     -> over, lasts 900*45/500 = 81 days: 2030-03-23
-- NL: no grant, spent 0.00 -> under
-- 2030-Q2 is another quarter: not listed
SELECT * FROM compensation.budget_status('2030-Q1', '2030-02-15');
-- budget_status agrees with the budgets' own running totals
SELECT s.market, s.spent = b.spent AS spent_matches_budget, s.remaining = b.remaining AS remaining_matches
  FROM compensation.budget_status('2030-Q1', '2030-02-15') AS s
  JOIN compensation.budgets AS b USING (program, quarter)
 WHERE s.market IS NOT DISTINCT FROM b.market ORDER BY s.market NULLS FIRST;
-- as of a moment before a grant's run (its logical time, as_of) it is not
-- counted; a grant voided after as_of still counted then (moved in time by
-- hand).  DE: 35.00 - 10.00 (a1) + 8.00 (a3).
UPDATE compensation.ledger SET as_of = '2030-02-20'
 WHERE order_key = 'a1' AND program = 'an_prog';
UPDATE compensation.ledger SET voided_at = '2030-02-20'
 WHERE order_key = 'a3' AND program = 'an_prog';
SELECT market, spent, grants FROM compensation.budget_status('2030-Q1', '2030-02-15')
 WHERE market = 'DE';
-- the default quarter is the current one under compensation.fiscal_start_month
-- (as_of defaults to now())
SELECT (SELECT array_agg(s::text ORDER BY s::text) FROM compensation.budget_status() AS s)
	   IS NOT DISTINCT FROM
	   (SELECT array_agg(s::text ORDER BY s::text)
		  FROM compensation.budget_status(compensation.quarter(now()), now()) AS s) AS default_is_current_quarter;
-- a reader may call it
SET ROLE compensation_reader;
SELECT market, spent, pace FROM compensation.budget_status('2030-Q1', '2030-02-15') ORDER BY market;
SELECT (compensation.uplift(v > 1, v)).treated_n AS reader_can_aggregate FROM (VALUES (1), (2), (3)) AS t(v);
RESET ROLE;
\x on
SELECT * FROM regress.error_of($$SELECT * FROM compensation.budget_status('2030-Q5')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.budget_status('2030-Q1', NULL)$$);
\x off
