-- test/pgtap/oracle_generated.sql — the C engine against a plain-SQL oracle.
--
-- 120,000 generated rows, deterministic (hashint8extended of the row number,
-- no random()), full of what breaks money code: NULLs everywhere, NaN and
-- infinite numbers, negative, zero and huge values, values on tier
-- boundaries and on half-way rounding ties, currencies with 0, 2, 3 and 4
-- minor units plus unknown, NULL, lower-case and padded codes, infinite and
-- extreme timestamps, day differences exactly on (and 1 microsecond either
-- side of) a whole day.
--
-- Each strategy's rule is written a second time below as ordinary SQL that
-- never calls compensation.* (only the compensation.currency table is read,
-- for the exponents).  For every strategy, C and SQL must agree on every
-- row: eligible(), amount() (value and scale) and evaluate() (eligible,
-- amount, currency, version).  The eligible counts are checked to be
-- strictly between 0 and the row count so that no comparison passes
-- vacuously.  Everything happens in one transaction that is rolled back.

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL jit = off;

SELECT plan(48);

-- ---------------------------------------------------------------------------
-- The oracle's helpers: plain SQL, no compensation.* function.
-- ---------------------------------------------------------------------------

-- u(n, k): the k-th uniform draw in [0, 1) for row n.
CREATE FUNCTION pg_temp.oracle_u(n bigint, k integer) RETURNS double precision
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN ((hashint8extended(n, 7919 * k) >> 11) & 4503599627370495)::double precision
		   / 4503599627370496::double precision;

-- pick(n, k, m): the k-th uniform integer draw in 0 .. m-1 for row n.
CREATE FUNCTION pg_temp.oracle_pick(n bigint, k integer, m bigint) RETURNS bigint
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN (hashint8extended(n, 7919 * k + 1) & 9223372036854775807) % m;

-- Whole days from a to b: floor of the elapsed time / 86400 s, negative
-- when b is before a; NULL when either is NULL or infinite, or when the
-- elapsed microseconds do not fit in 64 bits.  Exact: integer numeric
-- arithmetic on the epochs in microseconds (floor division done as a
-- truncating div() of a value shifted to be non-negative), no rounded
-- division.
CREATE FUNCTION pg_temp.oracle_epoch_us(t timestamptz) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE WHEN isfinite(t) THEN extract(epoch FROM t) * 1000000 END;

CREATE FUNCTION pg_temp.oracle_epoch_us(t timestamp) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN CASE WHEN isfinite(t) THEN extract(epoch FROM t) * 1000000 END;

CREATE FUNCTION pg_temp.oracle_days_us(a_us numeric, b_us numeric) RETURNS numeric
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN b_us - a_us NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN NULL
				ELSE div(b_us - a_us + 106751992 * 86400000000::numeric, 86400000000) - 106751992 END;

CREATE FUNCTION pg_temp.oracle_days(a timestamptz, b timestamptz) RETURNS numeric
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN pg_temp.oracle_days_us(pg_temp.oracle_epoch_us(a), pg_temp.oracle_epoch_us(b));

-- A usable base amount: not NULL, not NaN, not infinite.
CREATE FUNCTION pg_temp.oracle_finite(x numeric) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN x IS NOT NULL AND x <> 'NaN'::numeric AND x <> 'Infinity'::numeric
		   AND x <> '-Infinity'::numeric;

-- An unrounded amount in minor units -> what is paid, in integer minor
-- units: NULL when negative; beyond 64 bits, the max if there is one, else
-- NULL; otherwise rounded half-up once, then raised to min and lowered to
-- max (given in major units, rounded half-up to minor units).
CREATE FUNCTION pg_temp.oracle_minor(raw numeric, e integer, min_major numeric, max_major numeric)
	RETURNS bigint
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN CASE WHEN raw IS NULL OR raw < 0 THEN NULL
				WHEN round(raw) > 9223372036854775807 THEN round(max_major * 10::numeric ^ e)::bigint
				ELSE least(greatest(round(raw), round(min_major * 10::numeric ^ e)),
						   round(max_major * 10::numeric ^ e))::bigint END;

-- ---------------------------------------------------------------------------
-- The generated source: 120,000 rows in a real schema (rolled back).
-- ---------------------------------------------------------------------------

CREATE TABLE public.oracle_generated_facts (
	order_id	text PRIMARY KEY,
	buyer_id	text NOT NULL,
	status		text,
	market		text,
	currency	text,
	segment		text,
	channel		text,
	flag		boolean,
	items		integer,
	rating		integer,
	score		numeric,
	order_value	numeric,
	value_f8	double precision,
	big_value	bigint,
	ordered_at	timestamptz,
	promised_at	timestamptz,
	delivered_at timestamptz,
	local_from	timestamp,
	local_to	timestamp
);

