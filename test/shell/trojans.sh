#!/usr/bin/env bash
# test/shell/trojans.sh — no unqualified name anywhere (issue #10).
#
# Every query the extension runs must qualify its functions, operators,
# casts and types (pg_catalog.lower, OPERATOR(pg_catalog.=),
# ::pg_catalog.text) or run under a pinned search_path.  This test plants
# trojans for every name those queries use, puts them first on the
# search_path, exercises the extension and fails if any trojan was called by
# the extension.
#
# 1. The names are DERIVED, not hand-picked (trojans-names.pl): from the SQL
#    in the string literals of src/*.c (adjacent literals concatenated; the
#    messages of errmsg/errhint/elog... left out) and from the install script
#    (src/sql/[0-9]*.sql, which the Makefile concatenates into
#    compensation--<version>.sql; plpgsql and SQL bodies included), with
#    comments and string literals removed:
#      - functions: every identifier before "(", unqualified or in pg_catalog;
#      - types: every identifier after "::", and every other word, kept when
#        it names a pg_catalog type (declarations, column types, RETURNS);
#      - operators: every run of operator characters, and the operators the
#        grammar looks up by name (IN and DISTINCT FROM: =, NOT IN: <>,
#        BETWEEN: >= <=, LIKE: ~~).
# 2. Trojans, in schema "trojan" (first on search_path), for every name that
#    exists in pg_catalog:
#      - a function with the same name and argument types for each
#        pg_catalog overload (plain and set-returning functions; aggregates
#        through a wrapped transition function), which calls the original;
#      - an operator with the same operand types for each pg_catalog
#        operator of that name, which applies the original;
#      - a domain with the type's name over the real type, whose CHECK calls
#        a trojan function.
#    Signatures PostgreSQL cannot re-create in PL/pgSQL ("any", internal,
#    OUT parameters of a scalar function, ...) are skipped and counted.
#    Each trojan calls trojan.hit(), which looks at the call stack
#    (PG_CONTEXT): called below a query the extension runs (an SPI query of
#    the C code, or a compensation.* function), it counts the hit in
#    sequence trojan.hits (not transactional: it survives rollbacks) and
#    raises a WARNING "TROJAN HIT" with the trojan, the stack and the
#    client's statement; called by the test's own statements, it counts in
#    trojan.workload_hits only.
# 3. The workload, with search_path = 'trojan, pg_catalog, public':
#      - a qualified workload (every name in it qualified) as the superuser
#        and as compensation_reader, _applier and _admin (through login roles
#        made here): define_strategy, activate, eligible/amount/evaluate over
#        a table row (the planner's rewrite into the *_columns twins), a view
#        row and a subquery's record, in_holdout, apply (dry and real),
#        apply_all (dry and real), simulate, void_grant, outbox_mark_sent,
#        set_budget, roll_quarter, burn, uplift, roi (serial and parallel),
#        budget_status, the views, pause and retire;
#      - the pg_regress files sql/*.sql in the Makefile's REGRESS order, with
#        psql as the superuser (their output does not matter here).
# Fails when trojan.hits > 0 (or a trojan's error surfaced, or the server
# crashed), listing each trojan the extension called and from where.
#
# Environment: PGHOST/PGPORT/PGUSER (a superuser) of a running cluster where
# "make install" happened; COMP_PGLOG (optional).  TROJANS_KEEP=1 keeps the
# databases and outputs; TROJANS_REGRESS=0 skips the pg_regress files.
# Exit 0 = pass, 77 = skip (no server), 1 = fail.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TPL=compensation_trojans_template
DBW=compensation_trojans
DBR=compensation_trojans_regress
ROLES="compensation_reader compensation_applier compensation_admin"
TROJAN_PATH='trojan, pg_catalog, public'
started=$SECONDS

