-- test/pgtap/oracle_decisions.sql — the decisions, the holdout decided last
-- and even pacing, replayed day by day, against plain SQL: on generated
-- data, and on the real Olist orders when they are loaded (schema olist).
-- Everything is rolled back.

SELECT to_regclass('olist.order_experience') IS NOT NULL AS decisions_have_olist \gset

BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL TimeZone = 'UTC';
SELECT plan(13);

-- ---------------------------------------------------------------------------
-- 1. Generated: 4,000 orders over 2029-Q4, a budget that runs out halfway,
-- a 20% holdout, applied daily.  The holdout is decided last: it is the
-- configured share of would-be grants while the budget funds, and nothing
-- is held out once it does not.
-- ---------------------------------------------------------------------------
CREATE TABLE public.hq_src AS
SELECT 'h' || i AS order_id, 'hb' || i AS buyer_id,
	   timestamptz '2029-10-01' + (i % 92) * interval '1 day' + (i % 24) * interval '1 hour' AS at
  FROM generate_series(1, 4000) AS i;
DO $$
DECLARE
	d timestamptz;
BEGIN
	PERFORM compensation.set_budget('hq', '2029-Q4', 1600, 'EUR');
	PERFORM compensation.define_strategy('hq', jsonb_build_object(
		'scenario', 'holdout share', 'source', 'public.hq_src', 'program', 'hq', 'instrument', 'points',
		'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'), 'currency', 'EUR',
		'when', jsonb_build_object('col', 'order_id', 'op', 'is not null'),
		'amount', jsonb_build_object('type', 'fixed', 'value', 1), 'holdout', 0.2));
	PERFORM compensation.activate('hq');
	FOR d IN SELECT generate_series(timestamptz '2029-10-02', timestamptz '2030-01-01', interval '1 day') LOOP
		PERFORM compensation.apply('hq', d);
	END LOOP;
END $$;

CREATE TEMP VIEW hq_halves AS
SELECT d.at < timestamptz '2029-11-15' AS first_half,
	   count(*) FILTER (WHERE d.arm = 'holdout') AS holdouts,
	   count(*) FILTER (WHERE d.arm IS NOT NULL) AS reached
  FROM compensation.decisions AS d WHERE d.strategy = 'hq'
 GROUP BY 1;

SELECT ok((SELECT abs(holdouts::float8 / reached - 0.2) <= 2.576 * sqrt(0.2 * 0.8 / reached)
			 FROM hq_halves WHERE first_half),
		  'first half (the budget funds): the holdout share is within the 99% binomial band of 20%');
SELECT ok((SELECT reached = 0 OR abs(holdouts::float8 / reached - 0.2) <= 2.576 * sqrt(0.2 * 0.8 / reached)
			 FROM hq_halves WHERE NOT first_half),
		  'second half: within the band too, or nothing reached the holdout decision');
SELECT is((SELECT count(*) FROM compensation.decisions AS d
			JOIN compensation.budgets AS b ON b.program = 'hq'
		   WHERE d.strategy = 'hq' AND d.arm = 'holdout' AND d.assigned_at > b.exhausted_at),
		  0::bigint, 'nothing is held out after the budget could not fund a candidate');
SELECT is((SELECT spent_minor FROM compensation.budget WHERE program = 'hq'),
		  (SELECT sum(amount_minor)::bigint FROM compensation.ledger WHERE program = 'hq'),
		  'only grants spent the budget');
SELECT is((SELECT count(*) FROM compensation.decisions WHERE strategy = 'hq'),
		  (SELECT count(*) FROM public.hq_src WHERE at <= '2030-01-01'),
		  'every row met the rule once: one decision per order');

-- strategy_performance and funnel against the decisions and the ledger
SELECT is((SELECT row(candidates, grants, holdouts, skipped_budget, expired)
			 FROM compensation.strategy_performance WHERE strategy = 'hq'),
		  (SELECT row(count(*), (SELECT count(*) FROM compensation.ledger WHERE program = 'hq'),
					  count(*) FILTER (WHERE arm = 'holdout'),
					  count(*) FILTER (WHERE outcome = 'budget'), count(*) FILTER (WHERE outcome = 'expired'))
			 FROM compensation.decisions WHERE strategy = 'hq'),
		  'strategy_performance equals plain SQL over the decisions and the ledger');
SELECT set_eq($$SELECT stage, orders, amount FROM compensation.funnel('hq', '2029-10-01', '2030-01-01')$$,
			  $$SELECT 'met the rule', count(*), sum(amount) FROM compensation.decisions WHERE strategy = 'hq'
				UNION ALL
				SELECT CASE outcome WHEN 'granted' THEN 'granted' WHEN 'holdout' THEN 'held out'
									WHEN 'budget' THEN 'out of budget or pace' WHEN 'expired' THEN 'expired' END,
					   count(*), sum(amount)
				  FROM compensation.decisions WHERE strategy = 'hq' GROUP BY outcome$$,
			  'funnel equals plain SQL over the decisions');