INSERT INTO public.oracle_generated_facts
SELECT 'o' || lpad(i::text, 6, '0'),
	   'b' || lpad((i % 40000)::text, 5, '0'),
	   CASE WHEN u_status < 0.55 THEN 'delivered' WHEN u_status < 0.70 THEN 'shipped'
			WHEN u_status < 0.80 THEN 'canceled' WHEN u_status < 0.90 THEN 'processing'
			WHEN u_status < 0.95 THEN 'Delivered' END,
	   (ARRAY['BR', 'US', 'DE', 'FR', 'JP', 'BH', 'CL', NULL])[1 + pg_temp.oracle_pick(i, 2, 8)],
	   CASE WHEN u_cur < 0.20 THEN 'BRL' WHEN u_cur < 0.35 THEN 'USD' WHEN u_cur < 0.50 THEN 'EUR'
			WHEN u_cur < 0.62 THEN 'JPY' WHEN u_cur < 0.72 THEN 'BHD' WHEN u_cur < 0.80 THEN 'CLF'
			WHEN u_cur < 0.84 THEN 'XXX' WHEN u_cur < 0.87 THEN 'eur' WHEN u_cur < 0.89 THEN 'EUR '
			WHEN u_cur < 0.91 THEN '' WHEN u_cur < 0.93 THEN 'UYW' END,
	   CASE WHEN u_seg < 0.10 THEN 'vip' WHEN u_seg < 0.55 THEN 'regular' WHEN u_seg < 0.75 THEN 'new'
			WHEN u_seg < 0.80 THEN 'VIP' WHEN u_seg < 0.83 THEN '' END,
	   CASE WHEN u_chan < 0.35 THEN 'web' WHEN u_chan < 0.65 THEN 'app'
			WHEN u_chan < 0.80 THEN 'phone' END,
	   CASE WHEN u_flag < 0.40 THEN true WHEN u_flag < 0.80 THEN false END,
	   CASE WHEN u_items < 0.10 THEN NULL WHEN u_items < 0.12 THEN -1 WHEN u_items < 0.17 THEN 0
			ELSE 1 + pg_temp.oracle_pick(i, 3, 9)::integer END,
	   CASE WHEN u_rating >= 0.40 THEN 1 + pg_temp.oracle_pick(i, 4, 5)::integer END,
	   CASE WHEN u_score < 0.25 THEN NULL WHEN u_score < 0.28 THEN 0.25 WHEN u_score < 0.31 THEN 0.75
			ELSE round(pg_temp.oracle_u(i, 5)::numeric, 4) END,
	   CASE WHEN u_value < 0.08 THEN NULL
			WHEN u_value < 0.09 THEN 'NaN'::numeric
			WHEN u_value < 0.095 THEN 'Infinity'::numeric
			WHEN u_value < 0.10 THEN '-Infinity'::numeric
			WHEN u_value < 0.14 THEN -(pg_temp.oracle_pick(i, 6, 100000)::numeric / 100)
			WHEN u_value < 0.17 THEN 0
			WHEN u_value < 0.18 THEN 1e20 * (1 + pg_temp.oracle_pick(i, 6, 1000))
			WHEN u_value < 0.183 THEN 9.9e30
			WHEN u_value < 0.24 THEN (ARRAY[0, 50, 200, 250, 1000, 49.999, 199.995, 999.9999,
											 0.005, 0.05, 1.005, 12.345])[1 + pg_temp.oracle_pick(i, 6, 12)]
			-- 0 .. 200000 with 0 .. 5 decimals (the numeric keeps that scale)
			ELSE round(pg_temp.oracle_pick(i, 6, 200000)::numeric / 10::numeric ^ scale_k, scale_k) END,
	   CASE WHEN u_f8 < 0.08 THEN NULL
			WHEN u_f8 < 0.09 THEN 'NaN'::double precision
			WHEN u_f8 < 0.10 THEN 'Infinity'::double precision
			WHEN u_f8 < 0.11 THEN '-Infinity'::double precision
			WHEN u_f8 < 0.14 THEN -pg_temp.oracle_u(i, 8) * 100
			WHEN u_f8 < 0.30 THEN pg_temp.oracle_pick(i, 8, 20000) / 2.0::double precision
			ELSE pg_temp.oracle_u(i, 8) * 10000 END,
	   CASE WHEN u_big < 0.05 THEN NULL
			WHEN u_big < 0.07 THEN 9223372036854775807
			WHEN u_big < 0.09 THEN -9223372036854775808
			WHEN u_big < 0.12 THEN -pg_temp.oracle_pick(i, 9, 10)
			WHEN u_big < 0.15 THEN 0
			ELSE pg_temp.oracle_pick(i, 9, 1000000) END,
	   ordered_at, promised_at,
	   CASE WHEN u_deliv < 0.15 THEN NULL
			WHEN u_deliv < 0.153 THEN 'infinity'::timestamptz
			WHEN u_deliv < 0.156 THEN '294000-01-01 00:00:00+00'::timestamptz
			ELSE coalesce(promised_at, ordered_at + interval '10 days')
				 + interval '1 microsecond' * delivery_offset_us END,
	   local_from,
	   CASE WHEN u_local < 0.10 THEN NULL
			WHEN u_local < 0.103 THEN 'infinity'::timestamp
			ELSE local_from + interval '1 microsecond' * local_offset_us END
