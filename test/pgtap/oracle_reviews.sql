-- test/pgtap/oracle_reviews.sql — review_farming, review_integrity and
-- uncovered against an independent plain-SQL computation of the same
-- figures: first on generated data with planted cases (a farming buyer, a
-- seller whose ratings rise after grants, a segment of poor experiences no
-- strategy covers, orders with several reviews), then on the real Olist data
-- after a budgeted apply (skipped when it is not loaded), with the figures
-- printed.  The oracle never calls compensation.* except to read the ledger
-- views; its binomial tail is the sum of the probabilities, chained in
-- float8.  Everything is rolled back.

SELECT to_regnamespace('olist') IS NOT NULL
	   AND to_regclass('olist.order_experience') IS NOT NULL AS reviews_have_olist \gset

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';
SET LOCAL check_function_bodies = off;

\if :reviews_have_olist
SELECT plan(15);
\else
SELECT plan(8);
\endif

-- ---------------------------------------------------------------------------
-- The oracle: plain SQL over a temp view oracle_reviews (order_key, buyer,
-- rating, written_at, seller, review_id) and the ledger views.
-- ---------------------------------------------------------------------------

-- P(X >= k), X ~ Binomial(n, p): the sum of the terms from k to n, each the
-- previous times (n - x) / (x + 1) * p / q, starting from C(n, k) p^k q^(n-k)
-- computed as a product (n is small here).
CREATE FUNCTION pg_temp.oracle_tail(k bigint, n bigint, p float8) RETURNS float8
	LANGUAGE sql IMMUTABLE
	RETURN CASE WHEN k <= 0 THEN 1 WHEN k > n OR p = 0 THEN 0 WHEN p = 1 THEN 1 ELSE
		(WITH RECURSIVE first(j, c) AS (
			 SELECT 0::bigint, 1::float8
			 UNION ALL
			 SELECT j + 1, c * (n - j) / (j + 1) FROM first WHERE j < k),
		 terms(x, t) AS (
			 SELECT k, (SELECT c FROM first WHERE j = k) * power(p, k) * power(1 - p, n - k)
			 UNION ALL
			 SELECT x + 1, t * (n - x) / (x + 1) * p / (1 - p) FROM terms WHERE x < n)
		 SELECT sum(t) FROM terms) END;

CREATE FUNCTION pg_temp.oracle_farming(low integer, within interval, t0 timestamptz, t1 timestamptz)
	RETURNS TABLE (buyer text, n bigint, k bigint, expected float8, p_value float8, tested bigint, flagged boolean)
	LANGUAGE sql STABLE
	AS $fn$
	WITH lows AS (
		SELECT r.buyer, r.order_key, r.review_id, min(r.written_at) AS written_at
		  FROM oracle_reviews AS r WHERE r.rating <= low AND r.buyer IS NOT NULL
		 GROUP BY 1, 2, 3),
	per_buyer AS (
		SELECT l.buyer, count(*) AS n,
			   count(*) FILTER (WHERE EXISTS (
				   SELECT FROM compensation.grants AS g
					WHERE g.buyer = l.buyer AND NOT g.voided
					  AND g.as_of > l.written_at AND g.as_of <= l.written_at + within)) AS k
		  FROM lows AS l
		 WHERE (t0 IS NULL OR l.written_at >= t0) AND (t1 IS NULL OR l.written_at < t1)
		 GROUP BY l.buyer),
	population AS (
		SELECT sum(k)::float8 / sum(n) AS rate, count(*) FILTER (WHERE n >= 3) AS tested FROM per_buyer)
	SELECT b.buyer, b.n, b.k, b.n * p.rate, pg_temp.oracle_tail(b.k, b.n, p.rate), p.tested,
		   b.n >= 3 AND b.k >= 3 AND pg_temp.oracle_tail(b.k, b.n, p.rate) * p.tested < 0.01
	  FROM per_buyer AS b, population AS p
	 WHERE b.k > 0
	$fn$;

