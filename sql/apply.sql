-- apply, apply_all, simulate, void_grant: every outcome on a small market.
SET TimeZone = 'UTC';
CREATE TABLE public.ap_src (order_id text, buyer_id text, at timestamptz, value numeric,
							currency text, market text, late boolean);
INSERT INTO public.ap_src VALUES
	('o01', 'b1', '2026-10-01 10:00', 20.00, 'EUR', 'DE', true),	-- 2.00
	('o02', 'b2', '2026-10-02 10:00', 30.00, 'EUR', 'DE', true),	-- 3.00
	('o03', 'b2', '2026-10-03 10:00', 10.00, 'EUR', 'DE', true),	-- 1.00
	('o04', 'b2', '2026-10-04 10:00', 10.00, 'EUR', 'DE', true),	-- 1.00: b2's third in 30 days
	('o05', 'b3', '2026-10-05 10:00', 90.00, 'EUR', 'DE', true),	-- 9.00: more than DE has left
	('o06', 'b4', '2026-10-06 10:00', 15.00, 'EUR', 'DE', true),	-- 1.50: fits after o05 is skipped
	('o06', 'b4', '2026-10-06 10:00', 15.00, 'EUR', 'DE', true),	-- the same order again (order lines)
	('o07', 'b5', '2026-10-07 10:00', 40.00, 'EUR', 'FR', true),	-- 4.00 from the all-markets budget
	('o08', 'b6', '2026-10-08 10:00', 50.00, 'USD', 'US', true),	-- USD against a EUR budget
	('o09', 'b7', '2026-10-09 10:00', 5000, 'JPY', 'JP', true),		-- 500 yen
	('o10', 'b1', '2026-10-10 10:00', 20.00, 'EUR', 'DE', false),	-- not late: not a candidate
	('o11', 'b8', '2026-12-15 10:00', 20.00, 'EUR', 'DE', true),	-- after as_of
	('o12', 'b9', '2026-09-30 23:59', 20.00, 'EUR', 'DE', true);	-- before the valid window
SELECT compensation.set_budget('late', '2026-Q4', 10.00, 'EUR', 'DE') > 0 AS de,
	   compensation.set_budget('late', '2026-Q4', 5.00, 'EUR') > 0 AS all_markets,
	   compensation.set_budget('late', '2026-Q4', 1000, 'JPY', 'JP') > 0 AS jp;
CREATE FUNCTION pg_temp.spec(extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'late_delivery', 'source', 'public.ap_src', 'program', 'late', 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at',
							   'currency', 'currency', 'market', 'market'),
	'when', jsonb_build_object('col', 'late', 'op', '=', 'value', true),
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.1),
	'caps', jsonb_build_object('per_buyer_count', jsonb_build_object('max', 2, 'window', '30 days')),
	'notify', jsonb_build_object('channel', 'email', 'template', '{buyer}: {amount} {currency} {instrument} for {order}'),
	'valid', jsonb_build_object('from', '2026-10-01', 'to', '2027-01-01')) || extra $$;
SELECT compensation.define_strategy('late', pg_temp.spec()), compensation.activate('late');

-- A dry run decides and writes nothing, not even a run row.
SELECT candidates, granted, amount, skipped_holdout, skipped_cap, skipped_budget,
	   skipped_duplicate, skipped_currency, currency, amount_by_currency, run_id IS NULL AS no_run
  FROM compensation.apply('late', '2026-11-20', dry_run => true);
SELECT (SELECT count(*) FROM compensation.run) AS runs, (SELECT count(*) FROM compensation.ledger) AS grants,
	   (SELECT sum(spent_minor) FROM compensation.budget WHERE program = 'late') AS spent;

-- The real run decides the same.  o05 does not fit what DE has left and
-- is skipped; o06 after it fits.  o04 is b2's third grant in 30 days.
-- o06's second row is a duplicate.  o08 is in USD against a EUR budget.
SELECT candidates, granted, amount, skipped_holdout, skipped_cap, skipped_budget,
	   skipped_duplicate, skipped_currency, currency, amount_by_currency, run_id IS NOT NULL AS has_run
  FROM compensation.apply('late', '2026-11-20');
SELECT order_key, buyer, market, at, currency, amount, quarter, instrument, voided
  FROM compensation.grants ORDER BY grant_id;
SELECT o.channel, o.message, o.sent_at IS NULL AS unsent
  FROM compensation.outbox_message AS o JOIN compensation.ledger USING (grant_id) ORDER BY grant_id;