FROM (
	SELECT i, u_status, u_cur, u_seg, u_chan, u_flag, u_items, u_rating, u_score, u_value, u_f8,
		   u_big, u_deliv, u_local, ordered_at, scale_k,
		   CASE WHEN u_prom < 0.10 THEN NULL
				WHEN u_prom < 0.103 THEN 'infinity'::timestamptz
				WHEN u_prom < 0.106 THEN '-infinity'::timestamptz
				WHEN u_prom < 0.109 THEN '4700-01-01 00:00:00+00 BC'::timestamptz
				ELSE ordered_at + interval '1 day' * (5 + pg_temp.oracle_pick(i, 10, 11)) END AS promised_at,
		   -- whole days, 1 microsecond either side of them, or anything in -5 .. 40 days
		   CASE WHEN u_off < 0.30 THEN days * 86400000000
				WHEN u_off < 0.40 THEN days * 86400000000 - 1
				WHEN u_off < 0.50 THEN days * 86400000000 + 1
				ELSE -432000000000 + pg_temp.oracle_pick(i, 11, 3888000000000) END AS delivery_offset_us,
		   CASE WHEN u_lfrom < 0.10 THEN NULL
				WHEN u_lfrom < 0.103 THEN '-infinity'::timestamp
				ELSE (ordered_at AT TIME ZONE 'UTC') END AS local_from,
		   CASE WHEN u_loff < 0.40 THEN (days - 10) * 86400000000
				WHEN u_loff < 0.55 THEN (days - 10) * 86400000000 - 1
				ELSE -1296000000000 + pg_temp.oracle_pick(i, 12, 3888000000000) END AS local_offset_us
	FROM (
		SELECT i,
			   pg_temp.oracle_u(i, 1) AS u_status, pg_temp.oracle_u(i, 13) AS u_cur,
			   pg_temp.oracle_u(i, 14) AS u_seg, pg_temp.oracle_u(i, 15) AS u_chan,
			   pg_temp.oracle_u(i, 16) AS u_flag, pg_temp.oracle_u(i, 17) AS u_items,
			   pg_temp.oracle_u(i, 18) AS u_rating, pg_temp.oracle_u(i, 19) AS u_score,
			   pg_temp.oracle_u(i, 20) AS u_value, pg_temp.oracle_u(i, 21) AS u_f8,
			   pg_temp.oracle_u(i, 22) AS u_big, pg_temp.oracle_u(i, 23) AS u_deliv,
			   pg_temp.oracle_u(i, 24) AS u_local, pg_temp.oracle_u(i, 25) AS u_prom,
			   pg_temp.oracle_u(i, 26) AS u_off, pg_temp.oracle_u(i, 27) AS u_lfrom,
			   pg_temp.oracle_u(i, 28) AS u_loff,
			   -5 + pg_temp.oracle_pick(i, 29, 46) AS days,
			   pg_temp.oracle_pick(i, 7, 6)::integer AS scale_k,
			   CASE WHEN pg_temp.oracle_u(i, 30) < 0.02 THEN NULL
					ELSE timestamptz '2026-01-01 00:00:00+00'
						 + interval '1 second' * pg_temp.oracle_pick(i, 31, 320 * 86400) END AS ordered_at
		FROM generate_series(1::bigint, 120000::bigint) AS g(i)
		OFFSET 0) AS draws
	OFFSET 0) AS shaped;

-- A few rows whose "days" do not fit in 64-bit microseconds (unknown).
UPDATE public.oracle_generated_facts
   SET promised_at = '4700-01-01 00:00:00+00 BC', delivered_at = '294000-01-01 00:00:00+00'
 WHERE order_id IN (SELECT order_id FROM public.oracle_generated_facts
					 WHERE status = 'delivered' ORDER BY order_id LIMIT 40);

ANALYZE public.oracle_generated_facts;

SELECT is((SELECT count(*) FROM public.oracle_generated_facts), 120000::bigint,
		  'generated source has 120,000 rows');

SELECT ok((SELECT count(DISTINCT currency) >= 10 AND count(*) FILTER (WHERE currency IS NULL) > 0
				  AND count(*) FILTER (WHERE order_value IS NULL) > 0
				  AND count(*) FILTER (WHERE order_value = 'NaN') > 0
				  AND count(*) FILTER (WHERE order_value < 0) > 0
				  AND count(*) FILTER (WHERE value_f8 = 'NaN') > 0
				  AND count(*) FILTER (WHERE NOT isfinite(delivered_at)) > 0
				  AND count(*) FILTER (WHERE rating IS NULL) > 0
				  AND count(*) FILTER (WHERE segment IS NULL) > 0
			 FROM public.oracle_generated_facts),
		  'generated source has NULLs, NaN, negatives, infinities and odd currencies');

-- ---------------------------------------------------------------------------
-- Strategies (drafts; one is activated further down).
-- ---------------------------------------------------------------------------

