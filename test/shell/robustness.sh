#!/usr/bin/env bash
# test/shell/robustness.sh — fuzz the strategy spec language and the evaluator.
#
# Generates (deterministically, from a fixed seed, in SQL) at least 10,000
# strategy specs by mutating a few valid base specs: values of the wrong JSON
# type, missing and unknown keys, conditions nested far too deep, empty
# arrays, huge, tiny and long-decimal numbers, "NaN"/"Infinity" strings,
# unicode and control characters, very long strings, unknown operators,
# between with 1 or 3 values, in-lists with nulls, unsorted or overlapping
# tiers, malformed windows, unknown currencies, sources that are not tables,
# columns of types that cannot be used...  Each spec goes through
# compensation.validate_spec() and compensation.define_strategy(), each in
# its own subtransaction; every accepted spec is then evaluated
# (evaluate/eligible/amount/in_holdout) over every row of a source whose
# columns have many types and whose rows hold NULLs and extremes (1e100,
# NaN and infinite numerics and floats, infinite timestamps, empty strings,
# unicode, 131,000-digit numbers, values with 16,000 decimals, toasted
# text), and over rows of other row types (anonymous records, missing
# columns, wrong column types, reordered columns with a dropped one).
#
# Pass when:
#   - no call fails with an internal error (class XX) or a class that no
#     validation or evaluation error should have (anything outside 22, 42,
#     54, 55: out of memory, cancel/timeout, system errors, ...);
#   - validate_spec and define_strategy agree (same SQLSTATE, or both accept);
#   - evaluate(), eligible() and amount() agree for every row, and the same
#     row gives the same decision whatever its row type (table row, the row
#     with its columns reordered and a dropped column, an anonymous record,
#     a plpgsql variable) and whether it runs in the backend or in a
#     parallel worker;
#   - the server is alive at the end and its log (COMP_PGLOG, or
#     $PGHOST/server.log as test/lib.sh lays it out) shows no backend
#     terminated by a signal.
# Evaluation errors on the source's own rows (a decision should say "not
# eligible" with a reason instead) and rejections whose message does not name
# a JSON path are listed as warnings.
#
# Environment: PGHOST/PGPORT/PGUSER of a running cluster where "make install"
# happened.  COMP_FUZZ_SPECS (default 10400; 500 under COMPENSATION_VALGRIND=1),
# COMP_FUZZ_SEED (default 0.4242), COMP_FUZZ_BATCH (default 400 specs per
# session), COMP_FUZZ_DB (default compensation_fuzz), COMP_FUZZ_KEEP=1 keeps
# the database.  Exit 0 = pass, 77 = skip (no server), 1 = fail.
set -uo pipefail

DB=${COMP_FUZZ_DB:-compensation_fuzz}
SEED=${COMP_FUZZ_SEED:-0.4242}
if [ "${COMPENSATION_VALGRIND:-}" = 1 ]; then
	# every backend under valgrind: some 50 times slower, so a smaller run
	NSPECS=${COMP_FUZZ_SPECS:-500}
	REQUIRED=$((NSPECS * 9 / 10))
	BATCH=${COMP_FUZZ_BATCH:-25}
	TIMEOUT=0
else
	NSPECS=${COMP_FUZZ_SPECS:-10400}
	REQUIRED=10000
	BATCH=${COMP_FUZZ_BATCH:-400}
	TIMEOUT=150s
fi
started=$SECONDS

say() { printf 'robustness: %s\n' "$*"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi

# The server log, and where this test's part of it starts.
log=${COMP_PGLOG:-}
if [ -z "$log" ] && [ -n "${PGHOST:-}" ] && [ -f "${PGHOST}/server.log" ]; then
	log=$PGHOST/server.log
fi
log_start=0
if [ -n "$log" ] && [ -r "$log" ]; then
	log_start=$(stat -c %s "$log")
else
	[ -n "$log" ] && say "cannot read server log $log: crash check by liveness only"
	log=""
fi

wait_for_server() {	# after a crash the postmaster reinitialises
	for _ in $(seq 1 120); do
		psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

fail=0
problems=()
problem() { problems+=("$*"); fail=1; }

# --- 1. database, source table, rows ------------------------------------------
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $DB" \
	-c "CREATE DATABASE $DB" >/dev/null || { say "cannot create database $DB"; exit 1; }

psql_db >/dev/null <<'SQL' || { say "setup failed"; exit 1; }
SET client_min_messages = warning;
CREATE EXTENSION compensation;
CREATE SCHEMA fuzz;
CREATE TYPE fuzz.mood AS ENUM ('sad', 'ok', 'happy', 'ünïcødé ☃');
CREATE DOMAIN fuzz.money_dom AS numeric CHECK (VALUE IS DISTINCT FROM 13);
CREATE DOMAIN fuzz.ts_dom AS timestamptz;
CREATE TYPE fuzz.pair AS (a integer, b text);

-- Every column type a spec could name: usable, comparable-only, unusable.
CREATE TABLE fuzz.src (
	order_id bigint, buyer_id text, delivered_at timestamptz, promised_at timestamptz,
	created_ts timestamp, shipped_ts timestamp, ship_date date,
	status text, vc varchar(12), ch char(3), currency text, cur_code char(3),
	market text, segment text,
	qty integer, big bigint, small smallint, order_value numeric, price numeric(12,2),
	score float8, ratio real, flag boolean, net fuzz.money_dom, due fuzz.ts_dom,
	mood fuzz.mood, doc jsonb, uid uuid, span interval, raw bytea, ip inet,
	tags text[], nums integer[], rng int4range, mr int4multirange, pt point, js json,
	pair fuzz.pair, cash money, tod time, todz timetz, bits bit(4), vbits varbit,
	tsv tsvector, obj oid, nm name, x xml, lsn pg_lsn, mac macaddr, chr "char",
	"Ünïcødé ☃" text, "with space" integer, "UPPER" text, "a.b" numeric,
	"a_column_name_that_is_exactly_sixty_three_bytes_long_0123456789" text
);

INSERT INTO fuzz.src VALUES
 (1, 'b1', '2026-10-05 12:00+00', '2026-10-01 00:00+00', '2026-09-30 10:00', '2026-10-02 09:00',
  '2026-10-02', 'delivered', 'abc', 'EUR', 'EUR', 'USD', 'FR', 'vip',
  3, 10, 2, 120.50, 99.99, 1.5, 0.5, true, 10, '2026-10-05 12:00+00',
  'sad', '{"a": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '3 days', '\x00ff', '10.0.0.1',
  '{a,b}', '{1,2}', '[1,10)', '{[1,3)}', '(1,2)', '{"a": 1}',
  '(1,x)', 12.34, '12:00', '12:00+02', '1010', '101',
  'late delivery', 42, 'name', '<a/>', '0/16B3748', '08:00:2b:01:02:03', 'c',
  'ü', 7, 'U', 1.5, 'l');
-- all NULL but the order
INSERT INTO fuzz.src (order_id) VALUES (2);
-- maxima and positive infinities
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, created_ts, shipped_ts, ship_date,
	status, vc, ch, currency, cur_code, market, segment, qty, big, small, order_value, price,
	score, ratio, flag, net, due, mood, span, tags, nums, rng, cash, "a.b")
VALUES (3, '', 'infinity', '-infinity', 'infinity', '-infinity', 'infinity',
	'', '', '', 'JPY', 'JPY', '', '', 2147483647, 9223372036854775807, 32767, 1e100, 9999999999.99,
	'Infinity', 'NaN', false, 1e100, 'infinity', 'happy', '178000000 years', '{}', '{}', 'empty',
	'92233720368547758.07', 'Infinity');
-- minima and negative infinities
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, created_ts, shipped_ts, ship_date,
	status, currency, cur_code, segment, qty, big, small, order_value, price, score, ratio,
	net, due, span, cash, "a.b")
VALUES (4, ' ', '4714-11-24 00:00:00+00 BC', '294276-12-31 23:59:59+00', '4713-01-01 00:00 BC',
	'294276-12-31 23:59:59', '-infinity', ' ', 'BHD', 'BHD', 'new', -2147483648,
	-9223372036854775808, -32768, -1e100, -9999999999.99, '-Infinity', '-Infinity',
	-1e100, '-infinity', '-178000000 years', '-92233720368547758.08', '-Infinity');
-- NaN and infinite numerics
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, status, currency, cur_code,
	segment, order_value, score, ratio, net, "a.b")
VALUES (5, 'b5', '2026-10-10 00:00+00', '2026-10-01 00:00+00', 'delivered', 'BHD', 'CLF',
	'vip', 'NaN', 'NaN', 'Infinity', 'NaN', 'NaN'),
	(6, 'b6', '2026-10-10 00:00+00', '2026-10-01 00:00+00', 'delivered', 'CLF', 'XXX',
	'vip', 'Infinity', 1e308, 3.4e38, 'Infinity', 'Infinity'),
	(7, 'b7', '2026-10-10 00:00+00', '2026-10-01 00:00+00', 'delivered', 'XXX', 'eur',
	'vip', '-Infinity', 5e-324, 1e-45, '-Infinity', '-Infinity');
-- unicode and control characters
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, status, vc, currency, cur_code,
	market, segment, mood, order_value, "Ünïcødé ☃", nm, tsv, doc, js)
VALUES (8, '☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀', '2026-10-10 00:00+00', '2026-10-09 23:59:59.999999+00', 'délivré',
	'ünïcødé ☃', 'eur', 'Eur', '日本', 'vip ☃', 'ünïcødé ☃', 0.005, '☃', 'ünï', 'ünïcødé', '"☃"', '"\u2603"'),
	(9, E'\x7f\x01', '2026-10-01 00:00+00', '2026-10-10 00:00+00', E'\t\n\r\x01', E'\x1f',
	'EURO', '€', E'\n', E'vip\x01', NULL, 0.0049, E'\x02', E'\x03', '', 'null', 'null');