say() { printf 'trojans: %s\n' "$*"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
if ! command -v perl >/dev/null 2>&1; then
	say "skipped: perl not found (it extracts the names)"
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

work=$(mktemp -d /tmp/compensation-trojans.XXXXXX)
chmod 755 "$work"
drop_all() {
	local db r
	for db in $DBW $DBR $TPL; do
		psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
	done
	for r in $ROLES; do
		psql -X -q -d postgres -c "DROP ROLE IF EXISTS tj_login_${r#compensation_}" >/dev/null 2>&1
	done
}
cleanup() {
	if [ -z "${TROJANS_KEEP:-}" ]; then
		rm -rf "$work"
		drop_all
	else
		say "kept databases $DBW, $DBR and outputs in $work"
	fi
}
trap cleanup EXIT
drop_all

# ---- 1. the names ------------------------------------------------------------
sql_parts=$(ls "$root"/src/sql/[0-9]*.sql | sort)
{
	perl "$here/trojans-names.pl" c "$root"/src/*.c
	perl "$here/trojans-names.pl" sql $sql_parts
} >"$work/names.tsv" || { say "extracting the names failed"; exit 1; }
say "names found: $(cut -f1,2 "$work/names.tsv" | sort -u | awk -F'\t' '{ n[$1]++ } END { printf "%d function names, %d operator names, %d cast types, %d other words", n["func"], n["op"], n["type"], n["word"] }')"

# ---- 2. the trojans, in a template database ------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $TPL" >/dev/null || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d "$TPL" >"$work/plant.out" 2>&1 <<SQL || { say "planting failed:"; cat "$work/plant.out"; exit 1; }
SET search_path = pg_catalog;
SET client_min_messages = warning;
CREATE SCHEMA trojan_meta;
CREATE TABLE trojan_meta.names (kind text, name text, origin text);
\copy trojan_meta.names FROM '$work/names.tsv'
SQL
psql -X -q -v ON_ERROR_STOP=1 -d "$TPL" -At >"$work/plant.out" 2>&1 <<'SQL' || { say "planting failed:"; cat "$work/plant.out"; exit 1; }
SET search_path = pg_catalog;
SET client_min_messages = warning;
CREATE SCHEMA trojan;
GRANT USAGE ON SCHEMA trojan TO PUBLIC;
CREATE SEQUENCE trojan.hits;
CREATE SEQUENCE trojan.workload_hits;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE trojan.hits, trojan.workload_hits TO PUBLIC;
CREATE TABLE trojan_meta.planted (kind text, name text, signature text, planted boolean, why text);

-- Every trojan calls this.  Who called the trojan: the first frame of
-- PG_CONTEXT below the trojan's own frames.
--   none                        the client's own statement        -> workload
--   SQL statement, then nothing or another SQL statement:
--                               an SPI query of C code             -> extension
--   SQL statement, then a PL/pgSQL or SQL function: that function:
--                               compensation.*                     -> extension
--                               anything else (a test's helper)    -> workload
CREATE FUNCTION trojan.hit(what text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $fn$
DECLARE
	ctx text;
	frames text[];
	line text;
	below integer := 0;
	first text;
	second text;
	caller text;
	who text;
BEGIN
	GET DIAGNOSTICS ctx = PG_CONTEXT;
	-- one frame per entry (a query's text may span several lines)
	frames := '{}';
	FOREACH line IN ARRAY string_to_array(ctx, E'\n') LOOP
		IF cardinality(frames) = 0 OR line ~ ('^(PL/pgSQL function |PL/pgSQL expression |SQL statement "|'
											  'SQL expression "|SQL function "|parallel worker|COPY |extension script )') THEN
			frames := frames || line;
		ELSE
			frames[cardinality(frames)] := frames[cardinality(frames)] || ' ' || btrim(line);
		END IF;
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(frames, 1), 0) LOOP
		IF frames[i] ~ '^PL/pgSQL function trojan\.' THEN
			below := i;
		END IF;
	END LOOP;
	first := frames[below + 1];
	second := frames[below + 2];
	caller := CASE WHEN first ~ '^(SQL statement|SQL expression|PL/pgSQL expression)' THEN second ELSE first END;
	IF first IS NULL THEN
		who := NULL;
	ELSIF first ~ '^(SQL statement|SQL expression|PL/pgSQL expression)'
		  AND (second IS NULL OR second ~ '^(SQL statement|SQL expression)') THEN
		who := 'C code';
	ELSIF caller ~ '^PL/pgSQL function compensation\.' THEN
		who := substring(caller from '^PL/pgSQL function ([^ (]+)');
	ELSIF caller ~ '^SQL function "' AND EXISTS (
			SELECT FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
			 WHERE n.nspname = 'compensation'
			   AND p.proname = substring(caller from '^SQL function "([^"]+)"')) THEN
		who := 'compensation.' || substring(caller from '^SQL function "([^"]+)"');
	ELSIF caller ~ '^(PL/pgSQL function|SQL function)' THEN
		who := NULL;
	ELSE
		who := 'unknown caller';
	END IF;
	IF who IS NULL THEN
		PERFORM nextval('trojan.workload_hits');
	ELSE
		PERFORM nextval('trojan.hits');
		RAISE WARNING 'TROJAN HIT % called by %', what, who
			USING DETAIL = 'stack: ' || array_to_string(frames[below + 1:], ' <- '),
				  HINT = 'client statement: ' || left(current_query(), 300);
	END IF;
	RETURN true;
END
$fn$;
GRANT EXECUTE ON FUNCTION trojan.hit(text) TO PUBLIC;

DO $plant$
DECLARE
	r record;
	args text;
	call text;
	body text;
	sig text;
BEGIN
	-- functions: every pg_catalog overload of every name
	FOR r IN
		SELECT p.oid, p.proname, p.prokind, p.proretset, p.pronargs, p.provariadic, p.proisstrict,
			   coalesce(p.proargmodes && '{o,b,t}'::"char"[], false) AS has_out,
			   pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
			   pg_get_function_identity_arguments(p.oid) AS ident
		  FROM pg_proc AS p
		 WHERE p.pronamespace = 'pg_catalog'::regnamespace
		   AND p.proname IN (SELECT name FROM trojan_meta.names WHERE kind = 'func')
		   AND p.prokind = 'f'
		 ORDER BY p.proname, p.oid
	LOOP
		sig := format('%s(%s)', r.proname, r.ident);
		IF r.has_out AND NOT r.proretset THEN
			INSERT INTO trojan_meta.planted VALUES ('function', r.proname, sig, false, 'OUT parameters');
			CONTINUE;
		END IF;
		SELECT string_agg(CASE WHEN i = r.pronargs AND r.provariadic <> 0 THEN 'VARIADIC ' ELSE '' END
						  || '$' || i, ', ' ORDER BY i)
		  INTO args FROM generate_series(1, r.pronargs) AS i;
		call := format('pg_catalog.%I(%s)', r.proname, coalesce(args, ''));
		body := CASE WHEN r.proretset THEN 'RETURN QUERY SELECT * FROM ' || call
					 WHEN r.result = 'void' THEN 'PERFORM ' || call || '; RETURN'
					 ELSE 'RETURN ' || call END;
		BEGIN
			EXECUTE format('CREATE FUNCTION trojan.%I(%s) RETURNS %s LANGUAGE plpgsql VOLATILE %s '
						   'SET search_path = pg_catalog AS %L',
						   r.proname, r.args, r.result, CASE WHEN r.proisstrict THEN 'STRICT' ELSE '' END,
						   format('BEGIN PERFORM trojan.hit(%L); %s; END', 'function ' || sig, body));
			INSERT INTO trojan_meta.planted VALUES ('function', r.proname, sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO trojan_meta.planted VALUES ('function', r.proname, sig, false, SQLERRM);
		END;
	END LOOP;

	-- aggregates: the same arguments, a transition function that calls the
	-- original's, the original's final function
	FOR r IN
		SELECT p.oid, p.proname, p.pronargs, a.aggtranstype, a.agginitval, a.aggfinalfn,
			   t.proname AS transfn, t.proisstrict AS trans_strict, f.proname AS finalfn,
			   pg_get_function_identity_arguments(p.oid) AS ident,
			   (SELECT string_agg(format_type(x, NULL), ', ' ORDER BY i)
				  FROM unnest(p.proargtypes) WITH ORDINALITY AS u(x, i)) AS argtypes
		  FROM pg_proc AS p
		  JOIN pg_aggregate AS a ON a.aggfnoid = p.oid
		  JOIN pg_proc AS t ON t.oid = a.aggtransfn
		  LEFT JOIN pg_proc AS f ON f.oid = a.aggfinalfn
		 WHERE p.pronamespace = 'pg_catalog'::regnamespace
		   AND p.proname IN (SELECT name FROM trojan_meta.names WHERE kind = 'func')
		 ORDER BY p.proname, p.oid
	LOOP
		sig := format('%s(%s)', r.proname, CASE WHEN r.pronargs = 0 THEN '*' ELSE r.ident END);
		SELECT string_agg('$' || i, ', ' ORDER BY i) INTO args FROM generate_series(1, r.pronargs + 1) AS i;
		BEGIN
			EXECUTE format('CREATE FUNCTION trojan.%I(%s) RETURNS %s LANGUAGE plpgsql VOLATILE %s '
						   'SET search_path = pg_catalog AS %L',
						   'agg_' || r.oid, concat_ws(', ', format_type(r.aggtranstype, NULL), r.argtypes),
						   format_type(r.aggtranstype, NULL), CASE WHEN r.trans_strict THEN 'STRICT' ELSE '' END,
						   format('BEGIN PERFORM trojan.hit(%L); RETURN pg_catalog.%I(%s); END',
								  'aggregate ' || sig, r.transfn, args));
			EXECUTE format('CREATE AGGREGATE trojan.%I(%s) (SFUNC = trojan.%I, STYPE = %s%s%s)',
						   r.proname, CASE WHEN r.pronargs = 0 THEN '*' ELSE r.argtypes END,
						   'agg_' || r.oid, format_type(r.aggtranstype, NULL),
						   CASE WHEN r.agginitval IS NOT NULL THEN format(', INITCOND = %L', r.agginitval) ELSE '' END,
						   CASE WHEN r.aggfinalfn <> 0 THEN format(', FINALFUNC = pg_catalog.%I', r.finalfn) ELSE '' END);
			INSERT INTO trojan_meta.planted VALUES ('aggregate', r.proname, sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO trojan_meta.planted VALUES ('aggregate', r.proname, sig, false, SQLERRM);
		END;
	END LOOP;

	-- operators: every pg_catalog operator of every name
	FOR r IN
		SELECT o.oid, o.oprname, o.oprleft, o.oprright, o.oprresult, f.proisstrict
		  FROM pg_operator AS o JOIN pg_proc AS f ON f.oid = o.oprcode
		 WHERE o.oprnamespace = 'pg_catalog'::regnamespace
		   AND o.oprname IN (SELECT name FROM trojan_meta.names WHERE kind = 'op')
		 ORDER BY o.oprname, o.oid
	LOOP
		sig := format('%s(%s, %s)', r.oprname,
					  CASE WHEN r.oprleft = 0 THEN 'NONE' ELSE format_type(r.oprleft, NULL) END,
					  format_type(r.oprright, NULL));
		BEGIN
			IF r.oprleft = 0 THEN
				EXECUTE format('CREATE FUNCTION trojan.%I(%s) RETURNS %s LANGUAGE plpgsql VOLATILE %s '
							   'SET search_path = pg_catalog AS %L',
							   'op_' || r.oid, format_type(r.oprright, NULL), format_type(r.oprresult, NULL),
							   CASE WHEN r.proisstrict THEN 'STRICT' ELSE '' END,
							   format('BEGIN PERFORM trojan.hit(%L); RETURN OPERATOR(pg_catalog.%s) $1; END',
									  'operator ' || sig, r.oprname));
				EXECUTE format('CREATE OPERATOR trojan.%s (RIGHTARG = %s, FUNCTION = trojan.%I)',
							   r.oprname, format_type(r.oprright, NULL), 'op_' || r.oid);
			ELSE
				EXECUTE format('CREATE FUNCTION trojan.%I(%s, %s) RETURNS %s LANGUAGE plpgsql VOLATILE %s '
							   'SET search_path = pg_catalog AS %L',
							   'op_' || r.oid, format_type(r.oprleft, NULL), format_type(r.oprright, NULL),
							   format_type(r.oprresult, NULL), CASE WHEN r.proisstrict THEN 'STRICT' ELSE '' END,
							   format('BEGIN PERFORM trojan.hit(%L); RETURN $1 OPERATOR(pg_catalog.%s) $2; END',
									  'operator ' || sig, r.oprname));
				EXECUTE format('CREATE OPERATOR trojan.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = trojan.%I)',
							   r.oprname, format_type(r.oprleft, NULL), format_type(r.oprright, NULL),
							   'op_' || r.oid);
			END IF;
			INSERT INTO trojan_meta.planted VALUES ('operator', r.oprname, sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO trojan_meta.planted VALUES ('operator', r.oprname, sig, false, SQLERRM);
		END;
	END LOOP;

	-- types: a domain of the same name whose CHECK calls a trojan
	FOR r IN
		SELECT t.oid, t.typname, t.typtype
		  FROM pg_type AS t
		 WHERE t.typnamespace = 'pg_catalog'::regnamespace
		   AND t.typname IN (SELECT name FROM trojan_meta.names WHERE kind IN ('type', 'word'))
		 ORDER BY t.typname
	LOOP
		BEGIN
			EXECUTE format('CREATE DOMAIN trojan.%I AS pg_catalog.%I CHECK (trojan.hit(%L))',
						   r.typname, r.typname, 'type ' || r.typname);
			INSERT INTO trojan_meta.planted VALUES ('type', r.typname, r.typname, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO trojan_meta.planted VALUES ('type', r.typname, r.typname, false, SQLERRM);
		END;
	END LOOP;
END
$plant$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA trojan TO PUBLIC;

-- names of the code that name nothing in pg_catalog (cast types that are
-- keywords, such as bigint and integer, resolve without search_path)
SELECT format('planted: %s', string_agg(format('%s %s of %s names', n, kind, names), ', ' ORDER BY kind))
  FROM (SELECT kind, count(*) FILTER (WHERE planted) AS n, count(DISTINCT name) AS names
		  FROM trojan_meta.planted GROUP BY kind) AS s;
SELECT format('skipped (cannot be re-created): %s', coalesce(string_agg(format('%s %s', n, kind), ', ' ORDER BY kind), 'none'))
  FROM (SELECT kind, count(*) AS n FROM trojan_meta.planted WHERE NOT planted GROUP BY kind) AS s;
SELECT format('cast types that are keywords or not in pg_catalog (not hijackable by a schema): %s',
			  coalesce(string_agg(DISTINCT name, ' '), 'none'))
  FROM trojan_meta.names AS m
 WHERE kind = 'type' AND NOT EXISTS (SELECT FROM pg_type AS t
									  WHERE t.typnamespace = 'pg_catalog'::regnamespace AND t.typname = m.name);
SQL
sed 's/^/    /' "$work/plant.out"
psql -X -q -At -d "$TPL" -c "SELECT kind, signature, why FROM trojan_meta.planted WHERE NOT planted ORDER BY 1, 2" \
	>"$work/skipped.txt"

for db in $DBW $DBR; do
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db TEMPLATE $TPL" >/dev/null || exit 1
done
for r in $ROLES; do
	psql -X -q -v ON_ERROR_STOP=1 -d postgres \
		-c "CREATE ROLE tj_login_${r#compensation_} LOGIN IN ROLE $r" >/dev/null || exit 1
done

# ---- 3a. the qualified workload, as each role ----------------------------------
# setup as the superuser, search_path without trojans
psql -X -q -v ON_ERROR_STOP=1 -d "$DBW" >"$work/setup.out" 2>&1 <<'SQL' || { say "setup failed:"; cat "$work/setup.out"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION compensation;
SET TimeZone = 'UTC';
CREATE TABLE public.tj_src (
	order_id	text,
	buyer_id	text,
	at			timestamptz,
	promised_at	timestamptz,
	value		numeric,
	currency	text,
	market		text,
	rating		integer,
	segment		text,
	code		char(3)
);
INSERT INTO public.tj_src
SELECT 'o' || i, 'b' || (i % 23), timestamptz '2026-10-01' + i * interval '50 minutes',
	   timestamptz '2026-10-01' + i * interval '50 minutes' - interval '4 days',
	   (i % 90) + 0.5, (ARRAY['EUR', 'EUR', 'JPY', 'BHD', NULL])[1 + i % 5],
	   (ARRAY['DE', 'FR', NULL])[1 + i % 3], i % 6, (ARRAY['vip', NULL, 'std'])[1 + i % 3], 'EUR'
  FROM generate_series(1, 3000) AS i;
ALTER TABLE public.tj_src SET (parallel_workers = 2);
ANALYZE public.tj_src;
CREATE VIEW public.tj_view AS SELECT * FROM public.tj_src;
GRANT SELECT ON public.tj_src, public.tj_view TO PUBLIC;
SQL

cat >"$work/workload.sql" <<'SQL'
-- every name qualified: a trojan hit here is the extension's
\set ON_ERROR_STOP 0
\set VERBOSITY default
\set sname 'tj_' :who
\set vname 'tj_view_' :who
\set spec '{"scenario": "late_delivery", "source": "public.tj_src", "keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "value": "value", "currency": "currency", "market": "market"}, "when": {"all": [{"name": "late", "days": ["promised_at", "at"], "op": ">=", "value": 3}, {"any": [{"col": "rating", "op": "<=", "value": 2}, {"col": "segment", "op": "in", "value": ["vip", "gold"]}, {"col": "code", "op": "=", "value": "EUR"}]}, {"not": {"col": "market", "op": "is null"}}]}, "amount": {"type": "tiered", "by": "value", "tiers": [{"to": 50, "amount": 5}, {"from": 50, "rate": 0.1}], "segment": {"col": "segment", "multipliers": {"vip": 1.5}, "default": 1}}, "instrument": "voucher", "program": "tj", "holdout": 0.1, "caps": {"per_buyer_count": {"max": 3, "window": "90 days"}, "per_buyer_amount": {"max": 40, "window": "quarter", "scope": "program"}}, "notify": {"channel": "push", "template": "{order} {amount} {currency} {buyer} {instrument}"}, "valid": {"from": "2026-10-01", "to": "2027-01-01"}, "priority": 3}'
\set vspec '{"scenario": "low_rating", "source": "public.tj_view", "keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"}, "currency": "EUR", "when": {"col": "rating", "op": "between", "value": [0, 1]}, "amount": {"type": "percent", "of": "value", "rate": 0.05, "min": 1, "max": 3}, "instrument": "points", "program": "tj", "exclusive": "tj_view"}'
SET TimeZone = 'UTC';
SELECT compensation.set_budget('tj', '2026-Q4', 5000, 'EUR');
SELECT compensation.set_budget('tj', '2026-Q4', 50, 'EUR', 'DE');
SELECT compensation.set_budget('tj', '2026-Q4', 100000, 'JPY', 'FR');
SELECT compensation.validate_spec(:'spec');
SELECT compensation.define_strategy(:'sname', :'spec');
SELECT compensation.activate(:'sname');
SELECT compensation.define_strategy(:'vname', :'vspec');
SELECT compensation.activate(:'vname');
-- evaluation: a table row (rewritten into the *_columns twins), a view
-- row, a subquery's record, an explicit version, the whole row of a join
SELECT pg_catalog.count(*), pg_catalog.count(compensation.amount('tj_main', e)),
	   pg_catalog.count((compensation.evaluate('tj_main', e)).reasons)
  FROM public.tj_src AS e WHERE compensation.eligible('tj_main', e);
SELECT pg_catalog.count(compensation.amount('tj_main', e, 1)) FROM public.tj_src AS e;
SELECT pg_catalog.count(compensation.evaluate('tj_main', e)) FROM public.tj_view AS e;
SELECT pg_catalog.count(compensation.eligible('tj_main', r)) FROM (SELECT s.order_id, s.buyer_id, s.at, s.promised_at, s.value, s.currency, s.market, s.rating, s.segment, s.code FROM public.tj_src AS s) AS r;
SELECT pg_catalog.count(compensation.evaluate(:'sname', e)) FROM public.tj_src AS e;
SELECT pg_catalog.count(compensation.amount(:'vname', v)) FROM public.tj_view AS v;
SELECT compensation.in_holdout('tj_main', 'b1'), compensation.in_holdout(:'sname', 'b2', 1),
	   compensation.holdout_hash('late_v3', 'b1');
PREPARE tj_prepared (pg_catalog.text) AS
	SELECT pg_catalog.count(*) FROM public.tj_src AS e WHERE compensation.eligible($1, e);
EXECUTE tj_prepared('tj_main');
EXECUTE tj_prepared('tj_main');
-- quarters, currencies, money
SELECT compensation.quarter('2026-11-01 12:00+00'), compensation.quarter('2027-03-31', 4),
	   compensation.quarter_range('2026-Q4'), compensation.quarter_add('2026-Q4', 1),
	   compensation.currency_exponent('BHD'), compensation.to_minor_units(1.25, 'EUR'),
	   compensation.to_major_units(125, 'JPY'), compensation.student_t_quantile(0.975, 7.5);
-- apply, dry and real; apply_all, dry and real; simulate
SELECT * FROM compensation.apply('tj_main', '2026-11-20', dry_run => true);
SELECT * FROM compensation.apply(:'sname', '2026-11-20', dry_run => true);
SELECT * FROM compensation.apply(:'sname', '2026-11-20');
SELECT * FROM compensation.apply(:'vname', '2026-11-20');
SELECT * FROM compensation.apply_all('2026-11-25', dry_run => true);
SELECT * FROM compensation.apply_all('2026-11-25');
SELECT * FROM compensation.apply_all();
SELECT outcome, pg_catalog.count(*) FROM compensation.simulate('tj_main', '2026-10-01', '2027-01-01') GROUP BY 1;
SELECT outcome, pg_catalog.count(*) FROM compensation.simulate(:'sname', '2026-10-01', '2027-01-01', budget => 30, version => 1, budget_currency => 'EUR') GROUP BY 1;
-- the ledger: void a grant, mark a notification sent
SELECT compensation.void_grant((SELECT g.grant_id FROM compensation.grants AS g WHERE NOT g.voided ORDER BY g.grant_id DESC LIMIT 1), 'trojans test');
SELECT compensation.outbox_mark_sent((SELECT o.grant_id FROM compensation.outbox AS o WHERE o.sent_at IS NULL ORDER BY o.grant_id LIMIT 1));
SELECT pg_catalog.count(*) FROM compensation.grants;
SELECT pg_catalog.count(*) FROM compensation.runs;
SELECT pg_catalog.count(*) FROM compensation.outbox;
SELECT pg_catalog.count(*) FROM compensation.holdout_decision;
SELECT pg_catalog.count(*) FROM compensation.budgets;
SELECT pg_catalog.count(*) FROM compensation.strategies;
-- budgets: roll the quarter
SELECT compensation.roll_quarter('2026-Q4', '2027-Q1', carry_unspent => true);
SELECT compensation.roll_quarter('2026-Q4', '2027-Q1');
-- analysis: serial, then parallel (combine, serialize, deserialize)
SELECT g.program, (compensation.burn(g.amount, g.created_at, 5000::pg_catalog.numeric, '2026-Q4')).*
  FROM compensation.grants AS g GROUP BY g.program;
SELECT (compensation.burn(g.amount, g.created_at, 5000::pg_catalog.numeric, '2026-Q4', '2026-12-01'::pg_catalog.timestamptz)).*
  FROM compensation.grants AS g;
SELECT (compensation.uplift(e.rating OPERATOR(pg_catalog.>) 2, e.value)).* FROM public.tj_src AS e;
SELECT (compensation.roi(e.rating OPERATOR(pg_catalog.>) 2, e.value, e.value OPERATOR(pg_catalog./) 10)).* FROM public.tj_src AS e;
SELECT * FROM compensation.budget_status('2026-Q4');
SELECT * FROM compensation.budget_status('2026-Q4', '2026-11-30');
SELECT pg_catalog.count(*) FROM compensation.budget_status();
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT (compensation.uplift(e.rating OPERATOR(pg_catalog.>) 2, e.value)).* FROM public.tj_src AS e;
SELECT (compensation.roi(e.rating OPERATOR(pg_catalog.>) 2, e.value, e.value)).* FROM public.tj_src AS e;
SELECT (compensation.burn(e.value, e.at, 100000::pg_catalog.numeric, '2026-Q4', '2026-12-01'::pg_catalog.timestamptz)).* FROM public.tj_src AS e;
SELECT pg_catalog.count(*) FROM public.tj_src AS e WHERE compensation.eligible('tj_main', e);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
-- lifecycle
SELECT compensation.pause(:'sname');
SELECT compensation.activate(:'sname', 1);
SELECT compensation.retire(:'sname');
SELECT compensation.amount(:'sname', e, 1) FROM public.tj_src AS e LIMIT 3;
SQL

# tj_main: the strategy every role evaluates, defined by the superuser with trojans on the path
fail=0
run_workload() {	# who user
	PGOPTIONS="-c search_path=${TROJAN_PATH// /}" psql -X -q -U "$2" -d "$DBW" -v who="$1" \
		-f "$work/workload.sql" >"$work/workload.$1.out" 2>&1
}
PGOPTIONS="-c search_path=${TROJAN_PATH// /}" psql -X -q -d "$DBW" -v ON_ERROR_STOP=1 \
	>"$work/workload.main.out" 2>&1 <<'SQL' || { say "defining tj_main failed:"; cat "$work/workload.main.out"; fail=1; }
\set spec '{"scenario": "late_delivery", "source": "public.tj_src", "keys": {"order": "order_id", "buyer": "buyer_id", "at": "at", "value": "value", "currency": "currency", "market": "market"}, "when": {"any": [{"name": "late", "days": ["promised_at", "at"], "op": ">=", "value": 3}, {"col": "segment", "op": "not in", "value": ["std"]}, {"col": "value", "op": ">", "value": 80.25}, {"col": "order_id", "op": "!=", "value": "o7"}]}, "amount": {"type": "percent", "of": "value", "rate": 0.1, "min": 2, "max": 20}, "instrument": "voucher", "program": "tj", "exclusive": "tj", "priority": 10, "notify": {"channel": "email", "template": "{order}: {amount}"}, "valid": {"from": "2026-10-01", "to": "2027-01-01"}}'
SELECT compensation.define_strategy('tj_main', :'spec');
SELECT compensation.activate('tj_main');
SQL
run_workload super "$SUPERUSER"
for r in $ROLES; do
	run_workload "${r#compensation_}" "tj_login_${r#compensation_}"
done

# ---- 3b. the pg_regress files, as the superuser ----------------------------------
regress_files=$(sed -nE 's/^REGRESS[[:space:]]*=[[:space:]]*//p' "$root/Makefile")
if [ "${TROJANS_REGRESS:-1}" != 0 ]; then
	for f in $regress_files; do
		[ -f "$root/sql/$f.sql" ] || continue
		PGOPTIONS="-c search_path=${TROJAN_PATH// /} -c statement_timeout=${TROJANS_STATEMENT_TIMEOUT:-5s}" \
			timeout 120 psql -X -a -d "$DBR" -v ON_ERROR_STOP=0 -f "$root/sql/$f.sql" >"$work/regress.$f.out" 2>&1
		status=$?
		[ $status -ne 124 ] || say "note: sql/$f.sql did not finish in 120 s under the trojans"
	done
	# the files' own big statements call a trojan per operator per row:
	# those that run too long are cancelled (the qualified workload above
	# covers every function without them)
	cancelled=$(cat "$work"/regress.*.out | grep -c 'canceling statement due to statement timeout')
	[ "$cancelled" -eq 0 ] || say "note: $cancelled statements of the pg_regress files cancelled after ${TROJANS_STATEMENT_TIMEOUT:-5s}"
fi

# ---- verdict ------------------------------------------------------------------------
count_of() { psql -X -At -d "$1" -c "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM trojan.$2" 2>/dev/null || echo '?'; }
hits_w=$(count_of "$DBW" hits)
hits_r=$(count_of "$DBR" hits)
wl_w=$(count_of "$DBW" workload_hits)
wl_r=$(count_of "$DBR" workload_hits)
say "qualified workload: trojan hits by the extension: $hits_w (by the test's own statements: $wl_w)"
say "pg_regress files ($(echo $regress_files)): trojan hits by the extension: $hits_r (by the files' own statements: $wl_r)"

# which trojans, from where: the WARNINGs (psql prints the statement's file
# line; -a echoes the statement in the regress outputs)
grep -h -A3 'WARNING:  TROJAN HIT' "$work"/workload.*.out "$work"/regress.*.out 2>/dev/null >"$work/hits.txt"
if [ -s "$work/hits.txt" ]; then
	say "trojans the extension called (distinct trojan, caller, client statement):"
	grep -h -A3 'WARNING:  TROJAN HIT' "$work"/workload.*.out "$work"/regress.*.out |
		awk '/WARNING:  TROJAN HIT/ { sub(/.*WARNING:  TROJAN HIT /, ""); hit = $0 }
			 /^DETAIL:  stack: / { sub(/^DETAIL:  stack: /, ""); stack = substr($0, 1, 200) }
			 /^HINT:  client statement: / { sub(/^HINT:  client statement: /, ""); print hit "\n        stack: " stack "\n        statement: " substr($0, 1, 160) }' |
		awk 'NR % 3 == 1 { key = $0 } { block[key] = block[key] $0 "\n"; if (NR % 3 == 0) n[key]++ }
			 END { for (k in block) { split(block[k], lines, "\n"); printf "    %s  (%d times)\n%s\n%s\n", lines[1], n[k], lines[2], lines[3] } }' |
		head -80
fi
# a trojan that failed instead of returning: in a parallel worker, nextval()
# is refused (the trojans are parallel unsafe, so only a query the extension
# runs inside a parallel-safe function can call one there); the files' own
# statements cancelled by the timeout are not that
for f in "$work"/workload.*.out "$work"/regress.*.out; do
	[ -f "$f" ] || continue
	awk '/ERROR:/ { err = $0 } /PL\/pgSQL function trojan\.hit\(/ && err !~ /canceling statement/ { found = 1 }
		 END { exit !found }' "$f" && trojan_errors=1
done
if [ -n "${trojan_errors:-}" ]; then
	say "errors raised inside trojans (the extension called them):"
	for f in "$work"/workload.*.out "$work"/regress.*.out; do
		awk -v out="$(basename "$f")" '
			/ERROR:/ { err = $0; sub(/^psql:[^:]*:/, "line ", err) }
			/PL\/pgSQL function trojan\.[a-z_0-9]+\(/ && !/trojan\.hit\(/ && err !~ /canceling statement/ { sub(/^[A-Z]*: */, ""); print out " " err " <- " $0 }' "$f"
	done | sort | uniq -c | head -20 | sed 's/^/    /'
	fail=1
fi
if [ "$hits_w" != 0 ] || [ "$hits_r" != 0 ]; then
	fail=1
fi
if [ -n "$log" ]; then
	crash=$(tail -c +"$((log_start + 1))" "$log" | grep -E 'terminated by signal|was terminated by exception' || true)
	if [ -n "$crash" ]; then
		fail=1
		say "the server crashed:"
		echo "$crash" | head -10 | sed 's/^/    /'
	fi
fi
if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	fail=1
	say "the server is not reachable at the end"
fi
say "$((SECONDS - started)) s"
if [ $fail -ne 0 ]; then
	say "FAILED (outputs: TROJANS_KEEP=1 keeps them)"
	exit 1
fi
say "passed"
exit 0
