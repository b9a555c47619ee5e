-- test/pgtap/oracle_olist.sql — the C engine against a plain-SQL oracle on
-- the real Olist data (schema olist, loaded by test/run from
-- COMPENSATION_OLIST_DIR with examples/olist.sql).  Skipped when it is not
-- loaded.
--
-- Three strategies over olist.order_experience, each written a second time
-- as ordinary SQL that never calls compensation.* (the compensation.currency
-- table is read for the exponent): C and SQL must agree on every order
-- (eligible(), amount() value and scale, evaluate()).  Two eligible counts
-- are also recomputed from the base tables (olist.orders, order_items,
-- order_reviews) without the view, so that the view is checked too.
-- Everything is rolled back.

SELECT to_regnamespace('olist') IS NOT NULL
	   AND to_regclass('olist.order_experience') IS NOT NULL AS oracle_have_olist \gset

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;

\if :oracle_have_olist

SELECT plan(17);

-- ---------------------------------------------------------------------------
-- The oracle's helpers: plain SQL, no compensation.* function.
-- ---------------------------------------------------------------------------

-- Whole days from a to b (floor of elapsed seconds / 86400; NULL when either
-- is NULL or infinite), in exact integer numeric arithmetic.
CREATE FUNCTION pg_temp.oracle_days(a timestamptz, b timestamptz) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE WHEN isfinite(a) AND isfinite(b)
				THEN div((extract(epoch FROM b) - extract(epoch FROM a)) * 1000000
						 + 106751992 * 86400000000::numeric, 86400000000) - 106751992 END;

CREATE FUNCTION pg_temp.oracle_finite(x numeric) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN x IS NOT NULL AND x <> 'NaN'::numeric AND x <> 'Infinity'::numeric
		   AND x <> '-Infinity'::numeric;

-- Unrounded minor units -> paid minor units: NULL when negative or beyond
-- 64 bits, else rounded half-up once and clamped to [min, max] (major units,
-- rounded half-up to minor units).
CREATE FUNCTION pg_temp.oracle_minor(raw numeric, e integer, min_major numeric, max_major numeric)
	RETURNS bigint
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN raw IS NULL OR raw < 0 OR round(raw) > 9223372036854775807 THEN NULL
				ELSE least(greatest(round(raw), round(min_major * 10::numeric ^ e)),
						   round(max_major * 10::numeric ^ e))::bigint END;

CREATE TEMP VIEW oracle_currency AS
SELECT code::text AS code, minor_unit::integer AS e FROM compensation.currency;

-- ---------------------------------------------------------------------------
-- Strategies.
-- ---------------------------------------------------------------------------

-- 1. late delivery by 3 whole days or more; a fixed amount, scaled by state.
SELECT is(compensation.define_strategy('oracle_olist_late', $${
	"scenario": "late_delivery", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [
		{"col": "status", "op": "=", "value": "delivered"},
		{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3}]},
	"amount": {"type": "fixed", "value": 10,
			   "segment": {"col": "market", "multipliers": {"SP": 0.8, "RJ": 1.25}, "default": 1}},
	"instrument": "voucher", "program": "delivery"}$$), 1, 'oracle_olist_late: version 1 defined');

-- 2. low rating of an order that was not canceled; percent with min and max.
SELECT is(compensation.define_strategy('oracle_olist_low_rating', $${
	"scenario": "low_rating", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "reviewed_at", "currency": "currency"},
	"when": {"all": [
		{"col": "rating", "op": "<=", "value": 2},
		{"not": {"col": "status", "op": "in", "value": ["canceled", "unavailable"]}}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.15, "min": 5, "max": 40},
	"instrument": "coupon", "program": "reviews"}$$), 1, 'oracle_olist_low_rating: version 1 defined');

-- 3. tiered by order value, constant currency BRL, nested any/all/not.
SELECT is(compensation.define_strategy('oracle_olist_tiered', $${
	"scenario": "poor_experience", "source": "olist.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at"},
	"currency": "BRL",
	"when": {"any": [
		{"days": ["ordered_at", "delivered_at"], "op": ">", "value": 20},
		{"not": {"col": "rating", "op": ">=", "value": 3}},
		{"all": [{"col": "status", "op": "in", "value": ["canceled", "unavailable"]},
				 {"col": "items", "op": "between", "value": [1, 3]}]}]},
	"amount": {"type": "tiered", "by": "order_value",
			   "tiers": [{"to": 100, "amount": 5}, {"from": 100, "to": 500, "rate": 0.04},
						 {"from": 500, "amount": 25}],
			   "min": 1, "max": 22},
	"instrument": "points", "program": "service"}$$), 1, 'oracle_olist_tiered: version 1 defined');

SELECT is(compensation.activate('oracle_olist_low_rating'), 1,
		  'oracle_olist_low_rating: version 1 activated');

