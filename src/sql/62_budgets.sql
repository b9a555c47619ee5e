/* src/sql/62_budgets.sql — budgets that last the quarter: budget_cutoff()
   and budget_cutoff_funded() (src/budget_cutoff.c), burn_series(). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- ---------------------------------------------------------------------------
-- budget_cutoff(budget) WITHIN GROUP (ORDER BY score DESC, cost)
-- budget_cutoff_funded(budget) WITHIN GROUP (ORDER BY score DESC, cost)
-- ---------------------------------------------------------------------------

-- Ordered-set aggregates: PostgreSQL sorts the rows in the WITHIN GROUP
-- order and never splits them across parallel workers (no combine).  The
-- score may be of any type with a default sort order; the cost is numeric,
-- in the budget's unit.  The transition function runs once per row and
-- resolves no names, so it pins no search_path (a SET clause would save
-- and restore a setting per row); the aggregates cannot have one.

CREATE TYPE compensation.budget_cutoff_result AS (
	funded		bigint,
	funded_cost	numeric,
	greedy_funded bigint,
	greedy_cost	numeric,
	candidates	bigint
);

COMMENT ON TYPE compensation.budget_cutoff_result IS
	'what budget_cutoff_funded() returns: candidates and cost funded up to the cutoff, and by a greedy pass in the same order; candidates ranked';

CREATE FUNCTION compensation.budget_cutoff_transition(internal, anyelement, numeric)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_budget_cutoff_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.budget_cutoff_final(internal, numeric, anyelement, numeric)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'compensation_budget_cutoff_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION compensation.budget_cutoff_funded_final(internal, numeric, anyelement, numeric)
RETURNS compensation.budget_cutoff_result
AS 'MODULE_PATHNAME', 'compensation_budget_cutoff_funded_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.budget_cutoff_transition(internal, anyelement, numeric) IS
	'support function of budget_cutoff() and budget_cutoff_funded()';
COMMENT ON FUNCTION compensation.budget_cutoff_final(internal, numeric, anyelement, numeric) IS
	'support function of budget_cutoff()';
COMMENT ON FUNCTION compensation.budget_cutoff_funded_final(internal, numeric, anyelement, numeric) IS
	'support function of budget_cutoff_funded()';

-- FINALFUNC_MODIFY = SHAREABLE: both aggregates over the same rows in one
-- query share one sort; the second final function rescans it.
CREATE AGGREGATE compensation.budget_cutoff(budget numeric ORDER BY score anyelement, cost numeric) (
	SFUNC = compensation.budget_cutoff_transition,
	STYPE = internal,
	FINALFUNC = compensation.budget_cutoff_final,
	FINALFUNC_EXTRA,
	FINALFUNC_MODIFY = SHAREABLE,
	PARALLEL = SAFE
);

CREATE AGGREGATE compensation.budget_cutoff_funded(budget numeric ORDER BY score anyelement, cost numeric) (
	SFUNC = compensation.budget_cutoff_transition,
	STYPE = internal,
	FINALFUNC = compensation.budget_cutoff_funded_final,
	FINALFUNC_EXTRA,
	FINALFUNC_MODIFY = SHAREABLE,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE compensation.budget_cutoff(numeric ORDER BY anyelement, numeric) IS
	'the score of the last candidate funded, in the WITHIN GROUP order (score DESC, cost), before the first whose cost no longer fits in the budget; rows with a NULL score or cost are left out';
COMMENT ON AGGREGATE compensation.budget_cutoff_funded(numeric ORDER BY anyelement, numeric) IS
	'count and cost funded up to budget_cutoff(), and by a greedy pass in the same order (which also funds later candidates that still fit)';

-- ---------------------------------------------------------------------------
-- burn_series(program, quarter, market, as_of)
-- ---------------------------------------------------------------------------

/*
 * burn_series(program, quarter, market DEFAULT NULL, as_of DEFAULT now())
 *		-> a row per calendar day of the quarter (session TimeZone; the
 *		quarter follows compensation.fiscal_start_month), for the budget of
 *		program, quarter and market (NULL: the all-markets budget).
 *
 *	day, day_start	the local date and the instant it starts
 *	budget			the budget
 *	spent, grants	the grants of the day: made by a run whose as_of falls
 *					on that day (logical time; a grant before the quarter
 *					counts on its first day, after it on its last), at or
 *					before as_of, and not voided as of as_of.  NULL for the
 *					days that start after as_of
 *	cumulative		spent up to the end of the day (NULL after as_of); on
 *					as_of's day it is budget_status(quarter, as_of).spent
 *	even_pace		budget x the share of the quarter elapsed at the end of
 *					the day, rounded down to a minor unit: what a budget
 *					paced 'even' may have spent by then (as apply() paces)
 *	projected		for as_of's day and later: spent as of as_of x (end of
 *					the day - quarter start) / (as_of - quarter start), that
 *					is spent + burn()'s daily rate x the days since as_of,
 *					rounded half up to a minor unit (its last value is
 *					budget_status().projected_spend).  NULL before, and
 *					when as_of is at or before the quarter's start
 *	allowance		for a budget paced 'even', on the days up to as_of's:
 *					even_pace - cumulative, what the pace still allows by
 *					the end of the day (negative: ahead of the even line);
 *					NULL for 'asap'
 *
 * Money is summed in minor units and shown in the currency's major unit.
 * Reads the views budgets and grants as the caller.
 */