-- enormous and very precise numbers, long (toasted) strings
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, status, currency, segment,
	order_value, net, "a.b", price, qty)
VALUES (10, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i), '2026-10-10 00:00+00', '2026-10-01 00:00+00', 'delivered', 'EUR', 'vip',
	10::numeric ^ 131000, -(10::numeric ^ 131000), 10::numeric ^ 131071, 0.01, 1),
	(11, repeat('é', 50000), '2026-10-10 00:00+00', '2026-10-01 00:00+00', repeat('delivered', 20000),
	'USD', repeat('vip', 10000),
	(SELECT r * r * r * r * r * r * r * r FROM (SELECT round(1.5, 2000) AS r) q),
	round(0.5, 2000), 1e-1000, 0, 0),
	(12, 'b12', '2026-10-10 00:00+00', '2026-10-01 00:00+00', 'delivered', 'JPY', 'new',
	0.5, 0.000001, -0, 0.5, 0);
-- arrays with NULLs, empty and odd values
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, status, currency, tags, nums, rng,
	pair, doc, js, tsv, span, bits, vbits, obj, mr, ip, order_value, segment)
VALUES (13, 'b13', '2026-10-01 00:00+00', '2026-10-01 00:00+00', 'delivered', 'EUR',
	'{NULL}', '{NULL,1}', '(,)', '(,)', '[]', '[]', '', '0', '0000', '', 4294967295, '{}', '::1',
	0, 'VIP'),
	(14, 'b1', '2026-10-05 12:00+00', '2026-10-01 00:00+00', 'delivered', 'USD',
	'{"",ü}', '{-2147483648,2147483647}', '[-2147483648,2147483647)', '(2147483647,"")',
	'{"": null}', '{"a": [1, {"b": null}]}', 'a:1 b:2', '-1 microsecond', '1111', '1', 0, '{[1,2),[5,6)}',
	'255.255.255.255/32', 19.99, 'new');
-- delivered before promised, same second, one microsecond apart
INSERT INTO fuzz.src (order_id, buyer_id, delivered_at, promised_at, created_ts, shipped_ts, status,
	currency, order_value, segment, score, qty)
VALUES (15, 'b15', '2026-10-01 00:00:00+00', '2026-10-04 00:00:00.000001+00', '2026-10-01', '2026-09-28',
	'delivered', 'EUR', 200, 'vip', 2, 10),
	(16, 'b16', '2026-10-04 00:00:00+00', '2026-10-01 00:00:00.000001+00', '2026-10-01', '2026-10-04',
	'delivered', 'BHD', 49.9999, 'gold', 3, 11),
	(17, NULL, NULL, '2026-10-01 00:00+00', NULL, '2026-10-01', NULL, NULL, NULL, NULL, NULL, NULL);
ANALYZE fuzz.src;

-- The same rows under other row types.
--  src_perm: same columns reversed, after a dropped column (a different attnum for each)
DO $$
DECLARE cols text;
BEGIN
	SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum DESC)
	  INTO cols
	  FROM pg_attribute WHERE attrelid = 'fuzz.src'::regclass AND attnum > 0 AND NOT attisdropped;
	EXECUTE format('CREATE TABLE fuzz.src_perm (gone integer, %s)', cols);
	ALTER TABLE fuzz.src_perm DROP COLUMN gone;
	SELECT string_agg(format('%I', attname), ', ')
	  INTO cols
	  FROM pg_attribute WHERE attrelid = 'fuzz.src'::regclass AND attnum > 0 AND NOT attisdropped;
	EXECUTE format('INSERT INTO fuzz.src_perm (%s) SELECT %s FROM fuzz.src', cols, cols);
END $$;
--  src_alt: the same names, every one of another type
CREATE TABLE fuzz.src_alt (
	order_id text, buyer_id integer, delivered_at date, promised_at text, created_ts timestamptz,
	shipped_ts timestamptz, ship_date timestamp, status integer, vc integer, ch boolean,
	currency integer, cur_code numeric, market point, segment numeric, qty text, big numeric,
	small float8, order_value text, price text, score text, ratio boolean, flag integer,
	net text, due date, mood text, doc json, uid text, span text, raw text, ip text,
	tags text, nums text, rng text, mr text, pt text, js jsonb, pair text, cash numeric,
	tod text, todz text, bits text, vbits text, tsv text, obj bigint, nm text, x text,
	lsn text, mac text, chr text, "Ünïcødé ☃" integer, "with space" text, "UPPER" integer,
	"a.b" text, "a_column_name_that_is_exactly_sixty_three_bytes_long_0123456789" integer);
INSERT INTO fuzz.src_alt VALUES ('1', 1, '2026-10-05', 'x', '2026-10-01', '2026-10-02', '2026-10-02',
	1, 1, true, 1, 1, '(1,1)', 1, '3', 10, 2, '120.5', '99.99', '1.5', true, 1, '10', '2026-10-05',
	'sad', '{"a": 1}', 'u', '3 days', 'r', 'i', 't', 'n', 'r', 'm', 'p', '{"a": 1}', 'p', 12.34,
	't', 't', 'b', 'v', 't', 42, 'n', 'x', 'l', 'm', 'c', 1, 'w', 1, '1.5', 1);
INSERT INTO fuzz.src_alt (order_id) VALUES ('2');
--  src_keys: only the key columns, of the right types
CREATE TABLE fuzz.src_keys (order_id bigint, buyer_id text, delivered_at timestamptz, currency text);
INSERT INTO fuzz.src_keys VALUES (1, 'b1', '2026-10-05 12:00+00', 'EUR'), (2, NULL, NULL, NULL);

-- Other relations a spec's source may name.
CREATE VIEW fuzz.src_view AS SELECT * FROM fuzz.src;
CREATE MATERIALIZED VIEW fuzz.src_mat AS SELECT * FROM fuzz.src;
CREATE SEQUENCE fuzz.seq;
CREATE INDEX src_idx ON fuzz.src (order_id);
CREATE TABLE fuzz.part (order_id bigint, buyer_id text, delivered_at timestamptz, currency text,
	status text, order_value numeric) PARTITION BY RANGE (order_id);
CREATE TABLE fuzz."Wéird ☃ name" (order_id bigint, buyer_id text, delivered_at timestamptz, currency text);
CREATE TABLE fuzz.noread (order_id bigint);

-- What the run records.
CREATE TABLE fuzz.spec (id integer PRIMARY KEY, base text NOT NULL, mutations text NOT NULL,
	spec jsonb NOT NULL, hash text NOT NULL);
CREATE INDEX ON fuzz.spec (hash);
CREATE TABLE fuzz.result (spec_id integer NOT NULL, stage text NOT NULL, call text,
	sqlstate text NOT NULL, message text, n integer NOT NULL DEFAULT 1);
CREATE INDEX ON fuzz.result (spec_id);
SQL

# --- 2. the generator (plpgsql, deterministic: setseed + random) --------------
psql_db >/dev/null <<'SQL' || { say "generator setup failed"; exit 1; }
SET client_min_messages = warning;

CREATE FUNCTION fuzz.rnd(n integer) RETURNS integer LANGUAGE sql VOLATILE
AS $$ SELECT floor(random() * n)::integer $$;

CREATE FUNCTION fuzz.pick(choices jsonb) RETURNS jsonb LANGUAGE sql VOLATILE
AS $$ SELECT choices -> fuzz.rnd(jsonb_array_length(choices)) $$;

CREATE FUNCTION fuzz.pick_text(choices text[]) RETURNS text LANGUAGE sql VOLATILE
AS $$ SELECT choices[1 + fuzz.rnd(cardinality(choices))] $$;

-- Every path of a document, in a stable order, with the kind of its value.
CREATE FUNCTION fuzz.paths(doc jsonb)
RETURNS TABLE (path text[], kind text, val jsonb) LANGUAGE sql STABLE
AS $$
	WITH RECURSIVE p(path, val) AS (
		SELECT ARRAY[]::text[], doc
		UNION ALL
		SELECT p.path || e.k, e.v
		  FROM p CROSS JOIN LATERAL (
			SELECT key AS k, value AS v
			  FROM jsonb_each(CASE WHEN jsonb_typeof(p.val) = 'object' THEN p.val ELSE '{}' END)
			UNION ALL
			SELECT (o - 1)::text, value
			  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p.val) = 'array' THEN p.val ELSE '[]' END)
				   WITH ORDINALITY AS a(value, o)) e
		 WHERE cardinality(p.path) < 40
	)
	SELECT path, jsonb_typeof(val), val FROM p ORDER BY path
$$;

-- A random path whose value satisfies a filter (NULL when there is none).
CREATE FUNCTION fuzz.random_path(doc jsonb, filter text) RETURNS text[] LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	candidates jsonb;
BEGIN
	EXECUTE format('SELECT jsonb_agg(to_jsonb(path) ORDER BY path) FROM fuzz.paths($1) WHERE %s', filter)
		INTO candidates USING doc;
	IF candidates IS NULL THEN
		RETURN NULL;
	END IF;
	RETURN ARRAY(SELECT jsonb_array_elements_text(fuzz.pick(candidates)));
END
$$;