SELECT program, quarter, market, currency, amount, spent, remaining
  FROM compensation.budgets WHERE program = 'late' ORDER BY market NULLS FIRST;
SELECT strategy, version, quarter, status, candidates, granted, amount_by_currency
  FROM compensation.runs;

-- Running again with nothing new grants nothing; a new late order is
-- granted once.
SELECT candidates, granted, skipped_duplicate, skipped_budget, skipped_cap
  FROM compensation.apply('late', '2026-11-20');
INSERT INTO public.ap_src VALUES ('o13', 'b10', '2026-11-01 10:00', 10.00, 'EUR', 'FR', true);
SELECT candidates, granted, amount, skipped_duplicate FROM compensation.apply('late', '2026-11-20');
-- as_of decides what is a candidate: o11 (2026-12-15) comes in later, and
-- o01 (2026-10-01) has aged out of max_age (90 days by default)
SELECT candidates, granted, amount FROM compensation.apply('late', '2026-12-31');

-- Voiding returns the money to the grant's own budget; the row stays and
-- its order stays taken.
SELECT compensation.void_grant(grant_id, 'customer refunded') AS returned
  FROM compensation.grants WHERE order_key = 'o02';
SELECT order_key, amount, voided, void_reason FROM compensation.grants WHERE order_key = 'o02';
SELECT market, spent, remaining FROM compensation.budgets WHERE program = 'late' AND market = 'DE';
SELECT granted, skipped_duplicate FROM compensation.apply('late', '2026-12-31');
\x on
SELECT * FROM regress.error_of($$SELECT compensation.void_grant((SELECT grant_id FROM compensation.grants WHERE order_key = 'o02'), 'again')$$);
SELECT * FROM regress.error_of($$SELECT compensation.void_grant((SELECT grant_id FROM compensation.grants WHERE order_key = 'o01'), '  ')$$);
SELECT * FROM regress.error_of($$SELECT compensation.void_grant(999999, 'no such grant')$$);
\x off
-- invariant: every budget's spent is the sum of its non-voided grants
SELECT b.market, b.spent_minor,
	   (SELECT coalesce(sum(l.amount_minor), 0) FROM compensation.ledger AS l
		 WHERE l.budget_id = b.budget_id AND l.voided_at IS NULL) AS ledger_minor
  FROM compensation.budget AS b WHERE b.program = 'late' ORDER BY b.market NULLS FIRST;

-- Holdout: recorded with the amount the buyer would have had, never granted.
CREATE TABLE public.ho_src AS
	SELECT 'h' || i AS order_id, 'hb' || i AS buyer_id, '2026-10-15'::timestamptz + i * interval '1 minute' AS at,
		   10.00::numeric AS value, 'EUR'::text AS currency, 'DE'::text AS market, true AS late
	  FROM generate_series(1, 20) AS i;
SELECT compensation.set_budget('holdout', '2026-Q4', 1000, 'EUR') > 0;
SELECT compensation.define_strategy('held', pg_temp.spec('{"source": "public.ho_src", "program": "holdout", "holdout": 0.3}') - 'caps'),
	   compensation.activate('held');
SELECT candidates, granted, skipped_holdout FROM compensation.apply('held', '2026-11-20');
SELECT count(*) FILTER (WHERE compensation.in_holdout('held', buyer_id)) AS held_by_hash,
	   (SELECT count(*) FROM compensation.holdout_decision
		 WHERE strategy_id = (SELECT strategy_id FROM compensation.strategy WHERE name = 'held')) AS recorded,
	   (SELECT count(*) FROM compensation.holdout_decision h JOIN compensation.ledger l USING (order_key)) AS also_granted,
	   (SELECT sum(amount_minor) FROM compensation.holdout_decision) AS would_have_minor
  FROM public.ho_src;
-- recorded once per order, however often apply runs: a held-out order is
-- taken in its group, as a granted one is
SELECT skipped_holdout, skipped_duplicate FROM compensation.apply('held', '2026-11-20');
SELECT count(*) AS recorded_still FROM compensation.holdout_decision;

-- Exclusive groups and priorities: two strategies compete for the same
-- orders; apply_all runs the higher priority first, and it wins them all.
CREATE TABLE public.ex_src AS SELECT * FROM public.ho_src WHERE order_id IN ('h1', 'h2', 'h3');
SELECT compensation.set_budget('rival', '2026-Q4', 1000, 'EUR') > 0;
SELECT compensation.define_strategy('low_prio', pg_temp.spec('{"source": "public.ex_src", "program": "rival", "priority": 1, "exclusive": "ex"}') - 'caps'),
	   compensation.define_strategy('high_prio', pg_temp.spec('{"source": "public.ex_src", "program": "rival", "priority": 9, "exclusive": "ex"}') - 'caps'),
	   compensation.activate('low_prio'), compensation.activate('high_prio');