-- 1. late delivery: days, any/all, percent with min/max and segment multipliers.
SELECT is(compensation.define_strategy('oracle_gen_late', $${
	"scenario": "late_delivery", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency"},
	"when": {"all": [
		{"col": "status", "op": "=", "value": "delivered"},
		{"any": [{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3},
				 {"col": "rating", "op": "<=", "value": 2}]}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.10, "min": 2, "max": 20,
			   "segment": {"col": "segment", "multipliers": {"vip": 1.5, "new": 0.5}, "default": 1}},
	"instrument": "voucher", "program": "delivery"}$$), 1, 'oracle_gen_late: version 1 defined');

-- 1b. its second version: in, "is null" in an any, odd min/max (rounding of the bounds).
SELECT is(compensation.define_strategy('oracle_gen_late', $${
	"scenario": "late_delivery", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency",
			 "value": "order_value", "market": "market"},
	"when": {"all": [
		{"col": "status", "op": "in", "value": ["shipped", "delivered"]},
		{"any": [{"days": ["promised_at", "delivered_at"], "op": ">", "value": 5},
				 {"col": "rating", "op": "<", "value": 2},
				 {"col": "rating", "op": "is null"}]}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.0725, "min": 1.005, "max": 33.335},
	"instrument": "voucher", "program": "delivery"}$$), 2, 'oracle_gen_late: version 2 defined');

-- 2. tiered: fixed and rate tiers, a gap (200 .. 250), segment multipliers with a default.
SELECT is(compensation.define_strategy('oracle_gen_tiered', $${
	"scenario": "order_problem", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency"},
	"when": {"all": [
		{"col": "status", "op": "in", "value": ["delivered", "shipped", "Delivered"]},
		{"not": {"col": "channel", "op": "=", "value": "phone"}}]},
	"amount": {"type": "tiered", "by": "order_value",
			   "tiers": [{"to": 50, "amount": 5},
						 {"from": 50, "to": 200, "rate": 0.05},
						 {"from": 250, "to": 1000, "rate": 0.035},
						 {"from": 1000, "amount": 40}],
			   "min": 0.5, "max": 35,
			   "segment": {"col": "segment", "multipliers": {"vip": 2, "regular": 1, "new": 1.25},
						   "default": 0.75}},
	"instrument": "coupon", "program": "service"}$$), 1, 'oracle_gen_tiered: version 1 defined');

-- 3. nested any/all/not five levels deep; fixed amount, a zero multiplier.
SELECT is(compensation.define_strategy('oracle_gen_nested', $${
	"scenario": "goodwill", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency"},
	"when": {"any": [
		{"all": [
			{"col": "rating", "op": "<=", "value": 2},
			{"not": {"any": [{"col": "channel", "op": "=", "value": "phone"},
							 {"col": "flag", "op": "=", "value": true}]}},
			{"any": [{"col": "items", "op": ">", "value": 2},
					 {"not": {"col": "market", "op": "in", "value": ["JP", "BH"]}}]}]},
		{"all": [
			{"col": "status", "op": "=", "value": "canceled"},
			{"not": {"all": [{"col": "flag", "op": "=", "value": false},
							 {"any": [{"col": "score", "op": "<", "value": 0.5},
									  {"col": "segment", "op": "=", "value": "vip"}]}]}}]}]},
	"amount": {"type": "fixed", "value": 7.5,
			   "segment": {"col": "segment", "multipliers": {"vip": 3, "new": 0}, "default": 1.1}},
	"instrument": "points", "program": "goodwill"}$$), 1, 'oracle_gen_nested: version 1 defined');

-- 4. NULL-heavy columns: is null, not in, between, is not null; a float base.
SELECT is(compensation.define_strategy('oracle_gen_nulls', $${
	"scenario": "unreviewed", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency"},
	"when": {"all": [
		{"any": [{"col": "rating", "op": "is null"},
				 {"col": "rating", "op": "not in", "value": [5, 3, 4]}]},
		{"col": "channel", "op": "not in", "value": ["web", "phone"]},
		{"col": "score", "op": "between", "value": [0.25, 0.75]},
		{"col": "promised_at", "op": "is not null"},
		{"not": {"col": "flag", "op": "is null"}}]},
	"amount": {"type": "percent", "of": "value_f8", "rate": 0.125, "min": 1},
	"instrument": "cash_back", "program": "reviews"}$$), 1, 'oracle_gen_nulls: version 1 defined');

-- 5. days every way: between, in, not in, <, >, =, !=, <=, over timestamptz and timestamp;
--    tiered by an integer column.
SELECT is(compensation.define_strategy('oracle_gen_days', $${
	"scenario": "delivery_window", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency"},
	"when": {"any": [
		{"days": ["promised_at", "delivered_at"], "op": "between", "value": [1, 5]},
		{"days": ["local_from", "local_to"], "op": "in", "value": [7, -1, 0]},
		{"all": [{"days": ["ordered_at", "delivered_at"], "op": ">", "value": 30},
				 {"days": ["promised_at", "delivered_at"], "op": "<", "value": 0}]},
		{"days": ["delivered_at", "promised_at"], "op": "=", "value": -10},
		{"days": ["promised_at", "delivered_at"], "op": "not in",
		 "value": [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
				   18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38,
				   39, 40]},
		{"all": [{"days": ["ordered_at", "promised_at"], "op": "<=", "value": 6},
				 {"days": ["ordered_at", "promised_at"], "op": "!=", "value": 5}]}]},
	"amount": {"type": "tiered", "by": "items",
			   "tiers": [{"to": 2, "amount": 1.5}, {"from": 2, "to": 5, "rate": 0.8},
						 {"from": 5, "amount": 6}],
			   "min": 2},
	"instrument": "free_shipping", "program": "delivery"}$$), 1, 'oracle_gen_days: version 1 defined');

-- 6. percent of a bigint with huge values, min/max that round, a timestamptz constant.
SELECT is(compensation.define_strategy('oracle_gen_bigpct', $${
	"scenario": "loyalty", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at", "currency": "currency"},
	"when": {"all": [
		{"col": "status", "op": "!=", "value": "processing"},
		{"col": "ordered_at", "op": ">=", "value": "2026-03-01T00:00:00+00:00"},
		{"col": "big_value", "op": ">=", "value": -5}]},
	"amount": {"type": "percent", "of": "big_value", "rate": 0.015, "min": 0.99, "max": 250.005},
	"instrument": "points", "program": "loyalty"}$$), 1, 'oracle_gen_bigpct: version 1 defined');

-- 7. a constant currency (EUR), text range comparisons, segment on another column, no default.
SELECT is(compensation.define_strategy('oracle_gen_const_eur', $${
	"scenario": "low_rating", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at"},
	"currency": "EUR",
	"when": {"any": [
		{"col": "rating", "op": "=", "value": 1},
		{"all": [{"col": "segment", "op": ">", "value": "new"},
				 {"col": "segment", "op": "<=", "value": "vip"}]}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.033, "max": 12.5,
			   "segment": {"col": "channel", "multipliers": {"app": 1.1}}},
	"instrument": "voucher", "program": "reviews"}$$), 1, 'oracle_gen_const_eur: version 1 defined');

-- 8. a constant currency without minor units (JPY), tiered by a float with a fixed middle tier.
SELECT is(compensation.define_strategy('oracle_gen_const_jpy', $${
	"scenario": "flagged", "source": "public.oracle_generated_facts",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "ordered_at"},
	"currency": "JPY",
	"when": {"all": [
		{"col": "flag", "op": "=", "value": true},
		{"not": {"col": "status", "op": "in", "value": ["processing", "canceled"]}}]},
	"amount": {"type": "tiered", "by": "value_f8",
			   "tiers": [{"to": 1000, "rate": 0.015}, {"from": 1000, "to": 5000, "amount": 120.5},
						 {"from": 5000, "rate": 0.02}],
			   "max": 500},
	"instrument": "points", "program": "service"}$$), 1, 'oracle_gen_const_jpy: version 1 defined');

SELECT is(compensation.activate('oracle_gen_late', 2), 2, 'oracle_gen_late: version 2 activated');

-- ---------------------------------------------------------------------------
-- The oracle: each rule again, in plain SQL.  One row per source row:
-- eligible, amount (numeric with the currency's scale), currency.
-- ---------------------------------------------------------------------------

CREATE TEMP VIEW oracle_currency AS
SELECT code::text AS code, minor_unit::integer AS e FROM compensation.currency;

CREATE TEMP VIEW oracle_expect_late_v1 AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce(f.status = 'delivered'
								AND (pg_temp.oracle_days(f.promised_at, f.delivered_at) >= 3
									 OR f.rating <= 2), false)
					   AND c.e IS NOT NULL AND pg_temp.oracle_finite(f.order_value)
					   AND f.order_value >= 0
				  THEN pg_temp.oracle_minor(f.order_value * 0.10 * 10::numeric ^ c.e * coalesce(s.m, 1),
											c.e, 2, 20) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency
	  LEFT JOIN (VALUES ('vip', 1.5), ('new', 0.5)) AS s(k, m) ON s.k = f.segment) AS x;

CREATE TEMP VIEW oracle_expect_late_v2 AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce(f.status IN ('delivered', 'shipped')
								AND (pg_temp.oracle_days(f.promised_at, f.delivered_at) > 5
									 OR f.rating < 2 OR f.rating IS NULL), false)
					   AND c.e IS NOT NULL AND pg_temp.oracle_finite(f.order_value)
					   AND f.order_value >= 0
				  THEN pg_temp.oracle_minor(f.order_value * 0.0725 * 10::numeric ^ c.e,
											c.e, 1.005, 33.335) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency) AS x;

