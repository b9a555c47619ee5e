/* src/sql/55_decisions.sql — every candidate's outcome, per strategy. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * One row per strategy and order that met the strategy's rule in a real
 * run and was not granted by it (a grant's record is its ledger row): its
 * latest outcome, the amount it would have had, and the version, run and
 * logical time (as_of) of the decision.  A candidate that reaches
 * the holdout decision (it passed every other check: duplicate, expiry,
 * currency, cap, budget, pace) gets an arm, treatment (granted) or holdout,
 * once and forever; a later void keeps it in treatment (intention to
 * treat).  Candidates skipped before that have no arm, and their outcome
 * follows the later runs that decide them again; one whose budget or pace
 * skip ages out of max_age becomes 'expired'.  Written by apply() as the
 * extension's owner; dry runs and simulate write nothing.
 */
CREATE TABLE compensation.candidate_outcome (
	strategy_id	integer NOT NULL,
	order_key	text COLLATE "C" NOT NULL,
	version		integer NOT NULL,
	program		text COLLATE "C" NOT NULL,
	exclusive_group text COLLATE "C" NOT NULL,
	buyer		text COLLATE "C" NOT NULL,
	market		text COLLATE "C",
	at			timestamptz NOT NULL,
	outcome		text NOT NULL CHECK (outcome IN ('granted', 'holdout', 'duplicate', 'currency',
												  'cap', 'budget', 'pace', 'expired')),
	arm			text CHECK (arm IN ('treatment', 'holdout')),
	assigned_at	timestamptz,	-- as_of of the run that gave the arm
	currency	char(3) COLLATE "C" NOT NULL,
	amount_minor bigint NOT NULL,
	budget_id	bigint,			-- the budget it spent or would have (NULL: none)
	run_id		bigint NOT NULL,
	as_of		timestamptz NOT NULL,
	decided_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (strategy_id, order_key),
	CONSTRAINT decision_arm_assigned CHECK ((arm IS NULL) = (assigned_at IS NULL)),
	CONSTRAINT decision_arm_outcome CHECK (arm IS NULL OR outcome IN ('granted', 'holdout'))
);

-- A held-out order is taken in its exclusive group, as a granted one is.
CREATE INDEX decision_holdout_claims ON compensation.candidate_outcome (exclusive_group, order_key)
	WHERE arm = 'holdout';
-- Skips that may age out, by strategy and time.
CREATE INDEX decision_open_skips ON compensation.candidate_outcome (strategy_id, at)
	WHERE outcome IN ('budget', 'pace');

COMMENT ON TABLE compensation.candidate_outcome IS
	'the latest outcome of every candidate a strategy did not grant (grants are read from the ledger), with its arm once it reached the holdout decision';

SELECT pg_catalog.pg_extension_config_dump('compensation.candidate_outcome', '');

/*
 * A grant is recorded by its ledger row alone (apply() writes no decision
 * row for it, so recording the decisions costs nothing for the candidates
 * it grants): the view reads every grant, voided or not, as granted in
 * treatment, then the decision rows of the orders the strategy did not
 * grant.  A decision row under a grant (a skip of an earlier line of the
 * same order, or the row a later grant replaced) says nothing more.
 */
CREATE VIEW compensation.decisions AS
SELECT s.name AS strategy,
	   d.version,
	   d.order_key,
	   d.buyer,
	   d.market,
	   d.at,
	   d.arm,
	   d.outcome,
	   compensation.to_major_units(d.amount_minor, d.currency) AS amount,
	   d.currency::text AS currency,
	   d.amount_minor,
	   d.program,
	   d.exclusive_group,
	   d.budget_id,
	   d.run_id,
	   d.as_of,
	   d.assigned_at,
	   d.decided_at
  FROM (SELECT l.strategy_id, l.version, l.order_key, l.buyer, l.market, l.at,
			   'treatment'::text AS arm, 'granted'::text AS outcome, l.currency, l.amount_minor,
			   l.program, l.exclusive_group, l.budget_id, l.run_id, l.as_of,
			   l.as_of AS assigned_at, l.created_at AS decided_at
		  FROM compensation.ledger AS l
		UNION ALL
		SELECT o.strategy_id, o.version, o.order_key, o.buyer, o.market, o.at,
			   o.arm, o.outcome, o.currency, o.amount_minor,
			   o.program, o.exclusive_group, o.budget_id, o.run_id, o.as_of,
			   o.assigned_at, o.decided_at
		  FROM compensation.candidate_outcome AS o
		 WHERE NOT EXISTS (SELECT FROM compensation.ledger AS l
							WHERE l.exclusive_group = o.exclusive_group
							  AND l.order_key = o.order_key
							  AND l.strategy_id = o.strategy_id)) AS d
  JOIN compensation.strategy AS s USING (strategy_id);

