-- test/pgtap/oracle_analysis.sql — burn(), uplift() and roi() against a
-- plain-SQL oracle.
--
-- 100,000 generated rows (deterministic: hashint8extended of the row
-- number) in 330 groups, each group with its own budget (NULL, 0, or an
-- amount with 0 to 2 decimals), quarter (NULL or one of eight) and as_of
-- (before, inside or after its quarter).  Amounts have 0 to 3 decimals,
-- some are negative, NULL, or dated after as_of; outcomes and costs have
-- NULLs; some groups have arms of 0, 1 or 2 rows.  The session runs in
-- Europe/Berlin (a daylight-saving change inside quarters) with a fiscal
-- year starting in April.
--
-- The oracle never calls compensation.*: burn's rule is written again with
-- sum/count and exact numeric arithmetic (rounding half away from zero as
-- floor((2|n| 10^s + d) / 2d)), quarters with make_timestamp; uplift's with
-- avg/var_samp/count and the usual Welch formula; the t quantile that
-- uplift used is checked by integrating the t density independently
-- (P(|T| <= t) = integral of cos^(df-1) from 0 to atan(t/sqrt(df)) over the
-- same from 0 to pi/2, tanh-sinh quadrature) to be the 97.5% point.  Exact
-- columns must be equal, text for text (value and scale); computed floats
-- within 1e-12 relative.  Serial, partial-parallel and forced-parallel
-- runs must agree to the last digit.  Everything is rolled back.

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;
SET LOCAL TimeZone = 'Europe/Berlin';
SET LOCAL compensation.fiscal_start_month = 4;

SELECT plan(16);

-- u(n, k): the k-th uniform draw in [0, 1) for row n; pick: an integer in 0 .. m-1.
CREATE FUNCTION pg_temp.oa_u(n bigint, k integer) RETURNS double precision
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ((hashint8extended(n, 7919 * k) >> 11) & 4503599627370495)::double precision
		   / 4503599627370496::double precision;
CREATE FUNCTION pg_temp.oa_pick(n bigint, k integer, m bigint) RETURNS bigint
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (hashint8extended(n, 7919 * k + 1) & 9223372036854775807) % m;

-- ---------------------------------------------------------------------------
-- The data: one row per i; a group's budget, quarter and as_of are drawn
-- from the group number.
-- ---------------------------------------------------------------------------
CREATE TABLE public.oracle_analysis_rows AS
SELECT i, grp,
	   CASE WHEN grp % 13 = 0 THEN NULL
			WHEN grp % 13 = 1 THEN 0
			-- 500 .. 200,000, spread evenly on a log scale, 0 to 2 decimals
			ELSE round((500 * 400 ^ pg_temp.oa_u(grp, 2))::numeric, (grp % 3)::integer) END AS budget,
	   CASE WHEN grp % 11 = 0 THEN NULL
			ELSE (2025 + pg_temp.oa_pick(grp, 3, 2))::text || '-Q' || (1 + pg_temp.oa_pick(grp, 4, 4))::text END AS quarter,
	   timestamptz '2025-03-15 00:00:00+00' + interval '1 second' * pg_temp.oa_pick(grp, 5, 800 * 86400) AS as_of,
	   CASE WHEN u_amount < 0.03 THEN NULL
			WHEN u_amount < 0.05 THEN -round(pg_temp.oa_pick(i, 6, 5000)::numeric / 100, 2)
			ELSE round(pg_temp.oa_pick(i, 6, 2000000)::numeric / 10000, scale_k) END AS amount,
	   CASE WHEN pg_temp.oa_u(i, 7) < 0.01 THEN NULL
			ELSE timestamptz '2025-03-01 00:00:00+00' + interval '1 microsecond' * pg_temp.oa_pick(i, 8, 820 * 86400000000::bigint) END AS at,
	   CASE WHEN u_treated < 0.02 THEN NULL ELSE u_treated < 0.42 END AS treated,
	   CASE WHEN pg_temp.oa_u(i, 10) < 0.03 THEN NULL
			ELSE round(pg_temp.oa_pick(i, 11, 1000000)::numeric / 1000 + CASE WHEN u_treated < 0.42 THEN 3 ELSE 0 END, 3) END AS outcome,
	   CASE WHEN pg_temp.oa_u(i, 12) < 0.10 THEN NULL
			ELSE round(pg_temp.oa_pick(i, 13, 5000)::numeric / 100, 2) END AS cost
  FROM (SELECT i,
			   -- 320 big groups; rows 1..40 make 10 tiny ones (arms of 0, 1, 2 rows)
			   CASE WHEN i <= 40 THEN 320 + i % 10 ELSE pg_temp.oa_pick(i, 1, 320) END AS grp,
			   pg_temp.oa_u(i, 14) AS u_amount, pg_temp.oa_u(i, 9) AS u_treated,
			   pg_temp.oa_pick(i, 15, 4)::integer AS scale_k
		  FROM generate_series(1::bigint, 100000::bigint) AS g(i)
		OFFSET 0) AS draws;
