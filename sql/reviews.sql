-- reviews governance: the binomial tail, review_farming, review_integrity,
-- signals and uncovered, each against a plain-SQL computation of the same
-- figures on planted cases; bad keys and rights.
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- 1. The binomial tail against reference values (mpmath at 50 digits,
--    SciPy 1.10 binom.sf where it is exact): relative error below 1e-9,
--    and the log for tails below the smallest double.
SELECT k, n, p,
       abs(compensation.binomial_upper_tail(k, n, p) / ref - 1) < 1e-9 AS tail_ok,
       abs(compensation.binomial_upper_tail_log(k, n, p) / log_ref - 1) < 1e-9 AS log_ok
  FROM (VALUES (1::bigint, 1::bigint, 0.5::float8, 0.5::float8, -0.69314718055994531::float8),
               (3, 10, 0.3, 0.61721721359999997, -0.48253426905702906),
               (7, 10, 0.3, 0.010592078399999998, -4.5476488780021893),
               (10, 10, 0.3, 5.9048999999999978e-6, -12.03972804325936),
               (15, 20, 0.05, 3.7220699665069611e-16, -35.52708153176706),
               (1, 1000, 1e-6, 0.00099950066612559108, -6.9082547375652209),
               (51, 100, 0.5, 0.46020538130641062, -0.77608240804113239),
               (30, 100, 0.5, 0.99998391999235217, -1.6080136932542078e-5),
               (9, 12, 0.08, 2.3602391479746564e-8, -17.561917796161212),
               (500, 1000, 0.2, 4.1331189247045889e-99, -226.53689189686844),
               (250, 1000, 0.2, 6.8830122227346684e-5, -9.5838690857696317),
               (5001000, 10000000, 0.5, 0.26364792810335802, -1.333140671548359),
               (4999000, 10000000, 0.5, 0.7365586485143506, -0.30576641486581546),
               (1000100000, 2000000000, 0.5, exp(-12.461606864482846), -12.461606864482846),
               (60, 1000000000, 1e-8, 6.5218953073927988e-27, -60.29463248582529),
               (2, 1000000000000, 1e-12, 0.26424111765711539, -1.3308932682040544)) AS v(k, n, p, ref, log_ref)
 ORDER BY n, k;
-- below the smallest double: 0, with the log still exact
SELECT k, n, p, compensation.binomial_upper_tail(k, n, p) AS tail,
       abs(compensation.binomial_upper_tail_log(k, n, p) / log_ref - 1) < 1e-9 AS log_ok
  FROM (VALUES (1000::bigint, 1000::bigint, 0.2::float8, -1609.4379124341003::float8),
               (40, 50, 0.1, -70.076913417913565),
               (300000, 1000000, 0.25, -6406.9993601611475),
               (2000000, 1000000000, 0.001, -386802.5088252864)) AS v(k, n, p, log_ref);
SELECT compensation.binomial_upper_tail(0, 10, 0.3) AS empty_k, compensation.binomial_upper_tail(11, 10, 0.3) AS k_over_n,
       compensation.binomial_upper_tail(1, 10, 0) AS p0, compensation.binomial_upper_tail(10, 10, 1) AS p1,
       compensation.binomial_upper_tail_log(11, 10, 0.3) AS log_empty;
SELECT compensation.binomial_upper_tail(1, -1, 0.5);
SELECT compensation.binomial_upper_tail(1, 10, 1.5);
SELECT compensation.binomial_upper_tail(1, 10, 'NaN');

-- 2. Data: 60 orders in 2031-Q1, a strategy (late by 3 days or more, 5 EUR)
--    with a budget that runs out, applied weekly.
CREATE SCHEMA rv;
GRANT USAGE ON SCHEMA rv TO PUBLIC;
CREATE TABLE rv.orders (order_id text PRIMARY KEY, buyer_id text NOT NULL, market text, currency text,
	order_value numeric, status text, promised_at timestamptz, delivered_at timestamptz);
