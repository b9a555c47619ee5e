/* src/sql/60_analysis.sql — budget burn, uplift and ROI aggregates, budget_status
   (src/burn.c, src/uplift.c, src/student_t.c, src/numeric_state.c). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- The aggregates' support functions pin no search_path: a SET clause would
-- save and restore a setting on every row, and they resolve no name (like
-- the per-row evaluation functions).  They update their state in place and
-- refuse to run outside an aggregate.
--
-- The states are real types, not internal: Citus pushes an aggregate down
-- to its workers as a partial aggregate only when its transition type is
-- not a pseudo-type, and ships the state as the type's text.  The text is
-- the state's flat form in hexadecimal, checked byte by byte on input.
-- While an aggregate runs, the state is an expanded object updated in
-- place (src/numeric_state.c), so no serial/deserial functions are needed
-- and the aggregates stay PARALLEL SAFE.

CREATE TYPE compensation.burn_state;

CREATE FUNCTION compensation.burn_state_in(cstring)
RETURNS compensation.burn_state
AS 'MODULE_PATHNAME', 'compensation_burn_state_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.burn_state_out(compensation.burn_state)
RETURNS cstring
AS 'MODULE_PATHNAME', 'compensation_burn_state_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.burn_state_recv(internal)
RETURNS compensation.burn_state
AS 'MODULE_PATHNAME', 'compensation_burn_state_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.burn_state_send(compensation.burn_state)
RETURNS bytea
AS 'MODULE_PATHNAME', 'compensation_burn_state_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE compensation.burn_state (
	INPUT = compensation.burn_state_in,
	OUTPUT = compensation.burn_state_out,
	RECEIVE = compensation.burn_state_recv,
	SEND = compensation.burn_state_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);

COMMENT ON TYPE compensation.burn_state IS
	'the partial state of burn(), as Citus workers ship it; made by the aggregate, not by hand';
COMMENT ON FUNCTION compensation.burn_state_in(cstring) IS 'input function of burn_state';
COMMENT ON FUNCTION compensation.burn_state_out(compensation.burn_state) IS 'output function of burn_state';
COMMENT ON FUNCTION compensation.burn_state_recv(internal) IS 'binary input function of burn_state';
COMMENT ON FUNCTION compensation.burn_state_send(compensation.burn_state) IS 'binary output function of burn_state';

CREATE TYPE compensation.uplift_state;

CREATE FUNCTION compensation.uplift_state_in(cstring)
RETURNS compensation.uplift_state
AS 'MODULE_PATHNAME', 'compensation_uplift_state_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_state_out(compensation.uplift_state)
RETURNS cstring
AS 'MODULE_PATHNAME', 'compensation_uplift_state_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_state_recv(internal)
RETURNS compensation.uplift_state
AS 'MODULE_PATHNAME', 'compensation_uplift_state_recv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_state_send(compensation.uplift_state)
RETURNS bytea
AS 'MODULE_PATHNAME', 'compensation_uplift_state_send'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE compensation.uplift_state (
	INPUT = compensation.uplift_state_in,
	OUTPUT = compensation.uplift_state_out,
	RECEIVE = compensation.uplift_state_recv,
	SEND = compensation.uplift_state_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);

COMMENT ON TYPE compensation.uplift_state IS
	'the partial state of uplift() and roi(), as Citus workers ship it; made by the aggregates, not by hand';
COMMENT ON FUNCTION compensation.uplift_state_in(cstring) IS 'input function of uplift_state';
COMMENT ON FUNCTION compensation.uplift_state_out(compensation.uplift_state) IS 'output function of uplift_state';
COMMENT ON FUNCTION compensation.uplift_state_recv(internal) IS 'binary input function of uplift_state';
COMMENT ON FUNCTION compensation.uplift_state_send(compensation.uplift_state) IS 'binary output function of uplift_state';

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
CREATE FUNCTION compensation.burn_transition(compensation.burn_state, numeric, timestamptz, numeric, text)
RETURNS compensation.burn_state
AS 'MODULE_PATHNAME', 'compensation_burn_transition'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.burn_transition(compensation.burn_state, numeric, timestamptz, numeric, text, timestamptz)
RETURNS compensation.burn_state
AS 'MODULE_PATHNAME', 'compensation_burn_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.burn_combine(compensation.burn_state, compensation.burn_state)
RETURNS compensation.burn_state
AS 'MODULE_PATHNAME', 'compensation_burn_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The quarter's bounds depend on compensation.fiscal_start_month and the
-- session's TimeZone: STABLE.
CREATE FUNCTION compensation.burn_final(compensation.burn_state)
RETURNS compensation.burn_result
AS 'MODULE_PATHNAME', 'compensation_burn_final'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION compensation.burn_transition(compensation.burn_state, numeric, timestamptz, numeric, text) IS
	'support function of burn(); as_of is the transaction timestamp';
COMMENT ON FUNCTION compensation.burn_transition(compensation.burn_state, numeric, timestamptz, numeric, text, timestamptz) IS
	'support function of burn() with as_of';
COMMENT ON FUNCTION compensation.burn_combine(compensation.burn_state, compensation.burn_state) IS 'support function of burn()';
COMMENT ON FUNCTION compensation.burn_final(compensation.burn_state) IS 'support function of burn()';

CREATE AGGREGATE compensation.burn(amount numeric, at timestamptz, budget numeric, quarter text) (
	SFUNC = compensation.burn_transition,
	STYPE = compensation.burn_state,
	SSPACE = 1024,
	FINALFUNC = compensation.burn_final,
	COMBINEFUNC = compensation.burn_combine,
	PARALLEL = SAFE
);

CREATE AGGREGATE compensation.burn(amount numeric, at timestamptz, budget numeric, quarter text,
								   as_of timestamptz) (
	SFUNC = compensation.burn_transition,
	STYPE = compensation.burn_state,
	SSPACE = 1024,
	FINALFUNC = compensation.burn_final,
	COMBINEFUNC = compensation.burn_combine,
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

CREATE FUNCTION compensation.uplift_transition(compensation.uplift_state, boolean, numeric)
RETURNS compensation.uplift_state
AS 'MODULE_PATHNAME', 'compensation_uplift_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.roi_transition(compensation.uplift_state, boolean, numeric, numeric)
RETURNS compensation.uplift_state
AS 'MODULE_PATHNAME', 'compensation_roi_transition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_combine(compensation.uplift_state, compensation.uplift_state)
RETURNS compensation.uplift_state
AS 'MODULE_PATHNAME', 'compensation_uplift_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.uplift_final(compensation.uplift_state)
RETURNS compensation.uplift_result
AS 'MODULE_PATHNAME', 'compensation_uplift_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION compensation.roi_final(compensation.uplift_state)
RETURNS compensation.roi_result
AS 'MODULE_PATHNAME', 'compensation_roi_final'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION compensation.uplift_transition(compensation.uplift_state, boolean, numeric) IS 'support function of uplift()';
COMMENT ON FUNCTION compensation.roi_transition(compensation.uplift_state, boolean, numeric, numeric) IS 'support function of roi()';
COMMENT ON FUNCTION compensation.uplift_combine(compensation.uplift_state, compensation.uplift_state) IS 'support function of uplift() and roi()';
COMMENT ON FUNCTION compensation.uplift_final(compensation.uplift_state) IS 'support function of uplift()';
COMMENT ON FUNCTION compensation.roi_final(compensation.uplift_state) IS 'support function of roi()';

CREATE AGGREGATE compensation.uplift(treated boolean, outcome numeric) (
	SFUNC = compensation.uplift_transition,
	STYPE = compensation.uplift_state,
	SSPACE = 1280,
	FINALFUNC = compensation.uplift_final,
	COMBINEFUNC = compensation.uplift_combine,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE compensation.uplift(boolean, numeric) IS
	'treated vs control: counts, exact means, difference, Welch standard error, df and 95% interval; rows with a NULL treated or outcome are left out';

CREATE AGGREGATE compensation.roi(treated boolean, outcome numeric, cost numeric) (
	SFUNC = compensation.roi_transition,
	STYPE = compensation.uplift_state,
	SSPACE = 1408,
	FINALFUNC = compensation.roi_final,
	COMBINEFUNC = compensation.uplift_combine,
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
	grants		bigint,
	pacing		text,
	exhausted_at timestamptz,
	spent_on_earlier_events numeric,
	unfunded_candidates bigint,
	unfunded_amount numeric,
	expired_candidates bigint
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
 *		keeps two decimals more than the currency.  pace is 'exhausted' once
 *		a run could not fund a candidate for budget (exhausted_at, as of
 *		as_of).  spent_on_earlier_events: what the quarter paid for events
 *		of an earlier quarter.  From the decisions: the candidates this
 *		budget did not fund (skipped for budget or pace, unique orders, with
 *		what they would have had) and those that aged out unfunded.
 */