CREATE FUNCTION pg_temp.oracle_integrity(by_seller boolean, t0 timestamptz, t1 timestamptz)
	RETURNS TABLE (strategy text, seller text, grants bigint, reviewed bigint, after bigint, both_sides bigint,
				   before_mean numeric, after_mean numeric, raised bigint, farmers bigint)
	LANGUAGE sql STABLE
	AS $fn$
	WITH farmers AS MATERIALIZED (
		SELECT f.buyer FROM pg_temp.oracle_farming(2, '14 days', t0, t1) AS f WHERE f.flagged),
	per_grant AS (
		SELECT CASE WHEN by_seller THEN NULL ELSE g.strategy END AS strategy,
			   CASE WHEN by_seller THEN (SELECT min(r.seller) FROM oracle_reviews AS r WHERE r.order_key = g.order_key) END AS seller,
			   g.buyer, g.as_of,
			   (SELECT count(*) FROM oracle_reviews AS r WHERE r.order_key = g.order_key) AS nreviews,
			   (SELECT min(r.written_at) FROM oracle_reviews AS r WHERE r.order_key = g.order_key) AS first_at,
			   (SELECT r.rating FROM oracle_reviews AS r WHERE r.order_key = g.order_key AND r.written_at <= g.as_of
				 ORDER BY r.written_at DESC, r.review_id DESC LIMIT 1) AS before,
			   (SELECT r.rating FROM oracle_reviews AS r WHERE r.order_key = g.order_key AND r.written_at > g.as_of
				 ORDER BY r.written_at DESC, r.review_id DESC LIMIT 1) AS after
		  FROM compensation.grants AS g
		 WHERE NOT g.voided AND (t0 IS NULL OR g.as_of >= t0) AND (t1 IS NULL OR g.as_of < t1))
	SELECT p.strategy, p.seller, count(*), count(*) FILTER (WHERE p.nreviews > 0),
		   count(*) FILTER (WHERE p.first_at > p.as_of),
		   count(*) FILTER (WHERE p.before IS NOT NULL AND p.after IS NOT NULL),
		   round(avg(p.before) FILTER (WHERE p.after IS NOT NULL), 4),
		   round(avg(p.after) FILTER (WHERE p.before IS NOT NULL), 4),
		   count(*) FILTER (WHERE p.after > p.before),
		   count(DISTINCT f.buyer)
	  FROM per_grant AS p LEFT JOIN farmers AS f ON f.buyer = p.buyer
	 GROUP BY 1, 2
	$fn$;

-- ---------------------------------------------------------------------------
-- 1. Generated data with planted cases.
-- ---------------------------------------------------------------------------
\o /dev/null
CREATE SCHEMA rvt;
CREATE TABLE rvt.orders (order_id text PRIMARY KEY, buyer_id text NOT NULL, market text, currency text,
	order_value numeric, status text, promised_at timestamptz, delivered_at timestamptz);
-- 3000 orders over 2032-Q1 by 400 buyers; 1 in 12 cancelled (a segment no
-- strategy targets); lateness 0..6 days
INSERT INTO rvt.orders
SELECT 'g' || i,
	   CASE WHEN i % 50 = 0 THEN 'rvt-farmer' ELSE 'rvt-b' || (i * 7919 % 400) END,
	   (ARRAY['FR', 'DE', 'ES'])[1 + i % 3], 'EUR', 20 + i % 80,
	   CASE WHEN i % 12 = 5 THEN 'cancelled' ELSE 'delivered' END,
	   timestamptz '2032-01-01' + i * interval '40 minutes',
	   timestamptz '2032-01-01' + i * interval '40 minutes' + ((i * 31) % 7) * interval '1 day'
  FROM generate_series(1, 3000) AS i;
SELECT compensation.set_budget('rvt_prog', '2032-Q1', 2500, 'EUR');
SELECT compensation.define_strategy('rvt_late', '{"scenario": "late_delivery", "source": "rvt.orders",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "value": "order_value", "currency": "currency", "market": "market"},
  "when": {"all": [{"col": "status", "op": "=", "value": "delivered"}, {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 4}]},
  "amount": {"type": "percent", "of": "order_value", "rate": 0.1, "min": 2, "max": 20},
  "instrument": "voucher", "program": "rvt_prog", "max_age": null}');
SELECT compensation.activate('rvt_late');
SELECT sum((compensation.apply('rvt_late', timestamptz '2032-01-01' + w * interval '3 days')).granted)
  FROM generate_series(1, 32) AS w;

-- One review per delivered order the day after delivery; the farmer's are
-- 1-star and one more 1-star review comes the day before each of its
-- grants; seller s-lift's granted orders get a 5-star review two days after
-- the grant (orders with several reviews), and every 20th review is edited
-- a week later (same review id).
CREATE TABLE rvt.reviews (review_id text, order_id text, buyer_id text, seller_id text, score integer,
	written_at timestamptz);
