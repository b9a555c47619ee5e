-- bench/effect.sql — effect() over 1,000,000 decisions and 5,000,000
-- outcome rows, against the plain-SQL join and aggregates that compute the
-- same means and variances (and the cross products CUPED needs).  Run by
-- bench/run after bench.sql (it uses bench.median_ms and bench.record).
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET jit = off;

-- 1,000,000 decisions of 800,000 buyers (every fourth buyer decided twice),
-- 90% treated, assigned over 2026-10; 5,000,000 outcome rows of those
-- buyers over 2026-07 .. 2027-01.  Deterministic: hashes of the row number.
SELECT compensation.define_strategy('bench_effect', jsonb_build_object(
	'scenario', 'effect', 'source', 'bench.facts', 'instrument', 'points', 'program', 'bench_effect',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'delivered_at',
							   'currency', 'currency', 'market', 'market'),
	'when', jsonb_build_object('col', 'order_id', 'op', 'is not null'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'holdout', 0.1)) IS NOT NULL AS defined \gset
INSERT INTO compensation.candidate_outcome
	(strategy_id, order_key, version, program, exclusive_group, buyer, market, at, outcome, arm,
	 assigned_at, currency, amount_minor, budget_id, run_id, as_of)
SELECT s.strategy_id, 'bench_effect_' || i, 1, 'bench_effect', 'bench_effect', 'b' || b, 'BR',
	   t0, CASE WHEN treated THEN 'granted' ELSE 'holdout' END,
	   CASE WHEN treated THEN 'treatment' ELSE 'holdout' END, t0, 'BRL', 100, NULL, 1, t0
  FROM (SELECT i, b, (hashint8(b) & 1023) >= 102 AS treated,
			   timestamptz '2026-10-01' + ((hashint8(i * 3) & 2147483647) % 2678400) * interval '1 second' AS t0
		  FROM (SELECT i, CASE WHEN i <= 800000 THEN i ELSE (i - 800000) * 4 END AS b
				  FROM generate_series(1, 1000000) AS i) AS g) AS d
 CROSS JOIN compensation.strategy AS s
 WHERE s.name = 'bench_effect';
CREATE TABLE bench.effect_outcomes AS
SELECT 'b' || (1 + (hashint8(i) & 2147483647) % 800000) AS buyer_id,
	   timestamptz '2026-07-01' + ((hashint8(i * 5) & 2147483647) % 15897600) * interval '1 second' AS at,
	   round((hashint8(i * 11) & 65535) / 100.0, 2) AS value
  FROM generate_series(1, 5000000) AS i;
VACUUM (ANALYZE) bench.effect_outcomes, compensation.candidate_outcome;

\set effect_query 'SELECT * FROM compensation.effect(''bench_effect'', ''bench.effect_outcomes'', ''{"buyer": "buyer_id", "at": "at", "value": "value"}'', ''30 days'')'
\set plain_query 'WITH arms AS (SELECT DISTINCT ON (buyer) buyer, arm, assigned_at AS t0 FROM compensation.decisions WHERE strategy = ''bench_effect'' AND arm IS NOT NULL ORDER BY buyer, assigned_at, at, order_key), w AS (SELECT a.buyer, sum(o.value) FILTER (WHERE o.at > a.t0) AS y, sum(o.value) FILTER (WHERE o.at <= a.t0) AS x FROM arms AS a JOIN bench.effect_outcomes AS o ON o.buyer_id = a.buyer WHERE o.at > a.t0 - interval ''30 days'' AND o.at <= a.t0 + interval ''30 days'' GROUP BY a.buyer), b AS (SELECT a.arm, coalesce(w.y, 0) AS y, coalesce(w.x, 0) AS x FROM arms AS a LEFT JOIN w USING (buyer)) SELECT arm, count(*), avg(y), var_samp(y), avg(x), var_samp(x), sum(x * y) FROM b GROUP BY arm'

-- The same statistics, or the comparison means nothing.
SELECT (SELECT ARRAY[treated_mean, control_mean] FROM (:effect_query) AS e)
	 = (SELECT ARRAY[max(avg) FILTER (WHERE arm = 'treatment'), max(avg) FILTER (WHERE arm = 'holdout')]
		  FROM (:plain_query) AS p(arm, n, avg, var_y, avg_x, var_x, sxy)) AS effect_agrees \gset
\if :effect_agrees
\else
DO $$ BEGIN RAISE EXCEPTION 'bench: effect() disagrees with the plain-SQL join'; END $$;
\endif

SELECT bench.median_ms(:'plain_query', 3) AS effect_plain_ms \gset
SELECT bench.median_ms(:'effect_query', 3) AS effect_ms \gset
SELECT bench.record('effect(), 1M decisions, 5M outcome rows', 'the plain-SQL join and aggregates (means, variances, cross products)',
					:effect_ms, :effect_plain_ms, '<= 1.5x', :effect_ms <= 1.5 * :effect_plain_ms,
					'800,000 buyers; per buyer sums in the window before and after; CUPED theta and a second uplift() pass');
