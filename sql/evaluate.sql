-- evaluate/eligible/amount: operators x types x NULL, days, combinators,
-- amounts in every currency exponent, rounding, row types, versions.
SET TimeZone = 'UTC';
CREATE DOMAIN regress_money AS numeric CHECK (VALUE >= 0);
CREATE TABLE public.facts (
	id		integer,
	buyer	text,
	at		timestamptz,
	i		integer,
	n		numeric,
	f		float8,
	t		text,
	b		boolean,
	d		date,
	ts		timestamp,
	tz		timestamptz,
	dm		regress_money,
	currency text,
	segment	text
);
-- for each typed column: below, equal to, above the constant, and NULL
INSERT INTO public.facts (id, i, n, f, t, b, d, ts, tz, dm) VALUES
	(1, 4, 5.4, 0.25, 'a', false, '2026-09-30', '2026-09-30 23:59:59', '2026-09-30 23:59:59+00', 9.99),
	(2, 5, 5.5, 0.5,  'm', true,  '2026-10-01', '2026-10-01 00:00:00', '2026-10-01 00:00:00+00', 10),
	(3, 6, 5.6, 0.75, 'z', NULL,  '2026-10-02', '2026-10-01 00:00:01', '2026-10-01 00:00:01+00', 10.01),
	(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE public.facts SET buyer = 'b' || id, at = '2026-10-15', currency = 'EUR';

-- One strategy per column: "any" of named conditions, one per operator;
-- reasons list every condition that held, so each row shows the operators
-- that were true for it.  low/mid/high are the values of rows 1/2/3.
CREATE FUNCTION pg_temp.matrix_spec(col text, mid jsonb, high jsonb, other jsonb) RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'matrix', 'source', 'public.facts', 'instrument', 'points', 'program', 'regress',
	'currency', 'EUR',
	'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'when', jsonb_build_object('any', jsonb_build_array(
		jsonb_build_object('name', '=',  'col', col, 'op', '=',  'value', mid),
		jsonb_build_object('name', '!=', 'col', col, 'op', '!=', 'value', mid),
		jsonb_build_object('name', '<',  'col', col, 'op', '<',  'value', mid),
		jsonb_build_object('name', '<=', 'col', col, 'op', '<=', 'value', mid),
		jsonb_build_object('name', '>',  'col', col, 'op', '>',  'value', mid),
		jsonb_build_object('name', '>=', 'col', col, 'op', '>=', 'value', mid),
		jsonb_build_object('name', 'between', 'col', col, 'op', 'between', 'value', jsonb_build_array(mid, high)),
		jsonb_build_object('name', 'in', 'col', col, 'op', 'in', 'value', jsonb_build_array(other, mid)),
		jsonb_build_object('name', 'not in', 'col', col, 'op', 'not in', 'value', jsonb_build_array(other, mid)),
		jsonb_build_object('name', 'is null', 'col', col, 'op', 'is null'),
		jsonb_build_object('name', 'is not null', 'col', col, 'op', 'is not null')))) $$;

SELECT compensation.define_strategy('m_' || col, pg_temp.matrix_spec(col, mid::jsonb, high::jsonb, other::jsonb)) AS version
  FROM (VALUES ('i', '5', '6', '99'),
			   ('n', '5.5', '5.6', '99'),
			   ('f', '0.5', '0.75', '99'),
			   ('t', '"m"', '"z"', '"q"'),
			   ('b', 'true', 'true', 'true'),
			   ('d', '"2026-10-01"', '"2026-10-02"', '"2020-01-01"'),
			   ('ts', '"2026-10-01 00:00:00"', '"2026-10-01 00:00:01"', '"2020-01-01"'),
			   ('tz', '"2026-10-01 00:00:00+00"', '"2026-10-01 00:00:01+00"', '"2020-01-01 00:00+00"'),
			   ('dm', '10', '10.01', '99')) AS m(col, mid, high, other)
 ORDER BY col;

SELECT m.col, r.id, (compensation.evaluate('m_' || m.col, r, 1)).reasons
  FROM public.facts AS r,
	   unnest(ARRAY['i', 'n', 'f', 't', 'b', 'd', 'ts', 'tz', 'dm']) AS m(col)
 ORDER BY array_position(ARRAY['i', 'n', 'f', 't', 'b', 'd', 'ts', 'tz', 'dm'], m.col), r.id;

-- eligible is true only when the rule is TRUE: NULL comparisons are not
-- true, and "not" of an unknown is not true either.
CREATE FUNCTION pg_temp.spec_when(cond jsonb) RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'logic', 'source', 'public.facts', 'instrument', 'points', 'program', 'regress',
	'currency', 'EUR', 'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1), 'when', cond) $$;
