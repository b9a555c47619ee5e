-- effect: treatment against holdout on an outcome source, per buyer
-- (src/sql/65_effect.sql).  The statistics are checked against plain SQL
-- and SciPy in test/pgtap/oracle_effect.sql, their calibration in
-- test/pgtap/effect_calibration.sql; here: what a call returns, the unit
-- (the buyer), the windows, bad input and whose rights read the outcomes.
SET TimeZone = 'UTC';
CREATE TABLE public.effect_src (order_id text, buyer_id text, at timestamptz, value numeric, segment text);
INSERT INTO public.effect_src
SELECT 'o' || i, 'b' || (i % 40), timestamptz '2026-10-01' + i * interval '1 hour', 10 + i % 50,
	   CASE WHEN i % 40 < 10 THEN 'vip' ELSE 'regular' END
  FROM generate_series(1, 120) AS i;
SELECT compensation.define_strategy('effect_s', jsonb_build_object(
	'scenario', 'effect', 'source', 'public.effect_src',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'currency', 'EUR',
	'when', jsonb_build_object('col', 'value', 'op', '>', 'value', 0),
	'amount', jsonb_build_object('type', 'fixed', 'value', 5),
	'holdout', 0.3,
	'instrument', 'voucher', 'program', 'effect')) AS version;
SELECT compensation.activate('effect_s');
SELECT compensation.set_budget('effect', '2026-Q4', 100000, 'EUR') > 0 AS budget;
SELECT granted, skipped_holdout FROM compensation.apply('effect_s', as_of => '2026-11-01');
-- every order has an arm; a buyer has three orders, all in one arm
SELECT arm, count(*) AS orders, count(DISTINCT buyer) AS buyers
  FROM compensation.decisions WHERE strategy = 'effect_s' GROUP BY arm ORDER BY arm;

-- outcomes: a purchase of 10 + (buyer number) before, and 20 + (buyer
-- number) after, plus 5 for treated buyers; a second purchase after for
-- every fourth buyer; rows outside 30 days that a 30-day window leaves out
CREATE TABLE public.effect_outcomes (buyer_id text, at timestamptz, value numeric,
									 kind text, local_at timestamp);
INSERT INTO public.effect_outcomes
SELECT d.buyer, d.assigned_at + o.shift, o.value + substr(d.buyer, 2)::int
		   + CASE WHEN o.shift > interval '0' AND d.arm = 'treatment' THEN 5 ELSE 0 END,
	   'purchase', NULL::timestamp
  FROM (SELECT DISTINCT buyer, arm, assigned_at FROM compensation.decisions WHERE strategy = 'effect_s') AS d
 CROSS JOIN (VALUES (interval '-3 days', 10), (interval '4 days', 20), (interval '45 days', 1000),
					(interval '-45 days', 1000)) AS o(shift, value)
UNION ALL
SELECT d.buyer, d.assigned_at + interval '10 days', 7, 'purchase', NULL::timestamp
  FROM (SELECT DISTINCT buyer, assigned_at FROM compensation.decisions WHERE strategy = 'effect_s') AS d
 -- (guarded: the planner may test it on other strategies' buyers first)
 WHERE CASE WHEN d.buyer ~ '^b[0-9]+$' THEN substr(d.buyer, 2)::int % 4 = 0 END;

-- the effect on spend within 30 days: per buyer, both purchases summed
SELECT by_value, treated_n, control_n, round(treated_mean, 4) AS treated_mean,
	   round(control_mean, 4) AS control_mean, round(difference, 4) AS difference,
	   round(ci_low::numeric, 4) AS ci_low, round(ci_high::numeric, 4) AS ci_high,
	   round(mde::numeric, 4) AS mde, round(theta, 6) AS theta, round(cuped_difference, 4) AS cuped_difference,
	   round(cuped_ci_low::numeric, 4) AS cuped_ci_low, round(cuped_ci_high::numeric, 4) AS cuped_ci_high,
	   currency, cost, round(roi::numeric, 4) AS roi
  FROM compensation.effect('effect_s', 'public.effect_outcomes',
						   '{"buyer": "buyer_id", "at": "at", "value": "value"}', '30 days');
-- a count outcome (no value key): purchases within 30 days, by a source column
SELECT by_value, treated_n, control_n, round(treated_mean, 4) AS treated_mean,
	   round(control_mean, 4) AS control_mean, round(difference, 4) AS difference,
	   round(treated_pre_mean, 4) AS treated_pre_mean, theta
  FROM compensation.effect('effect_s', 'public.effect_outcomes',
						   '{"buyer": "buyer_id", "at": "at"}', '30 days', by => 'segment');
-- 60 days: the rows 45 days away are in the window now
SELECT treated_n, control_n, round(treated_mean, 4) AS treated_mean, round(treated_pre_mean, 4) AS treated_pre_mean
  FROM compensation.effect('effect_s', 'public.effect_outcomes',
						   '{"buyer": "buyer_id", "at": "at", "value": "value"}', '60 days');
-- windows still open at as_of are left out: no buyer yet
SELECT count(*) AS rows_before_the_windows_close
  FROM compensation.effect('effect_s', 'public.effect_outcomes',
						   '{"buyer": "buyer_id", "at": "at"}', '30 days', as_of => '2026-11-20');
SELECT treated_n + control_n AS buyers_once_closed
  FROM compensation.effect('effect_s', 'public.effect_outcomes',
						   '{"buyer": "buyer_id", "at": "at"}', '30 days', as_of => '2026-12-01');
-- a void keeps the buyer in treatment and takes the grant out of the cost
SELECT compensation.void_grant(min(grant_id), 'regress') IS NOT NULL AS voided
  FROM compensation.grants WHERE strategy = 'effect_s';
SELECT treated_n, control_n, cost
  FROM compensation.effect('effect_s', 'public.effect_outcomes',
						   '{"buyer": "buyer_id", "at": "at"}', '30 days');

-- bad input: an error naming the argument or the key, with a hint
SELECT * FROM regress.error_of($$SELECT compensation.effect(NULL, 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', NULL, '{"buyer": "buyer_id", "at": "at"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('nope', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '["buyer_id"]')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at", "when": "at"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": 3}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at", "value": "amount"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer", "at": "at"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "local_at"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at", "value": "kind"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', '-30 days')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', '0 days')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', "from" => '2026-12-01', "to" => '2026-11-01')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', by => 'colour')$$);
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'compensation.strategy_pkey', '{"buyer": "buyer_id", "at": "at"}')$$);

-- whose rights: the caller's.  A reader who may not read the outcomes gets
-- permission denied; granted, the same call works.
SET ROLE compensation_reader;
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', '30 days')$$);
RESET ROLE;
GRANT SELECT ON public.effect_outcomes TO compensation_reader;
SET ROLE compensation_reader;
SELECT treated_n, control_n
  FROM compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', '30 days');
-- by a source column: the source is read with the caller's rights too
SELECT * FROM regress.error_of($$SELECT compensation.effect('effect_s', 'public.effect_outcomes', '{"buyer": "buyer_id", "at": "at"}', '30 days', by => 'segment')$$);
RESET ROLE;
REVOKE SELECT ON public.effect_outcomes FROM compensation_reader;
