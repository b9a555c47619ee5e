/* src/sql/60_analysis.sql — budget burn, uplift and ROI aggregates, budget_status (src/analysis.c). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- The aggregates' support functions pin no search_path: a SET clause would
-- save and restore a setting on every row, and they resolve no name (like
-- the per-row evaluation functions).  They are C, take or return internal,
-- so SQL cannot call them with a state of its own making.

-- ---------------------------------------------------------------------------
-- burn(amount, at, budget, quarter [, as_of]) -> burn_result
-- ---------------------------------------------------------------------------

CREATE TYPE compensation.burn_result AS (
	spent		numeric,
	remaining	numeric,
	share_spent	float8,
	share_elapsed float8,
	daily_rate	numeric,
	projected_spend numeric,
	projected_exhaustion timestamptz,
	pace		text,
	grants		bigint
);

COMMENT ON TYPE compensation.burn_result IS
	'what burn() returns: spent, remaining, shares spent and elapsed, daily rate, projections, pace, grants';

-- Without as_of the transition reads the transaction's timestamp: STABLE.
CREATE FUNCTION compensation.burn_transition(internal, numeric, timestamptz, numeric, text)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_burn_transition'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.burn_transition(internal, numeric, timestamptz, numeric, text, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_burn_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.burn_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_burn_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.burn_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'compensation_burn_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.burn_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_burn_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The quarter's bounds depend on compensation.fiscal_start_month and the
-- session's TimeZone: STABLE.
CREATE FUNCTION compensation.burn_final(internal)
RETURNS compensation.burn_result
AS 'MODULE_PATHNAME', 'compensation_burn_final'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION compensation.burn_transition(internal, numeric, timestamptz, numeric, text) IS
	'support function of burn(); as_of is the transaction timestamp';
COMMENT ON FUNCTION compensation.burn_transition(internal, numeric, timestamptz, numeric, text, timestamptz) IS
	'support function of burn() with as_of';
COMMENT ON FUNCTION compensation.burn_combine(internal, internal) IS 'support function of burn()';
COMMENT ON FUNCTION compensation.burn_serialize(internal) IS 'support function of burn()';
COMMENT ON FUNCTION compensation.burn_deserialize(bytea, internal) IS 'support function of burn()';
COMMENT ON FUNCTION compensation.burn_final(internal) IS 'support function of burn()';

CREATE AGGREGATE compensation.burn(amount numeric, at timestamptz, budget numeric, quarter text) (
	SFUNC = compensation.burn_transition,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = compensation.burn_final,
	COMBINEFUNC = compensation.burn_combine,
	SERIALFUNC = compensation.burn_serialize,
	DESERIALFUNC = compensation.burn_deserialize,
	PARALLEL = SAFE
);

CREATE AGGREGATE compensation.burn(amount numeric, at timestamptz, budget numeric, quarter text,
								   as_of timestamptz) (
	SFUNC = compensation.burn_transition,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = compensation.burn_final,
	COMBINEFUNC = compensation.burn_combine,
	SERIALFUNC = compensation.burn_serialize,
	DESERIALFUNC = compensation.burn_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE compensation.burn(numeric, timestamptz, numeric, text) IS
	'budget burn of a group of grants as of now(): spent, remaining, pace (under, on_track, over, exhausted), projections; budget and quarter are the group''s';
COMMENT ON AGGREGATE compensation.burn(numeric, timestamptz, numeric, text, timestamptz) IS
	'budget burn of a group of grants as of as_of; amounts dated after as_of are not counted';

-- ---------------------------------------------------------------------------
-- uplift(treated, outcome) -> uplift_result; roi(treated, outcome, cost)
-- ---------------------------------------------------------------------------

CREATE TYPE compensation.uplift_result AS (
	treated_n	bigint,
	control_n	bigint,
	treated_mean numeric,
	control_mean numeric,
	difference	numeric,
	std_error	float8,
	df			float8,
	ci_low		float8,
	ci_high		float8
);

COMMENT ON TYPE compensation.uplift_result IS
	'what uplift() returns: counts and means per arm, their difference, Welch standard error, df and 95% interval';

CREATE TYPE compensation.roi_result AS (
	treated_n	bigint,
	control_n	bigint,
	treated_mean numeric,
	control_mean numeric,
	difference	numeric,
	std_error	float8,
	df			float8,
	ci_low		float8,
	ci_high		float8,
	cost		numeric,
	incremental	numeric,
	roi			float8,
	roi_low		float8,
	roi_high	float8
);

COMMENT ON TYPE compensation.roi_result IS
	'what roi() returns: uplift()''s columns, the cost, the incremental outcome and the return on it with its 95% interval';

CREATE FUNCTION compensation.uplift_transition(internal, boolean, numeric)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_uplift_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.roi_transition(internal, boolean, numeric, numeric)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_roi_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_uplift_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'compensation_uplift_serialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_uplift_deserialize'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_final(internal)
RETURNS compensation.uplift_result
AS 'MODULE_PATHNAME', 'compensation_uplift_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.roi_final(internal)
RETURNS compensation.roi_result
AS 'MODULE_PATHNAME', 'compensation_roi_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION compensation.uplift_transition(internal, boolean, numeric) IS 'support function of uplift()';
COMMENT ON FUNCTION compensation.roi_transition(internal, boolean, numeric, numeric) IS 'support function of roi()';
COMMENT ON FUNCTION compensation.uplift_combine(internal, internal) IS 'support function of uplift() and roi()';
COMMENT ON FUNCTION compensation.uplift_serialize(internal) IS 'support function of uplift() and roi()';
COMMENT ON FUNCTION compensation.uplift_deserialize(bytea, internal) IS 'support function of uplift() and roi()';
COMMENT ON FUNCTION compensation.uplift_final(internal) IS 'support function of uplift()';
COMMENT ON FUNCTION compensation.roi_final(internal) IS 'support function of roi()';

CREATE AGGREGATE compensation.uplift(treated boolean, outcome numeric) (
	SFUNC = compensation.uplift_transition,
	STYPE = internal,
	SSPACE = 512,
	FINALFUNC = compensation.uplift_final,
	COMBINEFUNC = compensation.uplift_combine,
	SERIALFUNC = compensation.uplift_serialize,
	DESERIALFUNC = compensation.uplift_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE compensation.uplift(boolean, numeric) IS
	'treated vs control: counts, exact means, difference, Welch standard error, df and 95% interval; rows with a NULL treated or outcome are left out';

CREATE AGGREGATE compensation.roi(treated boolean, outcome numeric, cost numeric) (
	SFUNC = compensation.roi_transition,
	STYPE = internal,
	SSPACE = 640,
	FINALFUNC = compensation.roi_final,
	COMBINEFUNC = compensation.uplift_combine,
	SERIALFUNC = compensation.uplift_serialize,
	DESERIALFUNC = compensation.uplift_deserialize,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE compensation.roi(boolean, numeric, numeric) IS
	'uplift() plus the total cost of every row, incremental = difference * treated_n, roi = (incremental - cost) / cost with its 95% interval';

/*
 * student_t_quantile(p, df) -> float8
 *		The p-quantile of Student's t with df (> 0, not necessarily whole)
 *		degrees of freedom; uplift() uses p = 0.975.
 */