CREATE TEMP VIEW oracle_expect_tiered AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce(f.status IN ('delivered', 'shipped', 'Delivered')
								AND NOT (f.channel = 'phone'), false)
					   AND c.e IS NOT NULL AND pg_temp.oracle_finite(f.order_value)
				  THEN pg_temp.oracle_minor(
						 CASE WHEN f.order_value < 50 THEN 5 * 10::numeric ^ c.e
							  WHEN f.order_value >= 50 AND f.order_value < 200
								  THEN f.order_value * 10::numeric ^ c.e * 0.05
							  WHEN f.order_value >= 250 AND f.order_value < 1000
								  THEN f.order_value * 10::numeric ^ c.e * 0.035
							  WHEN f.order_value >= 1000 THEN 40 * 10::numeric ^ c.e
						 END * coalesce(s.m, 0.75),
						 c.e, 0.5, 35) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency
	  LEFT JOIN (VALUES ('vip', 2), ('regular', 1), ('new', 1.25)) AS s(k, m) ON s.k = f.segment) AS x;

CREATE TEMP VIEW oracle_expect_nested AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce((f.rating <= 2
								 AND NOT (f.channel = 'phone' OR f.flag = true)
								 AND (f.items > 2 OR NOT (f.market IN ('JP', 'BH'))))
								OR (f.status = 'canceled'
									AND NOT (f.flag = false AND (f.score < 0.5 OR f.segment = 'vip'))),
								false)
					   AND c.e IS NOT NULL
				  THEN pg_temp.oracle_minor(7.5 * 10::numeric ^ c.e * coalesce(s.m, 1.1),
											c.e, NULL, NULL) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency
	  LEFT JOIN (VALUES ('vip', 3), ('new', 0)) AS s(k, m) ON s.k = f.segment) AS x;