CREATE FUNCTION compensation.budget_status(
	quarter text DEFAULT compensation.quarter(pg_catalog.now(),
		coalesce(pg_catalog.current_setting('compensation.fiscal_start_month', true)::integer, 1)),
	as_of timestamptz DEFAULT pg_catalog.now())
RETURNS SETOF compensation.budget_status_result
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
	-- The budgets of the quarter first, each computed once (the views'
	-- major amounts call to_major_units); then the grants and the decisions
	-- summed per budget by hash joins, so that nothing but the aggregates'
	-- inputs is evaluated per grant.
	WITH b AS MATERIALIZED (
		SELECT b.budget_id, b.program, b.quarter, b.market, b.currency, b.amount, b.pacing,
			   b.exhausted_at, b.amount_minor, c.minor_unit::integer AS minor_unit,
			   10::numeric OPERATOR(pg_catalog.^) c.minor_unit AS unit,
			   pg_catalog.lower(compensation.quarter_range(b.quarter,
					COALESCE(pg_catalog.current_setting('compensation.fiscal_start_month', true)::integer, 1)))
				   AS quarter_start
		  FROM compensation.budgets AS b
		  JOIN compensation.currency AS c
			ON c.code::text OPERATOR(pg_catalog.=) b.currency
		 WHERE b.quarter OPERATOR(pg_catalog.=) budget_status.quarter
		   -- checks the label once (a malformed one is an error)
		   AND compensation.quarter_range(budget_status.quarter) IS NOT NULL),
	spent AS (
		SELECT b.budget_id,
			   COALESCE(pg_catalog.sum(g.amount_minor) FILTER (
					WHERE g.at OPERATOR(pg_catalog.<) b.quarter_start), 0)::numeric AS earlier_minor,
			   -- a budget without grants still names itself: spent 0
			   compensation.burn(g.amount_minor::numeric, g.as_of, b.amount_minor::numeric,
								 b.quarter, budget_status.as_of) AS burn
		  FROM b
		  LEFT JOIN compensation.grants AS g
			ON g.budget_id OPERATOR(pg_catalog.=) b.budget_id
		   AND g.as_of OPERATOR(pg_catalog.<=) budget_status.as_of
		   AND (g.voided_at IS NULL OR g.voided_at OPERATOR(pg_catalog.>) budget_status.as_of)
		 GROUP BY b.budget_id),
	unfunded AS (
		SELECT d.budget_id,
			   pg_catalog.count(*) FILTER (WHERE d.outcome IN ('budget', 'pace')) AS unfunded,
			   COALESCE(pg_catalog.sum(d.amount_minor) FILTER (WHERE d.outcome IN ('budget', 'pace')),
						0)::numeric AS unfunded_minor,
			   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'expired') AS expired
		  FROM compensation.decisions AS d
		 WHERE d.budget_id IN (SELECT b.budget_id FROM b)
		   AND d.as_of OPERATOR(pg_catalog.<=) budget_status.as_of
		   -- the grants' branch of the view drops out (its outcome is a
		   -- constant): the grants are summed above
		   AND d.outcome IN ('budget', 'pace', 'expired')
		 GROUP BY d.budget_id)
	SELECT b.program, b.quarter, b.market, b.currency, b.amount,
		   pg_catalog.round((s.burn).spent OPERATOR(pg_catalog./) b.unit, b.minor_unit),
		   pg_catalog.round((s.burn).remaining OPERATOR(pg_catalog./) b.unit, b.minor_unit),
		   (s.burn).share_spent,
		   (s.burn).share_elapsed,
		   pg_catalog.round((s.burn).daily_rate OPERATOR(pg_catalog./) b.unit,
							b.minor_unit OPERATOR(pg_catalog.+) 2),
		   pg_catalog.round((s.burn).projected_spend OPERATOR(pg_catalog./) b.unit, b.minor_unit),
		   (s.burn).projected_exhaustion,
		   CASE WHEN b.exhausted_at OPERATOR(pg_catalog.<=) budget_status.as_of THEN 'exhausted'
				ELSE (s.burn).pace END,
		   (s.burn).grants,
		   b.pacing,
		   CASE WHEN b.exhausted_at OPERATOR(pg_catalog.<=) budget_status.as_of THEN b.exhausted_at END,
		   pg_catalog.round(s.earlier_minor OPERATOR(pg_catalog./) b.unit, b.minor_unit),
		   COALESCE(u.unfunded, 0),
		   pg_catalog.round(COALESCE(u.unfunded_minor, 0) OPERATOR(pg_catalog./) b.unit, b.minor_unit),
		   COALESCE(u.expired, 0)
	  FROM b
	  JOIN spent AS s USING (budget_id)
	  LEFT JOIN unfunded AS u USING (budget_id)
	 ORDER BY b.program, b.market NULLS FIRST;
