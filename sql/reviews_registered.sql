-- A registered reviews source: register_reviews, unregister_reviews and the
-- review columns of strategy_performance (reviews first written or raised
-- after a grant, their rate and its flag), against plain SQL on planted
-- strategies; the threshold's edges; rights.
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- 1. Orders of 2032-Q1 and five strategies, each granting one kind of order
--    5 EUR in one run (as_of 2032-02-01):
--    rrg_recover (40 orders) answers low reviews written before the grant;
--    5 of them are raised after it: rate 5/40, not flagged;
--    rrg_buy (30) is mostly reviewed after: 20 first reviews after the
--    grant, 6 raised ones of which 2 are not (order 61's latest review after
--    is 1 star; order 62 has two reviews at the same time after, the later
--    review id, 1 star, counts), 4 before only; order 41's grant is voided:
--    23 / 29, flagged;
--    rrg_small (10): every review after, but fewer than 20: not flagged;
--    rrg_edge (20): 10 first reviews after: exactly one half, not flagged;
--    rrg_nil (5): no reviews.
CREATE SCHEMA rr;
CREATE TABLE rr.orders (order_id text PRIMARY KEY, buyer_id text NOT NULL, kind text NOT NULL,
	market text, currency text, delivered_at timestamptz);
INSERT INTO rr.orders
SELECT 'rrg' || i, 'rrg-b' || (i % 13),
	   CASE WHEN i <= 40 THEN 'recover' WHEN i <= 70 THEN 'buy' WHEN i <= 80 THEN 'small'
			WHEN i <= 85 THEN 'nil' WHEN i <= 90 THEN 'other' ELSE 'edge' END,
	   'FR', 'EUR', timestamptz '2032-01-01' + i * interval '1 hour'
  FROM generate_series(1, 110) AS i;
SELECT count(*) > 0 AS budgets_set
  FROM (SELECT compensation.set_budget('rrg_' || k, '2032-Q1', 1000, 'EUR')
		  FROM unnest(ARRAY['recover', 'buy', 'small', 'nil', 'edge']) AS k) AS b;
SELECT compensation.define_strategy('rrg_' || k, jsonb_build_object(
		'scenario', 'review_' || k, 'source', 'rr.orders', 'instrument', 'voucher', 'program', 'rrg_' || k,
		'exclusive', 'rrg_' || k, 'max_age', NULL,
		'keys', '{"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "currency": "currency", "market": "market"}'::jsonb,
		'when', jsonb_build_object('col', 'kind', 'op', '=', 'value', k),
		'amount', '{"type": "fixed", "value": 5}'::jsonb)) AS version
  FROM unnest(ARRAY['recover', 'buy', 'small', 'nil', 'edge']) AS k;
SELECT k, compensation.activate('rrg_' || k) AS active FROM unnest(ARRAY['recover', 'buy', 'small', 'nil', 'edge']) AS k;
SELECT k, (compensation.apply('rrg_' || k, '2032-02-01')).granted FROM unnest(ARRAY['recover', 'buy', 'small', 'nil', 'edge']) AS k;
SELECT compensation.void_grant(grant_id, 'test: a voided grant does not count')
  FROM compensation.grants WHERE order_key = 'rrg41';
-- a second version, never active: no grants
SELECT compensation.define_strategy('rrg_recover', spec || '{"priority": 5}')
  FROM compensation.strategies WHERE name = 'rrg_recover' AND version = 1;