-- ---------------------------------------------------------------------------
-- The oracle: each rule again, in plain SQL over the view.
-- ---------------------------------------------------------------------------

CREATE TEMP VIEW oracle_expect_olist_late AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT x.order_id, x.currency, c.e,
			 CASE WHEN coalesce(x.status = 'delivered'
								AND pg_temp.oracle_days(x.promised_at, x.delivered_at) >= 3, false)
					   AND c.e IS NOT NULL
				  THEN pg_temp.oracle_minor(10 * 10::numeric ^ c.e * coalesce(s.m, 1), c.e, NULL, NULL)
			 END AS minor
	  FROM olist.order_experience AS x
	  LEFT JOIN oracle_currency AS c ON c.code = x.currency
	  LEFT JOIN (VALUES ('SP', 0.8), ('RJ', 1.25)) AS s(k, m) ON s.k = x.market) AS y;

CREATE TEMP VIEW oracle_expect_olist_low_rating AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT x.order_id, x.currency, c.e,
			 CASE WHEN coalesce(x.rating <= 2 AND NOT (x.status IN ('canceled', 'unavailable')), false)
					   AND c.e IS NOT NULL AND pg_temp.oracle_finite(x.order_value)
					   AND x.order_value >= 0
				  THEN pg_temp.oracle_minor(x.order_value * 0.15 * 10::numeric ^ c.e, c.e, 5, 40)
			 END AS minor
	  FROM olist.order_experience AS x
	  LEFT JOIN oracle_currency AS c ON c.code = x.currency) AS y;

CREATE TEMP VIEW oracle_expect_olist_tiered AS
SELECT order_id, 'BRL'::text AS currency, minor IS NOT NULL AS eligible, round(minor / 100::numeric, 2) AS amount
FROM (SELECT x.order_id,
			 CASE WHEN coalesce(pg_temp.oracle_days(x.ordered_at, x.delivered_at) > 20
								OR NOT (x.rating >= 3)
								OR (x.status IN ('canceled', 'unavailable') AND x.items BETWEEN 1 AND 3),
								false)
					   AND pg_temp.oracle_finite(x.order_value)
				  THEN pg_temp.oracle_minor(
						 CASE WHEN x.order_value < 100 THEN 5 * 100::numeric
							  WHEN x.order_value < 500 THEN x.order_value * 100 * 0.04
							  ELSE 25 * 100::numeric END,
						 2, 1, 22)
			 END AS minor
	  FROM olist.order_experience AS x) AS y;

-- ---------------------------------------------------------------------------
-- C next to SQL, order by order.
-- ---------------------------------------------------------------------------

CREATE TEMP TABLE oracle_cmp (
	strategy	text NOT NULL,
	version		integer NOT NULL,
	order_id	text NOT NULL,
	o_eligible	boolean,
	o_amount	numeric,
	o_currency	text,
	c_eligible	boolean,
	c_amount	numeric,
	d_eligible	boolean,
	d_amount	numeric,
	d_currency	text,
	d_version	integer
);

