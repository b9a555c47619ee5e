-- decisions: every candidate's latest outcome per strategy; the holdout
-- decided last; ranked funding; even pacing; expiry; strategy_performance
-- and funnel against plain SQL over the same rows.
SET TimeZone = 'UTC';
CREATE TABLE public.dc_src (order_id text, buyer_id text, at timestamptz, value numeric,
							score numeric, market text);
-- 60 orders over October 2026, one an hour from the 1st, values 10..69
INSERT INTO public.dc_src
SELECT 'd' || lpad(i::text, 2, '0'), 'db' || (i % 40), timestamptz '2026-10-01 00:00' + (i * 12) * interval '1 hour',
	   10 + i, (i * 37) % 11, CASE WHEN i % 3 = 0 THEN 'FR' ELSE 'DE' END
  FROM generate_series(0, 59) AS i;
CREATE FUNCTION pg_temp.spec(extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'decisions', 'source', 'public.dc_src', 'program', 'dc', 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at', 'market', 'market'),
	'currency', 'EUR',
	'when', jsonb_build_object('col', 'value', 'op', '>=', 'value', 10),
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.1)) || extra $$;

-- 1. The holdout is decided last: with a budget that runs out, the held-out
-- orders are among those the budget would have funded, and never spend it.
SELECT compensation.set_budget('dc', '2026-Q4', 60.00, 'EUR') > 0 AS budget;
SELECT compensation.define_strategy('dc_hold', pg_temp.spec('{"holdout": 0.25}')),
	   compensation.activate('dc_hold');
SELECT candidates, granted, amount, skipped_holdout, skipped_budget
  FROM compensation.apply('dc_hold', '2026-11-01');