CREATE TABLE rr.reviews (review_id text, order_id text, buyer_id text, score integer, written_at timestamptz);
INSERT INTO rr.reviews
SELECT 'rb' || i, 'rrg' || i, 'rrg-b' || (i % 13), s.score, s.written_at
  FROM generate_series(1, 110) AS i
 CROSS JOIN LATERAL (VALUES
	-- recover: a low review before the grant; 1..5 raised to 5 after it
	(CASE WHEN i <= 40 THEN 1 + i % 2 END, timestamptz '2032-01-15'),
	(CASE WHEN i <= 5 THEN 5 END, timestamptz '2032-02-10'),
	-- buy: 41..60 first reviewed after; 61..66 raised; 67..70 before only
	(CASE WHEN i BETWEEN 41 AND 60 THEN 5 END, timestamptz '2032-02-05'),
	(CASE WHEN i BETWEEN 61 AND 70 THEN CASE WHEN i <= 66 THEN 2 ELSE 3 END END, timestamptz '2032-01-20'),
	(CASE WHEN i BETWEEN 61 AND 66 THEN 5 END, timestamptz '2032-02-06'),
	-- small: all after; other (not granted): some review; edge: 91..100 after, 101..110 before
	(CASE WHEN i BETWEEN 71 AND 80 THEN 5 END, timestamptz '2032-02-03'),
	(CASE WHEN i BETWEEN 86 AND 90 THEN 1 END, timestamptz '2032-01-10'),
	(CASE WHEN i BETWEEN 91 AND 100 THEN 4 END, timestamptz '2032-02-04'),
	(CASE WHEN i BETWEEN 101 AND 110 THEN 4 END, timestamptz '2032-01-25')) AS s(score, written_at)
 WHERE s.score IS NOT NULL;
-- several reviews of one order: 61's latest after the grant is 1 star; 62
-- has two at the same time, and the greater review id (1 star) is the latest
INSERT INTO rr.reviews VALUES ('rc61', 'rrg61', 'rrg-b9', 1, '2032-02-07'), ('rz62', 'rrg62', 'rrg-b10', 1, '2032-02-06');
CREATE TABLE rr.secret_reviews AS SELECT * FROM rr.reviews;
GRANT USAGE ON SCHEMA rr TO compensation_reader;
GRANT SELECT ON rr.reviews TO compensation_admin;
-- readers may read some columns only: not enough to compute a figure
GRANT SELECT (review_id, order_id, buyer_id) ON rr.reviews TO compensation_reader;
\set keys '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at", "review": "review_id"}'

-- 2. The review columns come after the view's own, NULL until a source is
--    registered.
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'compensation.strategy_performance'::regclass AND attnum > 15 ORDER BY attnum;
SELECT count(*) FILTER (WHERE strategy LIKE 'rrg%') AS rrg_versions, count(reviewed_grants) AS with_review_figures
  FROM compensation.strategy_performance;
SELECT * FROM compensation.strategy_review_rates();

-- 3. Registering: bad input, rights
SELECT compensation.register_reviews(NULL, :'keys');
SELECT compensation.register_reviews('rr.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "written_at", "stars": "score"}');
SELECT compensation.register_reviews('rr.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "nope"}');
SELECT compensation.register_reviews('rr.reviews', '{"order": "order_id", "buyer": "buyer_id", "rating": "review_id", "written_at": "written_at"}');
CREATE TEMP TABLE temp_reviews AS SELECT * FROM rr.reviews;
SELECT compensation.register_reviews('temp_reviews', :'keys');
SET ROLE compensation_reader;
SELECT compensation.register_reviews('rr.reviews', :'keys');
SELECT compensation.unregister_reviews();
RESET ROLE;
SET SESSION AUTHORIZATION compensation_admin;
SELECT compensation.register_reviews('rr.secret_reviews', :'keys');
SELECT compensation.register_reviews('rr.reviews', :'keys');
RESET SESSION AUTHORIZATION;
SELECT relation, keys = :'keys'::jsonb AS same_keys, registered_by FROM compensation.reviews_source;

-- 4. The figures, and the same from plain SQL: per version, its grants not
--    voided whose order has a review; first reviewed after the grant; the
--    latest rating after it above the latest at or before it.
SELECT strategy, version, grants, reviewed_grants, first_review_after, ratings_raised, bought_review_rate,
	   bought_review_flag
  FROM compensation.strategy_performance WHERE strategy LIKE 'rrg%' ORDER BY strategy, version;