CREATE FUNCTION fuzz.set_path(doc jsonb, path text[], v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN cardinality(path) = 0 THEN v ELSE jsonb_set(doc, path, v, true) END $$;

-- Wrap a condition in depth all/any/not levels (built as text: cheap at any depth).
CREATE FUNCTION fuzz.nest(cond jsonb, depth integer, style integer) RETURNS jsonb LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	kinds integer[] := ARRAY(SELECT CASE style WHEN 3 THEN fuzz.rnd(3) ELSE style END
							   FROM generate_series(1, depth));
	prefix text;
	suffix text;
BEGIN
	SELECT string_agg(CASE k WHEN 0 THEN '{"all": [' WHEN 1 THEN '{"any": [' ELSE '{"not": ' END, '' ORDER BY i),
		   string_agg(CASE k WHEN 2 THEN '}' ELSE ']}' END, '' ORDER BY i DESC)
	  INTO prefix, suffix
	  FROM unnest(kinds) WITH ORDINALITY AS u(k, i);
	BEGIN
		RETURN (prefix || cond::text || suffix)::jsonb;
	EXCEPTION WHEN program_limit_exceeded OR statement_too_complex THEN
		RETURN fuzz.nest(cond, depth / 4, style);
	END;
END
$$;

-- Pools ----------------------------------------------------------------------
CREATE TABLE fuzz.pool (name text PRIMARY KEY, items jsonb NOT NULL);

-- JSON values of every type and size, as literals (so that dscale is kept)
INSERT INTO fuzz.pool VALUES ('any', (
	SELECT jsonb_agg(v::jsonb ORDER BY o) FROM unnest(ARRAY[
	'null', 'true', 'false', '0', '-0', '-1', '1', '0.5', '2', '3', '10', '1e300', '-1e300',
	'1e-300', '-1e-300', '123456789012345678901234567890', '-123456789012345678901234567890.5',
	'1e1000', '1e-1000', '-1e-1000', '0.1' || repeat('0', 9000), '2147483647', '2147483648',
	'-2147483649', '9223372036854775807', '9223372036854775808', '1.0', '5.0000', '0.99999',
	'0.0001', '0.00005', '"NaN"', '"Infinity"', '"-Infinity"', '"nan"', '"inf"', '""', '" "',
	'"ünïcødé ☃ 𝔘 😀"', '"\u0001\u001f\t\n\r"', '"\\"', '"\""', '"''; DROP TABLE fuzz.src; --"',
	'"{order}"', '"1"', '"true"', '"null"', '"2026-10-01"', '"90 days"', '"quarter"', '"EUR"',
	'"status"', '"order_value"', '"fuzz.src"', '"=" ', '"between"', '"in"', '"is null"',
	'"' || repeat('x', 10000) || '"', '"' || repeat('é☃', 3000) || '"',
	'[]', '{}', '[null]', '[1, 2, 3]', '[1, 2]', '["a"]', '["a", null]', '{"a": 1}',
	'{"col": "status", "op": "=", "value": "delivered"}', '[[[[[]]]]]',
	repeat('[', 200) || repeat(']', 200), '[' || repeat('1, ', 999) || '1]',
	'{"": null}', '{"\u2603": []}'
	]) WITH ORDINALITY AS u(v, o)));
INSERT INTO fuzz.pool SELECT 'any', pool.items || jsonb_build_array(
	to_jsonb('NaN'::numeric), to_jsonb('Infinity'::numeric), to_jsonb('-Infinity'::float8),
	to_jsonb('NaN'::float8), to_jsonb(10::numeric ^ 131000), to_jsonb(10::numeric ^ 131071),
	to_jsonb(round(1.5, 2000)), to_jsonb(round(0.05, 2000)),
	to_jsonb((SELECT r * r * r * r * r * r * r * r FROM (SELECT round(1.01, 2000) AS r) q)))
  FROM fuzz.pool WHERE name = 'any'
ON CONFLICT (name) DO UPDATE SET items = excluded.items;

INSERT INTO fuzz.pool SELECT 'number', jsonb_agg(v ORDER BY o)
  FROM jsonb_array_elements((SELECT items FROM fuzz.pool WHERE name = 'any')) WITH ORDINALITY AS e(v, o)
 WHERE jsonb_typeof(v) = 'number' OR v::text IN ('"NaN"', '"Infinity"', '"1"', 'null', '"-Infinity"');

INSERT INTO fuzz.pool SELECT 'string', jsonb_agg(v ORDER BY o)
  FROM jsonb_array_elements((SELECT items FROM fuzz.pool WHERE name = 'any')) WITH ORDINALITY AS e(v, o)
 WHERE jsonb_typeof(v) = 'string' OR v::text IN ('1', 'null', 'true', '[]');

INSERT INTO fuzz.pool VALUES
('op', '["=", "!=", "<", "<=", ">", ">=", "between", "in", "not in", "is null", "is not null",
   "==", "<>", "=>", "=<", "like", "ilike", "BETWEEN", "IN", " = ", "in ", "", "is  null", "is",
   "not", "not in ", "~", "@>", "= ="]'),
('column', (SELECT jsonb_agg(attname ORDER BY attnum) || '["nope", "ORDER_ID", "order_id ", "",
   " ", "ctid", "xmin", "tableoid", "oid", "\"status\"", "fuzz.src.status", "ünïcødé",
   "a_column_name_that_is_exactly_sixty_three_bytes_long_0123456789_and_more"]'::jsonb
   FROM pg_attribute WHERE attrelid = 'fuzz.src'::regclass AND attnum > 0)),
('window', '["quarter", "90 days", "1 day", "2 weeks", "6 months", "1 year", "100000 days",
   "100001 days", "0 days", "-1 days", "5days", "5  days", " 5 days", "5 days ", "5 fortnights",
   "Quarter", "quarter ", "9999999999999999999 days", "1e3 days", "0x10 days", "5 DAYS",
   "5 días", "", "days", "5", "2147483648 days", "+5 days", "05 days", "5\tdays"]'),
('currency', '["EUR", "JPY", "BHD", "CLF", "USD", "eur", "EURO", "EU", "€", "XXX", "XAU", "",
   " EUR", "ÉUR", "ZWL", "HRK", "E\u0001R"]'),
('source', '["fuzz.src", "fuzz.src_view", "fuzz.src_mat", "fuzz.part", "fuzz.seq", "fuzz.src_idx",
   "fuzz.pair", "fuzz.nope", "nope.src", "src", "fuzz.src.x", "\"fuzz\".\"src\"", "FUZZ.SRC",
   "fuzz.\"Wéird ☃ name\"", "fuzz.Wéird", "\"fuzz.src\"", "fuzz.\"src", "fuzz..src", ".src",
   "fuzz.", "pg_catalog.pg_class", "pg_catalog.pg_stat_activity", "compensation.strategy",
   "compensation.currency", "pg_temp.src", "information_schema.tables", "fuzz.src_keys",
   "fuzz.src_alt", "fuzz.noread", "a.b.c.d", "fuzz.src; DROP TABLE fuzz.src"]'),
('valid', '[{"from": "2026-10-01", "to": "2027-01-01"}, {"from": "2027-01-01", "to": "2026-10-01"},
   {"from": "2026-10-01", "to": "2026-10-01"}, {"from": "infinity"}, {"to": "-infinity"},
   {"from": "2026-02-30"}, {"from": "now"}, {"from": "epoch"}, {"to": "tomorrow"},
   {"from": "294277-01-01"}, {"from": "4714-11-24 00:00:00+00 BC"}, {"from": "4714-11-23 BC"},
   {"from": "2026-10-01T00:00:00Z", "to": "2026-10-01T00:00:00.000001Z"}, {"from": 20261001},
   {"from": ""}, {"from": null}, {}, {"since": "2026-10-01"}, [], "2026-10-01",
   {"from": "2026-10-01 25:00"}, {"from": "2026-10-01 +99:00"}, {"from": "2026-10-01 Europe/Nowhere"},
   {"from": "J2461315"}, {"from": "allballs"}, {"from": "ünïcødé"}]'),
('template', '["Sorry {order}: {amount} {currency}", "{buyer}{instrument}", "no placeholder", "",
   "{", "}", "{}", "{{order}}", "{order", "order}", "{Order}", "{amount }", "{ünï}", "{\u0001}",
   "{order}{", "{amount}{currency}{buyer}{instrument}{order}{nope}", "%s %n %x"]'),
('tiers', jsonb_build_array(
   '[{"to": 50, "amount": 2}, {"from": 50, "to": 200, "rate": 0.05}, {"from": 200, "amount": 15}]'::jsonb,
   '[{"from": 200, "amount": 15}, {"from": 50, "to": 200, "rate": 0.05}]'::jsonb,
   '[{"to": 100, "amount": 2}, {"from": 50, "amount": 3}]'::jsonb,
   '[{"to": 50, "amount": 2}, {"from": 60, "amount": 3}]'::jsonb,
   '[{"from": 10, "to": 10, "amount": 1}]'::jsonb,
   '[{"from": 10, "to": 5, "amount": 1}]'::jsonb,
   '[{"amount": 1}]'::jsonb,
   '[{"rate": 0.1}]'::jsonb,
   '[{"amount": 1, "rate": 0.1}]'::jsonb,
   '[{"from": 0, "to": 1}]'::jsonb,
   '[{"to": 50, "amount": 2}, {"to": 100, "amount": 3}]'::jsonb,
   '[{"to": 50, "amount": 2}, {"from": 50, "amount": 3}, {"from": 100, "amount": 4}]'::jsonb,
   '[{"from": "5", "amount": 1}]'::jsonb,
   '[{"from": -1e300, "to": 1e300, "rate": 1e-300}]'::jsonb,
   '[{"from": 1e1000, "amount": 1e1000}]'::jsonb,
   '[{"to": 0, "rate": 2}, {"from": 0, "rate": 0.5}]'::jsonb,
   '[{"amount": -1}]'::jsonb,
   '[{"rate": "NaN"}]'::jsonb,
   '[{"from": null, "amount": 1}]'::jsonb,
   '[{"extra": 1, "amount": 1}]'::jsonb,
   '[[]]'::jsonb, '[null]'::jsonb, '[]'::jsonb, '{}'::jsonb,
   ('[' || (SELECT string_agg(format('{"from": %s, "to": %s, "amount": %s}', i, i + 1, i), ', ')
			  FROM generate_series(1, 2000) i) || ']')::jsonb)),
