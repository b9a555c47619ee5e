#!/usr/bin/env bash
# test/shell/every_function.sh — every C entry point checks its arguments (issue #10).
#
# In a fresh database with the extension, a small table, a view over it and
# one defined, active strategy ("any_strategy", so that names resolve), takes
# EVERY function of the extension from the catalog (pg_proc joined to
# pg_depend on the extension's pg_extension row, deptype 'e': aggregates,
# their support functions, the *_columns twins, triggers; never a hand list)
# and generates calls for each:
#   - all arguments NULL;
#   - one argument at a time varied over hostile values of its type, the
#     others held at a plausible value: zeros, -1, empty strings and arrays,
#     'epoch' and infinite timestamps, extreme numbers (1e308, 'NaN',
#     'Infinity'), wrong OIDs (0, 1, 'int4'::regtype, 'pg_class'::regclass),
#     garbage bytea, odd jsonb, huge and control-character text, rows of the
#     wrong type;
#   - VARIADIC "any" (the *_columns twins): a set of shapes, among them the
#     known crash eligible_columns('any_strategy', NULL, 0, '{}', '(0,1)'::tid);
#   - aggregates both on one row and over a table with a forced parallel
#     plan, so that their combine, serialize and deserialize functions run;
#   - functions taking "internal" are called too (with NULL::internal):
#     PostgreSQL refuses that at parse time (42846), which the summary shows;
#     trigger functions are called directly and must raise an error.
# Every call runs in its own statement (ON_ERROR_STOP off, VERBOSITY
# verbose) as compensation_reader, compensation_applier, compensation_admin
# (through login roles created here) and as the superuser.
#
# Fails on any crash (connection lost, or "terminated by signal" in the
# server log) or any internal error (SQLSTATE XX000 or any class XX), and
# prints each such call.  Permission denied (42501) and ordinary errors are
# fine.  Prints a summary: calls made, counts per SQLSTATE.
#
# Environment: PGHOST/PGPORT/PGUSER (a superuser) of a running cluster where
# "make install" happened; COMP_PGLOG, the server log (optional).
# EVERY_FUNCTION_KEEP=1 keeps the database and the generated scripts.
# Exit 0 = pass, 77 = skip (no server), 1 = fail.
set -uo pipefail

DB=compensation_every_function
ROLES="compensation_reader compensation_applier compensation_admin"
started=$SECONDS

say() { printf 'every_function: %s\n' "$*"; }
psql_su() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
SUPERUSER=$(psql -X -At -d postgres -c 'SELECT current_user')

log=${COMP_PGLOG:-}
if [ -z "$log" ] && [ -n "${PGHOST:-}" ] && [ -f "${PGHOST}/server.log" ]; then
	log=$PGHOST/server.log
fi
[ -n "$log" ] && [ -r "$log" ] || log=""
log_start=0
[ -z "$log" ] || log_start=$(stat -c %s "$log")

work=$(mktemp -d /tmp/compensation-every-function.XXXXXX)
chmod 755 "$work"
cleanup() {
	if [ -z "${EVERY_FUNCTION_KEEP:-}" ]; then
		rm -rf "$work"
		psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
		for r in $ROLES; do
			psql -X -q -d postgres -c "DROP ROLE IF EXISTS ef_login_${r#compensation_}" >/dev/null 2>&1
		done
	else
		say "kept database $DB and scripts in $work"
	fi
}
trap cleanup EXIT