-- ---------------------------------------------------------------------------
-- 2. Olist: late deliveries of 2018-Q1 with an evenly paced budget, applied
-- daily: cumulative spend never passes the even line, and the decisions,
-- strategy_performance and funnel agree with plain SQL.
-- ---------------------------------------------------------------------------
\if :decisions_have_olist
CREATE TEMP TABLE olist_replay (day timestamptz, spent_minor bigint, even_minor bigint);
DO $$
DECLARE
	d timestamptz;
BEGIN
	PERFORM compensation.set_budget('olist_paced', '2018-Q1', 300.00, 'BRL', pacing => 'even');
	PERFORM compensation.define_strategy('olist_paced', $spec${
		"scenario": "late_delivery", "source": "olist.order_experience", "program": "olist_paced",
		"instrument": "voucher", "max_age": "30 days",
		"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "market": "market",
				 "currency": "currency", "value": "order_value"},
		"when": {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1},
		"amount": {"type": "percent", "of": "order_value", "rate": 0.05, "min": 2, "max": 15},
		"rank": "order_value"}$spec$::jsonb);
	PERFORM compensation.activate('olist_paced');
	FOR d IN SELECT generate_series(timestamptz '2018-01-01 12:00', timestamptz '2018-03-31 12:00', interval '1 day') LOOP
		PERFORM compensation.apply('olist_paced', d);
		INSERT INTO pg_temp.olist_replay
		SELECT d, b.spent_minor,
			   floor(b.amount_minor * extract(epoch FROM date_trunc('day', d) + interval '1 day' - timestamptz '2018-01-01')
					 / extract(epoch FROM timestamptz '2018-04-01' - timestamptz '2018-01-01'))
		  FROM compensation.budget AS b WHERE b.program = 'olist_paced';
	END LOOP;
END $$;
SELECT ok((SELECT bool_and(spent_minor <= even_minor) FROM pg_temp.olist_replay),
		  'Olist: cumulative spend never passes the even line');
SELECT ok((SELECT max(spent_minor) - min(spent_minor) > 0 FROM pg_temp.olist_replay WHERE day >= '2018-03-24'),
		  'Olist: the budget still funds in the quarter''s last week');
SELECT is((SELECT count(*) FROM compensation.decisions WHERE strategy = 'olist_paced'),
		  (SELECT count(*) FROM olist.order_experience
			WHERE delivered_at >= timestamptz '2018-01-01 12:00' - interval '30 days'
			  AND delivered_at <= '2018-03-31 12:00'
			  AND floor(extract(epoch FROM delivered_at - promised_at) / 86400) >= 1
			  AND order_value IS NOT NULL),
		  'Olist: one decision per late order delivered in the runs'' windows (plain SQL)');
SELECT is((SELECT row(candidates, grants, holdouts, skipped_budget, skipped_pace, expired)
			 FROM compensation.strategy_performance WHERE strategy = 'olist_paced'),
		  (SELECT row(count(*), (SELECT count(*) FROM compensation.ledger WHERE program = 'olist_paced'),
					  count(*) FILTER (WHERE arm = 'holdout'), count(*) FILTER (WHERE outcome = 'budget'),
					  count(*) FILTER (WHERE outcome = 'pace'), count(*) FILTER (WHERE outcome = 'expired'))
			 FROM compensation.decisions WHERE strategy = 'olist_paced'),
		  'Olist: strategy_performance equals plain SQL');
SELECT is((SELECT sum(orders)::bigint FROM compensation.funnel('olist_paced', '2017-12-01', '2018-04-01')
			WHERE stage <> 'met the rule' AND stage <> 'voided'),
		  (SELECT count(*) FROM compensation.decisions WHERE strategy = 'olist_paced'),
		  'Olist: the funnel''s stages add up to the orders that met the rule');
SELECT is((SELECT sum(amount_minor)::bigint FROM compensation.ledger WHERE program = 'olist_paced'),
		  (SELECT spent_minor FROM compensation.budget WHERE program = 'olist_paced'),
		  'Olist: the budget spent what was granted');
SELECT diag(format('Olist 2018-Q1, paced 300.00 BRL: %s late orders decided, %s granted (%s BRL), %s skipped for pace, %s for budget, %s expired',
			candidates, grants, amount_by_currency ->> 'BRL', skipped_pace, skipped_budget, expired))
  FROM compensation.strategy_performance WHERE strategy = 'olist_paced';
\else
SELECT skip('Olist data not loaded (COMPENSATION_OLIST_DIR)', 6);
\endif

SELECT * FROM finish();
ROLLBACK;