ANALYZE public.oracle_analysis_rows;

-- ---------------------------------------------------------------------------
-- The oracle for burn.
-- ---------------------------------------------------------------------------

-- n / d (d > 0) rounded half away from zero to s decimals: floor((2|n| 10^s + d) / 2d).
CREATE FUNCTION pg_temp.oa_round_div(n numeric, d numeric, s integer) RETURNS numeric
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN round(sign(n) * div(2 * abs(n) * 10::numeric ^ s + d, 2 * d) / 10::numeric ^ s, s);

-- microseconds since the epoch, exactly
CREATE FUNCTION pg_temp.oa_us(t timestamptz) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN extract(epoch FROM t) * 1000000;

CREATE TEMP VIEW oa_burn_oracle AS
WITH grp AS (
	SELECT grp, min(budget) AS budget, min(quarter) AS quarter, min(as_of) AS as_of,
		   coalesce(sum(amount) FILTER (WHERE at IS NULL OR at <= as_of), 0) AS spent,
		   count(amount) FILTER (WHERE at IS NULL OR at <= as_of) AS grants
	  FROM public.oracle_analysis_rows GROUP BY grp),
bounds AS (
	-- fiscal year from April: quarter q of year y starts in month 4 + 3(q-1)
	-- of year y (y + 1 for q = 4), at local midnight; it ends 3 months later
	SELECT g.*, make_timestamp(y + 3 * q / 12, (3 + 3 * (q - 1)) % 12 + 1, 1, 0, 0, 0)::timestamptz AS q_start,
		   (make_timestamp(y + 3 * q / 12, (3 + 3 * (q - 1)) % 12 + 1, 1, 0, 0, 0) + interval '3 months')::timestamptz AS q_end
	  FROM grp AS g
	  LEFT JOIN LATERAL (SELECT substr(g.quarter, 1, 4)::integer AS y, substr(g.quarter, 7, 1)::integer AS q) AS l ON true),
spans AS (
	SELECT b.*, pg_temp.oa_us(q_end) - pg_temp.oa_us(q_start) AS quarter_us,
		   pg_temp.oa_us(least(greatest(as_of, q_start), q_end)) - pg_temp.oa_us(q_start) AS elapsed_us,
		   greatest(scale(spent), coalesce(scale(budget), 0)) AS money_scale
	  FROM bounds AS b)
SELECT grp, ROW(spent,
			   budget - spent,
			   CASE WHEN budget <> 0 THEN (spent / budget)::float8 END,
			   elapsed_us::float8 / quarter_us::float8,
			   CASE WHEN elapsed_us > 0 THEN pg_temp.oa_round_div(spent * 86400000000, elapsed_us, money_scale + 2) END,
			   CASE WHEN elapsed_us > 0 THEN pg_temp.oa_round_div(spent * quarter_us, elapsed_us, money_scale) END,
			   CASE WHEN budget IS NULL THEN NULL
					WHEN spent >= budget THEN as_of
					WHEN elapsed_us > 0 AND spent > 0
						 AND pg_temp.oa_round_div(budget * elapsed_us, spent, 0) < quarter_us
						THEN q_start + interval '1 microsecond' * pg_temp.oa_round_div(budget * elapsed_us, spent, 0)::bigint END,
			   CASE WHEN budget IS NULL THEN NULL
					WHEN spent >= budget THEN 'exhausted'
					WHEN NOT elapsed_us > 0 OR elapsed_us IS NULL THEN NULL
					WHEN spent * quarter_us > 1.05 * budget * elapsed_us THEN 'over'
					WHEN spent * quarter_us < 0.95 * budget * elapsed_us THEN 'under'
					ELSE 'on_track' END,
			   grants)::text AS burn,
	   budget, quarter, elapsed_us, quarter_us
  FROM spans;