INSERT INTO rvt.reviews
SELECT 'r' || o.order_id, o.order_id, o.buyer_id,
	   CASE WHEN substr(o.order_id, 2)::int % 5 = 0 THEN 's-lift' ELSE 's-' || (substr(o.order_id, 2)::int % 5) END,
	   CASE WHEN o.buyer_id = 'rvt-farmer' THEN 1 ELSE 1 + (substr(o.order_id, 2)::int * 13) % 5 END,
	   o.delivered_at + interval '1 day'
  FROM rvt.orders AS o WHERE o.status = 'delivered';
INSERT INTO rvt.reviews
SELECT 'rf' || g.order_key, g.order_key, g.buyer, 's-1', 1, g.as_of - interval '1 day'
  FROM compensation.grants AS g WHERE g.buyer = 'rvt-farmer';
INSERT INTO rvt.reviews
SELECT 'rl' || g.order_key, g.order_key, g.buyer, 's-lift', 5, g.as_of + interval '2 days'
  FROM compensation.grants AS g
 WHERE g.strategy = 'rvt_late' AND substr(g.order_key, 2)::int % 5 = 0;
INSERT INTO rvt.reviews
SELECT r.review_id, r.order_id, r.buyer_id, r.seller_id, least(r.score + 1, 5), r.written_at + interval '7 days'
  FROM rvt.reviews AS r WHERE r.review_id LIKE 'rg%0' AND substr(r.order_id, 2)::int % 20 = 0;

CREATE TEMP TABLE oracle_reviews AS
SELECT order_id COLLATE "C" AS order_key, buyer_id COLLATE "C" AS buyer, score::numeric AS rating, written_at, seller_id AS seller, review_id
  FROM rvt.reviews;
CREATE INDEX ON oracle_reviews (order_key);
ANALYZE oracle_reviews;

\o
CREATE FUNCTION pg_temp.rkeys() RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at", "review": "review_id", "seller": "seller_id"}'::jsonb;

SELECT set_eq(
	$$SELECT buyer, low_reviews, followed_by_grant, round(expected::numeric, 9), buyers_tested, flagged
		FROM compensation.review_farming('rvt.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at", "review": "review_id"}',
										 "from" => '2032-01-01', "to" => '2032-04-01')$$,
	$$SELECT buyer, n, k, round(expected::numeric, 9), tested, flagged
		FROM pg_temp.oracle_farming(2, '14 days', '2032-01-01', '2032-04-01')$$,
	'generated: review_farming equals the plain-SQL counts, expected counts and flags');
SELECT is((SELECT count(*) FROM compensation.review_farming('rvt.reviews', pg_temp.rkeys(), "from" => '2032-01-01', "to" => '2032-04-01') AS f
			 JOIN pg_temp.oracle_farming(2, '14 days', '2032-01-01', '2032-04-01') AS o USING (buyer)
			WHERE abs(f.p_value / o.p_value - 1) > 1e-9),
		  0::bigint, 'generated: every p-value within 1e-9 relative of the summed binomial probabilities');
SELECT is((SELECT array_agg(buyer) FROM compensation.review_farming('rvt.reviews', pg_temp.rkeys(), "from" => '2032-01-01', "to" => '2032-04-01') WHERE flagged),
		  ARRAY['rvt-farmer'], 'generated: the planted farming buyer, and only it, is flagged');
SELECT set_eq(
	$$SELECT strategy, seller, grants, reviewed, first_review_after, reviewed_both_sides, rating_before, rating_after, ratings_raised, farming_buyers
		FROM compensation.review_integrity('rvt.reviews', pg_temp.rkeys(), 'strategy', '2032-01-01', '2032-04-01')$$,
	$$SELECT * FROM pg_temp.oracle_integrity(false, '2032-01-01', '2032-04-01')$$,
	'generated: review_integrity by strategy equals plain SQL');
SELECT set_eq(
	$$SELECT strategy, seller, grants, reviewed, first_review_after, reviewed_both_sides, rating_before, rating_after, ratings_raised, farming_buyers
		FROM compensation.review_integrity('rvt.reviews', pg_temp.rkeys(), 'seller', '2032-01-01', '2032-04-01')$$,
	$$SELECT * FROM pg_temp.oracle_integrity(true, '2032-01-01', '2032-04-01')$$,
	'generated: review_integrity by seller equals plain SQL');
