/* src/sql/00_roles.sql — the three roles, created if missing. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- Roles are cluster-wide, so a second database installing the extension
-- finds them already there; we create only what is missing and never drop.
--   compensation_reader:  views, evaluation functions, aggregates
--   compensation_applier: reader + apply, void_grant
--   compensation_admin:   applier + define/activate strategies, budgets
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'compensation_reader') THEN
		CREATE ROLE compensation_reader NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'compensation_applier') THEN
		CREATE ROLE compensation_applier NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'compensation_admin') THEN
		CREATE ROLE compensation_admin NOLOGIN;
	END IF;
END
$roles$;

GRANT compensation_reader TO compensation_applier;
GRANT compensation_applier TO compensation_admin;

COMMENT ON SCHEMA compensation IS
	'buyer compensation: strategies, budgets, grants (see the compensation extension README)';