CREATE FUNCTION compensation.student_t_quantile(p float8, df float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'compensation_student_t_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.student_t_quantile(float8, float8) IS
	'p-quantile of Student''s t distribution with df degrees of freedom (0 < p < 1, df > 0)';

-- ---------------------------------------------------------------------------
-- budget_status(quarter, as_of)
-- ---------------------------------------------------------------------------

-- Its own type rather than RETURNS TABLE: the argument and a result
-- column are both named quarter.
CREATE TYPE compensation.budget_status_result AS (
	program		text,
	quarter		text,
	market		text,
	currency	text,
	budget		numeric,
	spent		numeric,
	remaining	numeric,
	share_spent	float8,
	share_elapsed float8,
	daily_rate	numeric,
	projected_spend numeric,
	projected_exhaustion timestamptz,
	pace		text,
	grants		bigint
);

COMMENT ON TYPE compensation.budget_status_result IS 'a row of budget_status()';

/*
 * budget_status(quarter, as_of) -> a row per budget of the quarter
 *		burn() of each budget over the grants charged to it that were made at
 *		or before as_of and not voided as of as_of (a grant voided later
 *		still counted then), LEFT JOINed so that a budget without grants
 *		shows spent 0.  burn() runs in integer minor units (the ledger's
 *		exact amounts, no per-grant conversion); its money columns are then
 *		shifted to the currency's major unit exactly, so the daily rate
 *		keeps two decimals more than the currency.
 */
CREATE FUNCTION compensation.budget_status(
	quarter text DEFAULT compensation.quarter(pg_catalog.now(),
		coalesce(pg_catalog.current_setting('compensation.fiscal_start_month', true)::integer, 1)),
	as_of timestamptz DEFAULT pg_catalog.now())
RETURNS SETOF compensation.budget_status_result
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
	SELECT s.program, s.quarter, s.market, s.currency, s.amount,
		   pg_catalog.round((s.burn).spent OPERATOR(pg_catalog./) s.unit, s.minor_unit),
		   pg_catalog.round((s.burn).remaining OPERATOR(pg_catalog./) s.unit, s.minor_unit),
		   (s.burn).share_spent,
		   (s.burn).share_elapsed,
		   pg_catalog.round((s.burn).daily_rate OPERATOR(pg_catalog./) s.unit,
							s.minor_unit OPERATOR(pg_catalog.+) 2),
		   pg_catalog.round((s.burn).projected_spend OPERATOR(pg_catalog./) s.unit, s.minor_unit),
		   (s.burn).projected_exhaustion,
		   (s.burn).pace,
		   (s.burn).grants
	  FROM (SELECT b.program, b.quarter, b.market, b.currency, b.amount, c.minor_unit::integer,
				   10::numeric OPERATOR(pg_catalog.^) c.minor_unit AS unit,
				   compensation.burn(g.amount_minor::numeric, g.as_of, b.amount_minor::numeric,
									 b.quarter, budget_status.as_of) AS burn
			  FROM compensation.budgets AS b
			  JOIN compensation.currency AS c
				ON c.code::text OPERATOR(pg_catalog.=) b.currency
			  LEFT JOIN compensation.grants AS g
				ON g.budget_id OPERATOR(pg_catalog.=) b.budget_id
			   AND g.as_of OPERATOR(pg_catalog.<=) budget_status.as_of
			   AND (g.voided_at IS NULL OR g.voided_at OPERATOR(pg_catalog.>) budget_status.as_of)
			 WHERE b.quarter OPERATOR(pg_catalog.=) budget_status.quarter
			   -- checks the label once (a malformed one is an error)
			   AND compensation.quarter_range(budget_status.quarter) IS NOT NULL
			 GROUP BY b.budget_id, b.program, b.quarter, b.market, b.currency, b.amount,
					  c.minor_unit) AS s
	 ORDER BY s.program, s.market NULLS FIRST;
$fn$;

COMMENT ON FUNCTION compensation.budget_status(text, timestamptz) IS
	'a row per budget of the quarter: spent, remaining, pace and projections from the grants made (and not voided) by as_of';

-- Readers get the aggregates, the quantile and budget_status (which reads
-- the budgets and grants views as the caller).  The support functions need
-- no grant: the executor checks them as the aggregates' owner.  Rights of
-- PUBLIC are revoked in 90_privileges.sql, after every part.
GRANT EXECUTE ON FUNCTION
	compensation.burn(numeric, timestamptz, numeric, text),
	compensation.burn(numeric, timestamptz, numeric, text, timestamptz),
	compensation.uplift(boolean, numeric),
	compensation.roi(boolean, numeric, numeric),
	compensation.student_t_quantile(float8, float8),
	compensation.budget_status(text, timestamptz)
	TO compensation_reader;