SELECT compensation.pause('late'), compensation.pause('held');
-- a dry run of apply_all returns what the real one will, and writes nothing
SELECT strategy, candidates, granted, skipped_duplicate, run_id IS NULL AS no_run
  FROM compensation.apply_all('2026-11-20', dry_run => true)
 WHERE strategy IN ('high_prio', 'low_prio');
SELECT count(*) AS ex_grants_after_dry_run FROM compensation.ledger WHERE exclusive_group = 'ex';
SELECT strategy, candidates, granted, skipped_duplicate, run_id IS NOT NULL AS has_run
  FROM compensation.apply_all('2026-11-20')
 WHERE strategy IN ('high_prio', 'low_prio');
SELECT strategy, count(*) FROM compensation.grants WHERE exclusive_group = 'ex' GROUP BY 1;

-- simulate (of version 1, now paused): one row per order with its outcome
-- on an empty ledger, replayed daily; with a budget the greedy order shows;
-- nothing is written.
CREATE TEMP TABLE before_simulate AS SELECT (SELECT count(*) FROM compensation.run) AS runs,
	(SELECT count(*) FROM compensation.ledger) AS grants;
SELECT order_key, buyer, market, amount, currency, outcome
  FROM compensation.simulate('late', '2026-10-01', '2026-11-01', budget => 9, version => 1,
							 budget_currency => 'EUR')
 ORDER BY at, order_key;
SELECT outcome, count(*) FROM compensation.simulate('late', '2026-10-01', '2027-01-01', version => 1)
 GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM compensation.run) = runs AND (SELECT count(*) FROM compensation.ledger) = grants
	   AS simulate_wrote_nothing FROM before_simulate;

-- A bad row stops the run with nothing written, naming the order.
INSERT INTO public.ap_src VALUES ('o99', NULL, '2026-11-02 10:00', 10.00, 'EUR', 'FR', true);
SELECT compensation.activate('late');
CREATE TEMP TABLE before_bad AS SELECT (SELECT count(*) FROM compensation.ledger) AS grants,
	(SELECT count(*) FROM compensation.run) AS runs;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.apply('late', '2026-12-31')$$);
\x off
SELECT (SELECT count(*) FROM compensation.ledger) = grants AND (SELECT count(*) FROM compensation.run) = runs
	   AS nothing_written FROM before_bad;

-- Errors
\x on
SELECT * FROM regress.error_of($$SELECT compensation.apply('held')$$);
SELECT * FROM regress.error_of($$SELECT compensation.apply(NULL)$$);
SELECT * FROM regress.error_of($$SELECT compensation.apply('late', 'infinity')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate('late', '2026-10-01', '2026-10-01')$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate('late', '2026-10-01', '2026-11-01', budget => 5)$$);
SELECT * FROM regress.error_of($$SELECT * FROM compensation.simulate('late', '2026-10-01', '2026-11-01', budget => -5, budget_currency => 'EUR')$$);
\x off

-- roles: a reader cannot apply or void; an applier can, but cannot define
GRANT SELECT ON public.ap_src TO compensation_reader;
SET ROLE compensation_reader;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.apply('late')$$);
SELECT * FROM regress.error_of($$SELECT compensation.void_grant(1, 'x')$$);
SELECT * FROM regress.error_of($$INSERT INTO compensation.outbox_message (grant_id, channel, message) VALUES (1, 'x', 'y')$$);
\x off
SELECT count(*) > 0 AS reader_can_simulate FROM compensation.simulate('late', '2026-10-01', '2026-11-01');
RESET ROLE;
SET ROLE compensation_applier;
SELECT granted FROM compensation.apply('high_prio', '2026-11-20');
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('late', '2026-Q4', 1000000, 'EUR')$$);
SELECT * FROM regress.error_of($$UPDATE compensation.ledger SET amount_minor = 0$$);
\x off
RESET ROLE;