WITH per_grant AS (
	SELECT g.strategy, g.version, g.as_of,
		   (SELECT min(r.written_at) FROM rr.reviews AS r WHERE r.order_id = g.order_key) AS first_at,
		   (SELECT r.score FROM rr.reviews AS r WHERE r.order_id = g.order_key AND r.written_at <= g.as_of
			 ORDER BY r.written_at DESC, r.review_id DESC LIMIT 1) AS before,
		   (SELECT r.score FROM rr.reviews AS r WHERE r.order_id = g.order_key AND r.written_at > g.as_of
			 ORDER BY r.written_at DESC, r.review_id DESC LIMIT 1) AS after
	  FROM compensation.grants AS g WHERE NOT g.voided),
per_version AS (
	SELECT s.name AS strategy, s.version,
		   count(p.first_at) AS reviewed,
		   count(*) FILTER (WHERE p.first_at > p.as_of) AS first_after,
		   count(*) FILTER (WHERE p.after > p.before) AS raised
	  FROM compensation.strategies AS s
	  LEFT JOIN per_grant AS p ON p.strategy = s.name AND p.version = s.version
	 GROUP BY 1, 2),
plain AS (
	SELECT strategy, version, reviewed, first_after, raised,
		   round((first_after + raised) / nullif(reviewed, 0)::numeric, 4) AS rate,
		   reviewed >= 20 AND (first_after + raised) / nullif(reviewed, 0)::numeric > 0.5 AS flag
	  FROM per_version),
reported AS (
	SELECT strategy, version, reviewed_grants, first_review_after, ratings_raised, bought_review_rate, bought_review_flag
	  FROM compensation.strategy_performance)
SELECT (SELECT count(*) FROM (TABLE plain EXCEPT TABLE reported) AS d)
	   + (SELECT count(*) FROM (TABLE reported EXCEPT TABLE plain) AS d) AS rows_differing,
	   (SELECT count(*) FROM plain WHERE strategy LIKE 'rrg%') AS rrg_versions;
-- the flag fires for the planted strategy only
SELECT strategy, version FROM compensation.strategy_performance WHERE bought_review_flag;

-- 5. Rights: admins read the reviews and see the figures; readers may read
--    the view but not the rating and time columns, so they see no figure
--    (not a partial one).
SET ROLE compensation_admin;
SELECT strategy, reviewed_grants, bought_review_rate, bought_review_flag
  FROM compensation.strategy_performance WHERE strategy = 'rrg_buy';
SET ROLE compensation_reader;
SELECT strategy, grants, reviewed_grants, first_review_after, ratings_raised, bought_review_rate, bought_review_flag
  FROM compensation.strategy_performance WHERE strategy LIKE 'rrg%' ORDER BY strategy, version;
SELECT count(*) AS rows_for_reader FROM compensation.strategy_review_rates();
RESET ROLE;

-- 6. Registering again replaces the source: the reviews written before the
--    run only (a view) leave nothing after a grant.
--    (Its operator is qualified: test/shell/trojans.sh runs this file with
--    look-alike operators first on the search_path.)
CREATE VIEW rr.early_reviews AS SELECT * FROM rr.reviews WHERE written_at OPERATOR(pg_catalog.<) '2032-02-01';
SELECT compensation.register_reviews('rr.early_reviews', :'keys');
SELECT count(*) AS sources, min(relation) AS relation FROM compensation.reviews_source;
SELECT strategy, reviewed_grants, first_review_after, ratings_raised, bought_review_rate, bought_review_flag
  FROM compensation.strategy_performance WHERE strategy LIKE 'rrg%' AND version = 1 ORDER BY strategy;

-- 7. A registered source dropped: a clear error until it is registered
--    again or removed; unregistering brings the NULLs back.
CREATE TABLE rr.gone AS SELECT * FROM rr.reviews;
SELECT compensation.register_reviews('rr.gone', :'keys');
DROP TABLE rr.gone;
SELECT strategy FROM compensation.strategy_performance;
CREATE TABLE rr.gone AS SELECT review_id, order_id, buyer_id, score AS stars, written_at FROM rr.reviews;
SELECT strategy FROM compensation.strategy_performance;
SELECT compensation.unregister_reviews() AS removed, compensation.unregister_reviews() AS removed_again;
SELECT count(*) FILTER (WHERE strategy LIKE 'rrg%') AS rrg_versions, count(reviewed_grants) AS with_review_figures
  FROM compensation.strategy_performance;