INSERT INTO rv.orders
SELECT 'v' || i,
	   CASE WHEN i % 6 = 0 THEN 'rv-farmer' ELSE 'rv-b' || (i % 7) END,
	   CASE WHEN i % 2 = 0 THEN 'FR' ELSE 'DE' END, 'EUR', 50,
	   CASE WHEN i % 10 = 5 THEN 'cancelled' ELSE 'delivered' END,
	   timestamptz '2031-01-01' + i * interval '1 day',
	   timestamptz '2031-01-01' + i * interval '1 day' + (i % 5) * interval '1 day'
  FROM generate_series(1, 60) AS i;
GRANT SELECT ON rv.orders TO compensation_admin;
SELECT compensation.set_budget('rv_prog', '2031-Q1', 70, 'EUR') > 0 AS budget_set;
SELECT compensation.define_strategy('rv_late', '{"scenario": "late_delivery", "source": "rv.orders",
  "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "currency": "currency", "market": "market"},
  "when": {"all": [{"col": "status", "op": "=", "value": "delivered"},
                   {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3}]},
  "amount": {"type": "fixed", "value": 5}, "instrument": "voucher", "program": "rv_prog", "max_age": null}');
SELECT compensation.activate('rv_late');
SELECT sum((compensation.apply('rv_late', timestamptz '2031-01-01' + w * interval '7 days')).granted) AS granted
  FROM generate_series(1, 10) AS w;

-- Reviews: one per order (1 star from the farmer, 2 or 4 from the others),
-- written the day after delivery; the farmer's are followed by grants.
-- Seller s-up's granted orders get a second, 5-star review after the grant
-- (an order with several reviews); order v7 has one review edited (same id).
CREATE TABLE rv.reviews (review_id text, order_id text, buyer_id text, seller_id text, score integer,
	written_at timestamptz);
INSERT INTO rv.reviews
SELECT 'r' || o.order_id, o.order_id, o.buyer_id,
	   CASE WHEN substr(o.order_id, 2)::int % 3 = 0 THEN 's-up' ELSE 's-' || (substr(o.order_id, 2)::int % 3) END,
	   CASE WHEN o.buyer_id = 'rv-farmer' THEN 1 WHEN substr(o.order_id, 2)::int % 4 = 0 THEN 2 ELSE 4 END,
	   o.delivered_at + interval '1 day'
  FROM rv.orders AS o WHERE o.status = 'delivered';
INSERT INTO rv.reviews
SELECT 'r2' || g.order_key, g.order_key, g.buyer, 's-up', 5, g.as_of + interval '2 days'
  FROM compensation.grants AS g
 WHERE g.strategy = 'rv_late' AND substr(g.order_key, 2)::int % 3 = 0;
INSERT INTO rv.reviews VALUES ('rv7', 'v7', 'rv-b0', 's-1', 3, timestamptz '2031-03-20');
-- the farming buyer: one more 1-star review the day before each of its grants
INSERT INTO rv.reviews
SELECT 'rf' || g.order_key, g.order_key, g.buyer, 's-2', 1, g.as_of - interval '1 day'
  FROM compensation.grants AS g WHERE g.buyer = 'rv-farmer';
-- the population: 100 buyers with 3 low reviews each and no grant
INSERT INTO rv.reviews
SELECT 'rq' || b || '-' || j, 'q' || b || '-' || j, 'rv-quiet-' || b, 's-1', 1 + j % 2,
	   timestamptz '2031-02-01' + b * interval '1 hour' + j * interval '1 day'
  FROM generate_series(1, 100) AS b, generate_series(1, 3) AS j;
CREATE TABLE rv.secret_reviews AS SELECT * FROM rv.reviews;
REVOKE ALL ON rv.secret_reviews FROM PUBLIC;

-- 3. review_farming against plain SQL
\set keys '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at", "review": "review_id", "seller": "seller_id"}'
SELECT buyer, low_reviews, followed_by_grant, round(expected::numeric, 4) AS expected,
	   round(p_value::numeric, 6) AS p_value, round(p_adjusted::numeric, 6) AS p_adjusted, buyers_tested, flagged
  FROM compensation.review_farming('rv.reviews', :'keys', "from" => '2031-01-01', "to" => '2031-04-01');