-- C, serial
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE oa_c_serial AS
SELECT grp,
	   compensation.burn(amount, at, budget, quarter, as_of)::text AS burn,
	   compensation.uplift(treated, outcome) AS uplift,
	   compensation.roi(treated, outcome, cost) AS roi
  FROM public.oracle_analysis_rows GROUP BY grp;

SELECT is((SELECT count(*) FROM oa_c_serial AS c JOIN oa_burn_oracle AS o USING (grp)
			WHERE c.burn IS DISTINCT FROM o.burn), 0::bigint,
		  'burn() = the SQL oracle in every group, every column (value and scale)');
SELECT is((SELECT count(*) FROM oa_c_serial), 330::bigint, 'burn(): 330 groups');

-- the comparison is not vacuous: every case occurs
SELECT is((SELECT array_agg(DISTINCT (c.burn::compensation.burn_result).pace ORDER BY (c.burn::compensation.burn_result).pace)
			 FROM oa_c_serial AS c),
		  ARRAY['exhausted', 'on_track', 'over', 'under', NULL],
		  'burn(): the groups cover every pace, and no pace (no budget or nothing elapsed)');
SELECT ok((SELECT count(*) FILTER (WHERE o.budget IS NULL) > 0 AND count(*) FILTER (WHERE o.budget = 0) > 0
				  AND count(*) FILTER (WHERE o.quarter IS NULL) > 0
				  AND count(*) FILTER (WHERE o.elapsed_us <= 0) > 0
				  AND count(*) FILTER (WHERE o.elapsed_us = o.quarter_us) > 0
				  AND count(*) FILTER (WHERE o.elapsed_us > 0 AND o.elapsed_us < o.quarter_us) > 0
				  AND count(*) FILTER (WHERE (c.burn::compensation.burn_result).projected_exhaustion IS NOT NULL
											AND (c.burn::compensation.burn_result).pace <> 'exhausted') > 0
			 FROM oa_c_serial AS c JOIN oa_burn_oracle AS o USING (grp)),
		  'burn(): budgets NULL, 0 and set; no quarter; as_of before, inside and after the quarter; projected exhaustions');

-- ---------------------------------------------------------------------------
-- The oracle for uplift and roi.
-- ---------------------------------------------------------------------------
CREATE TEMP VIEW oa_uplift_oracle AS
SELECT grp,
	   count(outcome) FILTER (WHERE treated) AS treated_n,
	   count(outcome) FILTER (WHERE NOT treated) AS control_n,
	   avg(outcome) FILTER (WHERE treated) AS treated_mean,
	   avg(outcome) FILTER (WHERE NOT treated) AS control_mean,
	   avg(outcome) FILTER (WHERE treated) - avg(outcome) FILTER (WHERE NOT treated) AS difference,
	   sqrt(var_samp(outcome) FILTER (WHERE treated)::float8 / count(outcome) FILTER (WHERE treated)
			+ var_samp(outcome) FILTER (WHERE NOT treated)::float8 / count(outcome) FILTER (WHERE NOT treated)) AS std_error,
	   -- Welch-Satterthwaite, as usually written
	   (var_samp(outcome) FILTER (WHERE treated)::float8 / count(outcome) FILTER (WHERE treated)
		+ var_samp(outcome) FILTER (WHERE NOT treated)::float8 / count(outcome) FILTER (WHERE NOT treated)) ^ 2
	   / nullif((var_samp(outcome) FILTER (WHERE treated)::float8 / count(outcome) FILTER (WHERE treated)) ^ 2
				/ (count(outcome) FILTER (WHERE treated) - 1)
				+ (var_samp(outcome) FILTER (WHERE NOT treated)::float8 / count(outcome) FILTER (WHERE NOT treated)) ^ 2
				/ (count(outcome) FILTER (WHERE NOT treated) - 1), 0) AS df,
	   sum(cost) AS cost
  FROM public.oracle_analysis_rows GROUP BY grp;

-- relative difference of two floats (0 when both NULL, 1 when one is)
CREATE FUNCTION pg_temp.oa_reldiff(a float8, b float8) RETURNS float8
	LANGUAGE sql IMMUTABLE
	RETURN CASE WHEN a IS NULL AND b IS NULL THEN 0 WHEN a IS NULL OR b IS NULL THEN 1
				WHEN a = b THEN 0 ELSE abs(a - b) / greatest(abs(a), abs(b)) END;

