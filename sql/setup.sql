-- setup: install the extension once for the pg_regress suite; the objects
-- it creates are the contract, so list them.
CREATE EXTENSION compensation;
SELECT extname, extversion, extrelocatable, n.nspname AS schema
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'compensation';
-- every object the extension owns, by kind
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'compensation')
   AND deptype = 'e'
 ORDER BY 1;
-- every function pins its search_path, but the per-row evaluation
-- functions (eligible, amount, evaluate, signal_holds) and their *_columns
-- and *_spec twins, the aggregates with their support functions, the
-- binomial tails of the review reports, to_major_units and
-- voucher_code_grant_id, which the ledger's CHECK calls on every grant (a
-- SET clause would save and restore a GUC on every row, and aggregates
-- cannot have one; they resolve nothing through search_path: see
-- src/sql/20_currency.sql, src/sql/40_strategy.sql, src/sql/50_ledger.sql,
-- src/sql/60_analysis.sql, src/sql/62_budgets.sql, src/sql/70_reviews.sql)
SELECT p.oid::regprocedure::text AS function_without_pinned_search_path
  FROM pg_proc p
 WHERE p.pronamespace = 'compensation'::regnamespace
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
 ORDER BY 1;
-- only SECURITY DEFINER functions we meant, all pinned (checked above)
SELECT p.oid::regprocedure::text AS security_definer
  FROM pg_proc p
 WHERE p.pronamespace = 'compensation'::regnamespace AND p.prosecdef
 ORDER BY 1;

-- Test helper for every later file: run a statement and show the error it
-- raises, with its SQLSTATE, detail and hint, or '(no error)'.  (VERBOSITY
-- verbose would also print C line numbers, which change with every edit.)
CREATE SCHEMA regress;
CREATE FUNCTION regress.error_of(statement text,
								 OUT code text, OUT message text,
								 OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $fn$
BEGIN
	EXECUTE statement;
	code := '(no error)';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
							detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$fn$;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