CREATE TEMP VIEW oracle_expect_nulls AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce((f.rating IS NULL OR f.rating NOT IN (3, 4, 5))
								AND f.channel NOT IN ('phone', 'web')
								AND f.score BETWEEN 0.25 AND 0.75
								AND f.promised_at IS NOT NULL
								AND NOT (f.flag IS NULL), false)
					   AND c.e IS NOT NULL AND pg_temp.oracle_finite(f.value_f8::numeric)
					   AND f.value_f8 >= 0
				  THEN pg_temp.oracle_minor(f.value_f8::numeric * 0.125 * 10::numeric ^ c.e,
											c.e, 1, NULL) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency) AS x;

CREATE TEMP VIEW oracle_expect_days AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce(f.promised_delivered BETWEEN 1 AND 5
								OR f.local_days IN (-1, 0, 7)
								OR (f.ordered_delivered > 30 AND f.promised_delivered < 0)
								OR f.delivered_promised = -10
								OR NOT (f.promised_delivered BETWEEN -5 AND 40)
								OR (f.ordered_promised <= 6 AND f.ordered_promised <> 5),
								false)
					   AND c.e IS NOT NULL AND f.items IS NOT NULL
				  THEN pg_temp.oracle_minor(
						 CASE WHEN f.items < 2 THEN 1.5 * 10::numeric ^ c.e
							  WHEN f.items < 5 THEN f.items * 10::numeric ^ c.e * 0.8
							  ELSE 6 * 10::numeric ^ c.e END,
						 c.e, 2, NULL) END AS minor
	  FROM (SELECT order_id, currency, items,
				   pg_temp.oracle_days_us(p, d) AS promised_delivered,
				   pg_temp.oracle_days_us(d, p) AS delivered_promised,
				   pg_temp.oracle_days_us(o, d) AS ordered_delivered,
				   pg_temp.oracle_days_us(o, p) AS ordered_promised,
				   pg_temp.oracle_days_us(lf, lt) AS local_days
			  FROM (SELECT order_id, currency, items,
						   pg_temp.oracle_epoch_us(ordered_at) AS o,
						   pg_temp.oracle_epoch_us(promised_at) AS p,
						   pg_temp.oracle_epoch_us(delivered_at) AS d,
						   pg_temp.oracle_epoch_us(local_from) AS lf,
						   pg_temp.oracle_epoch_us(local_to) AS lt
					  FROM public.oracle_generated_facts
					OFFSET 0) AS epochs
			OFFSET 0) AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency) AS x;

CREATE TEMP VIEW oracle_expect_bigpct AS
SELECT order_id, currency, minor IS NOT NULL AS eligible, round(minor / 10::numeric ^ e, e) AS amount
FROM (SELECT f.order_id, f.currency, c.e,
			 CASE WHEN coalesce(f.status <> 'processing'
								AND f.ordered_at >= timestamptz '2026-03-01 00:00:00+00'
								AND f.big_value >= -5, false)
					   AND c.e IS NOT NULL AND f.big_value >= 0
				  THEN pg_temp.oracle_minor(f.big_value * 0.015 * 10::numeric ^ c.e,
											c.e, 0.99, 250.005) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN oracle_currency AS c ON c.code = f.currency) AS x;

CREATE TEMP VIEW oracle_expect_const_eur AS
SELECT order_id, 'EUR'::text AS currency, minor IS NOT NULL AS eligible, round(minor / 100::numeric, 2) AS amount
FROM (SELECT f.order_id,
			 CASE WHEN coalesce(f.rating = 1 OR (f.segment > 'new' AND f.segment <= 'vip'), false)
					   AND pg_temp.oracle_finite(f.order_value) AND f.order_value >= 0
				  THEN pg_temp.oracle_minor(f.order_value * 0.033 * 100 * coalesce(s.m, 1),
											2, NULL, 12.5) END AS minor
	  FROM public.oracle_generated_facts AS f
	  LEFT JOIN (VALUES ('app', 1.1)) AS s(k, m) ON s.k = f.channel) AS x;