SELECT compensation.define_strategy('logic_not', pg_temp.spec_when('{"not": {"col": "i", "op": "=", "value": 5}}'));
SELECT compensation.define_strategy('logic_all', pg_temp.spec_when('{"all": [{"col": "i", "op": ">=", "value": 5}, {"col": "b", "op": "=", "value": true}]}'));
SELECT compensation.define_strategy('logic_any', pg_temp.spec_when('{"any": [{"col": "i", "op": ">", "value": 5}, {"col": "b", "op": "=", "value": true}]}'));
SELECT compensation.define_strategy('logic_not_all', pg_temp.spec_when('{"not": {"all": [{"col": "i", "op": ">=", "value": 5}, {"col": "b", "op": "=", "value": true}]}}'));
SELECT r.id, r.i, r.b,
	   compensation.eligible('logic_not', r, 1) AS "not i=5",
	   compensation.eligible('logic_all', r, 1) AS "i>=5 and b",
	   compensation.eligible('logic_any', r, 1) AS "i>5 or b",
	   compensation.eligible('logic_not_all', r, 1) AS "not (i>=5 and b)",
	   -- the same rules in SQL: eligible = coalesce(rule, false)
	   coalesce(NOT (r.i = 5), false) AS sql_not,
	   coalesce(r.i >= 5 AND r.b, false) AS sql_all,
	   coalesce(r.i > 5 OR r.b, false) AS sql_any,
	   coalesce(NOT (r.i >= 5 AND r.b), false) AS sql_not_all
  FROM public.facts AS r ORDER BY r.id;

-- days(a, b) = floor((b - a) / 86400 s): negative when b is before a
CREATE TABLE public.deliveries (id integer, buyer text, promised timestamptz, delivered timestamptz);
INSERT INTO public.deliveries VALUES
	(1, 'x', '2026-10-01 12:00+00', '2026-10-04 12:00+00'),			-- exactly 3 days
	(2, 'x', '2026-10-01 12:00+00', '2026-10-04 11:59:59.999999+00'),	-- just under 3
	(3, 'x', '2026-10-01 12:00+00', '2026-10-01 12:00+00'),			-- 0
	(4, 'x', '2026-10-01 12:00+00', '2026-10-01 11:59:59+00'),			-- -1 second: day -1
	(5, 'x', '2026-10-01 12:00+00', '2026-09-30 12:00+00'),			-- exactly -1 day
	(6, 'x', '2026-10-01 12:00+00', '2026-09-30 11:59:59+00'),			-- -2
	(7, 'x', NULL, '2026-10-01 12:00+00'),
	(8, 'x', '2026-10-01 12:00+00', 'infinity');
SELECT compensation.define_strategy('days', jsonb_build_object(
	'scenario', 'late_delivery', 'source', 'public.deliveries', 'instrument', 'voucher', 'program', 'regress',
	'currency', 'EUR', 'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'delivered'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'when', jsonb_build_object('any', (SELECT jsonb_agg(jsonb_build_object(
		'name', 'days=' || k, 'days', jsonb_build_array('promised', 'delivered'), 'op', '=', 'value', k))
		FROM generate_series(-3, 4) AS k))));
SELECT d.id, CASE WHEN isfinite(d.delivered) THEN d.delivered - d.promised END AS elapsed,
	   (compensation.evaluate('days', d, 1)).reasons,
	   compensation.eligible('days', d, 1) AS program,
	   CASE WHEN isfinite(d.delivered)
			THEN floor(extract(epoch FROM d.delivered - d.promised) / 86400) END AS sql_days
  FROM public.deliveries AS d ORDER BY d.id;

-- Amounts: exact in minor units of the row's currency, rounded half-up once.
CREATE TABLE public.money_rows (id integer, buyer text, at timestamptz, value numeric,
								currency text, segment text);
INSERT INTO public.money_rows VALUES
	(1, 'x', now(), 0.01, 'USD', NULL),		-- 0.5 cent   -> 1 cent (half-up)
	(2, 'x', now(), 0.03, 'USD', NULL),		-- 1.5 cents  -> 2
	(3, 'x', now(), 0.0299, 'USD', NULL),	-- 1.495      -> 1
	(4, 'x', now(), 1, 'JPY', NULL),			-- 0.5 yen    -> 1
	(5, 'x', now(), 3, 'JPY', NULL),			-- 1.5 yen    -> 2
	(6, 'x', now(), 0.001, 'BHD', NULL),		-- 0.5 fils   -> 0.001
	(7, 'x', now(), 0.0001, 'CLF', NULL),	-- 0.5        -> 0.0001
	(8, 'x', now(), 123.45, 'EUR', 'vip'),	-- 61.725; with vip 1.5: 92.5875 -> 92.59
	(9, 'x', now(), 123.45, 'EUR', 'gold'),	-- unknown segment: default 2 -> 123.45
	(10, 'x', now(), 123.45, 'EUR', NULL),	-- NULL segment: default 2
	(11, 'x', now(), NULL, 'EUR', NULL),		-- NULL base: not eligible
	(12, 'x', now(), 10, 'XYZ', NULL),		-- unknown currency: not eligible
	(13, 'x', now(), 10, NULL, NULL),		-- NULL currency: not eligible
	(14, 'x', now(), -10, 'EUR', NULL),		-- negative base: not eligible
	(15, 'x', now(), 1e20, 'EUR', NULL),		-- 5e21 cents: too large for int64
	(16, 'x', now(), 'NaN', 'EUR', NULL);	-- not a number
