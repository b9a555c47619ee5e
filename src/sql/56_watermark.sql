/* src/sql/56_watermark.sql — what an incremental run reads again (src/watermark.c). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * The candidates a strategy left open: skipped for budget, pace, cap or
 * currency, which a later run may decide otherwise while the row stays as
 * it was (budget added, the day's allowance grown, a grant voided, a
 * budget in the right currency).  A run of a source with a "changed"
 * column reads them again whether they changed or not.  The candidate
 * query reads this view with the author's rights, as it reads
 * claimed_orders and decided_orders.
 */
CREATE VIEW compensation.open_decisions AS
SELECT d.strategy_id, d.order_key, d.at
  FROM compensation.candidate_outcome AS d
 WHERE d.outcome IN ('budget', 'pace', 'cap', 'currency');

COMMENT ON VIEW compensation.open_decisions IS
	'(strategy, order key, at) of the candidates skipped for budget, pace, cap or currency: what an incremental run reads again';

-- An incremental run lists its open skips in its window by this index, not
-- by scanning every decision of the strategy.
CREATE INDEX decision_open_outcomes ON compensation.candidate_outcome (strategy_id, at)
	WHERE outcome IN ('budget', 'pace', 'cap', 'currency');

GRANT SELECT ON compensation.open_decisions TO compensation_reader;