CREATE TEMP VIEW oracle_expect_const_jpy AS
SELECT order_id, 'JPY'::text AS currency, minor IS NOT NULL AS eligible, minor::numeric AS amount
FROM (SELECT f.order_id,
			 CASE WHEN coalesce(f.flag = true AND NOT (f.status IN ('processing', 'canceled')), false)
					   AND pg_temp.oracle_finite(f.value_f8::numeric)
				  THEN pg_temp.oracle_minor(
						 CASE WHEN f.value_f8::numeric < 1000 THEN f.value_f8::numeric * 0.015
							  WHEN f.value_f8::numeric < 5000 THEN 120.5
							  ELSE f.value_f8::numeric * 0.02 END,
						 0, NULL, 500) END AS minor
	  FROM public.oracle_generated_facts AS f) AS x;

-- ---------------------------------------------------------------------------
-- C next to SQL, row by row.  c_*: eligible() and amount(); d_*: evaluate().
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

-- drafts, through the version argument
INSERT INTO oracle_cmp
SELECT 'late_v1', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_late', f, 1), compensation.amount('oracle_gen_late', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_late_v1 AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_late', f, 1) AS d;

-- the active version, through the two-argument forms
INSERT INTO oracle_cmp
SELECT 'late_v2', 2, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_late', f), compensation.amount('oracle_gen_late', f),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_late_v2 AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_late', f) AS d;

INSERT INTO oracle_cmp
SELECT 'tiered', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_tiered', f, 1), compensation.amount('oracle_gen_tiered', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_tiered AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_tiered', f, 1) AS d;

INSERT INTO oracle_cmp
SELECT 'nested', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_nested', f, 1), compensation.amount('oracle_gen_nested', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_nested AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_nested', f, 1) AS d;

INSERT INTO oracle_cmp
SELECT 'nulls', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_nulls', f, 1), compensation.amount('oracle_gen_nulls', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_nulls AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_nulls', f, 1) AS d;

INSERT INTO oracle_cmp
SELECT 'days', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_days', f, 1), compensation.amount('oracle_gen_days', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_days AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_days', f, 1) AS d;

INSERT INTO oracle_cmp
SELECT 'bigpct', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_bigpct', f, 1), compensation.amount('oracle_gen_bigpct', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_bigpct AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_bigpct', f, 1) AS d;

INSERT INTO oracle_cmp
SELECT 'const_eur', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_const_eur', f, 1), compensation.amount('oracle_gen_const_eur', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_const_eur AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_const_eur', f, 1) AS d;

INSERT INTO oracle_cmp
SELECT 'const_jpy', 1, f.order_id, x.eligible, x.amount, x.currency,
	   compensation.eligible('oracle_gen_const_jpy', f, 1), compensation.amount('oracle_gen_const_jpy', f, 1),
	   d.eligible, d.amount, d.currency, d.version
FROM public.oracle_generated_facts AS f
JOIN oracle_expect_const_jpy AS x USING (order_id)
CROSS JOIN LATERAL compensation.evaluate('oracle_gen_const_jpy', f, 1) AS d;

-- A mismatch: any disagreement on eligibility, amount (value or scale), or
-- what evaluate() says.
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
	   count(*) FILTER (WHERE o_eligible) AS o_eligible,
	   count(*) FILTER (WHERE c_eligible) AS c_eligible,
	   sum(o_amount) AS o_sum,
	   sum(c_amount) AS c_sum
FROM oracle_cmp
GROUP BY strategy;

SELECT set_eq($$SELECT strategy, total FROM oracle_summary$$,
			  $$VALUES ('late_v1', 120000::bigint), ('late_v2', 120000), ('tiered', 120000),
					   ('nested', 120000), ('nulls', 120000), ('days', 120000),
					   ('bigpct', 120000), ('const_eur', 120000), ('const_jpy', 120000)$$,
			  'every strategy was compared on all 120,000 rows');

-- Per strategy: no mismatch, eligible rows neither none nor all, same total.
SELECT is((SELECT count(*) FROM oracle_mismatch WHERE strategy = s), 0::bigint,
		  format('spec %s: mismatches', s))
FROM unnest(ARRAY['late_v1', 'late_v2', 'tiered', 'nested', 'nulls', 'days', 'bigpct',
				  'const_eur', 'const_jpy']) WITH ORDINALITY AS t(s, n)
ORDER BY n;

SELECT ok(c_eligible > 0 AND c_eligible < total,
		  format('spec %s: %s of %s rows eligible (some, not all)', strategy, c_eligible, total))
FROM oracle_summary
ORDER BY array_position(ARRAY['late_v1', 'late_v2', 'tiered', 'nested', 'nulls', 'days', 'bigpct',
							  'const_eur', 'const_jpy'], strategy);

SELECT is(c_sum, o_sum, format('spec %s: sum of amounts', strategy))
FROM oracle_summary
ORDER BY array_position(ARRAY['late_v1', 'late_v2', 'tiered', 'nested', 'nulls', 'days', 'bigpct',
							  'const_eur', 'const_jpy'], strategy);

-- Show the first disagreements, if any, to make a failure readable.
SELECT diag(format('%s %s: sql (%s, %s) c (%s, %s) evaluate (%s, %s, %s, v%s) row %s',
				   m.strategy, m.order_id, m.o_eligible, m.o_amount, m.c_eligible, m.c_amount,
				   m.d_eligible, m.d_amount, m.d_currency, m.d_version, to_jsonb(f)))