('amount', jsonb_build_array(
   '{"type": "fixed", "value": 5}'::jsonb,
   '{"type": "fixed", "value": 0}'::jsonb,
   '{"type": "fixed", "value": 1e-300}'::jsonb,
   '{"type": "fixed", "value": 123456789012345678901234567890}'::jsonb,
   '{"type": "fixed", "value": 92233720368547758.07}'::jsonb,
   '{"type": "percent", "of": "order_value", "rate": 0.1, "min": 2, "max": 20}'::jsonb,
   '{"type": "percent", "of": "qty", "rate": 1}'::jsonb,
   '{"type": "percent", "of": "big", "rate": 1e300}'::jsonb,
   '{"type": "percent", "of": "score", "rate": 0.5, "max": 1e-300}'::jsonb,
   '{"type": "percent", "of": "ratio", "rate": 0.33333333333333333333333333333333333}'::jsonb,
   '{"type": "percent", "of": "small", "rate": 0.015, "min": 0.005}'::jsonb,
   '{"type": "percent", "of": "net", "rate": 0.1, "min": 3, "max": 2}'::jsonb,
   '{"type": "percent", "of": "order_value", "rate": 0.1, "min": 1e300}'::jsonb,
   '{"type": "percent", "of": "order_value", "rate": 0.1, "max": 92233720368547758.08}'::jsonb,
   '{"type": "percent", "of": "price", "rate": 0.1, "segment": {"col": "segment", "multipliers": {"vip": 2}}}'::jsonb,
   '{"type": "percent", "of": "order_value", "rate": 0.1, "segment": {"col": "mood", "multipliers": {"sad": 1e300, "ünïcødé ☃": 0}, "default": 0}}'::jsonb,
   '{"type": "percent", "of": "status", "rate": 0.1}'::jsonb,
   '{"type": "percent", "of": "cash", "rate": 0.1}'::jsonb,
   '{"type": "percent", "of": "a.b", "rate": 0.1}'::jsonb,
   '{"type": "tiered", "by": "order_value", "tiers": [{"to": 50, "amount": 2}, {"from": 50, "rate": 0.05}]}'::jsonb,
   '{"type": "tiered", "by": "qty", "tiers": [{"to": 0, "rate": 1}, {"from": 0, "amount": 1}], "min": 0, "max": 0}'::jsonb,
   '{"type": "tiered", "by": "score", "tiers": [{"from": -1e300, "to": 1e300, "rate": 1e300}]}'::jsonb,
   ('{"type": "percent", "of": "order_value", "rate": 0.1' || repeat('0', 9000) ||
	', "segment": {"col": "segment", "multipliers": {"vip": 1.5' || repeat('0', 9000) || '}}}')::jsonb,
   ('{"type": "percent", "of": "price", "rate": 0.1' || repeat('0', 16000) || '}')::jsonb,
   ('{"type": "fixed", "value": 1, "segment": {"col": "segment", "multipliers": {' ||
	(SELECT string_agg(format('"s%s": %s', i, i), ', ') FROM generate_series(1, 3000) i) || '}}}')::jsonb,
   '{"type": "fixed", "value": 1, "segment": {"col": "segment", "multipliers": {}}}'::jsonb,
   '{"type": "fixed", "value": 1, "segment": {"col": "qty", "multipliers": {"1": 2}}}'::jsonb,
   '{"type": "fixed", "value": 1, "segment": {"col": "segment", "multipliers": {"vip": -1}}}'::jsonb,
   '{"type": "fixed", "value": 1, "segment": {"col": "segment", "multipliers": {"vip": "2"}}}'::jsonb,
   '{"type": "FIXED", "value": 1}'::jsonb,
   '{"type": "", "value": 1}'::jsonb,
   '{"type": "fixed"}'::jsonb,
   '{"type": "percent", "rate": 0.1}'::jsonb,
   '{"type": "tiered", "by": "order_value"}'::jsonb,
   '{"value": 5}'::jsonb,
   '{"type": "fixed", "value": 5, "of": "order_value"}'::jsonb));

-- Valid conditions on every usable column type; some only valid for some sources.
INSERT INTO fuzz.pool VALUES ('leaf', (SELECT jsonb_agg(v::jsonb ORDER BY o) FROM unnest(ARRAY[
	'{"col": "status", "op": "=", "value": "delivered"}',
	'{"col": "status", "op": "in", "value": ["delivered", "lost", "", "délivré", "delivered"]}',
	'{"col": "status", "op": "not in", "value": ["☃"]}',
	'{"col": "status", "op": "between", "value": ["z", "a"]}',
	'{"col": "status", "op": ">", "value": ""}',
	'{"col": "status", "op": "=", "value": "NaN"}',
	'{"col": "buyer_id", "op": "is null"}',
	'{"col": "buyer_id", "op": "is not null", "name": "has a buyer ☃"}',
	'{"col": "qty", "op": ">=", "value": 2}',
	'{"col": "qty", "op": "between", "value": [-2147483648, 2147483647]}',
	'{"col": "qty", "op": "in", "value": [1, 3, 10, 11, 2147483647]}',
	'{"col": "qty", "op": "=", "value": 2147483648}',
	'{"col": "qty", "op": "=", "value": 1.5}',
	'{"col": "big", "op": "!=", "value": 9223372036854775807}',
	'{"col": "big", "op": "<", "value": 9223372036854775808}',
	'{"col": "small", "op": "<=", "value": 32767}',
	'{"col": "order_value", "op": ">", "value": 1e300}',
	'{"col": "order_value", "op": "<", "value": -1e-300}',
	'{"col": "order_value", "op": "between", "value": [0, 123456789012345678901234567890]}',
	'{"col": "order_value", "op": "in", "value": [0.5, 120.50, 1e100]}',
	'{"col": "price", "op": "=", "value": 99.99}',
	'{"col": "price", "op": "=", "value": 1e300}',
	'{"col": "score", "op": "<=", "value": 2}',
	'{"col": "score", "op": ">", "value": 1e300}',
	'{"col": "score", "op": "<", "value": 1e-400}',
	'{"col": "score", "op": "!=", "value": "NaN"}',
	'{"col": "ratio", "op": ">", "value": 0.1}',
	'{"col": "ratio", "op": "<", "value": 1e300}',
	'{"col": "flag", "op": "=", "value": true}',
	'{"col": "flag", "op": "in", "value": [true, false]}',
	'{"col": "flag", "op": "=", "value": "true"}',
	'{"col": "net", "op": "<=", "value": 1000}',
	'{"col": "net", "op": "=", "value": 13}',
	'{"col": "due", "op": ">=", "value": "2026-10-01"}',
	'{"col": "delivered_at", "op": "<", "value": "infinity"}',
	'{"col": "delivered_at", "op": ">", "value": "2026-13-01"}',
	'{"col": "ship_date", "op": ">=", "value": "2020-01-01"}',
	'{"col": "ship_date", "op": "=", "value": "-infinity"}',
	'{"col": "created_ts", "op": "between", "value": ["2026-01-01", "epoch"]}',
	'{"col": "mood", "op": "in", "value": ["sad", "ok", "ünïcødé ☃"]}',
	'{"col": "mood", "op": "=", "value": "furious"}',
	'{"col": "uid", "op": "!=", "value": "00000000-0000-0000-0000-000000000000"}',
	'{"col": "uid", "op": "=", "value": "not-a-uuid"}',
	'{"col": "doc", "op": "=", "value": "{\"a\": 1}"}',
	'{"col": "doc", "op": ">", "value": "{\"a\": "}',
	'{"col": "vc", "op": ">", "value": ""}',
	'{"col": "vc", "op": "=", "value": "this is longer than twelve"}',
	'{"col": "ch", "op": "=", "value": "EUR"}',
	'{"col": "span", "op": "<", "value": "1 year"}',
	'{"col": "raw", "op": "=", "value": "\\\\x00ff"}',
	'{"col": "ip", "op": "!=", "value": "127.0.0.1"}',
	'{"col": "tags", "op": "=", "value": "{a,b}"}',
	'{"col": "nums", "op": "in", "value": ["{1,2}", "{NULL}"]}',
	'{"col": "rng", "op": "=", "value": "[1,10)"}',
	'{"col": "mr", "op": ">", "value": "{}"}',
	'{"col": "pair", "op": "=", "value": "(1,x)"}',
	'{"col": "pair", "op": "<", "value": "(1"}',
	'{"col": "cash", "op": ">", "value": 1}',
	'{"col": "cash", "op": ">", "value": 1e300}',
	'{"col": "tod", "op": "<", "value": "23:00"}',
	'{"col": "todz", "op": "<", "value": "23:00+14"}',
	'{"col": "bits", "op": "=", "value": "1010"}',
	'{"col": "bits", "op": "=", "value": "10"}',
	'{"col": "vbits", "op": "<", "value": "11"}',
	'{"col": "tsv", "op": "!=", "value": "x"}',
	'{"col": "obj", "op": "=", "value": 42}',
	'{"col": "obj", "op": "=", "value": -1}',
	'{"col": "nm", "op": "=", "value": "' || repeat('n', 100) || '"}',
	'{"col": "lsn", "op": ">", "value": "0/0"}',
	'{"col": "mac", "op": "=", "value": "08:00:2b:01:02:03"}',
	'{"col": "chr", "op": "=", "value": "c"}',
	'{"col": "pt", "op": "=", "value": "(1,2)"}',
	'{"col": "js", "op": "=", "value": "{}"}',
	'{"col": "x", "op": "=", "value": "<a/>"}',
	'{"col": "x", "op": "is not null"}',
	'{"col": "Ünïcødé ☃", "op": "=", "value": "ü"}',
	'{"col": "with space", "op": ">", "value": 0}',
	'{"col": "UPPER", "op": "is null"}',
	'{"col": "a.b", "op": "between", "value": [0, 2]}',
	'{"col": "a.b", "op": "in", "value": [1.5, 1e1000]}',
	'{"col": "a_column_name_that_is_exactly_sixty_three_bytes_long_0123456789", "op": "=", "value": "l"}',
	'{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3}',
	'{"days": ["promised_at", "delivered_at"], "op": "between", "value": [-1000000000, 1000000000]}',
	'{"days": ["promised_at", "delivered_at"], "op": "in", "value": [0, 1, 2, 3]}',
	'{"days": ["promised_at", "delivered_at"], "op": "not in", "value": [-1]}',
	'{"days": ["delivered_at", "promised_at"], "op": "<", "value": 0}',
	'{"days": ["created_ts", "shipped_ts"], "op": "=", "value": 2}',
	'{"days": ["delivered_at", "due"], "op": "!=", "value": 0}',
	'{"days": ["promised_at", "delivered_at"], "op": ">", "value": 1000000001}',
	'{"days": ["promised_at", "delivered_at"], "op": ">", "value": 2.5}',
	'{"days": ["promised_at", "delivered_at"], "op": ">", "value": "3"}',
	'{"days": ["created_ts", "delivered_at"], "op": ">", "value": 1}',
	'{"days": ["ship_date", "ship_date"], "op": ">", "value": 1}',
	'{"days": ["promised_at", "promised_at"], "op": "is null"}',
	'{"not": {"col": "flag", "op": "=", "value": false}}',
	'{"any": [{"col": "score", "op": "<=", "value": 2}, {"col": "qty", "op": "is null"}], "name": "low or none"}'
	]) WITH ORDINALITY AS u(v, o)));