-- every holdout would have fitted what was left when it was decided: the
-- budget is spent, in order, by grants only
WITH d AS (SELECT order_key, outcome, arm, amount_minor, at FROM compensation.decisions WHERE strategy = 'dc_hold'),
	 walk AS (SELECT order_key, outcome, amount_minor,
					 6000 - coalesce(sum(amount_minor) FILTER (WHERE outcome = 'granted')
										 OVER (ORDER BY at, order_key ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS left_before
				FROM d)
SELECT count(*) FILTER (WHERE outcome = 'holdout') AS holdouts,
	   bool_and(amount_minor <= left_before) FILTER (WHERE outcome = 'holdout') AS holdouts_would_have_fitted,
	   bool_and(amount_minor > left_before) FILTER (WHERE outcome = 'budget') AS budget_skips_did_not_fit,
	   (SELECT spent_minor FROM compensation.budget WHERE program = 'dc') =
		   (SELECT sum(amount_minor) FROM compensation.ledger WHERE program = 'dc') AS only_grants_spent
  FROM walk;
-- the arm follows the outcome, once: treatment = granted, holdout = held out
SELECT outcome, arm, count(*) FROM compensation.decisions WHERE strategy = 'dc_hold'
 GROUP BY 1, 2 ORDER BY 1, 2;
-- held out exactly when the documented hash says so, among those that reached it
SELECT bool_and((outcome = 'holdout') = compensation.in_holdout('dc_hold', buyer)) AS hash_decides
  FROM compensation.decisions WHERE strategy = 'dc_hold' AND arm IS NOT NULL;
-- a second run records nothing new, and the decided rows are counted, not read
CREATE TEMP TABLE dc_before AS SELECT order_key, decided_at FROM compensation.decisions WHERE strategy = 'dc_hold';
SELECT candidates, granted, skipped_duplicate, skipped_budget FROM compensation.apply('dc_hold', '2026-11-01');
SELECT count(*) AS rewritten FROM compensation.decisions AS c JOIN dc_before AS b USING (order_key)
 WHERE c.strategy = 'dc_hold' AND c.decided_at <> b.decided_at;
-- a void keeps the order in treatment (intention to treat)
SELECT compensation.void_grant((SELECT min(grant_id) FROM compensation.grants WHERE strategy = 'dc_hold'), 'test') > 0 AS voided;
SELECT count(*) FILTER (WHERE arm = 'treatment') AS treatment,
	   (SELECT count(*) FROM compensation.grants WHERE strategy = 'dc_hold') AS grants
  FROM compensation.decisions WHERE strategy = 'dc_hold';
SELECT compensation.retire('dc_hold') > 0 AS retired;

-- 2. Program holdout: the salt is the program, so two strategies of one
-- program hold out the same buyers.
SELECT compensation.define_strategy('dc_prog_a', pg_temp.spec('{"holdout": {"share": 0.3, "scope": "program"}}')),
	   compensation.define_strategy('dc_prog_b', pg_temp.spec('{"holdout": {"share": 0.3, "scope": "program"}, "exclusive": "other"}'));
SELECT bool_and(compensation.in_holdout('dc_prog_a', b, 1) = compensation.in_holdout('dc_prog_b', b, 1)) AS same_buyers,
	   bool_and(compensation.in_holdout('dc_prog_a', b, 1) =
				(compensation.holdout_hash('dc', b) % 10000 < 3000)) AS salted_by_program,
	   count(*) FILTER (WHERE compensation.in_holdout('dc_prog_a', b, 1)) AS held_out_of_40
  FROM (SELECT DISTINCT buyer_id AS b FROM public.dc_src) AS buyers;

-- 3. Rank: funded best first, greedily (a cheaper candidate below one that
-- did not fit is still funded), against a plain recursive greedy walk.
SELECT compensation.set_budget('dcr', '2026-Q4', 20.00, 'EUR') > 0 AS budget;
SELECT compensation.define_strategy('dc_rank', pg_temp.spec('{"program": "dcr", "rank": "score"}')),
	   compensation.activate('dc_rank');
SELECT candidates, granted, amount, skipped_budget FROM compensation.apply('dc_rank', '2026-11-01');
WITH RECURSIVE ordered AS (
	SELECT row_number() OVER (ORDER BY score DESC NULLS LAST, at, order_id) AS n, order_id,
		   ((value * 0.1) * 100)::bigint AS minor
	  FROM public.dc_src),
greedy AS (
	SELECT 0::bigint AS n, NULL::text AS order_id, 2000::bigint AS left_minor, false AS funded
	UNION ALL
	SELECT o.n, o.order_id,
		   CASE WHEN o.minor <= g.left_minor THEN g.left_minor - o.minor ELSE g.left_minor END,
		   o.minor <= g.left_minor
	  FROM greedy AS g JOIN ordered AS o ON o.n = g.n + 1)
SELECT (SELECT array_agg(order_id ORDER BY order_id) FROM greedy WHERE funded)
	   = (SELECT array_agg(order_key ORDER BY order_key) FROM compensation.grants WHERE strategy = 'dc_rank')
	   AS ranked_greedy_matches;

-- 4. Even pacing: replayed day by day over the quarter, cumulative spend
-- never passes the even line, and the budget still funds in the last week.
CREATE TABLE public.dc_daily (order_id text, buyer_id text, at timestamptz, value numeric);
INSERT INTO public.dc_daily
SELECT 'p' || i, 'pb' || i, timestamptz '2026-10-01' + (i % 92) * interval '1 day' + interval '1 hour', 100
  FROM generate_series(0, 919) AS i;		-- 10 orders a day, 10.00 each
SELECT compensation.set_budget('dcp', '2026-Q4', 4600.00, 'EUR', pacing => 'even') > 0 AS paced;
SELECT compensation.define_strategy('dc_paced', pg_temp.spec('{"program": "dcp", "source": "public.dc_daily"}') - 'keys'
	|| '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"}}'),
	   compensation.activate('dc_paced');
CREATE TEMP TABLE dc_replay (day date, spent_minor bigint, even_minor bigint);
DO $$
DECLARE
	d date;
BEGIN
	FOR d IN SELECT generate_series(date '2026-10-01', date '2026-12-31', interval '1 day')::date LOOP
		PERFORM compensation.apply('dc_paced', d + time '23:00');
		INSERT INTO pg_temp.dc_replay
		SELECT d, b.spent_minor,
			   floor(b.amount_minor * extract(epoch FROM (d + 1)::timestamptz - timestamptz '2026-10-01')
					 / extract(epoch FROM timestamptz '2027-01-01' - timestamptz '2026-10-01'))
		  FROM compensation.budget AS b WHERE b.program = 'dcp';
	END LOOP;
END
$$;
SELECT bool_and(spent_minor <= even_minor) AS never_above_even_line,
	   max(even_minor - spent_minor) < 1000 AS within_one_grant_of_it,
	   (SELECT max(spent_minor) - min(spent_minor) FROM pg_temp.dc_replay WHERE day >= '2026-12-25') > 0
		   AS funding_in_last_week,
	   (SELECT max(spent_minor) FROM pg_temp.dc_replay) AS spent_minor
  FROM pg_temp.dc_replay;
SELECT sum(skipped_pace) > 0 AS some_skipped_for_pace, sum(skipped_budget) AS skipped_budget
  FROM compensation.runs WHERE strategy = 'dc_paced';
-- A grant's record is its ledger row: the 91 later runs count it as taken
-- but do not decide it again (no decision row under it), and a pace skip
-- that a later run granted reads granted.
SELECT count(*) FILTER (WHERE o.outcome <> 'granted') AS stale_rows_under_own_grants,
	   count(*) > 0 AS pace_skips_replaced_by_grants,
	   (SELECT count(*) FROM compensation.decisions WHERE strategy = 'dc_paced' AND outcome = 'granted')
		   = (SELECT count(*) FROM compensation.grants WHERE strategy = 'dc_paced') AS every_grant_a_decision
  FROM compensation.candidate_outcome AS o
  JOIN compensation.ledger AS l ON l.strategy_id = o.strategy_id AND l.order_key = o.order_key
 WHERE l.strategy_id = (SELECT strategy_id FROM compensation.strategy WHERE name = 'dc_paced');

-- 5. Expiry: a candidate skipped for budget that ages out of max_age is
-- recorded as expired, once, and counted by the run that saw it age out.
SELECT compensation.set_budget('dce', '2026-Q4', 3.00, 'EUR') > 0 AS small_budget;
SELECT compensation.define_strategy('dc_expire', pg_temp.spec('{"program": "dce", "max_age": "10 days"}')),
	   compensation.activate('dc_expire');
SELECT candidates, granted, skipped_budget, skipped_expired FROM compensation.apply('dc_expire', '2026-10-08');
SELECT candidates, granted, skipped_budget, skipped_expired FROM compensation.apply('dc_expire', '2026-10-20');
-- the expired ones: decided for budget, and older than as_of - max_age
SELECT count(*) AS expired,
	   bool_and(at < timestamptz '2026-10-20' - interval '10 days') AS all_aged_out
  FROM compensation.decisions WHERE strategy = 'dc_expire' AND outcome = 'expired';
SELECT skipped_expired FROM compensation.apply('dc_expire', '2026-10-20');
-- budget_status tells the truth: the budget is exhausted (a candidate did not
-- fit), and its unfunded and expired candidates are the decisions' own
SELECT pace, exhausted_at = '2026-10-08' AS exhausted_at_first_budget_skip,
	   unfunded_candidates, unfunded_amount, expired_candidates,
	   unfunded_candidates = (SELECT count(*) FROM compensation.decisions
							   WHERE strategy = 'dc_expire' AND outcome IN ('budget', 'pace')) AS unfunded_ok,
	   expired_candidates = (SELECT count(*) FROM compensation.decisions
							  WHERE strategy = 'dc_expire' AND outcome = 'expired') AS expired_ok
  FROM compensation.budget_status('2026-Q4', '2026-10-21') WHERE program = 'dce';
-- the quarter of the run pays, also for an event of the quarter before
CREATE TABLE public.dc_late (order_id text, buyer_id text, at timestamptz, value numeric);
INSERT INTO public.dc_late VALUES ('q3', 'bq', '2026-09-28 12:00', 40), ('q4', 'bq4', '2026-10-01 12:00', 20);
SELECT compensation.set_budget('dcq', '2026-Q4', 100.00, 'EUR') > 0 AS budget;
SELECT compensation.define_strategy('dc_quarter', pg_temp.spec('{"program": "dcq", "source": "public.dc_late"}') - 'keys'
	|| '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "at"}}'),
	   compensation.activate('dc_quarter');
SELECT granted, amount FROM compensation.apply('dc_quarter', '2026-10-02');
SELECT spent, spent_on_earlier_events, pace FROM compensation.budget_status('2026-Q4', '2026-10-02')
 WHERE program = 'dcq';

-- 6. strategy_performance and funnel equal plain SQL over the decisions and
-- the ledger.
SELECT p.strategy, p.version, p.candidates = d.n AS candidates_ok, p.grants = coalesce(g.n, 0) AS grants_ok,
	   p.holdouts = d.holdouts AS holdouts_ok, p.skipped_budget = d.budget AS budget_ok,
	   p.skipped_pace = d.pace AS pace_ok, p.expired = d.expired AS expired_ok,
	   p.voids = coalesce(g.voids, 0) AS voids_ok
  FROM compensation.strategy_performance AS p
  JOIN (SELECT strategy, version, count(*) AS n, count(*) FILTER (WHERE arm = 'holdout') AS holdouts,
			   count(*) FILTER (WHERE outcome = 'budget') AS budget,
			   count(*) FILTER (WHERE outcome = 'pace') AS pace,
			   count(*) FILTER (WHERE outcome = 'expired') AS expired
		  FROM compensation.decisions GROUP BY 1, 2) AS d USING (strategy, version)
  LEFT JOIN (SELECT strategy, version, count(*) AS n, count(*) FILTER (WHERE voided) AS voids
			   FROM compensation.grants GROUP BY 1, 2) AS g USING (strategy, version)
 WHERE p.strategy LIKE 'dc%'
 ORDER BY 1, 2;
SELECT strategy, amount_by_currency, round(share_of_budget::numeric, 4) AS share_of_budget
  FROM compensation.strategy_performance WHERE strategy LIKE 'dc%' AND grants > 0 ORDER BY 1;
SELECT * FROM compensation.funnel('dc_hold', '2026-10-01', '2026-11-01');
SELECT bool_and(f.orders = s.orders AND f.amount = s.amount) AS funnel_matches_plain_sql
  FROM compensation.funnel('dc_expire', '2026-10-01', '2026-11-01') AS f
  JOIN (SELECT 'met the rule' AS stage, count(*) AS orders, sum(amount) AS amount
		  FROM compensation.decisions WHERE strategy = 'dc_expire'
		UNION ALL
		SELECT CASE outcome WHEN 'budget' THEN 'out of budget or pace' WHEN 'granted' THEN 'granted'
							WHEN 'expired' THEN 'expired' END, count(*), sum(amount)
		  FROM compensation.decisions WHERE strategy = 'dc_expire' GROUP BY outcome) AS s USING (stage);

-- errors
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('dc', '2026-Q4', 10, 'EUR', pacing => 'fast')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec('{"max_age": "-3 days"}'))$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec('{"max_age": "ninety"}'))$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec('{"rank": "nope"}'))$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec('{"rank": "market"}'))$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec('{"holdout": {"share": 0.1, "scope": "world"}}'))$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate('dc_rank', '2026-10-01', '2026-11-01', cadence => '-1 day')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate('dc_rank', '2026-10-01', '2026-11-01', pacing => 'even')$$);
\x off