wait_for_server() {
	local i
	for i in $(seq 1 120); do
		psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB" >/dev/null || exit 1
for r in $ROLES; do
	login=ef_login_${r#compensation_}
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $login" >/dev/null 2>&1
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE ROLE $login LOGIN IN ROLE $r" >/dev/null || exit 1
done

# ---- the database: a source table, a view, budgets, two strategies ----------
psql_su >/dev/null <<'SQL' || { say "setup failed"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION compensation;
SET TimeZone = 'UTC';
CREATE TABLE public.ef_src (
	order_id	text,
	buyer_id	text,
	at			timestamptz,
	promised_at	timestamptz,
	value		numeric,
	currency	text,
	market		text,
	rating		integer,
	segment		text
);
INSERT INTO public.ef_src
SELECT 'o' || i, 'b' || (i % 17), timestamptz '2026-10-01' + i * interval '1 hour',
	   timestamptz '2026-10-01' + i * interval '1 hour' - interval '4 days',
	   (i % 90) + 0.5, (ARRAY['EUR', 'EUR', 'JPY', 'BHD', NULL])[1 + i % 5],
	   (ARRAY['DE', 'FR', NULL])[1 + i % 3], i % 6, (ARRAY['vip', NULL, 'std'])[1 + i % 3]
  FROM generate_series(1, 2000) AS i;
INSERT INTO public.ef_src VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	('inf', 'b', 'infinity', '-infinity', 'NaN', 'EUR', 'DE', 1, 'vip'),
	('big', 'b', '2026-10-02', '2026-09-01', 1e300, 'EUR', 'DE', 1, 'vip');
ALTER TABLE public.ef_src SET (parallel_workers = 2);
ANALYZE public.ef_src;
CREATE VIEW public.ef_view AS SELECT * FROM public.ef_src;
GRANT SELECT ON public.ef_src, public.ef_view TO PUBLIC;
-- a second row type, for the wrong-row-type calls
CREATE TABLE public.ef_other (x integer, order_id integer);
INSERT INTO public.ef_other VALUES (1, 2);
GRANT SELECT ON public.ef_other TO PUBLIC;

SELECT compensation.set_budget('delivery', '2026-Q4', 100000, 'EUR');
SELECT compensation.set_budget('delivery', '2026-Q4', 100, 'EUR', 'DE');
SELECT compensation.define_strategy('any_strategy', '{
	"scenario": "late_delivery", "source": "public.ef_src",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at",
			 "value": "value", "currency": "currency", "market": "market"},
	"when": {"all": [{"name": "late", "days": ["promised_at", "at"], "op": ">=", "value": 3},
					 {"any": [{"col": "rating", "op": "<=", "value": 2},
							  {"col": "segment", "op": "in", "value": ["vip", "gold"]}]}]},
	"amount": {"type": "percent", "of": "value", "rate": 0.10, "min": 2, "max": 20,
			   "segment": {"col": "segment", "multipliers": {"vip": 1.5}, "default": 1}},
	"instrument": "voucher", "program": "delivery", "holdout": 0.1,
	"caps": {"per_buyer_count": {"max": 2, "window": "90 days"}},
	"notify": {"channel": "push", "template": "{order}: {amount} {currency}"},
	"valid": {"from": "2026-10-01", "to": "2027-01-01"}}');
SELECT compensation.activate('any_strategy');
-- a second strategy for the lifecycle functions (pause, retire, ...), so
-- that any_strategy stays active for the evaluation calls
SELECT compensation.define_strategy('other_strategy', '{
	"scenario": "low_rating", "source": "public.ef_view",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"}, "currency": "EUR",
	"when": {"col": "rating", "op": "<=", "value": 1},
	"amount": {"type": "fixed", "value": 5}, "instrument": "points", "program": "delivery"}');
SELECT compensation.activate('other_strategy');
SELECT count(*) FROM compensation.apply('any_strategy', '2026-11-01');
SQL

# ---- the calls, generated from the catalog ----------------------------------
psql_su -At >"$work/calls.sql" <<'SQL' || { say "generating the calls failed"; exit 1; }
SET client_min_messages = warning;
-- every function of the extension, from the catalog
CREATE TEMP TABLE fn AS
SELECT p.oid, p.proname, p.prokind, p.pronargs, p.provariadic,
	   p.proargtypes::oid[] AS argtypes,
	   coalesce(p.proargnames[1:p.pronargs], '{}') AS argnames,
	   p.prorettype = 'trigger'::regtype AS is_trigger,
	   p.proretset
  FROM pg_catalog.pg_proc AS p
  JOIN pg_catalog.pg_depend AS d
	ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_catalog.pg_extension AS e
	ON d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = e.oid
 WHERE e.extname = 'compensation';

-- hostile values by type; pname: only for a parameter of that name;
-- good: the plausible value held while another argument varies
CREATE TEMP TABLE val (typ regtype, pname text, expr text, good boolean DEFAULT false);
INSERT INTO val (typ, pname, expr, good) VALUES
	('text', NULL, $$'any_strategy'$$, true),
	('text', NULL, $$''$$, false), ('text', NULL, $$' '$$, false),
	('text', NULL, $$'nonexistent'$$, false),
	('text', NULL, $$'2026-Q4'$$, false), ('text', NULL, $$'EUR'$$, false),
	('text', NULL, $$repeat('x', 100000)$$, false),
	('text', NULL, $$E'\x01\t\n' || chr(65533)$$, false),
	('text', NULL, $$'%s%n%d'$$, false),
	('text', NULL, $$'9999-Q9'$$, false), ('text', NULL, $$'-2147483648-Q1'$$, false),
	('text', NULL, $$'2026-Q0'$$, false), ('text', NULL, $$'0000-Q1'$$, false),
	('text', NULL, $$'292278-Q4'$$, false),
	('text', 'name', $$'other_strategy'$$, true),
	('text', 'quarter', $$'2026-Q4'$$, true), ('text', 'from', $$'2026-Q4'$$, true),
	('text', 'to', $$'2027-Q1'$$, true),
	('text', 'currency', $$'EUR'$$, true), ('text', 'budget_currency', $$'EUR'$$, true),
	('text', 'currency', $$'eur'$$, false), ('text', 'currency', $$'JPY'$$, false),
	('text', 'currency', $$'CLF'$$, false), ('text', 'currency', $$'XXX'$$, false),
	('text', 'program', $$'delivery'$$, true), ('text', 'market', $$'DE'$$, true),
	('text', 'reason', $$'test'$$, true), ('text', 'salt', $$'late_v3'$$, true),
	('text', 'buyer', $$'b1'$$, true), ('text', 'mode', $$'half_up'$$, true),
	('text', 'rounding', $$'half_up'$$, true),
	('integer', NULL, '1', true), ('integer', NULL, '0', false), ('integer', NULL, '-1', false),
	('integer', NULL, '13', false), ('integer', NULL, '2147483647', false),
	('integer', NULL, '(-2147483648)', false),
	('integer', 'version', 'NULL::integer', true),
	('integer', 'fiscal_start_month', '1', true),
	('bigint', NULL, '1', true), ('bigint', NULL, '0', false), ('bigint', NULL, '-1', false),
	('bigint', NULL, '9223372036854775807', false), ('bigint', NULL, '(-9223372036854775808)', false),
	('smallint', NULL, '1', true), ('smallint', NULL, '0', false), ('smallint', NULL, '(-1)', false),
	('smallint', NULL, '32767', false),
	('numeric', NULL, '10', true), ('numeric', NULL, '0', false), ('numeric', NULL, '-1', false),
	('numeric', NULL, '1e308', false), ('numeric', NULL, '-1e308', false),
	('numeric', NULL, $$'NaN'::numeric$$, false), ('numeric', NULL, $$'Infinity'::numeric$$, false),
	('numeric', NULL, $$'-Infinity'::numeric$$, false), ('numeric', NULL, '0.000000000000000000001', false),
	('numeric', NULL, $$('1' || repeat('0', 1000))::numeric$$, false),
	('numeric', NULL, '9223372036854775808', false),
	('double precision', NULL, '0.5', true), ('double precision', NULL, '0', false),
	('double precision', NULL, '1', false), ('double precision', NULL, '-1', false),
	('double precision', NULL, '1e308', false), ('double precision', NULL, '-1e308', false),
	('double precision', NULL, '1e-308', false),
	('double precision', NULL, $$'NaN'::float8$$, false),
	('double precision', NULL, $$'Infinity'::float8$$, false),
	('double precision', NULL, $$'-Infinity'::float8$$, false),
	('double precision', 'p', '0.975', true), ('double precision', 'df', '10', true),
	('boolean', NULL, 'false', true), ('boolean', NULL, 'true', false),
	('timestamp with time zone', NULL, $$'2026-11-01 00:00+00'$$, true),
	('timestamp with time zone', NULL, $$'epoch'$$, false),
	('timestamp with time zone', NULL, $$'infinity'$$, false),
	('timestamp with time zone', NULL, $$'-infinity'$$, false),
	('timestamp with time zone', NULL, $$'4713-01-01 00:00+00 BC'$$, false),
	('timestamp with time zone', NULL, $$'294276-12-31 23:59:59+00'$$, false),
	('timestamp with time zone', 'from', $$'2026-10-01 00:00+00'$$, true),
	('timestamp with time zone', 'to', $$'2027-01-01 00:00+00'$$, true),
	('oid', NULL, $$'public.ef_src'::regtype::oid$$, true),
	('oid', NULL, '0', false), ('oid', NULL, '1', false), ('oid', NULL, '4294967295', false),
	('oid', NULL, $$'int4'::regtype::oid$$, false),
	('oid', NULL, $$'pg_class'::regclass::oid$$, false),
	('oid', NULL, $$'pg_class'::regtype::oid$$, false),
	('oid', NULL, $$'compensation.decision'::regtype::oid$$, false),
	('oid', NULL, $$'record'::regtype::oid$$, false),
	('oid', NULL, $$'public.ef_other'::regtype::oid$$, false),
	('smallint[]', NULL, $$'{1,2,3,4,5,6,7,8,9}'$$, true),
	('smallint[]', NULL, $$'{}'$$, false), ('smallint[]', NULL, $$'{0}'$$, false),
	('smallint[]', NULL, $$'{-1}'$$, false), ('smallint[]', NULL, $$'{-7}'$$, false),
	('smallint[]', NULL, $$'{32767}'$$, false), ('smallint[]', NULL, $$'{NULL}'$$, false),
	('smallint[]', NULL, $$'{{1},{2}}'$$, false), ('smallint[]', NULL, $$'{1,1,1}'$$, false),
	('smallint[]', NULL, $$'[5:5]={1}'$$, false),
	('smallint[]', NULL, $$(SELECT array_agg(i::int2) FROM generate_series(1, 2000) i)$$, false),
	('jsonb', NULL, $$(SELECT spec FROM compensation.strategies WHERE name = 'any_strategy')$$, true),
	('jsonb', NULL, $$'{}'$$, false), ('jsonb', NULL, $$'[]'$$, false),
	('jsonb', NULL, $$'null'$$, false), ('jsonb', NULL, $$'0'$$, false),
	('jsonb', NULL, $$'""'$$, false), ('jsonb', NULL, $$'[{}]'$$, false),
	('jsonb', NULL, $$repeat('[', 5000)::text || repeat(']', 5000)$$, false),
	('jsonb', NULL, $$(SELECT spec || '{"when": {"not": {"not": {"all": []}}}}' FROM compensation.strategies WHERE name = 'any_strategy')$$, false),
	('jsonb', NULL, $$(SELECT spec || '{"source": "pg_catalog.pg_authid"}' FROM compensation.strategies WHERE name = 'any_strategy')$$, false),
	('record', NULL, $$(SELECT e FROM public.ef_src AS e WHERE e.order_id = 'o1')$$, true),
	('record', NULL, $$(SELECT e FROM public.ef_view AS e WHERE e.order_id = 'o2')$$, false),
	('record', NULL, $$(SELECT e FROM public.ef_src AS e WHERE e.order_id IS NULL)$$, false),
	('record', NULL, $$(SELECT e FROM public.ef_src AS e WHERE e.order_id = 'inf')$$, false),
	('record', NULL, $$(SELECT e FROM public.ef_src AS e WHERE e.order_id = 'big')$$, false),
	('record', NULL, $$ROW()$$, false), ('record', NULL, $$ROW(1, 2)$$, false),
	('record', NULL, $$ROW(NULL)$$, false),
	('record', NULL, $$(SELECT o FROM public.ef_other AS o)$$, false),
	('record', NULL, $$(SELECT r FROM (SELECT 1 AS order_id, 'x' AS buyer_id) AS r)$$, false),
	('record', NULL, $$(SELECT r FROM (SELECT order_id, buyer_id, at, promised_at, rating FROM public.ef_src LIMIT 1) AS r)$$, false),
	('record', NULL, $$'(0,1)'::tid$$, false),
	('bytea', NULL, $$'\x00'::bytea$$, true), ('bytea', NULL, $$''::bytea$$, false),
	('bytea', NULL, $$'\xffffffff'::bytea$$, false),
	('bytea', NULL, $$decode(md5('a') || md5('b') || md5('c'), 'hex')$$, false),
	('bytea', NULL, $$decode(repeat('7f', 64), 'hex')$$, false),
	('bytea', NULL, $$decode(repeat('00', 300), 'hex')$$, false),
	('internal', NULL, 'NULL::internal', true);

-- the value list of one parameter (name-specific values first)
CREATE TEMP TABLE param AS
SELECT f.oid, a.i, a.typ, f.argnames[a.i] AS pname
  FROM fn AS f, unnest(f.argtypes) WITH ORDINALITY AS a(typ, i);

CREATE TEMP VIEW param_val AS
SELECT p.oid, p.i, p.typ, v.expr, v.good, v.pname IS NOT NULL AS named
  FROM param AS p
  JOIN val AS v ON v.typ = p.typ AND (v.pname IS NULL OR v.pname = p.pname);

CREATE TEMP VIEW base AS
SELECT DISTINCT ON (p.oid, p.i) p.oid, p.i, coalesce(v.expr, format('NULL::%s', p.typ::regtype)) AS expr
  FROM param AS p
  LEFT JOIN param_val AS v ON v.oid = p.oid AND v.i = p.i AND v.good
 ORDER BY p.oid, p.i, v.named DESC;

-- one call's SQL from its argument expressions
CREATE TEMP TABLE call (oid oid, args text[]);
-- all NULLs
INSERT INTO call
SELECT f.oid, coalesce(array_agg(format('NULL::%s', a.typ::regtype) ORDER BY a.i), '{}')
  FROM fn AS f LEFT JOIN LATERAL unnest(f.argtypes) WITH ORDINALITY AS a(typ, i) ON true
 WHERE f.provariadic = 0
 GROUP BY f.oid;
-- the plausible call, and one argument at a time varied
INSERT INTO call
SELECT f.oid, array(SELECT CASE WHEN b.i = v.i THEN v.expr ELSE b.expr END
					  FROM base AS b WHERE b.oid = f.oid ORDER BY b.i)
  FROM fn AS f JOIN param_val AS v ON v.oid = f.oid
 WHERE f.provariadic = 0;
-- the *_columns twins: VARIADIC "any" shapes
CREATE TEMP TABLE shape (s text);
INSERT INTO shape VALUES
	-- the known crash (#10)
	($$'any_strategy', NULL, 0, '{}', '(0,1)'::tid$$),
	($$'any_strategy', NULL, 0, '{}', NULL::tid$$),
	($$'any_strategy', NULL, 0, '{}', 1$$),
	($$'any_strategy', NULL, 0, NULL, '(0,1)'::tid$$),
	($$'any_strategy', NULL, NULL, '{}', '(0,1)'::tid$$),
	($$NULL, NULL, NULL, NULL, NULL::tid$$),
	($$NULL, NULL, NULL, NULL, NULL::int$$),
	($$'any_strategy', 1, 1, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'int4'::regtype, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'pg_class'::regclass::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'pg_class'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'compensation.decision'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_other'::regtype::oid, '{1,2}', '(0,1)'::tid, 1, 2$$),
	($$'any_strategy', NULL, 'record'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	-- the right row type with the wrong columns, counts and types
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{}', '(0,1)'::tid$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3}', '(0,1)'::tid$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1', 'b1', 'c'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{0}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{-1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{-7}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{99}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{32767}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{NULL}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{{1}}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '[3:3]={1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,1}', '(0,1)'::tid, 'o1', 'o1'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 42$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{5}', '(0,1)'::tid, 'not a number'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{3}', '(0,1)'::tid, 42$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{3,4}', '(0,1)'::tid, 1.5, true$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3,4,5,6,7,8,9}', '(0,1)'::tid, 'o1', 'b1', 'infinity'::timestamptz, '-infinity'::timestamptz, 'NaN'::numeric, 'EUR', 'DE', 1, 'vip'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3,4,5,6,7,8,9}', NULL::tid, 'o1', 'b1', '2026-10-10'::timestamptz, '2026-10-01'::timestamptz, 10::numeric, 'EUR', 'DE', 1, 'vip'$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3,4,5,6,7,8,9}', '(0,1)'::tid, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3,4,5,6,7,8,9}', '(0,1)'::tid, 1, 2, 3, 4, 5, 6, 7, 8, 9$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2,3,4,5,6,7,8,9}', 'o1', 'b1', '2026-10-10'::timestamptz, '2026-10-01'::timestamptz, 10::numeric, 'EUR', 'DE', 1, 'vip'$$),
	($$'any_strategy', 0, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', -1, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'any_strategy', 2147483647, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'', NULL, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'nonexistent', NULL, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'other_strategy', NULL, 'public.ef_src'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	($$'other_strategy', NULL, 'public.ef_view'::regtype::oid, '{1}', '(0,1)'::tid, 'o1'$$),
	-- VARIADIC with an explicit array
	($$'any_strategy', NULL, 0, '{}', VARIADIC '{}'::int[]$$),
	($$'any_strategy', NULL, 0, '{}', VARIADIC NULL::int[]$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1}', VARIADIC ARRAY['(0,1)'::tid]$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1}', VARIADIC ARRAY['(0,1)', 'o1']$$),
	($$'any_strategy', NULL, 'public.ef_src'::regtype::oid, '{1,2}', VARIADIC ARRAY['(0,1)', 'o1', 'b1']$$);
INSERT INTO call
SELECT f.oid, ARRAY[s.s] FROM fn AS f, shape AS s WHERE f.provariadic <> 0;

-- the statements: plain calls, set-returning ones in FROM, aggregates on
-- one row and over the table (parallel: combine, serialize, deserialize)
SELECT DISTINCT format('SELECT %s(%s);', f.oid::regproc::text, array_to_string(c.args, ', '))
  FROM call AS c JOIN fn AS f USING (oid)
 WHERE NOT f.proretset
UNION
SELECT DISTINCT format('SELECT * FROM %s(%s);', f.oid::regproc::text, array_to_string(c.args, ', '))
  FROM call AS c JOIN fn AS f USING (oid)
 WHERE f.proretset
UNION
SELECT DISTINCT format('SELECT %s(%s) FROM public.ef_src AS e;', f.oid::regproc::text,
					   array_to_string(c.args, ', '))
  FROM call AS c JOIN fn AS f USING (oid)
 WHERE f.prokind = 'a'
UNION
-- the evaluation functions over a table's rows (the planner passes the
-- columns to the *_columns twins instead, src/planner_support.c) and a view's
SELECT DISTINCT format('SELECT count(%s(%s)) FROM %s AS e;', f.oid::regproc::text,
					   array_to_string(array_replace(c.args, r.expr, 'e'), ', '), src)
  FROM call AS c JOIN fn AS f USING (oid)
  JOIN val AS r ON r.typ = 'record'::regtype AND r.good AND r.expr = ANY (c.args),
	   unnest(ARRAY['public.ef_src', 'public.ef_view']) AS src
UNION
-- aggregates over the table's own columns (varying values per row)
SELECT format('SELECT %s(%s) FROM public.ef_src AS e;', f.oid::regproc::text, x.args)
  FROM fn AS f,
	   (VALUES ('e.value, e.at, 1000::numeric, ''2026-Q4''', 4),
			   ('e.value, e.at, 1000::numeric, ''2026-Q4'', ''2026-11-01''::timestamptz', 5),
			   ('e.value, e.at, e.value, ''2026-Q4''', 4),
			   ('e.rating > 2, e.value', 2),
			   ('e.rating > 2, e.value, e.value', 3),
			   ('e.rating > 2, e.value * 1e300, -e.value', 3),
			   ('e.rating > 2, (''NaN'')::numeric, e.value', 3),
			   ('e.rating > 2, (''Infinity'')::numeric, e.value', 3),
			   ('e.rating IS NULL, e.value, e.value', 3),
			   ('e.rating > 2, 0::numeric', 2)) AS x(args, n)
 WHERE f.prokind = 'a' AND f.pronargs = x.n
 ORDER BY 1;
SQL
ncalls=$(wc -l <"$work/calls.sql")
say "$ncalls calls generated for $(psql_su -At -c "SELECT count(*) FROM pg_catalog.pg_depend AS d JOIN pg_catalog.pg_extension AS e ON d.refobjid = e.oid AND d.refclassid = 'pg_catalog.pg_extension'::regclass WHERE e.extname = 'compensation' AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'") functions"

# ---- run them as each role ----------------------------------------------------
# Each call is one line of a script; psql prefixes every error with the
# script's line.  A lost connection (a crash) ends psql: the call on that
# line is recorded, the server is waited for, and the script resumes on the
# next line.
cat >"$work/header.sql" <<'SQL'
\set VERBOSITY verbose
SET statement_timeout = '20s';
SET TimeZone = 'UTC';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SQL
header_lines=$(wc -l <"$work/header.sql")

fail=0
crashes=()
internal=()
: >"$work/states"
total=0
for who in $ROLES "$SUPERUSER"; do
	case $who in
		compensation_*) user=ef_login_${who#compensation_} ;;
		*) user=$who ;;
	esac
	next=1	# first line of calls.sql still to run
	while [ "$next" -le "$ncalls" ]; do
		{ cat "$work/header.sql"; tail -n +"$next" "$work/calls.sql"; } >"$work/run.sql"
		psql -X -q -U "$user" -d "$DB" -v ON_ERROR_STOP=0 -o /dev/null \
			-f "$work/run.sql" >"$work/out" 2>&1
		status=$?
		# errors: "psql:FILE:LINE: ERROR:  SQLSTATE: message"
		sed -nE "s#^psql:$work/run.sql:([0-9]+): (ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): (.*)#\1 \3 \4#p" "$work/out" |
			while read -r line state message; do
				n=$((line - header_lines + next - 1))
				echo "$state" >>"$work/states"
				if [[ $state == XX* ]]; then
					printf '%s\t%s\t%s\t%s\n' "$who" "$state" "$(sed -n "${n}p" "$work/calls.sql")" "$message" >>"$work/internal"
				fi
			done
		lost=$(grep -E '^psql:[^:]+:[0-9]+: (server closed the connection|connection to server was lost|error: connection to server)' "$work/out" |
			   head -1 | sed -nE 's/^psql:[^:]+:([0-9]+):.*/\1/p')
		if [ -z "$lost" ] && grep -qE 'server closed the connection|connection to server was lost|terminated abnormally' "$work/out"; then
			lost=$(grep -E '^psql:[^:]+:[0-9]+:' "$work/out" | tail -1 | sed -nE 's/^psql:[^:]+:([0-9]+):.*/\1/p')
		fi
		if [ -n "$lost" ]; then
			n=$((lost - header_lines + next - 1))
			echo CRASH >>"$work/states"
			printf '%s\t%s\n' "$who" "$(sed -n "${n}p" "$work/calls.sql")" >>"$work/crashes"
			wait_for_server || { say "the server did not come back after a crash"; fail=1; break 2; }
			next=$((n + 1))
			continue
		fi
		if [ $status -ne 0 ]; then
			say "psql as $user ended with status $status:"
			tail -5 "$work/out"
			fail=1
		fi
		break
	done
	total=$((total + ncalls))