-- Base specs ------------------------------------------------------------------
CREATE TABLE fuzz.base (name text PRIMARY KEY, spec jsonb NOT NULL);
INSERT INTO fuzz.base VALUES
('late', '{
  "scenario": "late_delivery", "source": "fuzz.src",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
           "value": "order_value", "currency": "currency", "market": "market"},
  "when": {"all": [
    {"col": "status", "op": "=", "value": "delivered"},
    {"any": [
      {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3},
      {"col": "score", "op": "<=", "value": 2}
    ]}
  ]},
  "amount": {"type": "percent", "of": "order_value", "rate": 0.10, "min": 2, "max": 20},
  "instrument": "voucher", "program": "delivery",
  "caps": {"per_buyer_count": {"max": 2, "window": "90 days"},
           "per_buyer_amount": {"max": 50, "window": "quarter", "scope": "program"}},
  "holdout": 0.05, "priority": 10, "exclusive": "delivery",
  "notify": {"channel": "push", "template": "Sorry order {order} was late: {amount} {currency}"},
  "valid": {"from": "2026-10-01", "to": "2027-01-01"}
}'),
('fixed', '{
  "scenario": "damaged", "source": "fuzz.src",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "created_ts"},
  "when": {"not": {"col": "flag", "op": "=", "value": false}},
  "amount": {"type": "fixed", "value": 5,
             "segment": {"col": "segment", "multipliers": {"vip": 1.5, "new": 0.5, "vip ☃": 3}, "default": 1}},
  "instrument": "coupon", "program": "reviews", "currency": "JPY", "description": "fixed ☃"
}'),
('tiered', '{
  "scenario": "slow_refund", "source": "fuzz.src",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "due", "value": "price", "currency": "cur_code"},
  "when": {"any": [
    {"col": "qty", "op": "between", "value": [1, 10]},
    {"col": "status", "op": "in", "value": ["delivered", "lost", ""]},
    {"col": "market", "op": "not in", "value": ["DE"]},
    {"col": "mood", "op": "is not null"},
    {"col": "segment", "op": "is null", "name": "no segment"}
  ], "name": "any of five"},
  "amount": {"type": "tiered", "by": "order_value",
             "tiers": [{"to": 50, "amount": 2}, {"from": 50, "to": 200, "rate": 0.05}, {"from": 200, "amount": 15}],
             "min": 1, "max": 100},
  "instrument": "points", "program": "refunds", "holdout": 0, "priority": -2147483648
}'),
('types', '{
  "scenario": "types", "source": "fuzz.src",
  "keys": {"order": "uid", "buyer": "nm", "at": "shipped_ts", "market": "mood"},
  "currency": "BHD",
  "when": {"all": [
    {"col": "ship_date", "op": ">=", "value": "2020-01-01"},
    {"col": "big", "op": "!=", "value": 0},
    {"col": "ratio", "op": ">", "value": 0.1},
    {"col": "mood", "op": "in", "value": ["sad", "ok"]},
    {"col": "doc", "op": "=", "value": "{\"a\": 1}"},
    {"col": "span", "op": "<", "value": "1 year"},
    {"col": "tags", "op": "=", "value": "{a,b}"},
    {"col": "pair", "op": "=", "value": "(1,x)"},
    {"col": "cash", "op": ">", "value": 1},
    {"col": "obj", "op": "=", "value": 42},
    {"col": "Ünïcødé ☃", "op": "=", "value": "ü"},
    {"col": "a.b", "op": "between", "value": [0, 2]},
    {"days": ["created_ts", "shipped_ts"], "op": "in", "value": [0, 1, 2]}
  ]},
  "amount": {"type": "percent", "of": "net", "rate": 0.5, "max": 7.5},
  "instrument": "cash_back", "program": "misc", "valid": {"from": "2020-01-01"}
}'),
('minimal', '{
  "scenario": "s", "source": "fuzz.src",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"},
  "when": {"col": "order_id", "op": "is not null"},
  "amount": {"type": "fixed", "value": 1},
  "instrument": "free_shipping", "program": "p", "currency": "CLF"
}'),
('keys_only', '{
  "scenario": "k", "source": "fuzz.src_keys",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "currency": "currency"},
  "when": {"days": ["delivered_at", "delivered_at"], "op": "=", "value": 0},
  "amount": {"type": "fixed", "value": 0.015},
  "instrument": "voucher", "program": "k"
}');

-- One mutation: returns the new spec and what was done.
CREATE FUNCTION fuzz.mutate(s jsonb, OUT spec jsonb, OUT what text) LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	kind integer := fuzz.rnd(24);
	p text[];
	v jsonb;
	cond_filter constant text := $f$kind = 'object' AND (val ? 'col' OR val ? 'days' OR val ? 'all' OR val ? 'any' OR val ? 'not')$f$;
	leaf_filter constant text := $f$kind = 'object' AND (val ? 'col' OR val ? 'days')$f$;
	list_filter constant text := $f$kind = 'array' AND path[cardinality(path)] IN ('all', 'any')$f$;