SELECT ok((SELECT ratings_raised > 0 AND rating_after > rating_before
			 FROM compensation.review_integrity('rvt.reviews', pg_temp.rkeys(), 'seller', '2032-01-01', '2032-04-01')
			WHERE seller = 's-lift'),
		  'generated: seller s-lift''s ratings rise after grants');

\o /dev/null
SELECT compensation.define_signal('rvt_cancelled', 'rvt.orders', '{"col": "status", "op": "=", "value": "cancelled"}',
	'{"order": "order_id", "buyer": "buyer_id", "at": "promised_at", "market": "market"}', 'seller_cancellation');
SELECT compensation.define_signal('rvt_late_1d', 'rvt.orders', '{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1}',
	'{"order": "order_id", "buyer": "buyer_id", "at": "promised_at", "market": "market"}', 'late_delivery');
\o
SELECT set_eq(
	$$SELECT kind, name, scenario, market, reason, orders, currency, amount
		FROM compensation.uncovered('2032-01-01', '2032-04-01', ARRAY['rvt_cancelled', 'rvt_late_1d'])
	   WHERE kind = 'signal' OR name = 'rvt_late'$$,
	$$SELECT 'rule' AS kind, d.strategy AS name, 'late_delivery' AS scenario, d.market, d.outcome AS reason,
			 count(*) AS orders, d.currency, sum(d.amount) AS amount
		FROM compensation.decisions AS d
	   WHERE d.strategy = 'rvt_late' AND d.outcome NOT IN ('granted', 'holdout', 'duplicate')
		 AND d.at >= '2032-01-01' AND d.at < '2032-04-01'
		 AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = d.order_key AND NOT g.voided)
		 AND NOT EXISTS (SELECT FROM compensation.decisions AS h WHERE h.order_key = d.order_key AND h.arm = 'holdout')
	   GROUP BY d.strategy, d.market, d.outcome, d.currency
	  UNION ALL
	  SELECT 'signal', 'rvt_cancelled', 'seller_cancellation', o.market, 'no grant', count(*), NULL, NULL
		FROM rvt.orders AS o
	   WHERE o.status = 'cancelled' AND o.promised_at >= '2032-01-01' AND o.promised_at < '2032-04-01'
	   GROUP BY o.market
	  UNION ALL
	  SELECT 'signal', 'rvt_late_1d', 'late_delivery', o.market, 'no grant', count(*), NULL, NULL
		FROM rvt.orders AS o
	   WHERE o.delivered_at - o.promised_at >= interval '1 day'
		 AND o.promised_at >= '2032-01-01' AND o.promised_at < '2032-04-01'
		 AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = o.order_id AND NOT g.voided)
		 AND NOT EXISTS (SELECT FROM compensation.decisions AS h WHERE h.order_key = o.order_id AND h.arm = 'holdout')
	   GROUP BY o.market$$,
	'generated: uncovered (skipped candidates by reason, and two signals) equals plain SQL');
SELECT ok((SELECT sum(orders) FROM compensation.uncovered('2032-01-01', '2032-04-01', ARRAY['rvt_cancelled'])
			WHERE kind = 'signal') = (SELECT count(*) FROM rvt.orders WHERE status = 'cancelled'),
		  'generated: every cancelled order, a segment no strategy targets, is uncovered');

-- ---------------------------------------------------------------------------
-- 2. Olist: a review view over the orders and customers, a budgeted apply.
-- ---------------------------------------------------------------------------
\if :reviews_have_olist
\o /dev/null
CREATE VIEW olist.reviews_for_governance AS
SELECT r.review_id, r.order_id, c.customer_unique_id AS buyer_id, i.seller_id, r.review_score AS rating,
	   r.review_creation_date AT TIME ZONE 'America/Sao_Paulo' AS written_at
  FROM olist.order_reviews AS r
  JOIN olist.orders AS o USING (order_id)
  JOIN olist.customers AS c USING (customer_id)
  LEFT JOIN (SELECT order_id, min(seller_id) AS seller_id FROM olist.order_items GROUP BY order_id) AS i USING (order_id);
TRUNCATE oracle_reviews;
INSERT INTO oracle_reviews
SELECT order_id AS order_key, buyer_id AS buyer, rating::numeric AS rating, written_at, seller_id AS seller, review_id
  FROM olist.reviews_for_governance;