SELECT is((SELECT count(*) FROM oa_c_serial AS c JOIN oa_uplift_oracle AS o USING (grp)
			WHERE ROW((c.uplift).treated_n, (c.uplift).control_n, (c.uplift).treated_mean,
					  (c.uplift).control_mean, (c.uplift).difference)::text
				  IS DISTINCT FROM ROW(o.treated_n, o.control_n, o.treated_mean, o.control_mean, o.difference)::text),
		  0::bigint, 'uplift(): counts, means and difference = count/avg in SQL, exactly (value and scale)');
SELECT cmp_ok((SELECT max(greatest(pg_temp.oa_reldiff((c.uplift).std_error, o.std_error),
								   pg_temp.oa_reldiff((c.uplift).df, o.df)))
				 FROM oa_c_serial AS c JOIN oa_uplift_oracle AS o USING (grp)),
			  '<', 1e-12::float8, 'uplift(): std_error and Welch df = SQL var_samp formulas (1e-12 relative)');

-- P(|T| <= t) with df degrees of freedom: with x = sqrt(df) tan(theta) the
-- density becomes cos(theta)^(df-1), so P = I(atan(t / sqrt(df))) / I(pi/2)
-- with I(b) the integral of cos^(df-1) from 0 to b, computed by tanh-sinh
-- quadrature (513 points, step 1/64; it copes with the infinite slope of
-- cos^(df-1) at pi/2 when df < 2).  What would underflow float8 counts as 0.
CREATE FUNCTION pg_temp.oa_cos_power(theta float8, df float8) RETURNS float8
	LANGUAGE sql IMMUTABLE
	RETURN CASE WHEN (df - 1) * ln(cos(theta)) < -700 THEN 0 ELSE exp((df - 1) * ln(cos(theta))) END;
CREATE FUNCTION pg_temp.oa_cos_integral(b float8, df float8) RETURNS float8
	LANGUAGE sql IMMUTABLE
	RETURN (SELECT sum(b / 2 * pi() / 2 * cosh(k / 64.0) / cosh(pi() / 2 * sinh(k / 64.0)) ^ 2
					   * pg_temp.oa_cos_power(b / 2 * (1 + tanh(pi() / 2 * sinh(k / 64.0))), df)) / 64
			  FROM generate_series(-256, 256) AS k);
CREATE FUNCTION pg_temp.oa_t_central(t float8, df float8) RETURNS float8
	LANGUAGE sql IMMUTABLE
	RETURN pg_temp.oa_cos_integral(atan(t / sqrt(df)), df) / pg_temp.oa_cos_integral(pi() / 2, df);

-- the oracle's integration itself, on published 97.5% points
SELECT cmp_ok((SELECT max(abs(pg_temp.oa_t_central(t, df) - 0.95))
				 FROM (VALUES (1, 12.7062047362), (2, 4.3026527297), (5, 2.5705818366),
							  (30, 2.0422724563), (1000, 1.9623390808)) AS v(df, t)),
			  '<', 1e-10::float8, 'the oracle''s t integration reproduces published quantiles');

CREATE TEMP TABLE oa_intervals AS
SELECT grp, (c.uplift).df AS df, (c.uplift).std_error AS se, (c.uplift).difference::float8 AS difference,
	   (c.uplift).ci_low AS ci_low, (c.uplift).ci_high AS ci_high,
	   ((c.uplift).ci_high - (c.uplift).ci_low) / 2 / (c.uplift).std_error AS t
  FROM oa_c_serial AS c WHERE (c.uplift).df IS NOT NULL;

SELECT cmp_ok((SELECT max(abs(pg_temp.oa_t_central(t, df) - 0.95)) FROM oa_intervals), '<', 1e-11::float8,
			  'uplift(): the interval is difference -/+ t se with P(|T| <= t) = 0.95 (independent integration)');
SELECT cmp_ok((SELECT max(abs((ci_low + ci_high) / 2 - difference) / greatest(abs(difference), se)) FROM oa_intervals),
			  '<', 1e-12::float8, 'uplift(): the interval is centred on the difference');
SELECT ok((SELECT count(*) > 300 AND min(df) < 5 AND max(df) > 100 FROM oa_intervals)
		  AND (SELECT count(*) FILTER (WHERE (c.uplift).std_error IS NULL AND (c.uplift).ci_low IS NULL
										AND (c.uplift).treated_mean IS NOT NULL) > 0
				 AND count(*) FILTER (WHERE (c.uplift).difference IS NULL) > 0
				 FROM oa_c_serial AS c),
		  'uplift(): intervals over small and large df, and groups whose arms are too small for one');

