/* src/sql/45_compiled.sql — what the compiled strategies depend on. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- Compiled strategies also hold the currency table (minor units): a change
-- to it invalidates them in every session, as a change to the strategy
-- tables does (src/strategy_cache.c).
CREATE TRIGGER currency_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON compensation.currency
	FOR EACH STATEMENT EXECUTE FUNCTION compensation.strategy_changed();

/*
 * compile_stats() -> (parses, binds)
 *		How many times this backend has parsed a stored strategy version and
 *		bound one to a row type: a version is parsed once and bound once per
 *		row type it is evaluated on, whoever asks (tests hold the engine to
 *		it).
 */
CREATE FUNCTION compensation.compile_stats(OUT parses bigint, OUT binds bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'compensation_compile_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.compile_stats() IS
	'this backend''s count of strategy versions parsed and bound to a row type';

GRANT EXECUTE ON FUNCTION compensation.compile_stats() TO compensation_reader;