ANALYZE oracle_reviews;
CREATE FUNCTION pg_temp.okeys() RETURNS jsonb LANGUAGE sql IMMUTABLE
	RETURN '{"order": "order_id", "buyer": "buyer_id", "rating": "rating", "written_at": "written_at", "review": "review_id", "seller": "seller_id"}'::jsonb;

SELECT compensation.set_budget('olist_reviews_test', q, 2000, 'BRL')
  FROM (SELECT DISTINCT compensation.quarter(delivered_at) AS q FROM olist.order_experience
		 WHERE delivered_at IS NOT NULL) AS qs;
SELECT compensation.define_strategy('olist_reviews_late', '{"scenario": "late_delivery", "source": "olist.order_experience",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "value": "order_value", "currency": "currency", "market": "market"},
  "when": {"all": [{"col": "status", "op": "=", "value": "delivered"}, {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3}]},
  "amount": {"type": "percent", "of": "order_value", "rate": 0.1, "min": 2, "max": 20},
  "instrument": "voucher", "program": "olist_reviews_test", "exclusive": "olist_reviews_test", "max_age": null}');
SELECT compensation.activate('olist_reviews_late');
\o
SELECT diag('Olist: budgeted apply, every 28 days from 2016-10 to 2018-11: ' || sum(r.granted) || ' grants, '
			|| sum(r.skipped_budget) || ' budget skips')
  FROM generate_series(timestamptz '2016-10-01', '2018-11-01', interval '28 days') AS w
 CROSS JOIN LATERAL compensation.apply('olist_reviews_late', w) AS r;
\o /dev/null
SELECT compensation.define_signal('olist_late_1d', 'olist.order_experience', '{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1}',
	'{"order": "order_id", "buyer": "buyer_id", "at": "promised_at", "market": "market"}', 'late_delivery');
SELECT compensation.define_signal('olist_never_delivered', 'olist.order_experience',
	'{"all": [{"col": "delivered_at", "op": "is null"}, {"col": "status", "op": "!=", "value": "delivered"}]}',
	'{"order": "order_id", "buyer": "buyer_id", "at": "promised_at", "market": "market"}', 'not_delivered');

\o
SELECT set_eq(
	$$SELECT buyer, low_reviews, followed_by_grant, round(expected::numeric, 9), buyers_tested, flagged
		FROM compensation.review_farming('olist.reviews_for_governance', pg_temp.okeys())$$,
	$$SELECT buyer, n, k, round(expected::numeric, 9), tested, flagged FROM pg_temp.oracle_farming(2, '14 days', NULL, NULL)$$,
	'Olist: review_farming equals plain SQL');
SELECT is((SELECT count(*) FROM compensation.review_farming('olist.reviews_for_governance', pg_temp.okeys()) AS f
			 JOIN pg_temp.oracle_farming(2, '14 days', NULL, NULL) AS o USING (buyer)
			WHERE abs(f.p_value / o.p_value - 1) > 1e-9),
		  0::bigint, 'Olist: every p-value within 1e-9 relative');
SELECT set_eq(
	$$SELECT strategy, seller, grants, reviewed, first_review_after, reviewed_both_sides, rating_before, rating_after, ratings_raised, farming_buyers
		FROM compensation.review_integrity('olist.reviews_for_governance', pg_temp.okeys()) WHERE strategy = 'olist_reviews_late'$$,
	$$SELECT * FROM pg_temp.oracle_integrity(false, NULL, NULL) WHERE strategy = 'olist_reviews_late'$$,
	'Olist: review_integrity by strategy equals plain SQL');
SELECT set_eq(
	$$SELECT strategy, seller, grants, reviewed, first_review_after, reviewed_both_sides, rating_before, rating_after, ratings_raised, farming_buyers
		FROM compensation.review_integrity('olist.reviews_for_governance', pg_temp.okeys(), 'seller')$$,
	$$SELECT * FROM pg_temp.oracle_integrity(true, NULL, NULL)$$,
	'Olist: review_integrity by seller equals plain SQL');