$fn$;

COMMENT ON FUNCTION compensation.budget_status(text, timestamptz) IS
	'a row per budget of the quarter: spent, remaining, pace and projections from the grants made (and not voided) by as_of';

-- Readers get the aggregates, the quantile and budget_status (which reads
-- the budgets and grants views as the caller).  PostgreSQL checks the
-- support functions as the aggregates' owner, but Citus's
-- worker_partial_agg and coord_combine_agg check them as the caller
-- (InitializeStypeBox() in its utils/aggregate_utils.c), so readers get
-- them too: outside an aggregate they refuse to run.  Rights of PUBLIC are
-- revoked in 90_privileges.sql, after every part.
GRANT EXECUTE ON FUNCTION
	compensation.burn(numeric, timestamptz, numeric, text),
	compensation.burn(numeric, timestamptz, numeric, text, timestamptz),
	compensation.uplift(boolean, numeric),
	compensation.roi(boolean, numeric, numeric),
	compensation.student_t_quantile(float8, float8),
	compensation.budget_status(text, timestamptz),
	compensation.burn_transition(compensation.burn_state, numeric, timestamptz, numeric, text),
	compensation.burn_transition(compensation.burn_state, numeric, timestamptz, numeric, text, timestamptz),
	compensation.burn_combine(compensation.burn_state, compensation.burn_state),
	compensation.burn_final(compensation.burn_state),
	compensation.uplift_transition(compensation.uplift_state, boolean, numeric),
	compensation.roi_transition(compensation.uplift_state, boolean, numeric, numeric),
	compensation.uplift_combine(compensation.uplift_state, compensation.uplift_state),
	compensation.uplift_final(compensation.uplift_state),
	compensation.roi_final(compensation.uplift_state)
	TO compensation_reader;