FROM (SELECT *, row_number() OVER (PARTITION BY strategy ORDER BY order_id) AS k
	  FROM oracle_mismatch) AS m
JOIN public.oracle_generated_facts AS f USING (order_id)
WHERE m.k <= 3
ORDER BY m.strategy, m.order_id;

-- The comparison covered what it claims to cover.
SELECT ok((SELECT count(DISTINCT c.minor_unit) = 4
			 FROM oracle_cmp AS x
			 JOIN compensation.currency AS c ON c.code::text = x.o_currency
			WHERE x.strategy = 'late_v1' AND x.c_eligible),
		  'late_v1: eligible rows in currencies with 0, 2, 3 and 4 minor units');

SELECT ok((SELECT count(*) FILTER (WHERE strategy = 'tiered' AND c_amount = 0.75 * 5 AND o_currency = 'EUR') > 0
			  AND count(*) FILTER (WHERE strategy = 'tiered' AND c_amount = 35) > 0
			  AND count(*) FILTER (WHERE strategy = 'nested' AND c_eligible AND c_amount = 0) > 0
			  AND count(*) FILTER (WHERE strategy = 'late_v1' AND c_amount = 2 AND o_currency = 'USD') > 0
			  AND count(*) FILTER (WHERE strategy = 'bigpct' AND c_amount = 250 AND o_currency = 'JPY') > 0
			 FROM oracle_cmp),
		  'default multipliers, zero multipliers, min and max clamps all occur');

-- Rows whose rule holds but whose amount cannot be computed: unknown or
-- NULL currency, NaN or infinite base, no tier (the 200 .. 250 gap), and
-- (percent) a negative base.
SELECT ok((SELECT count(*) FILTER (WHERE x.strategy = 'tiered' AND f.currency IS NULL) > 0
			  AND count(*) FILTER (WHERE x.strategy = 'tiered' AND f.currency IN ('XXX', 'eur', 'EUR ', '', 'UYW')) > 0
			  AND count(*) FILTER (WHERE x.strategy = 'tiered' AND f.currency = 'EUR' AND f.order_value = 'NaN') > 0
			  AND count(*) FILTER (WHERE x.strategy = 'tiered' AND f.currency = 'EUR' AND f.order_value = '-Infinity') > 0
			  AND count(*) FILTER (WHERE x.strategy = 'tiered' AND f.currency = 'EUR'
									 AND f.order_value >= 200 AND f.order_value < 250) > 0
			 FROM oracle_cmp AS x
			 JOIN public.oracle_generated_facts AS f USING (order_id)
			WHERE x.strategy = 'tiered' AND NOT x.c_eligible
			  AND f.status IN ('delivered', 'shipped', 'Delivered') AND f.channel <> 'phone'),
		  'tiered: rows whose rule holds but that have no amount occur (currency, NaN, infinity, tier gap)');

SELECT ok((SELECT count(*) FROM oracle_cmp AS x
			 JOIN public.oracle_generated_facts AS f USING (order_id)
			WHERE x.strategy = 'late_v1' AND NOT x.c_eligible AND f.currency = 'EUR'
			  AND f.status = 'delivered' AND f.rating <= 2 AND f.order_value < 0) > 0
		  AND (SELECT count(*) FROM oracle_cmp AS x
				 JOIN public.oracle_generated_facts AS f USING (order_id)
				WHERE x.strategy = 'tiered' AND x.c_eligible AND f.order_value < 0) > 0,
		  'a negative base is refused by percent and paid by a tier with no lower bound');

SELECT ok((SELECT count(*) FROM oracle_cmp
			WHERE strategy = 'bigpct' AND c_eligible AND c_amount = 250.01
			  AND order_id IN (SELECT order_id FROM public.oracle_generated_facts
								WHERE big_value = 9223372036854775807 AND currency = 'EUR'
								  AND status <> 'processing' AND ordered_at >= '2026-03-01 00:00:00+00')) > 0,
		  'bigpct: amounts beyond 64-bit minor units are paid the max (250.005 EUR -> 250.01)');

-- Versions: a draft keeps its own rule after another version is activated.
SELECT is((SELECT count(*) FROM oracle_cmp AS a JOIN oracle_cmp AS b USING (order_id)
			WHERE a.strategy = 'late_v1' AND b.strategy = 'late_v2'
			  AND a.c_amount IS DISTINCT FROM b.c_amount) > 0, true,
		  'oracle_gen_late: version 1 and version 2 decide differently');

SELECT is((SELECT version FROM compensation.strategies
			WHERE name = 'oracle_gen_late' AND status = 'active'), 2,
		  'oracle_gen_late: version 2 is the active one');

SELECT throws_ok($$SELECT compensation.amount('oracle_gen_tiered', f) FROM public.oracle_generated_facts AS f LIMIT 1$$,
				 '55000', 'strategy "oracle_gen_tiered" has no active version',
				 'a strategy with drafts only cannot be evaluated without a version');

SELECT * FROM finish();
ROLLBACK;