CREATE FUNCTION pg_temp.money_spec(amount jsonb) RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'money', 'source', 'public.money_rows', 'instrument', 'cash_back', 'program', 'regress',
	'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at', 'currency', 'currency'),
	'when', '{"col": "id", "op": "is not null"}'::jsonb, 'amount', amount) $$;
SELECT compensation.define_strategy('half', pg_temp.money_spec(
	'{"type": "percent", "of": "value", "rate": 0.5}'));
SELECT r.id, r.value, r.currency, d.eligible, d.amount, d.currency, d.reasons
  FROM public.money_rows AS r, compensation.evaluate('half', r, 1) AS d ORDER BY r.id;

-- segment multipliers scale the raw amount before the single rounding
SELECT compensation.define_strategy('seg', pg_temp.money_spec(
	'{"type": "percent", "of": "value", "rate": 0.5, "segment": {"col": "segment", "multipliers": {"vip": 1.5}, "default": 2}}'));
SELECT r.id, r.value, r.currency, r.segment, compensation.amount('seg', r, 1)
  FROM public.money_rows AS r WHERE r.id BETWEEN 8 AND 10 ORDER BY r.id;

-- fixed amounts follow the row's exponent; min/max clamp after rounding
SELECT compensation.define_strategy('fixed', pg_temp.money_spec('{"type": "fixed", "value": 2.5}'));
SELECT compensation.define_strategy('clamped', pg_temp.money_spec(
	'{"type": "percent", "of": "value", "rate": 0.5, "min": 0.015, "max": 20}'));
SELECT r.id, r.value, r.currency,
	   compensation.amount('fixed', r, 1) AS fixed_2_5,
	   compensation.amount('clamped', r, 1) AS clamped_0_015_to_20
  FROM public.money_rows AS r WHERE r.id <= 10 ORDER BY r.id;

-- tiers: [from, to), fixed or rate, gaps mean no amount
SELECT compensation.define_strategy('tiers', pg_temp.money_spec(
	'{"type": "tiered", "by": "value", "tiers": [
		{"to": 1, "amount": 0.5},
		{"from": 1, "to": 100, "rate": 0.1},
		{"from": 200, "amount": 25}]}'));
CREATE TABLE public.tier_rows (id integer, buyer text, at timestamptz, value numeric, currency text);
INSERT INTO public.tier_rows VALUES
	(1, 'x', now(), -5, 'EUR'), (2, 'x', now(), 0.99, 'EUR'), (3, 'x', now(), 1, 'EUR'),
	(4, 'x', now(), 99.99, 'EUR'), (5, 'x', now(), 100, 'EUR'), (6, 'x', now(), 150, 'EUR'),
	(7, 'x', now(), 200, 'EUR'), (8, 'x', now(), 1e9, 'JPY');
SELECT r.id, r.value, d.amount, d.currency, d.reasons
  FROM public.tier_rows AS r, compensation.evaluate('tiers', r, 1) AS d ORDER BY r.id;

-- Any row type: a view row, a subquery record, a join's t.*, an integer
-- and a float base column.  Columns are found by name.
CREATE VIEW public.money_view AS
	SELECT id, buyer, at, value::float8 AS value, currency, segment FROM public.money_rows;
SELECT compensation.amount('seg', v, 1) AS from_view_float
  FROM public.money_view AS v WHERE v.id = 8;
SELECT compensation.amount('seg', r, 1) AS from_subquery
  FROM (SELECT 'EUR' AS currency, 7 AS value, 'vip' AS segment, 1 AS id) AS r;
SELECT t.id, compensation.amount('seg', t.*, 1) AS from_join
  FROM public.money_rows AS t JOIN public.tier_rows AS u USING (id) WHERE t.id IN (2, 8) ORDER BY 1;

-- Versions: the active one by default, any one on request.
SELECT compensation.define_strategy('half', pg_temp.money_spec('{"type": "fixed", "value": 1}')) AS v2;
SELECT compensation.activate('half', 1);
SELECT compensation.amount('half', r) AS active_v1,
	   compensation.amount('half', r, 2) AS draft_v2,
	   (compensation.evaluate('half', r)).version AS evaluated_version
  FROM public.money_rows AS r WHERE r.id = 8;
SELECT compensation.activate('half');		-- latest: 2
SELECT compensation.amount('half', r) AS active_v2, (compensation.evaluate('half', r)).version
  FROM public.money_rows AS r WHERE r.id = 8;
SELECT name, version, status FROM compensation.strategies WHERE name = 'half' ORDER BY version;