done

# ---- verdict ------------------------------------------------------------------
errors=$(wc -l <"$work/states")
ok=$((total - errors))
if [ -s "$work/crashes" ]; then
	fail=1
	say "CRASHES ($(wc -l <"$work/crashes")): call, then the roles it crashed as"
	awk -F'\t' '{ r[$2] = r[$2] " " $1 } END { for (c in r) printf "    %s\n        as:%s\n", c, r[c] }' "$work/crashes"
fi
if [ -s "$work/internal" ]; then
	fail=1
	say "INTERNAL ERRORS ($(wc -l <"$work/internal")): SQLSTATE, call, message, then the roles"
	awk -F'\t' '{ k = $2 "  " $3 "\n        " $4; r[k] = r[k] " " $1 } END { for (k in r) printf "    %s\n        as:%s\n", k, r[k] }' "$work/internal"
fi
if [ -n "$log" ]; then
	crash=$(tail -c +"$((log_start + 1))" "$log" | grep -E 'terminated by signal|was terminated by exception' || true)
	if [ -n "$crash" ]; then
		fail=1
		say "server log:"
		echo "$crash" | head -20 | sed 's/^/    /'
	fi
fi
wait_for_server || { say "server not reachable at the end"; fail=1; }
timeouts=$(grep -c '^57014$' "$work/states")
[ "$timeouts" -eq 0 ] || say "note: $timeouts calls hit the 20 s statement timeout"

say "summary: $total calls ($ncalls per role x 4 roles), $ok succeeded; per SQLSTATE:"
sort "$work/states" | uniq -c | sort -rn | awk '{ printf "    %-6s %s\n", $2, $1 }'
say "$((SECONDS - started)) s"
if [ $fail -ne 0 ]; then
	say "FAILED"
	exit 1
fi
say "passed"
exit 0
