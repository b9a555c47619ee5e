-- test/pgtap/effect_calibration.sql — are effect()'s 95% intervals 95%
-- intervals?  (issue #13, item 4)
--
-- 500 generated markets, each an experiment of 200 buyers (deterministic:
-- hashint8extended of the buyer number).  A buyer is treated with
-- probability 1/2; their propensity a is uniform over 0.00 .. 9.99; their
-- outcome in the 90 days before assignment is a + e0 and in the 90 days
-- after a + e1 + 0.50 when treated, e0 and e1 uniform over -2.00 .. 2.00
-- (integer cents, so the planted effect is exactly 0.50 in expectation).
-- One call of effect(..., by => 'market') estimates the 500 experiments.
--
-- Checks: the number of Welch 95% intervals that cover 0.50 lies in the
-- 99.9% binomial band for 500 markets at 0.95, [458, 489]
-- (scipy.stats.binom.ppf(0.0005, 500, 0.95) and isf(0.0005, ...):
-- P(X < 458) = 0.00047, P(X > 489) = 0.00046); the same for the CUPED
-- intervals; and the CUPED interval is narrower on average.  The figures
-- are printed (diag).  Everything is rolled back.

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';

SELECT plan(4);

CREATE FUNCTION pg_temp.cal_u(n bigint, k integer) RETURNS double precision
	LANGUAGE sql IMMUTABLE
	RETURN ((hashint8extended(n, 9100 + k) >> 11) & 4503599627370495)::double precision / 4503599627370496;

SELECT is(compensation.define_strategy('calibration', $${
	"scenario": "late_delivery", "source": "marketplace.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"col": "status", "op": "=", "value": "delivered"},
	"amount": {"type": "fixed", "value": 5},
	"instrument": "voucher", "program": "calibration", "holdout": 0.5}$$), 1, 'calibration strategy defined');

CREATE TEMP TABLE cal_buyer AS
SELECT b, 'cal_' || b AS buyer, 'm' || lpad((1 + (b - 1) / 200)::text, 3, '0') AS market,
	   pg_temp.cal_u(b, 1) < 0.5 AS treated,
	   timestamptz '2026-06-01 00:00+00' + (b % 40) * interval '1 day' AS t0,
	   floor(pg_temp.cal_u(b, 2) * 1000)::bigint AS a,
	   floor(pg_temp.cal_u(b, 3) * 401)::bigint - 200 AS e0,
	   floor(pg_temp.cal_u(b, 4) * 401)::bigint - 200 AS e1
  FROM generate_series(1::bigint, 500 * 200) AS g(b);

INSERT INTO compensation.candidate_outcome
	(strategy_id, order_key, version, program, exclusive_group, buyer, market, at, outcome, arm,
	 assigned_at, currency, amount_minor, budget_id, run_id, as_of)
SELECT s.strategy_id, 'o_' || c.buyer, 1, 'calibration', 'calibration', c.buyer, c.market, c.t0,
	   CASE WHEN c.treated THEN 'granted' ELSE 'holdout' END,
	   CASE WHEN c.treated THEN 'treatment' ELSE 'holdout' END,
	   c.t0, 'EUR', 500, NULL, 1, c.t0
  FROM cal_buyer AS c CROSS JOIN compensation.strategy AS s
 WHERE s.name = 'calibration';

CREATE TEMP TABLE cal_outcome (buyer text, at timestamptz, value numeric);
INSERT INTO cal_outcome
SELECT buyer, t0 - interval '5 days', (a + e0) / 100.0 FROM cal_buyer
UNION ALL
SELECT buyer, t0 + interval '5 days', (a + e1 + CASE WHEN treated THEN 50 ELSE 0 END) / 100.0 FROM cal_buyer;
ANALYZE cal_outcome, cal_buyer;

CREATE TEMP TABLE cal_effect AS
SELECT * FROM compensation.effect('calibration', 'pg_temp.cal_outcome',
								  '{"buyer": "buyer", "at": "at", "value": "value"}', by => 'market');

SELECT diag(format('calibration: %s markets; Welch 95%% intervals cover the planted 0.50 in %s (%s), CUPED in %s (%s); 99.9%% band [458, 489]',
				   count(*), count(*) FILTER (WHERE ci_low <= 0.5 AND 0.5 <= ci_high),
				   round(avg((ci_low <= 0.5 AND 0.5 <= ci_high)::int), 3),
				   count(*) FILTER (WHERE cuped_ci_low <= 0.5 AND 0.5 <= cuped_ci_high),
				   round(avg((cuped_ci_low <= 0.5 AND 0.5 <= cuped_ci_high)::int), 3)))
  FROM cal_effect;
SELECT diag(format('calibration: mean interval width: Welch %s, CUPED %s (%s%% narrower); mean theta %s; mean mde %s, CUPED %s',
				   round(avg(ci_high - ci_low)::numeric, 4), round(avg(cuped_ci_high - cuped_ci_low)::numeric, 4),
				   round(100 * (1 - avg(cuped_ci_high - cuped_ci_low) / avg(ci_high - ci_low))::numeric, 1),
				   round(avg(theta), 3), round(avg(mde)::numeric, 4), round(avg(cuped_mde)::numeric, 4)))
  FROM cal_effect;

SELECT ok((SELECT count(*) = 500 AND count(*) FILTER (WHERE ci_low <= 0.5 AND 0.5 <= ci_high) BETWEEN 458 AND 489
			 FROM cal_effect),
		  'calibration: Welch intervals cover the planted effect in 458 .. 489 of 500 markets');
SELECT ok((SELECT count(*) FILTER (WHERE cuped_ci_low <= 0.5 AND 0.5 <= cuped_ci_high) BETWEEN 458 AND 489
			 FROM cal_effect),
		  'calibration: CUPED intervals cover the planted effect in 458 .. 489 of 500 markets');
SELECT ok((SELECT avg(cuped_ci_high - cuped_ci_low) < avg(ci_high - ci_low) FROM cal_effect),
		  'calibration: the CUPED interval is narrower on average');

SELECT * FROM finish();
ROLLBACK;