WITH lows AS (
	SELECT r.buyer_id AS buyer, r.order_id, r.review_id, min(r.written_at) AS written_at
	  FROM rv.reviews AS r WHERE r.score <= 2 AND r.written_at >= '2031-01-01' AND r.written_at < '2031-04-01'
	 GROUP BY 1, 2, 3),
per_buyer AS (
	SELECT l.buyer, count(*) AS n,
		   count(*) FILTER (WHERE EXISTS (SELECT FROM compensation.grants AS g
										  WHERE g.buyer = l.buyer AND NOT g.voided
											AND g.as_of > l.written_at AND g.as_of <= l.written_at + interval '14 days')) AS k
	  FROM lows AS l GROUP BY l.buyer),
expected AS (
	SELECT b.buyer, b.n, b.k, b.n * (SELECT sum(k)::float8 / sum(n) FROM per_buyer) AS expected,
		   (SELECT count(*) FROM per_buyer WHERE n >= 3) AS tested
	  FROM per_buyer AS b WHERE b.k > 0)
SELECT count(*) AS rows_differing
  FROM (SELECT buyer, n, k, round(expected::numeric, 9), tested FROM expected
		EXCEPT SELECT buyer, low_reviews, followed_by_grant, round(expected::numeric, 9), buyers_tested
		FROM compensation.review_farming('rv.reviews', :'keys', "from" => '2031-01-01', "to" => '2031-04-01')) AS d;

-- 4. review_integrity, by strategy and by seller, against plain SQL
SELECT * FROM compensation.review_integrity('rv.reviews', :'keys', "from" => '2031-01-01', "to" => '2031-04-01')
 WHERE strategy = 'rv_late';
SELECT * FROM compensation.review_integrity('rv.reviews', :'keys', 'seller', '2031-01-01', '2031-04-01');
WITH g AS (SELECT * FROM compensation.grants WHERE NOT voided AND as_of >= '2031-01-01' AND as_of < '2031-04-01'),
per_grant AS (
	SELECT g.strategy, g.as_of,
		   (SELECT min(r.seller_id) FROM rv.reviews AS r WHERE r.order_id = g.order_key) AS seller,
		   (SELECT count(*) FROM rv.reviews AS r WHERE r.order_id = g.order_key) AS nreviews,
		   (SELECT min(r.written_at) FROM rv.reviews AS r WHERE r.order_id = g.order_key) AS first_at,
		   (SELECT r.score FROM rv.reviews AS r WHERE r.order_id = g.order_key AND r.written_at <= g.as_of
			 ORDER BY r.written_at DESC, r.review_id DESC LIMIT 1) AS before,
		   (SELECT r.score FROM rv.reviews AS r WHERE r.order_id = g.order_key AND r.written_at > g.as_of
			 ORDER BY r.written_at DESC, r.review_id DESC LIMIT 1) AS after
	  FROM g)
SELECT count(*) AS rows_differing FROM (
	SELECT seller, count(*), count(*) FILTER (WHERE nreviews > 0), count(*) FILTER (WHERE first_at > as_of),
		   count(*) FILTER (WHERE before IS NOT NULL AND after IS NOT NULL),
		   round(avg(before) FILTER (WHERE after IS NOT NULL), 4), round(avg(after) FILTER (WHERE before IS NOT NULL), 4),
		   count(*) FILTER (WHERE after > before)
	  FROM per_grant GROUP BY seller
	EXCEPT
	SELECT seller, grants, reviewed, first_review_after, reviewed_both_sides, rating_before, rating_after, ratings_raised
	  FROM compensation.review_integrity('rv.reviews', :'keys', 'seller', '2031-01-01', '2031-04-01')) AS d;

-- 5. Signals and uncovered
SELECT compensation.define_signal('rv_late_1d', 'rv.orders', '{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1}',
	'{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "market": "market"}');
SELECT compensation.define_signal('rv_cancelled', 'rv.orders', '{"col": "status", "op": "=", "value": "cancelled"}',
	'{"order": "order_id", "buyer": "buyer_id", "at": "promised_at", "market": "market"}', 'seller_cancellation');
