/* src/sql/10_quarter.sql — calendar and fiscal quarters (src/quarter.c). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

CREATE FUNCTION compensation.quarter(ts timestamptz, fiscal_start_month integer DEFAULT 1)
RETURNS text
AS 'MODULE_PATHNAME', 'compensation_quarter'
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.quarter(timestamptz, integer) IS
	'quarter label (''2026-Q4'') of ts in the session TimeZone; fiscal years are named by the calendar year they start in';

CREATE FUNCTION compensation.quarter_range(quarter text, fiscal_start_month integer DEFAULT 1)
RETURNS tstzrange
AS 'MODULE_PATHNAME', 'compensation_quarter_range'
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.quarter_range(text, integer) IS
	'[start, end) of a ''YYYY-Qn'' quarter at local midnight in the session TimeZone';

CREATE FUNCTION compensation.quarter_add(quarter text, quarters integer)
RETURNS text
AS 'MODULE_PATHNAME', 'compensation_quarter_add'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.quarter_add(text, integer) IS
	'the quarter label n quarters after (n < 0: before) the given one';