SELECT is((SELECT count(*) FROM oa_c_serial AS c JOIN oa_uplift_oracle AS o USING (grp)
			WHERE ROW((c.roi).cost, (c.roi).incremental, (c.roi).roi)::text
				  IS DISTINCT FROM ROW(o.cost, o.difference * o.treated_n,
									   CASE WHEN o.cost <> 0 THEN ((o.difference * o.treated_n - o.cost) / o.cost)::float8 END)::text
			   OR ROW((c.roi).treated_n, (c.roi).control_n, (c.roi).treated_mean, (c.roi).control_mean,
					  (c.roi).difference, (c.roi).std_error, (c.roi).df, (c.roi).ci_low, (c.roi).ci_high)::text
				  IS DISTINCT FROM (c.uplift)::text),
		  0::bigint, 'roi(): uplift''s columns, cost = sum(cost) of every row, incremental and roi exactly');
SELECT cmp_ok((SELECT max(greatest(pg_temp.oa_reldiff((c.roi).roi_low, ((c.roi).ci_low * o.treated_n - o.cost::float8) / o.cost::float8),
								   pg_temp.oa_reldiff((c.roi).roi_high, ((c.roi).ci_high * o.treated_n - o.cost::float8) / o.cost::float8)))
				 FROM oa_c_serial AS c JOIN oa_uplift_oracle AS o USING (grp) WHERE (c.roi).ci_low IS NOT NULL),
			  '<', 1e-12::float8, 'roi(): roi_low and roi_high from the interval');

-- ---------------------------------------------------------------------------
-- Parallel: partial aggregates in two workers, then one worker doing it all.
-- ---------------------------------------------------------------------------
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;

CREATE FUNCTION pg_temp.oa_plan(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
		plan := plan || line || E'\n';
	END LOOP;
	RETURN plan;
END $$;
SELECT matches(pg_temp.oa_plan($$SELECT grp, compensation.burn(amount, at, budget, quarter, as_of),
								  compensation.uplift(treated, outcome), compensation.roi(treated, outcome, cost)
							 FROM public.oracle_analysis_rows GROUP BY grp$$),
			   'Partial (Hash|Group)?Aggregate', 'the grouped query runs as partial aggregates in parallel workers');

CREATE TEMP TABLE oa_c_parallel AS
SELECT grp,
	   compensation.burn(amount, at, budget, quarter, as_of)::text AS burn,
	   compensation.uplift(treated, outcome) AS uplift,
	   compensation.roi(treated, outcome, cost) AS roi
  FROM public.oracle_analysis_rows GROUP BY grp;
SELECT is((SELECT count(*) FROM oa_c_serial AS s FULL JOIN oa_c_parallel AS p USING (grp)
			WHERE ROW(s.burn, s.uplift, s.roi)::text IS DISTINCT FROM ROW(p.burn, p.uplift, p.roi)::text),
		  0::bigint, 'partial aggregates in parallel = serial, in every group, to the last digit');

SET LOCAL force_parallel_mode = on;
SET LOCAL max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE oa_c_forced AS
SELECT grp,
	   compensation.burn(amount, at, budget, quarter, as_of)::text AS burn,
	   compensation.uplift(treated, outcome) AS uplift,
	   compensation.roi(treated, outcome, cost) AS roi
  FROM public.oracle_analysis_rows GROUP BY grp;
SELECT is((SELECT count(*) FROM oa_c_serial AS s FULL JOIN oa_c_forced AS p USING (grp)
			WHERE ROW(s.burn, s.uplift, s.roi)::text IS DISTINCT FROM ROW(p.burn, p.uplift, p.roi)::text),
		  0::bigint, 'force_parallel_mode (all in one worker) = serial');

-- the ungrouped aggregates over all rows, in parallel and serially
SET LOCAL force_parallel_mode = off;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE TEMP TABLE oa_total_parallel AS
SELECT compensation.uplift(treated, outcome)::text AS uplift, compensation.roi(treated, outcome, cost)::text AS roi
  FROM public.oracle_analysis_rows;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT is((SELECT ROW(uplift, roi)::text FROM oa_total_parallel),
		  (SELECT ROW(compensation.uplift(treated, outcome)::text, compensation.roi(treated, outcome, cost)::text)::text
			 FROM public.oracle_analysis_rows),
		  'over all 100,000 rows: parallel = serial');

SELECT * FROM finish();
ROLLBACK;