CREATE FUNCTION compensation.burn_series(program text, quarter text, market text DEFAULT NULL,
										 as_of timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (day date, day_start timestamptz, budget numeric, spent numeric, grants bigint,
			   cumulative numeric, even_pace numeric, projected numeric, allowance numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	fiscal_start_month constant integer :=
		coalesce(pg_catalog.current_setting('compensation.fiscal_start_month', true)::integer, 1);
	period tstzrange;
	the_budget record;
BEGIN
	IF burn_series.program IS NULL THEN
		RAISE EXCEPTION 'burn_series() program must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Name the budget''s program, for example burn_series(''delivery'', ''2026-Q4'').';
	END IF;
	IF burn_series.quarter IS NULL THEN
		RAISE EXCEPTION 'burn_series() quarter must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass a quarter such as ''2026-Q4''; compensation.quarter(now()) gives the current one.';
	END IF;
	IF burn_series.as_of IS NULL THEN
		RAISE EXCEPTION 'burn_series() as_of must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Leave as_of out to use now().';
	END IF;
	-- a malformed label is an error that names it
	period := compensation.quarter_range(burn_series.quarter, fiscal_start_month);

	SELECT b.budget_id, b.amount_minor, b.pacing, c.minor_unit::integer AS minor_unit
	  INTO the_budget
	  FROM compensation.budgets AS b
	  JOIN compensation.currency AS c ON c.code::text OPERATOR(pg_catalog.=) b.currency
	 WHERE b.program OPERATOR(pg_catalog.=) burn_series.program
	   AND b.quarter OPERATOR(pg_catalog.=) burn_series.quarter
	   AND b.market IS NOT DISTINCT FROM burn_series.market;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'burn_series() found no budget for program "%" in quarter % (%)',
			burn_series.program, burn_series.quarter,
			CASE WHEN burn_series.market IS NULL THEN 'all markets'
				 ELSE pg_catalog.format('market "%s"', burn_series.market) END
			USING ERRCODE = 'no_data_found',
				  HINT = 'compensation.budgets lists the budgets (a NULL market is the all-markets budget); set_budget() creates one.';
	END IF;

	RETURN QUERY
	WITH params AS (
		SELECT pg_catalog.lower(period) AS q_start,
			   pg_catalog.upper(period) AS q_end,
			   pg_catalog.lower(period)::date AS first_day,
			   (pg_catalog.upper(period)::date OPERATOR(pg_catalog.-) 1) AS last_day,
			   -- microseconds, exact: elapsed at as_of (clamped to the quarter), quarter length
			   (pg_catalog.extract('epoch', LEAST(GREATEST(burn_series.as_of,
						pg_catalog.lower(period)), pg_catalog.upper(period)))
				OPERATOR(pg_catalog.-) pg_catalog.extract('epoch', pg_catalog.lower(period)))
				OPERATOR(pg_catalog.*) 1000000 AS elapsed_us,
			   (pg_catalog.extract('epoch', pg_catalog.upper(period))
				OPERATOR(pg_catalog.-) pg_catalog.extract('epoch', pg_catalog.lower(period)))
				OPERATOR(pg_catalog.*) 1000000 AS quarter_us,
			   10::numeric OPERATOR(pg_catalog.^) the_budget.minor_unit AS unit
	),
	per_day AS (
		-- one pass over the budget's grants, grouped by the local day of
		-- their logical time
		SELECT GREATEST(LEAST(g.as_of::date, p.last_day), p.first_day) AS day,
			   pg_catalog.sum(g.amount_minor) AS spent_minor,
			   pg_catalog.count(*) AS grants
		  FROM compensation.grants AS g, params AS p
		 WHERE g.budget_id OPERATOR(pg_catalog.=) the_budget.budget_id
		   AND g.as_of OPERATOR(pg_catalog.<=) burn_series.as_of
		   AND (g.voided_at IS NULL OR g.voided_at OPERATOR(pg_catalog.>) burn_series.as_of)
		 GROUP BY 1
	),
	days AS (
		SELECT d.d::date AS day,
			   d.d::date::timestamptz AS day_start,
			   (d.d::date OPERATOR(pg_catalog.+) 1)::timestamptz AS day_end,
			   coalesce(s.spent_minor, 0) AS spent_minor,
			   coalesce(s.grants, 0) AS grants
		  FROM params AS p
		 CROSS JOIN pg_catalog.generate_series(p.first_day::timestamp, p.last_day::timestamp,
											   interval '1 day') AS d(d)
		  LEFT JOIN per_day AS s ON s.day OPERATOR(pg_catalog.=) d.d::date
	),
	running AS (
		SELECT x.*,
			   pg_catalog.sum(x.spent_minor) OVER (ORDER BY x.day) AS cumulative_minor,
			   pg_catalog.sum(x.spent_minor) OVER () AS spent_as_of_minor,
			   -- even line, in minor units rounded down (as apply() paces)
			   pg_catalog.div(the_budget.amount_minor::numeric
							  OPERATOR(pg_catalog.*) ((pg_catalog.extract('epoch', LEAST(x.day_end, p.q_end))
													   OPERATOR(pg_catalog.-) pg_catalog.extract('epoch', p.q_start))
													  OPERATOR(pg_catalog.*) 1000000),
							  p.quarter_us) AS even_minor,
			   (pg_catalog.extract('epoch', LEAST(x.day_end, p.q_end))
				OPERATOR(pg_catalog.-) pg_catalog.extract('epoch', p.q_start))
				OPERATOR(pg_catalog.*) 1000000 AS day_end_us,
			   x.day_start OPERATOR(pg_catalog.<=) burn_series.as_of AS started,
			   x.day_end OPERATOR(pg_catalog.>) burn_series.as_of AS open
		  FROM days AS x, params AS p
	)
	SELECT r.day,
		   r.day_start,
		   pg_catalog.round(the_budget.amount_minor::numeric OPERATOR(pg_catalog./) p.unit,
							the_budget.minor_unit),
		   CASE WHEN r.started THEN pg_catalog.round(r.spent_minor::numeric OPERATOR(pg_catalog./) p.unit,
													 the_budget.minor_unit) END,
		   CASE WHEN r.started THEN r.grants END,
		   CASE WHEN r.started THEN pg_catalog.round(r.cumulative_minor OPERATOR(pg_catalog./) p.unit,
													 the_budget.minor_unit) END,
		   pg_catalog.round(r.even_minor OPERATOR(pg_catalog./) p.unit, the_budget.minor_unit),
		   -- spent x day_end / elapsed, rounded half up once, exactly
		   CASE WHEN r.open AND p.elapsed_us OPERATOR(pg_catalog.>) 0
				THEN pg_catalog.round(pg_catalog.div(2 OPERATOR(pg_catalog.*) r.spent_as_of_minor
													   OPERATOR(pg_catalog.*) r.day_end_us
													   OPERATOR(pg_catalog.+) p.elapsed_us,
													 2 OPERATOR(pg_catalog.*) p.elapsed_us)
									  OPERATOR(pg_catalog./) p.unit, the_budget.minor_unit) END,
		   -- PACING: compensation.budgets.pacing ('asap' or 'even'), from set_budget()
		   CASE WHEN r.started AND the_budget.pacing OPERATOR(pg_catalog.=) 'even'
				THEN pg_catalog.round((r.even_minor OPERATOR(pg_catalog.-) r.cumulative_minor)
									  OPERATOR(pg_catalog./) p.unit, the_budget.minor_unit) END
	  FROM running AS r, params AS p
	 ORDER BY r.day;
END
$fn$;

COMMENT ON FUNCTION compensation.burn_series(text, text, text, timestamptz) IS
	'a row per day of the quarter for one budget: spent, cumulative, the even-pace line, the projection from as_of and the even pacing allowance: what a dashboard plots';

-- Readers get the aggregates (and their support functions: Citus checks
-- them as the caller) and burn_series (which reads the budgets and grants
-- views as the caller).  Rights of PUBLIC are revoked in 90_privileges.sql.
GRANT EXECUTE ON FUNCTION
	compensation.budget_cutoff(numeric, anyelement, numeric),
	compensation.budget_cutoff_funded(numeric, anyelement, numeric),
	compensation.budget_cutoff_transition(internal, anyelement, numeric),
	compensation.budget_cutoff_final(internal, numeric, anyelement, numeric),
	compensation.budget_cutoff_funded_final(internal, numeric, anyelement, numeric),
	compensation.burn_series(text, text, text, timestamptz)
	TO compensation_reader;
