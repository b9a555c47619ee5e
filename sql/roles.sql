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
	   has_function_privilege(role, 'compensation.set_budget(text,text,numeric,text,text,text)', 'EXECUTE') AS set_budget,
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

-- Strategies: admins define and activate; readers evaluate; nobody edits a
-- stored version or bypasses validation by writing the tables directly.
CREATE TABLE public.role_src (order_id text, buyer_id text, at timestamptz, v numeric);
INSERT INTO public.role_src VALUES ('o1', 'b1', now(), 10);
GRANT SELECT ON public.role_src TO compensation_admin, compensation_reader;
CREATE TABLE pg_temp.spec AS SELECT '{"scenario": "s", "source": "public.role_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"}, "currency": "EUR",
	"when": {"col": "v", "op": ">", "value": 5}, "amount": {"type": "fixed", "value": 3},
	"instrument": "coupon", "program": "roles"}'::jsonb AS spec;
GRANT SELECT ON pg_temp.spec TO PUBLIC;
SELECT role,
	   has_function_privilege(role, 'compensation.define_strategy(text,jsonb)', 'EXECUTE') AS define,
	   has_function_privilege(role, 'compensation.activate(text,integer)', 'EXECUTE') AS activate,
	   has_function_privilege(role, 'compensation.evaluate(text,record,integer)', 'EXECUTE') AS evaluate,
	   has_table_privilege(role, 'compensation.strategies', 'SELECT') AS read_strategies,
	   has_table_privilege(role, 'compensation.strategy_version', 'INSERT') AS insert_version,
	   has_column_privilege(role, 'compensation.strategy_version', 'spec', 'UPDATE') AS update_spec,
	   has_table_privilege(role, 'compensation.strategy_version', 'DELETE,TRUNCATE') AS delete_version
  FROM unnest(ARRAY['compensation_reader', 'compensation_applier', 'compensation_admin', 'public']) AS role
 ORDER BY 1;

SET ROLE compensation_admin;
SELECT compensation.define_strategy('roles_s', (SELECT spec FROM pg_temp.spec)) AS admin_defines;
SELECT compensation.activate('roles_s') AS admin_activates;
\x on
SELECT * FROM regress.error_of($$INSERT INTO compensation.strategy_version (strategy_id, version, spec, scenario, source, program, instrument, priority, exclusive_group, valid)
	SELECT strategy_id, 2, '{"source": "public.role_src"}', '', '', '', '', 0, '', 'empty' FROM compensation.strategy WHERE name = 'roles_s'$$);
SELECT * FROM regress.error_of($$UPDATE compensation.strategy_version SET spec = '{}'$$);
SELECT * FROM regress.error_of($$DELETE FROM compensation.strategy_version$$);
\x off
RESET ROLE;

SET ROLE compensation_reader;
SELECT compensation.amount('roles_s', r) AS reader_evaluates FROM public.role_src AS r;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.define_strategy('roles_r', (SELECT spec FROM pg_temp.spec))$$);
SELECT * FROM regress.error_of($$SELECT compensation.pause('roles_s')$$);
SELECT * FROM regress.error_of($$UPDATE compensation.strategy_version SET status = 'retired'$$);
\x off
RESET ROLE;

SET ROLE compensation_applier;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.retire('roles_s')$$);
\x off
RESET ROLE;

-- an admin cannot point a strategy at a table the admin cannot read: the
-- author is the session user (SET ROLE does not change it)
CREATE TABLE public.role_secret (order_id text, buyer_id text, at timestamptz, v numeric);
SET SESSION AUTHORIZATION compensation_admin;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.define_strategy('roles_secret',
	(SELECT spec FROM pg_temp.spec) || '{"source": "public.role_secret"}')$$);
\x off
-- nor forge a version's author, salt or status by writing the tables
\x on
SELECT * FROM regress.error_of($$INSERT INTO compensation.strategy (name, holdout_salt, created_by)
	VALUES ('forged', 'late_v3', 'postgres')$$);
SELECT * FROM regress.error_of($$UPDATE compensation.strategy_version SET status = 'active'$$);
\x off
SELECT compensation.define_strategy('roles_authored', (SELECT spec FROM pg_temp.spec)) AS defined;
RESET SESSION AUTHORIZATION;
SET ROLE compensation_admin;
SELECT compensation.define_strategy('roles_authored', (SELECT spec FROM pg_temp.spec)) AS defined_after_set_role;
RESET ROLE;
-- the recorded author of each version is the session user of the call
SELECT v.version,
	   CASE WHEN v.created_by = session_user THEN '(the test''s session user)' ELSE v.created_by::text END AS author,
	   s.created_by AS strategy_author, v.source_kind,
	   v.source_owner = session_user AS source_owned_by_test_user
  FROM compensation.strategy AS s JOIN compensation.strategy_version AS v USING (strategy_id)
 WHERE s.name = 'roles_authored' ORDER BY v.version;
DROP ROLE regress_comp_stranger;
