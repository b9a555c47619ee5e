/* src/sql/05_security.sql — the guard of every function that writes. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * refuse_in_restricted_operation(what)
 *		Raise an error inside a security-restricted operation: apply reads a
 *		strategy's source as its author inside one, and the author's code
 *		(a function in a view) must not reach back into the extension's
 *		SECURITY DEFINER functions, which would act, and record the session
 *		user, as whoever runs the scheduled job (src/security.c).  Called
 *		first by every function that writes; granted to nobody.
 */
CREATE FUNCTION compensation.refuse_in_restricted_operation(what text)
RETURNS void
AS 'MODULE_PATHNAME', 'compensation_refuse_in_restricted_operation'
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp;