-- NULL strategy or row: NULL
SELECT compensation.amount(NULL, r) IS NULL AS null_name,
	   compensation.eligible('half', NULL::public.money_rows) IS NULL AS null_row,
	   compensation.evaluate('half', NULL::public.money_rows) IS NULL AS null_row_decision
  FROM public.money_rows AS r WHERE r.id = 1;

-- Errors at evaluation name what is missing.
\x on
SELECT * FROM regress.error_of($$SELECT compensation.amount('nope', r) FROM public.money_rows r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount('fixed', r) FROM public.money_rows r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount('half', r, 7) FROM public.money_rows r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount('seg', r, 1) FROM (SELECT 1 AS id, 'EUR' AS currency) r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount('seg', r, 1) FROM (SELECT 1 AS id, 'EUR' AS currency, 'x' AS value, 'vip' AS segment) r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount('seg', r, 1) FROM (SELECT 1 AS id, 42 AS currency, 1 AS value, 'vip' AS segment) r$$);
SELECT * FROM regress.error_of($$SELECT compensation.eligible('m_i', r, 1) FROM (SELECT 1 AS id, 'x' AS buyer, now() AS at, 'abc'::text AS i) r$$);
\x off

-- Planner support: a table row is passed as its columns, not as a built
-- row, and decides exactly as the row would.  With the version known, the
-- call carries its stored spec (shown as <spec>) and the columns' names,
-- so that a node without the strategy catalog (a Citus worker) can decide.
CREATE FUNCTION pg_temp.plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP
		RETURN NEXT regexp_replace(regexp_replace(line, '''[0-9]+''::oid', '''<row type>''::oid'),
								   '''\{".*"\}''::jsonb', '''<spec>''::jsonb');
	END LOOP;
END $$;
SELECT pg_temp.plan($$SELECT compensation.amount('seg', r, 1) FROM public.money_rows AS r$$);
-- a subquery's row is left as it is
SELECT pg_temp.plan($$SELECT compensation.amount('seg', r, 1) FROM (SELECT * FROM public.money_rows OFFSET 0) AS r$$);
-- a view's row, pulled up into a ROW() of its columns, is passed by name
SELECT pg_temp.plan($$SELECT compensation.amount('seg', v, 1) FROM public.money_view AS v$$);
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE compensation.evaluate('seg', v, 1)
						IS DISTINCT FROM compensation.evaluate('seg', s, 1)) AS differ
  FROM public.money_view AS v
  JOIN (SELECT * FROM public.money_view OFFSET 0) AS s ON s.id = v.id;
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE compensation.evaluate('seg', r, 1)
						IS DISTINCT FROM compensation.evaluate('seg', s, 1)) AS differ
  FROM public.money_rows AS r
  JOIN (SELECT * FROM public.money_rows OFFSET 0) AS s ON s.id = r.id;
-- Only the columns the version reads are passed.  A prepared statement is
-- planned again when the strategy changes, so that it passes the columns of
-- the version now in force (version 2 reads "note").
CREATE TABLE public.prune_rows (id integer, buyer text, at timestamptz, value numeric,
								currency text, note text);
INSERT INTO public.prune_rows VALUES (1, 'b1', now(), 100, 'EUR', 'late'), (2, 'b2', now(), 100, 'EUR', NULL);
CREATE FUNCTION pg_temp.prune_spec(rule jsonb) RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'money', 'source', 'public.prune_rows', 'instrument', 'cash_back', 'program', 'regress',
	'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at', 'currency', 'currency'),
	'when', rule, 'amount', '{"type": "fixed", "value": 1}'::jsonb) $$;
