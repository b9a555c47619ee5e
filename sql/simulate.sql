-- simulate and simulate_all: backtests at a cadence with the engine of a
-- real run.  simulate_all equals a day-by-day replay of the strategies'
-- applies (in apply_all's order) on an empty ledger, and simulate_all of one
-- strategy equals simulate of it.
SET TimeZone = 'UTC';
CREATE TABLE public.sim_src (order_id text, buyer_id text, at timestamptz, value numeric, rating integer);
-- 400 orders over the quarter, 4 a day, some with a low rating
INSERT INTO public.sim_src
SELECT 's' || i, 'sb' || (i % 150), timestamptz '2027-01-01' + i * interval '5 hours 24 minutes',
	   20 + (i * 7) % 80, 1 + (i * 3) % 5
  FROM generate_series(0, 399) AS i;
CREATE FUNCTION pg_temp.spec(extra jsonb) RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'simulate', 'source', 'public.sim_src', 'program', 'sim', 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'currency', 'EUR', 'exclusive', 'sim', 'max_age', '20 days',
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.1)) || extra $$;
-- two strategies compete in one group; the first has priority and a holdout,
-- the second a per-buyer cap; one paced budget for the quarter
SELECT compensation.set_budget('sim', '2027-Q1', 1400.00, 'EUR', pacing => 'even') > 0 AS budget;
SELECT compensation.define_strategy('sim_low_rating', pg_temp.spec(
		'{"priority": 5, "holdout": 0.2, "when": {"col": "rating", "op": "<=", "value": 2}}')),
	   compensation.define_strategy('sim_any', pg_temp.spec(
		'{"priority": 1, "when": {"col": "value", "op": ">=", "value": 50},
		  "caps": {"per_buyer_count": {"max": 1, "window": "30 days"}}}'));

-- the backtest, written nothing
CREATE TEMP TABLE simulated AS
SELECT * FROM compensation.simulate_all('2027-01-01', '2027-04-01',
										strategies => ARRAY['sim_low_rating', 'sim_any']);
SELECT strategy, outcome, count(*), sum(amount) FROM simulated GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS written FROM compensation.decisions WHERE strategy LIKE 'sim%';

-- the same days, applied for real, in apply_all's order
SELECT compensation.activate('sim_low_rating'), compensation.activate('sim_any');
DO $$
DECLARE
	d timestamptz;
BEGIN
	FOR d IN SELECT generate_series(timestamptz '2027-01-02', timestamptz '2027-04-01', interval '1 day') LOOP
		PERFORM compensation.apply('sim_low_rating', d);
		PERFORM compensation.apply('sim_any', d);
	END LOOP;
END $$;
SELECT (SELECT count(*) FROM simulated) AS simulated_orders,
	   (SELECT count(*) FROM compensation.decisions WHERE strategy LIKE 'sim%') AS decided_orders,
	   (SELECT count(*) FROM simulated AS s
		  FULL JOIN (SELECT * FROM compensation.decisions WHERE strategy LIKE 'sim%') AS d
			USING (strategy, order_key)
		 WHERE s.outcome IS DISTINCT FROM d.outcome OR s.amount IS DISTINCT FROM d.amount) AS differences;
SELECT (SELECT sum(amount) FROM simulated WHERE outcome = 'granted')
	   = (SELECT sum(amount) FROM compensation.grants WHERE program = 'sim') AS same_spend;

-- simulate_all of one strategy with one budget equals simulate of it
SELECT count(*) AS differences
  FROM (SELECT order_key, at, amount, outcome
		  FROM compensation.simulate_all('2027-01-01', '2027-04-01',
										 budgets => '{"sim": {"amount": 80, "currency": "EUR", "pacing": "even"}}',
										 strategies => ARRAY['sim_any'])) AS a
  FULL JOIN (SELECT order_key, at, amount, outcome
			   FROM compensation.simulate('sim_any', '2027-01-01', '2027-04-01', budget => 80,
										  pacing => 'even')) AS b USING (order_key)
 WHERE a.outcome IS DISTINCT FROM b.outcome OR a.amount IS DISTINCT FROM b.amount;
SELECT outcome, count(*) FROM compensation.simulate('sim_any', '2027-01-01', '2027-04-01', budget => 80,
													pacing => 'even')
 GROUP BY 1 ORDER BY 1;

-- errors
\x on
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate_all('2027-04-01', '2027-01-01')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate_all('2027-01-01', '2027-04-01', budgets => '[1]')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate_all('2027-01-01', '2027-04-01', budgets => '{"sim": 5}', strategies => ARRAY['sim_any'])$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate_all('2027-01-01', '2027-04-01', cadence => '0 days')$$);
\x off
