-- Roles: reader, applier, admin; and what nobody else may do.
SELECT r.rolname, r.rolcanlogin, r.rolsuper,
	   array(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
			  WHERE m.member = r.oid ORDER BY 1) AS member_of
  FROM pg_roles r WHERE r.rolname LIKE 'compensation\_%' ORDER BY 1;

-- the privilege matrix: role x object x privilege
SELECT role,
	   has_schema_privilege(role, 'compensation', 'USAGE') AS schema_usage,
	   has_table_privilege(role, 'compensation.budgets', 'SELECT') AS read_budgets,
	   has_table_privilege(role, 'compensation.currency', 'SELECT') AS read_currency,
	   has_table_privilege(role, 'compensation.budget', 'SELECT') AS read_budget_table,
	   has_table_privilege(role, 'compensation.budget', 'INSERT,UPDATE,DELETE,TRUNCATE') AS write_budget_table,
	   has_table_privilege(role, 'compensation.currency', 'INSERT,UPDATE,DELETE,TRUNCATE') AS write_currency,
	   has_function_privilege(role, 'compensation.quarter(timestamptz,integer)', 'EXECUTE') AS quarter,
	   has_function_privilege(role, 'compensation.set_budget(text,text,numeric,text,text)', 'EXECUTE') AS set_budget,
	   has_function_privilege(role, 'compensation.roll_quarter(text,text,boolean)', 'EXECUTE') AS roll_quarter
  FROM unnest(ARRAY['compensation_reader', 'compensation_applier', 'compensation_admin', 'public']) AS role
 ORDER BY 1;

-- try the forbidden things for real
CREATE ROLE regress_comp_stranger;
SELECT compensation.set_budget('reviews', '2026-Q3', 100, 'EUR') > 0 AS admin_setup;

SET ROLE compensation_reader;
SELECT program, quarter, amount FROM compensation.budgets WHERE quarter = '2026-Q3';
SELECT compensation.quarter('2026-11-24 12:00+00') AS reader_can_compute;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('reviews', '2026-Q3', 1000000, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.roll_quarter('2026-Q3', '2026-Q4')$$);
SELECT * FROM regress.error_of($$UPDATE compensation.budget SET amount_minor = 1$$);
SELECT * FROM regress.error_of($$INSERT INTO compensation.currency VALUES ('ZZZ', 2, 'fake')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.budget$$);
\x off
RESET ROLE;

SET ROLE compensation_applier;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('reviews', '2026-Q3', 1000000, 'EUR')$$);
SELECT * FROM regress.error_of($$DELETE FROM compensation.budget$$);
\x off
RESET ROLE;

SET ROLE compensation_admin;
SELECT compensation.set_budget('reviews', '2026-Q3', 200, 'EUR') > 0 AS admin_can_set;
\x on
SELECT * FROM regress.error_of($$UPDATE compensation.budget SET spent_minor = 0$$);
SELECT * FROM regress.error_of($$TRUNCATE compensation.budget$$);
\x off
RESET ROLE;

SET ROLE regress_comp_stranger;
\x on
SELECT * FROM regress.error_of($$SELECT * FROM compensation.budgets$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter(now())$$);
\x off
RESET ROLE;

-- a function planted in a schema ahead of pg_catalog is never called by
-- set_budget (search_path is pinned): plant btrim and upper that would
-- corrupt the program name, then check the stored name.
CREATE SCHEMA regress_evil;
CREATE FUNCTION regress_evil.btrim(text) RETURNS text LANGUAGE sql AS $$SELECT 'hijacked'$$;
CREATE FUNCTION regress_evil.upper(text) RETURNS text LANGUAGE sql AS $$SELECT 'XXX'$$;
GRANT USAGE ON SCHEMA regress_evil TO compensation_admin;
SET search_path = regress_evil, pg_catalog, public;
SET ROLE compensation_admin;
SELECT compensation.set_budget('planted', '2026-Q3', 1, 'EUR') > 0 AS set_with_planted_path;
RESET ROLE;
RESET search_path;
SELECT program, currency FROM compensation.budgets WHERE quarter = '2026-Q3' ORDER BY 1;
DROP SCHEMA regress_evil CASCADE;
DROP ROLE regress_comp_stranger;