SELECT name, scenario, source, created_by = session_user AS by_session_user FROM compensation.signals ORDER BY name;
SELECT * FROM compensation.uncovered('2031-01-01', '2031-04-01');
-- the same from plain SQL
SELECT count(*) AS rows_differing FROM (
	SELECT 'rule', d.strategy, d.market, d.outcome, count(*), sum(d.amount)
	  FROM compensation.decisions AS d
	 WHERE d.strategy = 'rv_late' AND d.outcome NOT IN ('granted', 'holdout', 'duplicate')
	   AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = d.order_key AND NOT g.voided)
	 GROUP BY 2, 3, 4
	UNION ALL
	SELECT 'signal', 'rv_late_1d', o.market, 'no grant', count(*), NULL
	  FROM rv.orders AS o
	 WHERE o.delivered_at - o.promised_at >= interval '1 day'
	   AND NOT EXISTS (SELECT FROM compensation.grants AS g WHERE g.order_key = o.order_id AND NOT g.voided)
	 GROUP BY 3
	UNION ALL
	SELECT 'signal', 'rv_cancelled', o.market, 'no grant', count(*), NULL
	  FROM rv.orders AS o WHERE o.status = 'cancelled' GROUP BY 3
	EXCEPT
	SELECT kind, name, market, reason, orders, amount FROM compensation.uncovered('2031-01-01', '2031-04-01')) AS d;
SELECT compensation.signal_holds('rv_late_1d', o) AS holds, count(*) FROM rv.orders AS o GROUP BY 1 ORDER BY 1;
SELECT compensation.signal_holds('rv_nope', o) FROM rv.orders AS o LIMIT 1;

-- 6. Bad keys, bad signals, rights
SELECT * FROM compensation.review_farming('rv.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score"}');
SELECT * FROM compensation.review_farming('rv.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "nope"}');
SELECT * FROM compensation.review_farming('rv.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "review_id", "written_at": "written_at"}');
SELECT * FROM compensation.review_farming('rv.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at", "stars": "score"}');
SELECT * FROM compensation.review_farming('rv.reviews', '[1]');
SELECT * FROM compensation.review_integrity('rv.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at"}', 'seller');
SELECT * FROM compensation.review_integrity('rv.reviews', :'keys', 'buyer');
SELECT * FROM compensation.uncovered('2031-04-01', '2031-01-01');
SELECT compensation.define_signal('rv_bad', 'rv.orders', '{"col": "nope", "op": "=", "value": 1}', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}');
SELECT compensation.define_signal('rv_bad', 'rv.orders', '{"col": "status", "op": "~", "value": "x"}', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}');
SELECT compensation.define_signal('rv_bad', 'rv.orders', '{"col": "status", "op": "=", "value": "x"}', '{"order": "order_id", "buyer": "buyer_id", "at": "status"}');
SELECT compensation.define_signal('rv_bad', 'rv.orders', '{"col": "status", "op": "=", "value": "x"}', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "colour": "x"}');
SELECT compensation.define_signal('rv_bad', 'rv_orders_unqualified', '{"col": "status", "op": "=", "value": "x"}', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}');
SELECT compensation.define_signal('bad name!', 'rv.orders', '{"col": "status", "op": "=", "value": "x"}', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}');
SET ROLE compensation_reader;
SELECT * FROM compensation.review_farming('rv.secret_reviews', :'keys');
SELECT * FROM compensation.review_integrity('rv.secret_reviews', :'keys');
SELECT compensation.define_signal('rv_x', 'rv.orders', '{"col": "status", "op": "=", "value": "x"}', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}');
SELECT * FROM compensation.uncovered('2031-01-01', '2031-04-01', ARRAY['rv_cancelled']);
RESET ROLE;
SET ROLE compensation_admin;
SELECT compensation.drop_signal('rv_cancelled'), compensation.drop_signal('rv_cancelled');
RESET ROLE;
SELECT compensation.drop_signal('rv_late_1d');