BEGIN
	spec := s;
	IF jsonb_typeof(s) <> 'object' THEN
		what := 'noop (not an object)';
		RETURN;
	END IF;
	BEGIN
	CASE
	WHEN kind <= 3 THEN			-- valid-preserving: replace a condition by a valid leaf
		p := coalesce(fuzz.random_path(s, cond_filter), '{when}');
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'leaf'));
		spec := fuzz.set_path(s, p, v);
		what := format('leaf %s := %s', p, left(v::text, 80));
	WHEN kind = 4 THEN			-- valid-preserving: add a leaf to an all/any list
		p := fuzz.random_path(s, list_filter);
		IF p IS NULL THEN
			p := '{when}';
			v := jsonb_build_object('all', jsonb_build_array(s -> 'when',
				fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'leaf'))));
			spec := jsonb_set(s, p, v);
		ELSE
			v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'leaf'));
			spec := jsonb_insert(s, p || '0'::text, v);
		END IF;
		what := format('add leaf at %s', p);
	WHEN kind = 5 THEN			-- valid or not: another amount
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'amount'));
		spec := jsonb_set(s, '{amount}', v, true);
		what := format('amount := %s', left(v::text, 80));
	WHEN kind = 6 THEN			-- any value at any path := a value of any type
		p := fuzz.random_path(s, 'true');
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'any'));
		spec := fuzz.set_path(s, p, v);
		what := format('%s := %s', p, left(v::text, 80));
	WHEN kind = 7 THEN			-- delete a key or an element
		p := fuzz.random_path(s, 'cardinality(path) > 0');
		spec := s #- p;
		what := format('delete %s', p);
	WHEN kind = 8 THEN			-- add an unknown (or a misplaced known) key to an object
		p := fuzz.random_path(s, $f$kind = 'object'$f$);
		v := fuzz.pick('["zz", "Col", "ÜNKNOWN ☃", "", " ", "col ", "\u0001", "value", "op", "all",
			"days", "name", "not", "col", "of", "by", "rate", "segment", "min", "tiers", "currency"]'::jsonb);
		spec := fuzz.set_path(s, p || (v ->> 0),
			fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'any')));
		IF cardinality(p) = 0 THEN
			spec := s || jsonb_build_object(v ->> 0, fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'any')));
		END IF;
		what := format('add key %s at %s', v, p);
	WHEN kind = 9 THEN			-- nest a condition deep
		p := coalesce(fuzz.random_path(s, cond_filter), '{when}');
		v := fuzz.pick('[1, 5, 29, 30, 31, 32, 33, 40, 64, 100, 1000, 3000]'::jsonb);
		spec := fuzz.set_path(s, p, fuzz.nest(coalesce(s #> p, '{}'), (v #>> '{}')::integer, fuzz.rnd(4)));
		what := format('nest %s %s deep', p, v);
	WHEN kind = 10 THEN			-- an operator
		p := fuzz.random_path(s, leaf_filter);
		IF p IS NOT NULL THEN
			v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'op'));
			spec := jsonb_set(s, p || '{op}'::text[], v, true);
			what := format('op %s := %s', p, v);
		END IF;
	WHEN kind = 11 THEN			-- the shape of a value: too few, too many, nulls, empty
		p := fuzz.random_path(s, leaf_filter);
		IF p IS NOT NULL THEN
			v := fuzz.pick(jsonb_build_array('[]'::jsonb, '[1]'::jsonb, '[1, 2, 3]'::jsonb, '[null]'::jsonb,
				'[1, null]'::jsonb, '["delivered", null]'::jsonb, '[[1], [2]]'::jsonb, '{}'::jsonb,
				'null'::jsonb, '[true, 1, "x"]'::jsonb, '[1e300, -1e300]'::jsonb, '["z", "a"]'::jsonb,
				(SELECT jsonb_agg(i) FROM generate_series(1, 5000) i),
				(SELECT jsonb_agg(i::text) FROM generate_series(1, 3000) i),
				jsonb_build_array(s #> (p || '{value}'::text[])),
				jsonb_build_array(s #> (p || '{value}'::text[]), s #> (p || '{value}'::text[]),
								  s #> (p || '{value}'::text[]))));
			spec := jsonb_set(s, p || '{value}'::text[], coalesce(v, 'null'), true);
			what := format('value %s := %s', p, left(v::text, 60));
		END IF;
	WHEN kind = 12 THEN			-- tiers
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'tiers'));
		spec := jsonb_set(s, '{amount}', jsonb_build_object('type', 'tiered',
			'by', fuzz.pick('["order_value", "price", "qty", "score", "ratio", "net", "status", "due"]'::jsonb),
			'tiers', v), true);
		what := format('tiers := %s', left(v::text, 80));
	WHEN kind = 13 THEN			-- caps and windows
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'window'));
		spec := jsonb_set(s, '{caps}', coalesce(s -> 'caps', '{}') || jsonb_build_object(
			fuzz.pick_text('{per_buyer_count,per_buyer_amount,per_order,""}'),
			jsonb_build_object('max', fuzz.pick('[1, 2, 0, -1, 1.5, 2147483647, 2147483648, 1e300, "2", null]'::jsonb),
							   'window', v)), true);
		what := format('caps window %s', v);
	WHEN kind = 14 THEN			-- currency: constant, column, both, none
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'currency'));
		CASE fuzz.rnd(4)
		WHEN 0 THEN spec := (s #- '{keys,currency}') || jsonb_build_object('currency', v);
		WHEN 1 THEN spec := jsonb_set(s - 'currency', '{keys,currency}',
			fuzz.pick('["currency", "cur_code", "ch", "status", "qty", "mood", "doc", "nope"]'::jsonb), true);
		WHEN 2 THEN spec := jsonb_set(s || jsonb_build_object('currency', v), '{keys,currency}', '"currency"', true);
		ELSE spec := (s #- '{keys,currency}') - 'currency';
		END CASE;
		what := format('currency %s', v);
	WHEN kind = 15 THEN			-- source
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'source'));
		spec := jsonb_set(s, '{source}', v, true);
		what := format('source := %s', v);
	WHEN kind = 16 THEN			-- validity window
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'valid'));
		spec := jsonb_set(s, '{valid}', v, true);
		what := format('valid := %s', v);
	WHEN kind = 17 THEN			-- notification template
		v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'template'));
		spec := jsonb_set(s, '{notify}', jsonb_build_object('channel',
			fuzz.pick('["push", "", "email", 1, "☃"]'::jsonb), 'template', v), true);
		what := format('template := %s', v);
	WHEN kind = 18 THEN			-- a number somewhere := an extreme number
		p := fuzz.random_path(s, $f$kind = 'number'$f$);
		IF p IS NOT NULL THEN
			v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'number'));
			spec := jsonb_set(s, p, v);
			what := format('%s := %s', p, left(v::text, 60));
		END IF;
	WHEN kind = 19 THEN			-- a string somewhere := an odd string
		p := fuzz.random_path(s, $f$kind = 'string'$f$);
		IF p IS NOT NULL THEN
			v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'string'));
			spec := jsonb_set(s, p, v);
			what := format('%s := %s', p, left(v::text, 60));
		END IF;
	WHEN kind = 20 THEN			-- a column reference := another column (any type) or none
		p := fuzz.random_path(s, $f$kind = 'string' AND (path[cardinality(path)] IN ('col', 'of', 'by')
			OR path[cardinality(path) - 1] IN ('keys', 'days'))$f$);
		IF p IS NOT NULL THEN
			v := fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'column'));
			spec := jsonb_set(s, p, v);
			what := format('column %s := %s', p, v);
		END IF;
	WHEN kind = 21 THEN			-- holdout, priority, instrument, top-level strings
		CASE fuzz.rnd(4)
		WHEN 0 THEN
			v := fuzz.pick('[0, 0.05, 0.5, 0.9999, 0.99995, 0.99999, 1, -0.01, 1e-300, "0.05", null, true]'::jsonb);
			spec := jsonb_set(s, '{holdout}', v, true);
			what := format('holdout := %s', v);
		WHEN 1 THEN
			v := fuzz.pick('[0, 10, -1, 5.0, 5.5, 1e2, 2147483647, 2147483648, -2147483648, -2147483649, "5", 1e300]'::jsonb);
			spec := jsonb_set(s, '{priority}', v, true);
			what := format('priority := %s', v);
		WHEN 2 THEN
			v := fuzz.pick('["voucher", "coupon", "points", "free_shipping", "cash_back", "Voucher", "cash", "", 1]'::jsonb);
			spec := jsonb_set(s, '{instrument}', v, true);
			what := format('instrument := %s', v);
		ELSE
			v := fuzz.pick('["scenario", "program", "exclusive", "description"]'::jsonb);
			spec := jsonb_set(s, ARRAY[v ->> 0], fuzz.pick((SELECT items FROM fuzz.pool WHERE name = 'string')), true);
			what := format('%s := odd string', v);
		END CASE;
	WHEN kind = 22 THEN			-- duplicate or empty arrays
		p := fuzz.random_path(s, $f$kind = 'array'$f$);
		IF p IS NOT NULL THEN
			IF fuzz.rnd(2) = 0 THEN
				spec := jsonb_set(s, p, '[]');
				what := format('empty %s', p);
			ELSE
				spec := jsonb_set(s, p, (SELECT jsonb_agg(e) FROM jsonb_array_elements(s #> p) e,
					generate_series(1, 1 + fuzz.rnd(300))));
				what := format('repeat %s', p);
			END IF;
		END IF;
	ELSE						-- the whole document
		v := fuzz.pick(jsonb_build_array('[]'::jsonb, '{}'::jsonb, 'null'::jsonb, '"spec"'::jsonb, '1'::jsonb,
			'true'::jsonb, jsonb_build_array(s), jsonb_build_object('spec', s),
			s - 'when', s - 'amount', s - 'keys', s - 'scenario', s - 'source', s - 'instrument',
			s - 'program', s || '{"when": {}}', s || '{"when": []}', s || '{"amount": []}'));
		spec := v;
		what := format('document := %s', left(v::text, 40));
	END CASE;
	EXCEPTION WHEN OTHERS THEN	-- a path through a value of the wrong kind: skip
		spec := s;
		what := format('skipped (%s)', SQLERRM);
	END;
	IF spec IS NULL THEN
		spec := s;
	END IF;
	what := coalesce(what, 'noop');
END
$$;

CREATE FUNCTION fuzz.generate(n integer, seed float8) RETURNS integer LANGUAGE plpgsql
AS $$
DECLARE
	bases text[] := ARRAY(SELECT name FROM fuzz.base ORDER BY name);
	b text;
	s jsonb;
	m record;
	whats text[];
	k integer;
BEGIN
	PERFORM setseed(seed);
	DELETE FROM fuzz.spec;
	-- the base specs themselves, unmutated
	INSERT INTO fuzz.spec SELECT row_number() OVER (ORDER BY name), name, '', spec, md5(spec::text)
	  FROM fuzz.base;
	FOR i IN (SELECT count(*) + 1 FROM fuzz.base)::integer .. n LOOP
		b := bases[1 + fuzz.rnd(cardinality(bases))];
		s := (SELECT spec FROM fuzz.base WHERE name = b);
		whats := '{}';
		-- mostly 1 or 2 mutations, sometimes up to 5
		k := 1 + floor(power(random(), 2.5) * 5)::integer;
		FOR j IN 1..k + 10 LOOP
			SELECT * INTO m FROM fuzz.mutate(s);
			s := m.spec;
			whats := whats || m.what;
			-- then more mutations while the spec is one seen before
			EXIT WHEN j >= k AND NOT EXISTS (SELECT FROM fuzz.spec WHERE hash = md5(s::text));
		END LOOP;
		INSERT INTO fuzz.spec VALUES (i, b, array_to_string(whats, '; '), s, md5(s::text));
	END LOOP;
	RETURN n;
END
$$;
SQL

# --- 3. the runner ------------------------------------------------------------
psql_db >/dev/null <<'SQL' || { say "runner setup failed"; exit 1; }
SET client_min_messages = warning;

CREATE FUNCTION fuzz.note(sid integer, stage text, call text, state text, msg text, n integer DEFAULT 1)
RETURNS void LANGUAGE sql
AS $$ INSERT INTO fuzz.result VALUES (sid, stage, call, state, left(msg, 500), n) $$;

-- Evaluate a defined strategy over every row, and over rows of other types.
CREATE FUNCTION fuzz.evaluate_all(sid integer, sname text, ver integer) RETURNS void LANGUAGE plpgsql
AS $$
DECLARE
	st text;
	msg text;
	n integer;
	bad integer;
	eligible_rows integer;
	oid_ bigint;
	calls text[];
	q text;
BEGIN
	-- 1. the source's rows, all in one statement (one compiled strategy per call site)
	BEGIN
		SELECT count(*), count(*) FILTER (WHERE e),
			   count(*) FILTER (WHERE (d).eligible IS DISTINCT FROM e OR (d).amount IS DISTINCT FROM a
								 OR (d).version IS DISTINCT FROM ver
								 OR (d).eligible IS DISTINCT FROM ((d).amount IS NOT NULL)
								 OR ((d).eligible AND (d).currency IS NULL))
		  INTO n, eligible_rows, bad
		  FROM (SELECT compensation.evaluate(sname, s, ver) AS d,
					   compensation.eligible(sname, s, ver) AS e,
					   compensation.amount(sname, s, ver) AS a,
					   compensation.in_holdout(sname, s.buyer_id, ver) AS h
				  FROM fuzz.src AS s) q;
		PERFORM fuzz.note(sid, 'evaluate', 'src', '00000', NULL, 4 * n);
		IF eligible_rows > 0 THEN
			PERFORM fuzz.note(sid, 'eligible', NULL, '00000', NULL, eligible_rows);
		END IF;
		IF bad > 0 THEN
			PERFORM fuzz.note(sid, 'inconsistent', 'evaluate vs eligible/amount', 'MISMATCH',
				format('%s rows where evaluate(), eligible() and amount() disagree', bad));
		END IF;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		-- row by row, function by function, to name what fails
		FOR oid_ IN SELECT order_id FROM fuzz.src ORDER BY order_id LOOP
			FOREACH q IN ARRAY ARRAY['evaluate', 'eligible', 'amount'] LOOP
				BEGIN
					EXECUTE format('SELECT compensation.%s($1, s, $2) FROM fuzz.src s WHERE order_id = $3', q)
						USING sname, ver, oid_;
					PERFORM fuzz.note(sid, 'evaluate', 'src', '00000', NULL);
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
					PERFORM fuzz.note(sid, 'evaluate', format('%s on src row %s', q, oid_), st, msg);
				END;
			END LOOP;
		END LOOP;
	END;

	-- 2. the same rows under other row types must get the same decisions
	BEGIN
		SELECT count(*) INTO bad
		  FROM fuzz.src AS s
		  JOIN fuzz.src_perm AS p USING (order_id)
		  JOIN (SELECT * FROM fuzz.src) AS r USING (order_id)
		 WHERE compensation.evaluate(sname, s, ver) IS DISTINCT FROM compensation.evaluate(sname, p, ver)
			OR compensation.evaluate(sname, s, ver) IS DISTINCT FROM compensation.evaluate(sname, r, ver);
		PERFORM fuzz.note(sid, 'evaluate', 'src_perm/record', '00000', NULL, 3 * (SELECT count(*) FROM fuzz.src)::integer);
		IF bad > 0 THEN
			PERFORM fuzz.note(sid, 'inconsistent', 'row type', 'MISMATCH',
				format('%s rows decided differently as fuzz.src, fuzz.src_perm or an anonymous record', bad));
		END IF;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		PERFORM fuzz.note(sid, 'evaluate', 'src_perm/record', st, msg);
	END;

	-- 3. rows of other row types, NULL facts, odd versions and names
	calls := ARRAY[
		format('SELECT compensation.evaluate(%L, ROW(1, %L, now()), %s)', sname, 'b1', ver),
		format('SELECT compensation.eligible(%L, ROW(NULL::int, NULL::text), %s)', sname, ver),
		format('SELECT compensation.amount(%L, ROW(), %s)', sname, ver),
		format('SELECT compensation.evaluate(%L, a, %s) FROM fuzz.src_alt a', sname, ver),
		format('SELECT compensation.amount(%L, a, %s) FROM fuzz.src_alt a', sname, ver),
		format('SELECT compensation.evaluate(%L, k, %s) FROM fuzz.src_keys k', sname, ver),
		format($q$SELECT compensation.evaluate(%L, r, %s) FROM (SELECT 'x'::text AS order_id, 1 AS buyer_id,
			now() AS delivered_at, 'delivered' AS status, '5' AS order_value, 'EUR' AS currency,
			'2026-10-01'::date AS promised_at, 1.5 AS score, NULL AS market, 3 AS qty) r$q$, sname, ver),
		format($q$SELECT compensation.evaluate(%L, r, %s) FROM (SELECT order_id, buyer_id, delivered_at,
			promised_at, status, currency, CASE WHEN order_value BETWEEN -1e300 AND 1e300 THEN order_value::float8 END AS order_value,
			score::numeric AS score,
			qty::bigint AS qty, segment::varchar AS segment FROM fuzz.src) r$q$, sname, ver),
		format('SELECT compensation.evaluate(%L, NULL::fuzz.src, %s)', sname, ver),
		format('SELECT compensation.amount(%L, NULL::record, %s)', sname, ver),
		format('SELECT compensation.evaluate(%L, s, NULL) FROM fuzz.src s', sname),
		format('SELECT compensation.eligible(%L, s, 0) FROM fuzz.src s', sname),
		format('SELECT compensation.eligible(%L, s, -1) FROM fuzz.src s', sname),
		format('SELECT compensation.amount(%L, s, 2147483647) FROM fuzz.src s', sname),
		format('SELECT compensation.evaluate(%L, s, %s) FROM fuzz.src s', sname || '☃', ver),
		format('SELECT compensation.in_holdout(%L, repeat(%L, 100000), %s)', sname, '☃', ver),
		format('SELECT compensation.in_holdout(%L, NULL, %s)', sname, ver),
		format('SELECT fuzz.eval_var(%L, %s)', sname, ver)];
	FOREACH q IN ARRAY calls LOOP
		BEGIN
			EXECUTE q;
			GET DIAGNOSTICS n = ROW_COUNT;
			PERFORM fuzz.note(sid, 'foreign', NULL, '00000', NULL, greatest(n, 1));
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			PERFORM fuzz.note(sid, 'foreign', q, st, msg);
		END;
	END LOOP;
END
$$;

-- From plpgsql variables: one call site (a simple expression, whose compiled
-- strategy is kept from call to call) sees rows of changing row types.
CREATE FUNCTION fuzz.eval_var(sname text, ver integer) RETURNS integer LANGUAGE plpgsql
AS $$
DECLARE
	r fuzz.src;
	rec record;
	d compensation.decision;
	first compensation.decision;
	n integer := 0;
	oid_ integer;
BEGIN
	FOR r IN SELECT * FROM fuzz.src ORDER BY order_id LOOP
		d := compensation.evaluate(sname, r, ver);
		n := n + 1;
	END LOOP;
	FOREACH oid_ IN ARRAY ARRAY[1, 2, 3, 4, 8, 10, 11] LOOP	-- each call recompiles: a few rows
		FOR i IN 1..4 LOOP
			CASE i
			WHEN 1 THEN SELECT * INTO rec FROM fuzz.src WHERE order_id = oid_;
			WHEN 2 THEN SELECT * INTO rec FROM fuzz.src_perm WHERE order_id = oid_;
			WHEN 3 THEN SELECT s INTO rec FROM fuzz.src s WHERE order_id = oid_;
			ELSE SELECT * INTO rec FROM (SELECT * FROM fuzz.src WHERE order_id = oid_ OFFSET 0) q;
			END CASE;
			IF i = 3 THEN
				d := compensation.evaluate(sname, rec.s, ver);
			ELSE
				d := compensation.evaluate(sname, rec, ver);
			END IF;
			n := n + 1;
			IF i = 1 THEN
				first := d;
			ELSIF d IS DISTINCT FROM first THEN
				RAISE EXCEPTION 'row % decided differently as a % variable: % vs %', oid_, i, d, first
					USING ERRCODE = 'ZZ001';
			END IF;
		END LOOP;
	END LOOP;
	RETURN n;
END
$$;

CREATE FUNCTION fuzz.run_one(sid integer) RETURNS void LANGUAGE plpgsql
AS $$
DECLARE
	s jsonb := (SELECT spec FROM fuzz.spec WHERE id = sid);
	sname text := 'fz_' || sid;
	v_state text := '00000';
	d_state text := '00000';
	msg text;
	ver integer;
BEGIN
	BEGIN
		PERFORM compensation.validate_spec(s);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	END;
	PERFORM fuzz.note(sid, 'validate', NULL, v_state, msg);
	msg := NULL;
	BEGIN
		ver := compensation.define_strategy(sname, s);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS d_state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	END;
	PERFORM fuzz.note(sid, 'define', NULL, d_state, msg, coalesce(ver, 0));
	IF d_state IS DISTINCT FROM v_state THEN
		PERFORM fuzz.note(sid, 'inconsistent', 'validate_spec vs define_strategy', 'MISMATCH',
			format('validate_spec: %s, define_strategy: %s %s', v_state, d_state, msg));
	END IF;
	IF d_state = '00000' THEN
		PERFORM fuzz.evaluate_all(sid, sname, ver);
	END IF;
END
$$;

CREATE FUNCTION fuzz.run_range(lo integer, hi integer) RETURNS integer LANGUAGE plpgsql
AS $$
DECLARE
	n integer := 0;
	sid integer;
BEGIN
	DELETE FROM fuzz.result WHERE spec_id BETWEEN lo AND hi;
	FOR sid IN SELECT id FROM fuzz.spec WHERE id BETWEEN lo AND hi ORDER BY id LOOP
		PERFORM fuzz.run_one(sid);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
SQL

gen_started=$SECONDS
if ! psql_db -c "SELECT fuzz.generate($NSPECS, $SEED)" >/dev/null; then
	say "spec generation failed"
	exit 1
fi
gen_time=$((SECONDS - gen_started))

# --- 4. run, one session per batch; pinpoint any spec that kills a backend -------
crashers=()
run_range() {	# lo hi
	psql_db -c "SET statement_timeout = '$TIMEOUT'" -c "SELECT fuzz.run_range($1, $2)" >/dev/null 2>"$errfile"
}
errfile=$(mktemp /tmp/robustness.XXXXXX)
trap 'rm -f "$errfile"' EXIT
run_started=$SECONDS
for ((lo = 1; lo <= NSPECS; lo += BATCH)); do
	hi=$((lo + BATCH - 1))
	run_range $lo $hi && continue
	say "batch $lo-$hi failed: $(head -c 300 "$errfile" | tr '\n' ' ')"
	if ! wait_for_server; then
		problem "server did not come back after batch $lo-$hi"
		break
	fi
	# one spec per session, to find those that fail the session
	for ((id = lo; id <= hi; id++)); do
		run_range $id $id && continue
		reason=$(head -c 300 "$errfile" | tr '\n' ' ')
		crashers+=("$id")
		problem "spec $id ends the session: $reason"
		wait_for_server || { problem "server did not come back after spec $id"; break 2; }
	done
done

# --- 5. the same decisions from parallel workers --------------------------------
# Every accepted strategy whose evaluation raised nothing, over every row, with
# the plan forced into a parallel worker (the functions are PARALLEL SAFE and
# read the catalog through SPI there): the eligible counts must not change.
parallel=$(psql_db -At 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE TABLE fuzz.defined AS
SELECT d.spec_id, 'fz_' || d.spec_id AS name, d.n AS version,
	   coalesce((SELECT sum(e.n) FROM fuzz.result e WHERE e.spec_id = d.spec_id AND e.stage = 'eligible'), 0) AS eligible
  FROM fuzz.result d
 WHERE d.stage = 'define' AND d.sqlstate = '00000'
   AND NOT EXISTS (SELECT FROM fuzz.result x WHERE x.spec_id = d.spec_id AND x.stage = 'evaluate'
					  AND x.sqlstate <> '00000');
ANALYZE fuzz.defined;
-- the whole plan in one worker (a single-copy Gather on top)
SET force_parallel_mode = on;
SELECT count(*), count(*) FILTER (WHERE p.n <> d.eligible),
	   coalesce(sum(p.calls), 0), min(p.spec_id) FILTER (WHERE p.n <> d.eligible)
  FROM (SELECT d.spec_id, count(*) FILTER (WHERE compensation.eligible(d.name, s, d.version)) AS n,
			   count(*) AS calls
		  FROM fuzz.defined d CROSS JOIN fuzz.src s
		 GROUP BY d.spec_id) p
  JOIN fuzz.defined d USING (spec_id);
SQL
)
if [[ $parallel =~ ^([0-9]+)\|([0-9]+)\|([0-9]+)\|(.*)$ ]]; then
	nparallel=${BASH_REMATCH[3]}
	if [ "${BASH_REMATCH[2]}" -ne 0 ]; then
		problem "${BASH_REMATCH[2]} strategies decide differently in a parallel worker (first: spec ${BASH_REMATCH[4]})"
	fi
else
	nparallel=0
	problem "evaluation in parallel workers failed: $(head -c 500 <<<"$parallel")"
	wait_for_server || true
fi
run_time=$((SECONDS - run_started))

# --- 6. the server must be alive and must not have crashed ----------------------
if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	problem "server is not accepting connections after the run"
fi
if [ -n "$log" ]; then
	crash_lines=$(tail -c +$((log_start + 1)) "$log" |
		grep -E 'terminated by signal|was terminated by exception|server process \(PID [0-9]+\)|all server processes terminated|TRAP:|AddressSanitizer' |
		head -20)
	if [ -n "$crash_lines" ]; then
		problem "server log shows a crash:"$'\n'"$crash_lines"
	fi
fi

# --- 7. report ----------------------------------------------------------------
report=$(psql_db -At -F '|' <<'SQL'
WITH v AS (SELECT * FROM fuzz.result WHERE stage = 'validate')
SELECT 'summary',
	   (SELECT count(*) FROM v),
	   (SELECT count(*) FROM v WHERE sqlstate = '00000'),
	   (SELECT count(*) FROM v WHERE sqlstate <> '00000'),
	   (SELECT count(DISTINCT sqlstate) FROM v WHERE sqlstate <> '00000'),
	   (SELECT coalesce(sum(n), 0) FROM fuzz.result WHERE stage IN ('evaluate', 'foreign')),
	   (SELECT count(*) FROM fuzz.result WHERE sqlstate LIKE 'XX%'),
	   (SELECT count(DISTINCT hash) FROM fuzz.spec),
	   (SELECT coalesce(sum(n), 0) FROM fuzz.result WHERE stage = 'eligible');
SQL
)
IFS='|' read -r _ nspecs naccepted nrejected nstates nevals ninternal ndistinct neligible <<<"$report"
nspecs=${nspecs:-0} naccepted=${naccepted:-0} nrejected=${nrejected:-0} nstates=${nstates:-0}
nevals=${nevals:-0} ninternal=${ninternal:-0} ndistinct=${ndistinct:-0} neligible=${neligible:-0}
nevals=$((nevals + nparallel))

echo "validate_spec outcomes (SQLSTATE count):"
psql_db -At -F ' ' -c "SELECT '  ' || sqlstate, count(*) FROM fuzz.result WHERE stage = 'validate'
	GROUP BY 1 ORDER BY 2 DESC, 1"
echo "evaluation errors (stage SQLSTATE count):"
psql_db -At -F ' ' -c "SELECT '  ' || stage, sqlstate, count(*) FROM fuzz.result
	WHERE stage IN ('evaluate', 'foreign') AND sqlstate <> '00000' GROUP BY 1, 2 ORDER BY 1, 3 DESC"

# Failures: internal errors, classes no check should raise, disagreements.
bad=$(psql_db -At <<'SQL'
SELECT format(E'  %s %s spec %s (%s) %s: %s\n    spec: %s',
			  r.stage, r.sqlstate, r.spec_id, s.mutations, coalesce(r.call, ''), r.message,
			  left(s.spec::text, 1500))
  FROM fuzz.result r JOIN fuzz.spec s ON s.id = r.spec_id
 WHERE r.sqlstate <> '00000'
   AND (r.sqlstate = 'MISMATCH' OR left(r.sqlstate, 2) NOT IN ('22', '42', '54', '55'))
 ORDER BY r.sqlstate <> 'XX000', r.stage, r.spec_id
 LIMIT 40;
SQL
)
nbad=$(psql_db -At -c "SELECT count(*) FROM fuzz.result WHERE sqlstate <> '00000'
	AND (sqlstate = 'MISMATCH' OR left(sqlstate, 2) NOT IN ('22', '42', '54', '55'))")
if [ "${nbad:-0}" -gt 0 ]; then
	problem "$nbad calls failed with an internal error, an unexpected SQLSTATE class or a disagreement (first 40):"$'\n'"$bad"
fi

# Warnings: the strategy's own source rows should be decided, not raise.
warn=$(psql_db -At <<'SQL'
SELECT format('  %s x %s %s (%s), e.g. spec %s: %s', count(*), sqlstate, call, left(min(message), 200),
			  min(spec_id), left((SELECT mutations FROM fuzz.spec WHERE id = min(r.spec_id)), 200))
  FROM fuzz.result r
 WHERE stage = 'evaluate' AND sqlstate <> '00000' AND left(sqlstate, 2) IN ('22', '42', '54', '55')
 GROUP BY sqlstate, call ORDER BY count(*) DESC LIMIT 15;
SQL
)
[ -n "$warn" ] && printf 'warning: evaluation errors on the source'"'"'s own rows (a decision was expected):\n%s\n' "$warn"
nopath=$(psql_db -At <<'SQL'
SELECT format('  %s x %s: %s', count(*), sqlstate, min(message))
  FROM fuzz.result
 WHERE stage = 'validate' AND sqlstate <> '00000' AND message NOT LIKE 'invalid strategy spec at $%'
 GROUP BY sqlstate ORDER BY count(*) DESC LIMIT 10;
SQL
)
[ -n "$nopath" ] && printf 'warning: rejections whose message names no JSON path:\n%s\n' "$nopath"

if [ "$nspecs" -lt "$REQUIRED" ] || [ "$ndistinct" -lt "$REQUIRED" ]; then
	problem "only $nspecs specs ($ndistinct distinct) were run (at least $REQUIRED required)"
fi

elapsed=$((SECONDS - started))
if [ "$fail" -eq 0 ] && [ -z "${COMP_FUZZ_KEEP:-}" ]; then
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
fi
for p in "${problems[@]}"; do
	printf 'FAIL: %s\n' "$p"
done
say "$nspecs specs ($naccepted accepted, $nrejected rejected by $nstates distinct SQLSTATEs)," \
	"$nevals evaluations ($neligible eligible), $ninternal internal errors, ${#crashers[@]} crashes;" \
	"$ndistinct distinct specs" \
	"(generation ${gen_time}s, run ${run_time}s, total ${elapsed}s)"
[ "$fail" -eq 0 ]