SELECT set_eq(
	$$SELECT name, market, orders FROM compensation.uncovered('2016-01-01', '2019-01-01', ARRAY['olist_late_1d', 'olist_never_delivered'])
	   WHERE kind = 'signal'$$,
	$$SELECT 'olist_late_1d' AS name, o.market, count(*) FROM olist.order_experience AS o
	   WHERE floor(extract(epoch FROM o.delivered_at - o.promised_at) / 86400) >= 1
		 AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = o.order_id AND NOT g.voided)
		 AND NOT EXISTS (SELECT FROM compensation.decisions AS h WHERE h.order_key = o.order_id AND h.arm = 'holdout')
	   GROUP BY o.market
	  UNION ALL
	  SELECT 'olist_never_delivered', o.market, count(*) FROM olist.order_experience AS o
	   WHERE o.delivered_at IS NULL AND o.status <> 'delivered'
		 AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = o.order_id AND NOT g.voided)
		 AND NOT EXISTS (SELECT FROM compensation.decisions AS h WHERE h.order_key = o.order_id AND h.arm = 'holdout')
	   GROUP BY o.market$$,
	'Olist: uncovered signals equal plain SQL');
SELECT set_eq(
	$$SELECT market, reason, orders, amount FROM compensation.uncovered('2016-01-01', '2019-01-01', ARRAY[]::text[])
	   WHERE name = 'olist_reviews_late'$$,
	$$SELECT d.market, d.outcome, count(*), sum(d.amount) FROM compensation.decisions AS d
	   WHERE d.strategy = 'olist_reviews_late' AND d.outcome NOT IN ('granted', 'holdout', 'duplicate')
		 AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = d.order_key AND NOT g.voided)
		 AND NOT EXISTS (SELECT FROM compensation.decisions AS h WHERE h.order_key = d.order_key AND h.arm = 'holdout')
	   GROUP BY 1, 2$$,
	'Olist: uncovered skipped candidates equal plain SQL');
-- the Olist reviews registered: strategy_performance's review columns (per
-- version) add up to the plain SQL's figures over all time
SELECT compensation.register_reviews('olist.reviews_for_governance', pg_temp.okeys()) \g /dev/null
SELECT is((SELECT row(sum(p.reviewed_grants), sum(p.first_review_after), sum(p.ratings_raised))::text
			 FROM compensation.strategy_performance AS p WHERE p.strategy = 'olist_reviews_late'),
		  (SELECT row(o.reviewed, o.after, o.raised)::text
			 FROM pg_temp.oracle_integrity(false, NULL, NULL) AS o WHERE o.strategy = 'olist_reviews_late'),
		  'Olist: strategy_performance''s review figures (registered reviews) equal plain SQL');
SELECT diag('Olist review_integrity: ' || grants || ' grants, ' || reviewed || ' reviewed, '
			|| first_review_after || ' first reviewed after the grant (share ' || coalesce(share_after::text, '-') || '), '
			|| reviewed_both_sides || ' reviewed on both sides, ' || ratings_raised || ' ratings raised, '
			|| farming_buyers || ' farming buyers')
  FROM compensation.review_integrity('olist.reviews_for_governance', pg_temp.okeys()) WHERE strategy = 'olist_reviews_late';
SELECT diag('Olist strategy_performance, version ' || version || ': ' || reviewed_grants || ' reviewed grants, '
			|| first_review_after || ' first reviewed after, ' || ratings_raised || ' raised: bought-review rate '
			|| coalesce(bought_review_rate::text, '-') || ', flagged ' || bought_review_flag)
  FROM compensation.strategy_performance WHERE strategy = 'olist_reviews_late' ORDER BY version;
SELECT diag('Olist review_farming: ' || count(*) || ' buyers with a low review followed by a grant, '
			|| count(*) FILTER (WHERE flagged) || ' flagged; population rate '
			|| round(min(population_rate)::numeric, 4) || ', ' || min(buyers_tested) || ' buyers tested')
  FROM compensation.review_farming('olist.reviews_for_governance', pg_temp.okeys());
SELECT diag('Olist uncovered ' || kind || ' ' || name || ' ' || reason || ': ' || sum(orders) || ' orders'
			|| coalesce(', ' || sum(amount) || ' BRL', ''))
  FROM compensation.uncovered('2016-01-01', '2019-01-01',
							  ARRAY['olist_late_1d', 'olist_never_delivered'])
 WHERE kind = 'signal' OR name = 'olist_reviews_late'
 GROUP BY kind, name, reason ORDER BY kind, name, reason;
\endif

SELECT * FROM finish();
ROLLBACK;