SELECT compensation.define_strategy('prune', pg_temp.prune_spec('{"col": "id", "op": ">=", "value": 1}'));
SELECT compensation.activate('prune');
PREPARE prune_amounts AS SELECT id, compensation.amount('prune', r) FROM public.prune_rows AS r ORDER BY id;
EXECUTE prune_amounts;
SELECT pg_temp.plan($$SELECT compensation.amount('prune', r) FROM public.prune_rows AS r$$);
SELECT compensation.define_strategy('prune', pg_temp.prune_spec('{"col": "note", "op": "is not null"}'));
SELECT compensation.activate('prune');
EXECUTE prune_amounts;
SELECT pg_temp.plan($$SELECT compensation.amount('prune', r) FROM public.prune_rows AS r$$);
DEALLOCATE prune_amounts;
-- the twins check what they are given: a hand-written call can not make a
-- value be read as another type, nor leave out a column the version reads
-- (which is also what a version activated between planning and running
-- would meet)
\x on
SELECT * FROM regress.error_of($$SELECT compensation.amount_columns('prune', NULL, 'public.prune_rows'::regtype, '{1,5}', r.ctid, r.buyer, r.currency) FROM public.prune_rows AS r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_columns('prune', NULL, 'public.prune_rows'::regtype, '{1,5}', r.ctid, r.id) FROM public.prune_rows AS r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_columns('prune', NULL, 'public.prune_rows'::regtype, ARRAY[r.id::int2], r.ctid, r.id) FROM public.prune_rows AS r$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_columns('prune', NULL, 'public.prune_rows'::regtype, '{1,5}', r.ctid, r.id, r.currency) FROM public.prune_rows AS r$$);
-- the *_spec twins too: a spec that does not parse, names that do not match
-- the columns, a column the version reads left out, a value without a type
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, '[]', NULL, '{}', true)$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, '{"scenario": "x"}', NULL, '{}', true)$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, NULL, NULL, '{}', true)$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, 'public.prune_rows', '{currency}', r.ctid, r.currency, r.note) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, 'public.prune_rows', '{currency,currency}', r.ctid, r.currency, r.note) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, 'public.prune_rows', '{currency,NULL}', r.ctid, r.currency, r.note) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, 'public.prune_rows', '{{currency},{note}}', r.ctid, r.currency, r.note) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, 'public.prune_rows', '{currency}', r.ctid, r.currency) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, NULL, '{currency,note}', r.ctid, 'EUR', r.note) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec, NULL, '{currency,note}', VARIADIC ARRAY['(0,1)', 'EUR', 'x']) FROM compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
SELECT * FROM regress.error_of($$SELECT compensation.amount_spec('prune', 2, v.spec || '{"amount": {"type": "fixed", "value": 7}}', NULL, '{note}', r.ctid, r.note) FROM public.prune_rows AS r, compensation.strategies AS v WHERE v.name = 'prune' AND v.version = 2$$);
\x off
-- given by hand, a spec is evaluated on the row given only: a spec that is
-- not the stored one (here amount 7) is parsed and bound on its own
SELECT r.id, compensation.amount_spec('prune', 2, v.spec || '{"amount": {"type": "fixed", "value": 7}}',
									  NULL, '{currency,note}', r.ctid, r.currency, r.note)
  FROM public.prune_rows AS r, compensation.strategies AS v
 WHERE v.name = 'prune' AND v.version = 2 ORDER BY r.id;
