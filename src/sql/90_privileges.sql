/* src/sql/90_privileges.sql — who may do what (keep last). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- Least privilege: nothing in the schema is usable by PUBLIC.  Tables are
-- written only through the SECURITY DEFINER functions above, whose
-- search_path is pinned; readers get the views and the pure functions.
REVOKE ALL ON ALL TABLES IN SCHEMA compensation FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA compensation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA compensation FROM PUBLIC;

GRANT USAGE ON SCHEMA compensation
	TO compensation_reader, compensation_applier, compensation_admin;

-- reader
GRANT SELECT ON compensation.currency, compensation.budgets TO compensation_reader;
GRANT EXECUTE ON FUNCTION
	compensation.quarter(timestamptz, integer),
	compensation.quarter_range(text, integer),
	compensation.quarter_add(text, integer),
	compensation.currency_exponent(text),
	compensation.to_minor_units(numeric, text, text),
	compensation.to_major_units(bigint, text)
	TO compensation_reader;

-- admin (applier's extra rights come with the ledger)
GRANT EXECUTE ON FUNCTION
	compensation.set_budget(text, text, numeric, text, text),
	compensation.roll_quarter(text, text, boolean)
	TO compensation_admin;