-- a draft, through the version argument
INSERT INTO oracle_cmp
SELECT 'late', 1, x.order_id, o.eligible, o.amount, o.currency,
	   compensation.eligible('oracle_olist_late', x, 1), compensation.amount('oracle_olist_late', x, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM olist.order_experience AS x
JOIN oracle_expect_olist_late AS o USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_olist_late', x, 1) AS d;

-- the active version, through the two-argument forms
INSERT INTO oracle_cmp
SELECT 'low_rating', 1, x.order_id, o.eligible, o.amount, o.currency,
	   compensation.eligible('oracle_olist_low_rating', x), compensation.amount('oracle_olist_low_rating', x),
	   d.eligible, d.amount, d.currency, d.version
FROM olist.order_experience AS x
JOIN oracle_expect_olist_low_rating AS o USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_olist_low_rating', x) AS d;

INSERT INTO oracle_cmp
SELECT 'tiered', 1, x.order_id, o.eligible, o.amount, o.currency,
	   compensation.eligible('oracle_olist_tiered', x, 1), compensation.amount('oracle_olist_tiered', x, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM olist.order_experience AS x
JOIN oracle_expect_olist_tiered AS o USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_olist_tiered', x, 1) AS d;

CREATE TEMP VIEW oracle_mismatch AS
SELECT *
FROM oracle_cmp
WHERE c_eligible IS DISTINCT FROM o_eligible
   OR d_eligible IS DISTINCT FROM o_eligible
   OR c_amount IS DISTINCT FROM o_amount
   OR d_amount IS DISTINCT FROM o_amount
   OR scale(c_amount) IS DISTINCT FROM scale(o_amount)
   OR scale(d_amount) IS DISTINCT FROM scale(o_amount)
   OR d_currency IS DISTINCT FROM CASE WHEN o_eligible THEN o_currency END
   OR d_version IS DISTINCT FROM version;

CREATE TEMP VIEW oracle_summary AS
SELECT strategy,
	   count(*) AS total,
	   count(*) FILTER (WHERE c_eligible) AS c_eligible,
	   sum(o_amount) AS o_sum,
	   sum(c_amount) AS c_sum
FROM oracle_cmp
GROUP BY strategy;

SELECT set_eq($$SELECT strategy, total FROM oracle_summary$$,
			  $$SELECT s, (SELECT count(*) FROM olist.order_experience)
				  FROM unnest(ARRAY['late', 'low_rating', 'tiered']) AS s$$,
			  'every strategy was compared on every Olist order');

SELECT is((SELECT count(*) FROM oracle_mismatch WHERE strategy = s), 0::bigint,
		  format('spec olist %s: mismatches', s))
FROM unnest(ARRAY['late', 'low_rating', 'tiered']) WITH ORDINALITY AS t(s, n)
ORDER BY n;

SELECT ok(c_eligible > 0 AND c_eligible < total,
		  format('spec olist %s: %s of %s orders eligible (some, not all)', strategy, c_eligible, total))
FROM oracle_summary
ORDER BY array_position(ARRAY['late', 'low_rating', 'tiered'], strategy);

SELECT is(c_sum, o_sum, format('spec olist %s: sum of amounts', strategy))
FROM oracle_summary
ORDER BY array_position(ARRAY['late', 'low_rating', 'tiered'], strategy);

SELECT diag(format('%s %s: sql (%s, %s) c (%s, %s) evaluate (%s, %s, %s, v%s) row %s',
				   m.strategy, m.order_id, m.o_eligible, m.o_amount, m.c_eligible, m.c_amount,
				   m.d_eligible, m.d_amount, m.d_currency, m.d_version, to_jsonb(x)))
FROM (SELECT *, row_number() OVER (PARTITION BY strategy ORDER BY order_id) AS k
	  FROM oracle_mismatch) AS m
JOIN olist.order_experience AS x USING (order_id)
WHERE m.k <= 3
ORDER BY m.strategy, m.order_id;

-- ---------------------------------------------------------------------------
-- The view, checked against the base tables.
-- ---------------------------------------------------------------------------

-- Late: delivered orders whose delivery date is 3 or more whole days after
-- the estimated date (the dataset's local Brazilian times, compared as
-- written; the view converts them to timestamptz, which shifts a difference
-- by the hour of a daylight-saving change, and this never moves a 3-day
-- threshold in the dataset).
SELECT is((SELECT count(*) FILTER (WHERE c_eligible) FROM oracle_cmp WHERE strategy = 'late'),
		  (SELECT count(*)
			 FROM olist.orders
			WHERE order_status = 'delivered'
			  AND order_delivered_customer_date IS NOT NULL
			  AND order_estimated_delivery_date IS NOT NULL
			  AND floor(extract(epoch FROM order_delivered_customer_date
										   - order_estimated_delivery_date) / 86400) >= 3),
		  'olist late: eligible orders = delivered orders 3+ whole days after the estimate (olist.orders)');

-- Low rating: an order that has items, was not canceled or unavailable, and
-- whose lowest review score is 1 or 2.
SELECT is((SELECT count(*) FILTER (WHERE c_eligible) FROM oracle_cmp WHERE strategy = 'low_rating'),
		  (SELECT count(*)
			 FROM olist.orders AS o
			WHERE o.order_status NOT IN ('canceled', 'unavailable')
			  AND EXISTS (SELECT FROM olist.order_items AS i WHERE i.order_id = o.order_id)
			  AND (SELECT min(r.review_score) FROM olist.order_reviews AS r
					WHERE r.order_id = o.order_id) <= 2),
		  'olist low rating: eligible orders = orders with items, not canceled, lowest review <= 2 (base tables)');

-- Low rating amounts: 15% of items + freight, clamped to 5 .. 40 BRL.
SELECT is((SELECT sum(c_amount) FROM oracle_cmp WHERE strategy = 'low_rating'),
		  (SELECT sum(least(greatest(round(v.total * 0.15, 2), 5), 40))
			 FROM olist.orders AS o
			 JOIN (SELECT order_id, sum(price + freight_value) AS total
					 FROM olist.order_items GROUP BY order_id) AS v USING (order_id)
			WHERE o.order_status NOT IN ('canceled', 'unavailable')
			  AND (SELECT min(r.review_score) FROM olist.order_reviews AS r
					WHERE r.order_id = o.order_id) <= 2),
		  'olist low rating: total amount from the base tables');

SELECT * FROM finish();

\else

SELECT plan(1);
SELECT skip('Olist data not loaded (COMPENSATION_OLIST_DIR)');
SELECT * FROM finish();

\endif

ROLLBACK;
