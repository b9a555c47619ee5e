/* src/sql/55_decisions.sql — every candidate's outcome, per strategy. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * One row per strategy and order that met the strategy's rule in a real
 * run: its latest outcome, the amount it would have had, and the version,
 * run and logical time (as_of) of the decision.  A candidate that reaches
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
	'the latest outcome of every candidate of every strategy, with its arm (treatment or holdout) once it reached the holdout decision';

SELECT pg_catalog.pg_extension_config_dump('compensation.candidate_outcome', '');

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
  FROM compensation.candidate_outcome AS d
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
SELECT l.exclusive_group, l.order_key
  FROM compensation.ledger AS l
UNION ALL
SELECT d.exclusive_group, d.order_key
  FROM compensation.candidate_outcome AS d
 WHERE d.arm = 'holdout';

COMMENT ON VIEW compensation.claimed_orders IS
	'(exclusive group, order key) of every grant, voided or not, and of every holdout: an order is taken at most once per group';

CREATE VIEW compensation.decided_orders AS
SELECT d.strategy_id, d.order_key, d.outcome, d.version, d.amount_minor
  FROM compensation.candidate_outcome AS d;

COMMENT ON VIEW compensation.decided_orders IS
	'(strategy, order key) of every recorded decision with its outcome, version and amount';
