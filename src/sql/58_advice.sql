/* src/sql/58_advice.sql — what a scheduled run costs (src/advice.c). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * check_strategy(strategy, version) -> the advice on the source of the
 * version (the active one when NULL), also raised as NOTICEs with a hint:
 * no index can restrict a run to its window of candidates (at >= as_of -
 * max_age).  define_strategy runs it on every new version.
 */
CREATE FUNCTION compensation.check_strategy(strategy text, version integer DEFAULT NULL)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'compensation_check_strategy'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.check_strategy(text, integer) IS
	'advice on a strategy''s source: when no index (or partitioning) can restrict a scheduled run to its window on the at column';

/*
 * candidate_query(strategy, as_of) -> the query a real run of the active
 * version reads as of as_of, with its parameters as literals: EXPLAIN it to
 * see how a run scans the source.
 */
CREATE FUNCTION compensation.candidate_query(strategy text, as_of timestamptz DEFAULT now())
RETURNS text
AS 'MODULE_PATHNAME', 'compensation_candidate_query'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.candidate_query(text, timestamptz) IS
	'the candidate query a run of the active version reads as of as_of, parameters written in (for EXPLAIN)';

GRANT EXECUTE ON FUNCTION compensation.check_strategy(text, integer),
	compensation.candidate_query(text, timestamptz) TO compensation_reader;