COMMENT ON VIEW compensation.decisions IS
	'every candidate''s latest outcome per strategy; arm is treatment or holdout for those that reached the holdout decision (assigned_at: the as_of of that run)';

-- The orders of the holdout arm, with the amount they would have had: the
-- control group of uplift() and effect().
CREATE VIEW compensation.holdout_decision AS
SELECT d.strategy_id, d.order_key, d.buyer, d.version, d.at, d.currency, d.amount_minor,
	   d.run_id, d.decided_at
  FROM compensation.candidate_outcome AS d
 WHERE d.arm = 'holdout';

COMMENT ON VIEW compensation.holdout_decision IS
	'orders whose buyer was held out, with the amount they would have had';

-- What apply()'s candidate query reads with the author's rights (the
-- author is a reader, never granted the tables): the orders taken in each
-- exclusive group, granted or held out, and the strategy's own decisions.
CREATE VIEW compensation.claimed_orders AS
SELECT l.exclusive_group, l.order_key, l.strategy_id
  FROM compensation.ledger AS l
UNION ALL
SELECT d.exclusive_group, d.order_key, d.strategy_id
  FROM compensation.candidate_outcome AS d
 WHERE d.arm = 'holdout';

COMMENT ON VIEW compensation.claimed_orders IS
	'(exclusive group, order key, strategy that took it) of every grant, voided or not, and of every holdout: an order is taken at most once per group';

CREATE VIEW compensation.decided_orders AS
SELECT d.strategy_id, d.order_key, d.outcome, d.version, d.amount_minor
  FROM compensation.candidate_outcome AS d;

COMMENT ON VIEW compensation.decided_orders IS
	'(strategy, order key) of every recorded decision with its outcome, version and amount';

/*
 * funnel(strategy, from, to) -> where the strategy's candidates with at in
 * [from, to) went, in unique orders and their amounts per currency, each
 * order at its latest outcome: met the rule, then duplicate, currency,
 * capped, out of budget or pace, expired, held out, granted; voided counts
 * the granted ones voided since (they stay granted: intention to treat).
 * Reads the decisions and grants views as the caller.
 */
CREATE FUNCTION compensation.funnel(strategy text, "from" timestamptz, "to" timestamptz)
RETURNS TABLE (step integer, stage text, orders bigint, amount numeric, currency text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH d AS (
		SELECT d.order_key, d.outcome, d.amount, d.currency
		  FROM compensation.decisions AS d
		 WHERE d.strategy OPERATOR(pg_catalog.=) funnel.strategy
		   AND d.at OPERATOR(pg_catalog.>=) funnel."from"
		   AND d.at OPERATOR(pg_catalog.<) funnel."to"),
	staged AS (
		SELECT 1 AS step, 'met the rule' AS stage, d.amount, d.currency FROM d
		UNION ALL
		SELECT CASE d.outcome WHEN 'duplicate' THEN 2 WHEN 'currency' THEN 3 WHEN 'cap' THEN 4
							  WHEN 'budget' THEN 5 WHEN 'pace' THEN 5 WHEN 'expired' THEN 6
							  WHEN 'holdout' THEN 7 WHEN 'granted' THEN 8 END,
			   CASE d.outcome WHEN 'duplicate' THEN 'duplicate' WHEN 'currency' THEN 'currency'
							  WHEN 'cap' THEN 'capped' WHEN 'budget' THEN 'out of budget or pace'
							  WHEN 'pace' THEN 'out of budget or pace' WHEN 'expired' THEN 'expired'
							  WHEN 'holdout' THEN 'held out' WHEN 'granted' THEN 'granted' END,
			   d.amount, d.currency
		  FROM d
		UNION ALL
		SELECT 9, 'voided', g.amount, g.currency
		  FROM d
		  JOIN compensation.grants AS g
			ON g.strategy OPERATOR(pg_catalog.=) funnel.strategy
		   AND g.order_key OPERATOR(pg_catalog.=) d.order_key
		 WHERE g.voided)
	SELECT s.step, s.stage, pg_catalog.count(*), pg_catalog.sum(s.amount), s.currency
	  FROM staged AS s
	 GROUP BY s.step, s.stage, s.currency
	 ORDER BY s.step, s.currency;
END;

COMMENT ON FUNCTION compensation.funnel(text, timestamptz, timestamptz) IS
	'where a strategy''s candidates with at in [from, to) went, in unique orders and amounts per currency';

GRANT EXECUTE ON FUNCTION compensation.funnel(text, timestamptz, timestamptz) TO compensation_reader;
