-- The holdout: hash = fmix32(FNV-1a-32(UTF-8(salt || ':' || buyer))),
-- bucket = hash mod 10000, held out when bucket < holdout * 10000.

-- Test vectors (also in the README), computed independently in Python.
-- They must never change: they are what makes the holdout stable.
SELECT salt, buyer, compensation.holdout_hash(salt, buyer) AS hash,
	   compensation.holdout_hash(salt, buyer) % 10000 AS bucket
  FROM (VALUES ('late_v3', 'b1'), ('late_v3', ''), ('', ''), ('s', 'ü'),
			   ('late_v3', '861eff4711a542e4b93843c6dd7febb0')) AS v(salt, buyer);

-- The same hash written in PL/pgSQL from the two definitions agrees on
-- 20,000 generated buyer ids (including multi-byte UTF-8).
CREATE FUNCTION pg_temp.fnv1a(input text) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	h bigint := 2166136261;
	bytes bytea := convert_to(input, 'UTF8');
BEGIN
	FOR i IN 0 .. length(bytes) - 1 LOOP
		h := (h # get_byte(bytes, i)) * 16777619 % 4294967296;
	END LOOP;
	-- MurmurHash3 fmix32
	h := h # (h >> 16);
	h := (h::numeric * 2246822507 % 4294967296)::bigint;	-- 0x85ebca6b
	h := h # (h >> 13);
	h := (h::numeric * 3266489909 % 4294967296)::bigint;	-- 0xc2b2ae35
	h := h # (h >> 16);
	RETURN h;
END $$;
SELECT count(*) AS buyers,
	   count(*) FILTER (WHERE compensation.holdout_hash('late_v3', buyer)
						  <> pg_temp.fnv1a('late_v3:' || buyer)) AS mismatches
  FROM (SELECT CASE WHEN i % 7 = 0 THEN 'acheteur-é' || i ELSE md5(i::text) END AS buyer
		  FROM generate_series(1, 20000) AS i) AS b;

-- in_holdout uses the strategy's salt (its name, fixed at first definition)
-- and the holdout of the version evaluated.
CREATE TABLE public.buyers_src (order_id text, buyer_id text, at timestamptz);
CREATE FUNCTION pg_temp.spec(holdout numeric) RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object('scenario', 'holdout', 'source', 'public.buyers_src',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'when', '{"col": "order_id", "op": "is not null"}'::jsonb,
	'amount', '{"type": "fixed", "value": 1}'::jsonb, 'currency', 'EUR',
	'instrument', 'points', 'program', 'regress', 'holdout', holdout) $$;
SELECT compensation.define_strategy('hold', pg_temp.spec(0.05)) AS v1,
	   compensation.define_strategy('hold', pg_temp.spec(0.10)) AS v2,
	   compensation.define_strategy('hold', pg_temp.spec(0)) AS v3;
SELECT compensation.activate('hold', 1);

CREATE TABLE pg_temp.buyers AS
	SELECT 'buyer-' || i AS buyer FROM generate_series(1, 100000) AS i;
SELECT count(*) FILTER (WHERE compensation.in_holdout('hold', buyer)) AS held_5pct_active,
	   count(*) FILTER (WHERE compensation.in_holdout('hold', buyer, 1)) AS held_5pct,
	   count(*) FILTER (WHERE compensation.in_holdout('hold', buyer, 2)) AS held_10pct,
	   count(*) FILTER (WHERE compensation.in_holdout('hold', buyer, 3)) AS held_0pct,
	   -- monotone: everyone held out at 5% is held out at 10%
	   count(*) FILTER (WHERE compensation.in_holdout('hold', buyer, 1)
						  AND NOT compensation.in_holdout('hold', buyer, 2)) AS broke_monotony,
	   -- and the decision is the documented formula
	   count(*) FILTER (WHERE compensation.in_holdout('hold', buyer, 2)
						  <> (pg_temp.fnv1a('hold:' || buyer) % 10000 < 1000)) AS formula_mismatches
  FROM pg_temp.buyers;
-- 5% of 100,000 is 5,000; with sd sqrt(100000 * .05 * .95) = 69 the count
-- lies within 4,700..5,300 unless the hash is biased
SELECT count(*) FILTER (WHERE compensation.in_holdout('hold', buyer, 1)) BETWEEN 4700 AND 5300 AS five_percent_is_five_percent
  FROM pg_temp.buyers;

-- Uniformity: chi-square of the 100 bucket groups (bucket / 100) over
-- 100,000 buyers, 99 degrees of freedom; the 0.001 critical value is 148.2.
SELECT sum((observed - 1000.0) ^ 2 / 1000.0) < 148.2 AS uniform_at_0_001,
	   count(*) AS groups
  FROM (SELECT compensation.holdout_hash('hold', buyer) % 10000 / 100 AS grp, count(*) AS observed
		  FROM pg_temp.buyers GROUP BY 1) AS g;

-- NULL buyer or strategy: NULL
SELECT compensation.in_holdout('hold', NULL) IS NULL AS null_buyer,
	   compensation.in_holdout(NULL, 'b') IS NULL AS null_strategy;