-- Planted objects: a temp table shadowing the ledger, and functions and an
-- operator in a schema ahead of pg_catalog, each of which would fail
-- loudly if apply ever resolved a name through the caller's search_path.
CREATE SCHEMA regress_plant;
CREATE FUNCTION regress_plant.now() RETURNS timestamptz LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'planted now() was called'; END$$;
CREATE FUNCTION regress_plant.hashtext(text) RETURNS integer LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'planted hashtext() was called'; END$$;
CREATE FUNCTION regress_plant.texteq_planted(text, text) RETURNS boolean LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'planted = was called'; END$$;
CREATE OPERATOR regress_plant.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_plant.texteq_planted);
CREATE TEMP TABLE ledger (grant_id bigint);
GRANT USAGE ON SCHEMA regress_plant TO compensation_applier;
INSERT INTO public.ex_src VALUES ('h99', 'hb99', '2026-10-20', 10.00, 'EUR', 'DE', true);
SET search_path = regress_plant, pg_temp, pg_catalog, public;
SET ROLE compensation_applier;
SELECT granted FROM compensation.apply('high_prio', '2026-11-20');
RESET ROLE;
RESET search_path;
SELECT count(*) AS high_prio_grants FROM compensation.grants WHERE strategy = 'high_prio';
SELECT count(*) AS planted_ledger_untouched FROM pg_temp.ledger;
DROP SCHEMA regress_plant CASCADE;

-- Found by the stress test: a spec large enough that parsing it outgrows a
-- memory block (a 2,000-value "in" list) must not be read after its
-- memory is freed; test/run runs the server with MALLOC_PERTURB_ set, so
-- such a read crashes here instead of passing by luck.
SELECT compensation.define_strategy('big_in', pg_temp.spec(jsonb_build_object('when',
	jsonb_build_object('col', 'buyer_id', 'op', 'in',
					   'value', (SELECT jsonb_agg('b' || i) FROM generate_series(1, 2000) AS i))))) AS v,
	   compensation.activate('big_in');
SELECT strategy, candidates, granted, skipped_duplicate FROM compensation.apply('big_in', '2026-11-20', dry_run => true);
SELECT strategy, candidates, granted FROM compensation.apply('big_in', '2026-11-20');

-- The candidate query runs with compensation.run_work_mem as work_mem, and
-- the session's work_mem is back after the run.  The source sees the
-- setting: only a row that reads it as 64kB is eligible.  20,000 rows in
-- 64 kB: the sort and the hash join spill to temporary files, and the
-- grants still come in (at, order key) order.  -1 keeps the session's.
CREATE TABLE public.run_mem_src AS
SELECT 'w' || i AS order_id, 'wb' || i AS buyer_id, timestamptz '2026-10-01' + (i % 5000) * interval '1 minute' AS at
  FROM generate_series(1, 20000) AS i;
CREATE VIEW public.run_mem_view AS SELECT *, current_setting('work_mem') AS session_work_mem FROM public.run_mem_src;
SELECT compensation.set_budget('run_mem', '2026-Q4', 1000000, 'EUR') > 0 AS budget;
CREATE FUNCTION pg_temp.run_mem_spec(work_mem text) RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'work_mem', 'source', 'public.run_mem_view', 'program', 'run_mem', 'instrument', 'points',
	'currency', 'EUR', 'max_age', NULL,
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'when', jsonb_build_object('col', 'session_work_mem', 'op', '=', 'value', work_mem),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1)) $$;
SELECT compensation.define_strategy('run_mem_small', pg_temp.run_mem_spec('64kB')), compensation.activate('run_mem_small');
SELECT compensation.define_strategy('run_mem_session', pg_temp.run_mem_spec('4MB')), compensation.activate('run_mem_session');
SET work_mem = '4MB';
SET compensation.run_work_mem = 64;
SELECT candidates, granted FROM compensation.apply('run_mem_small', '2026-11-20');
SELECT current_setting('work_mem') AS work_mem_after_the_run;
SELECT candidates, granted FROM compensation.apply('run_mem_session', '2026-11-20');
SET compensation.run_work_mem = -1;
SELECT candidates, granted FROM compensation.apply('run_mem_session', '2026-11-20');
RESET compensation.run_work_mem;
RESET work_mem;
SELECT name, count(*) AS grants,
	   bool_and(previous_at IS NULL OR (at, order_key) > (previous_at, previous_order)) AS in_at_then_order_key_order
  FROM (SELECT s.name, l.at, l.order_key,
			   lag(l.at) OVER w AS previous_at, lag(l.order_key) OVER w AS previous_order
		  FROM compensation.ledger AS l JOIN compensation.strategy AS s USING (strategy_id)
		 WHERE s.name LIKE 'run\_mem\_%'
		WINDOW w AS (PARTITION BY s.name ORDER BY l.grant_id)) AS g
 GROUP BY name ORDER BY name;