-- a row null-extended by an outer join is a NULL row, not a row of NULLs
-- (m_i's "is null" condition would hold for a row of NULLs)
SELECT x.id, r.id AS facts_id, compensation.eligible('m_i', r, 1) AS eligible,
	   compensation.evaluate('m_i', r, 1) IS NULL AS decision_is_null
  FROM (VALUES (1), (99)) AS x(id) LEFT JOIN public.facts AS r ON r.id = x.id
 ORDER BY x.id;
-- dropped columns are skipped, and a column added after them is found
DROP VIEW public.money_view;
ALTER TABLE public.money_rows DROP COLUMN segment;
ALTER TABLE public.money_rows ADD COLUMN segment text;
UPDATE public.money_rows SET segment = 'vip' WHERE id = 8;
SELECT id, compensation.amount('seg', r, 1) FROM public.money_rows AS r WHERE id BETWEEN 8 AND 10 ORDER BY id;

-- Found by the robustness test: numbers beyond numeric's own range are "too
-- large" (or the max), never an error; a whole number written 5.0 is one.
INSERT INTO public.money_rows (id, buyer, at, value, currency) VALUES (17, 'x', now(), 10::numeric ^ 131071, 'EUR');
SELECT id, (compensation.evaluate('half', r, 1)).reasons[2] AS why_not,
	   compensation.amount('clamped', r, 1) AS clamped_to_max
  FROM public.money_rows AS r WHERE id = 17;
SELECT compensation.define_strategy('prio_5_0', pg_temp.money_spec('{"type": "fixed", "value": 1}') || '{"priority": 5.0}') AS defined;
SELECT priority FROM compensation.strategies WHERE name = 'prio_5_0';
\x on
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.money_spec('{"type": "fixed", "value": 1}') || '{"holdout": 1e-400}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.money_spec(jsonb_build_object('type', 'fixed', 'value', 10::numeric ^ 131071)))$$);
\x off

-- The flat program and the tree walk.  eligible() and amount() run the
-- rule as a flat program of steps; evaluate() walks the tree for its
-- reasons.  Both must decide every row as SQL's three-valued logic does:
-- here every combination of NULL and values around the constants, through
-- all/any/not nested three deep, int64 steps (in, not in, between, <, is
-- null, !=) and the others (text =), as a table row (the planner's columns)
-- and as a record.
CREATE TABLE public.logic_rows (id integer, buyer text, at timestamptz,
								i integer, j bigint, b boolean, d date, t text);
INSERT INTO public.logic_rows
SELECT row_number() OVER (ORDER BY i NULLS FIRST, j NULLS FIRST, b NULLS FIRST, d NULLS FIRST, t NULLS FIRST),
	   'x', '2026-10-15', i, j, b, d, t
  FROM unnest(ARRAY[NULL, 1, 2, 3]) AS i,
	   unnest(ARRAY[NULL, 1, 2, 4]::bigint[]) AS j,
	   unnest(ARRAY[NULL, true, false]) AS b,
	   unnest(ARRAY[NULL, '2026-01-01', '2026-01-02']::date[]) AS d,
	   unnest(ARRAY[NULL, 'x', 'y']) AS t;
SELECT compensation.define_strategy('flat', jsonb_build_object(
	'scenario', 'logic', 'source', 'public.logic_rows', 'instrument', 'points', 'program', 'regress',
	'currency', 'EUR', 'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'when', '{"all": [
		{"any": [{"col": "i", "op": "in", "value": [3, 1]},
				 {"not": {"col": "b", "op": "=", "value": true}}]},
		{"not": {"any": [{"col": "j", "op": "between", "value": [2, 3]},
						 {"col": "t", "op": "=", "value": "x"}]}},
		{"any": [{"col": "d", "op": "<", "value": "2026-01-02"},
				 {"col": "i", "op": "not in", "value": [2]},
				 {"all": [{"col": "j", "op": "is null"},
						  {"col": "b", "op": "!=", "value": false}]}]}]}'::jsonb));
CREATE VIEW pg_temp.flat_decisions AS
SELECT r.id,
	   coalesce((r.i IN (3, 1) OR NOT (r.b = true))
				AND NOT (r.j BETWEEN 2 AND 3 OR r.t = 'x')
				AND (r.d < '2026-01-02' OR r.i NOT IN (2) OR (r.j IS NULL AND r.b <> false)),
				false) AS sql,
	   compensation.eligible('flat', r, 1) AS program,
	   compensation.amount('flat', r, 1) IS NOT NULL AS program_amount,
	   (compensation.evaluate('flat', r, 1)).eligible AS tree,
	   compensation.eligible('flat', s, 1) AS program_record
  FROM public.logic_rows AS r
  JOIN (SELECT * FROM public.logic_rows OFFSET 0) AS s ON s.id = r.id;
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE sql) AS sql_eligible,
	   count(*) FILTER (WHERE program) AS program_eligible,
	   count(*) FILTER (WHERE program IS DISTINCT FROM sql) AS program_differs,
	   count(*) FILTER (WHERE program_amount IS DISTINCT FROM sql) AS amount_differs,
	   count(*) FILTER (WHERE tree IS DISTINCT FROM sql) AS tree_differs,
	   count(*) FILTER (WHERE program_record IS DISTINCT FROM sql) AS record_differs
  FROM pg_temp.flat_decisions;
-- a few of them, against the SQL: NULLs make "not" and "all" unknown
SELECT r.id, r.i, r.j, r.b, r.d, r.t, f.sql, f.program, f.tree
  FROM public.logic_rows AS r JOIN pg_temp.flat_decisions AS f USING (id)
 WHERE r.id IN (1, 2, 110, 113, 200, 289, 320, 432) ORDER BY r.id;
-- the deepest rule a spec may have (32 levels) runs as a program too
SELECT compensation.define_strategy('flat_deep', jsonb_build_object(
	'scenario', 'logic', 'source', 'public.logic_rows', 'instrument', 'points', 'program', 'regress',
	'currency', 'EUR', 'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'when', (SELECT (repeat('{"all": [{"col": "t", "op": "is not null"}, ', 16)
					 || repeat('{"any": [{"col": "i", "op": "=", "value": 3}, ', 15)
					 || '{"col": "j", "op": ">=", "value": 2}' || repeat(']}', 31))::jsonb)));
SELECT count(*) FILTER (WHERE compensation.eligible('flat_deep', r, 1)) AS program_eligible,
	   count(*) FILTER (WHERE (compensation.evaluate('flat_deep', r, 1)).eligible) AS tree_eligible,
	   count(*) FILTER (WHERE coalesce(r.t IS NOT NULL AND (r.i = 3 OR r.j >= 2), false)) AS sql_eligible
  FROM public.logic_rows AS r;

-- The integer fast path of percent and tiered amounts: exact to the minor
-- unit against SQL's round(), at its edges: ties (.5 of a minor unit) in
-- exponents 0, 2, 3 and 4, integers at their limits, negative values,
-- zero, rates with up to 22 decimals, numeric bases with more digits than
-- int64 or a long header (scale above 63), and segment multipliers.  The
-- rows that do not fit are computed in numeric; assertion-enabled builds
-- also compute every fast-path row in numeric and fail on a difference.
CREATE TABLE public.exact_rows (id integer, buyer text, at timestamptz, currency text,
								n numeric, v2 smallint, v4 integer, v8 bigint, segment text);
INSERT INTO public.exact_rows (id, currency, n, v2, v4, v8, segment) VALUES
	(1, 'JPY', 1, 1, 1, 1, NULL),					-- 0.5 yen: 1
	(2, 'JPY', 3, 3, 3, 3, 'vip'),					-- 1.5 yen: 2
	(3, 'JPY', 5, 32767, 2147483647, 9223372036854775807, 'x'),
	(4, 'EUR', 0.01, -32768, -2147483648, -9223372036854775808, NULL),
	(5, 'EUR', 0.03, 0, 0, 0, 'vip'),
	(6, 'EUR', 0.05, 32767, 2147483647, 9223372036854775807, NULL),
	(7, 'BHD', 0.001, 7, 7, 18446744073709551, NULL),
	(8, 'BHD', 0.003, 9, 9, 36893488147419103, 'x'),
	(9, 'CLF', 0.0001, 1, 1, 1, NULL),
	(10, 'EUR', -0.01, -1, -1, -1, NULL),
	(11, 'EUR', 0, 0, 0, 0, NULL),
	(12, 'EUR', 123.45, 12345, 12345, 12345, 'vip'),
	(13, 'EUR', 99.99, 9999, 9999, 9999, 'x'),
	(14, 'EUR', 100.123456789, 100, 100, 100, NULL),
	(15, 'EUR', 12345678901234567890123.45, NULL, NULL, NULL, NULL),	-- beyond int64
	(16, 'EUR', 0.12345678901234567891, NULL, NULL, NULL, NULL),		-- 20 decimals
	(17, 'EUR', ('1.' || repeat('0', 70))::numeric, NULL, NULL, NULL, NULL),		-- long header
	(18, 'JPY', ('-3.' || repeat('0', 70))::numeric, NULL, NULL, NULL, NULL),
	(19, 'EUR', 92233720368547758.07, NULL, NULL, NULL, NULL),
	(20, 'EUR', 1e20, NULL, NULL, NULL, NULL),
	(21, 'EUR', NULL, NULL, NULL, NULL, NULL),
	(22, 'EUR', 'NaN', NULL, NULL, NULL, NULL),
	(23, 'EUR', 'Infinity', NULL, NULL, NULL, NULL),
	(24, 'BHD', 1234.5675, NULL, NULL, NULL, 'vip');
UPDATE public.exact_rows SET buyer = 'b' || id, at = '2026-10-15';
CREATE FUNCTION pg_temp.exact_spec(amount jsonb) RETURNS jsonb
LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'money', 'source', 'public.exact_rows', 'instrument', 'cash_back', 'program', 'regress',
	'keys', jsonb_build_object('order', 'id', 'buyer', 'buyer', 'at', 'at', 'currency', 'currency'),
	'when', '{"col": "id", "op": "is not null"}'::jsonb, 'amount', amount) $$;
-- The plain SQL of a percent amount: half-up once in minor units, NULL when
-- negative or beyond 2^63-1 minor units (then the max, when there is one),
-- then min and max rounded the same way.
CREATE FUNCTION pg_temp.sql_percent(base numeric, rate numeric, e integer,
									lo numeric DEFAULT NULL, hi numeric DEFAULT NULL) RETURNS numeric
LANGUAGE sql AS $$
SELECT CASE WHEN base IS NULL OR base = 'NaN' OR base IN ('Infinity', '-Infinity') OR base < 0 THEN NULL
			WHEN round(base * rate * 10::numeric ^ e) > 9223372036854775807 THEN round(hi, e)
			ELSE least(greatest(round(base * rate, e), round(lo, e)), round(hi, e)) END $$;
SELECT compensation.define_strategy(name, pg_temp.exact_spec(amount::jsonb))
  FROM (VALUES
	('x_half', '{"type": "percent", "of": "n", "rate": 0.5}'),
	('x_long', '{"type": "percent", "of": "n", "rate": 0.123456789012345678}'),
	('x_longer', '{"type": "percent", "of": "n", "rate": 0.1234567890123456789012}'),
	('x_clamped', '{"type": "percent", "of": "n", "rate": 0.5, "min": 0.015, "max": 1000000000000}'),
	('x_v2', '{"type": "percent", "of": "v2", "rate": 0.5}'),
	('x_v4', '{"type": "percent", "of": "v4", "rate": 0.333}'),
	('x_v8', '{"type": "percent", "of": "v8", "rate": 0.5}'),
	('x_v8_max', '{"type": "percent", "of": "v8", "rate": 0.5, "max": 1000}'),
	('x_segment', '{"type": "percent", "of": "n", "rate": 0.5,
					"segment": {"col": "segment", "multipliers": {"vip": 1.5, "x": 0.333333}, "default": 2}}'),
	('x_tiers', '{"type": "tiered", "by": "n", "tiers": [
					{"to": 0, "amount": 1.005},
					{"from": 0, "to": 0.5, "rate": 0.5},
					{"from": 0.5, "to": 100.123456789, "rate": 0.05},
					{"from": 100.123456789, "to": 1e21, "amount": 7.5}]}'),
	('x_tiers_v8', '{"type": "tiered", "by": "v8", "tiers": [
					{"to": -1, "rate": 0.1}, {"from": -1, "to": 1, "amount": 0.0005},
					{"from": 1, "rate": 0.5}]}')) AS s(name, amount)
 ORDER BY name;
CREATE VIEW pg_temp.exact_amounts AS
SELECT r.id, r.currency, r.n, c.minor_unit AS e,
	   compensation.amount('x_half', r, 1) AS half,
	   pg_temp.sql_percent(r.n, 0.5, c.minor_unit) AS half_sql,
	   compensation.amount('x_long', r, 1) AS long,
	   pg_temp.sql_percent(r.n, 0.123456789012345678, c.minor_unit) AS long_sql,
	   compensation.amount('x_longer', r, 1) AS longer,
	   pg_temp.sql_percent(r.n, 0.1234567890123456789012, c.minor_unit) AS longer_sql,
	   compensation.amount('x_clamped', r, 1) AS clamped,
	   pg_temp.sql_percent(r.n, 0.5, c.minor_unit, 0.015, 1000000000000) AS clamped_sql,
	   compensation.amount('x_v2', r, 1) AS v2,
	   pg_temp.sql_percent(r.v2, 0.5, c.minor_unit) AS v2_sql,
	   compensation.amount('x_v4', r, 1) AS v4,
	   pg_temp.sql_percent(r.v4, 0.333, c.minor_unit) AS v4_sql,
	   compensation.amount('x_v8', r, 1) AS v8,
	   pg_temp.sql_percent(r.v8, 0.5, c.minor_unit) AS v8_sql,
	   compensation.amount('x_v8_max', r, 1) AS v8_max,
	   pg_temp.sql_percent(r.v8, 0.5, c.minor_unit, NULL, 1000) AS v8_max_sql,
	   compensation.amount('x_segment', r, 1) AS segment,
	   pg_temp.sql_percent(r.n, 0.5 * CASE r.segment WHEN 'vip' THEN 1.5 WHEN 'x' THEN 0.333333 ELSE 2 END,
						   c.minor_unit) AS segment_sql,
	   compensation.amount('x_tiers', r, 1) AS tiers,
	   CASE WHEN r.n IS NULL OR r.n = 'NaN' OR r.n IN ('Infinity', '-Infinity') OR r.n >= 1e21 THEN NULL
			WHEN r.n < 0 THEN round(1.005, c.minor_unit)
			WHEN r.n < 0.5 THEN round(r.n * 0.5, c.minor_unit)
			WHEN r.n < 100.123456789 THEN round(r.n * 0.05, c.minor_unit)
			ELSE round(7.5, c.minor_unit) END AS tiers_sql,
	   compensation.amount('x_tiers_v8', r, 1) AS tiers_v8,
	   CASE WHEN r.v8 < -1 THEN NULL		-- a rate of a negative value: negative
			WHEN r.v8 < 1 THEN round(0.0005, c.minor_unit)
			WHEN round(r.v8 * 0.5 * 10::numeric ^ c.minor_unit) > 9223372036854775807 THEN NULL
			ELSE round(r.v8 * 0.5, c.minor_unit) END AS tiers_v8_sql
  FROM public.exact_rows AS r JOIN compensation.currency AS c ON c.code = r.currency;
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE half IS DISTINCT FROM half_sql) AS half,
	   count(*) FILTER (WHERE long IS DISTINCT FROM long_sql) AS long,
	   count(*) FILTER (WHERE longer IS DISTINCT FROM longer_sql) AS longer,
	   count(*) FILTER (WHERE clamped IS DISTINCT FROM clamped_sql) AS clamped,
	   count(*) FILTER (WHERE v2 IS DISTINCT FROM v2_sql) AS v2,
	   count(*) FILTER (WHERE v4 IS DISTINCT FROM v4_sql) AS v4,
	   count(*) FILTER (WHERE v8 IS DISTINCT FROM v8_sql) AS v8,
	   count(*) FILTER (WHERE v8_max IS DISTINCT FROM v8_max_sql) AS v8_max,
	   count(*) FILTER (WHERE segment IS DISTINCT FROM segment_sql) AS segment,
	   count(*) FILTER (WHERE tiers IS DISTINCT FROM tiers_sql) AS tiers,
	   count(*) FILTER (WHERE tiers_v8 IS DISTINCT FROM tiers_v8_sql) AS tiers_v8
  FROM pg_temp.exact_amounts;
-- the values themselves (the SQL's beside each where it differs: none)
SELECT id, currency, n, half, long, longer, clamped, segment, tiers
  FROM pg_temp.exact_amounts ORDER BY id;
SELECT r.id, r.currency, r.v2, x.v2, r.v4, x.v4, r.v8, x.v8, x.v8_max, x.tiers_v8
  FROM public.exact_rows AS r JOIN pg_temp.exact_amounts AS x USING (id)
 WHERE r.v2 IS NOT NULL ORDER BY r.id;
-- and why the others have none
SELECT r.id, d.reasons[2] AS half, e.reasons[2] AS v8, t.reasons[2] AS tiers_v8
  FROM public.exact_rows AS r,
	   compensation.evaluate('x_half', r, 1) AS d,
	   compensation.evaluate('x_v8', r, 1) AS e,
	   compensation.evaluate('x_tiers_v8', r, 1) AS t
 WHERE NOT (d.eligible AND e.eligible AND t.eligible) ORDER BY r.id;
