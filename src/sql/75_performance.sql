/* src/sql/75_performance.sql — strategy_performance, the per-version report. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * After the decisions (55) and the reviews registry (70) it reads.
 */

/*
 * strategy_performance: per strategy and version, what its decisions and
 * grants add up to, in unique orders (the runs' counters count one run
 * each).  Amounts are per currency, never added across currencies;
 * share_of_budget is what the version granted and kept (not voided) over
 * the budgets its grants were charged to, when they are in one currency.
 * With a reviews source registered (register_reviews, 70_reviews.sql), the
 * version's bought-review figures follow, read with the caller's rights
 * (strategy_review_rates): NULL when none is registered or the caller
 * cannot read it.
 */
CREATE VIEW compensation.strategy_performance AS
WITH d AS (
	SELECT d.strategy, d.version,
		   pg_catalog.count(*) AS candidates,
		   pg_catalog.count(*) FILTER (WHERE d.arm OPERATOR(pg_catalog.=) 'holdout') AS holdouts,
		   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'duplicate') AS skipped_duplicate,
		   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'currency') AS skipped_currency,
		   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'cap') AS skipped_cap,
		   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'budget') AS skipped_budget,
		   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'pace') AS skipped_pace,
		   pg_catalog.count(*) FILTER (WHERE d.outcome OPERATOR(pg_catalog.=) 'expired') AS expired
	  FROM compensation.decisions AS d
	 GROUP BY d.strategy, d.version),
g AS (
	SELECT l.strategy_id, l.version,
		   pg_catalog.count(*) AS grants,
		   pg_catalog.count(*) FILTER (WHERE l.voided_at IS NOT NULL) AS voids,
		   pg_catalog.count(DISTINCT l.currency) FILTER (WHERE l.voided_at IS NULL) AS currencies,
		   pg_catalog.sum(l.amount_minor) FILTER (WHERE l.voided_at IS NULL) AS kept_minor,
		   pg_catalog.array_agg(DISTINCT l.budget_id) AS budget_ids
	  FROM compensation.ledger AS l
	 GROUP BY l.strategy_id, l.version),
by_currency AS (
	SELECT t.strategy_id, t.version,
		   pg_catalog.jsonb_object_agg(t.currency, compensation.to_major_units(t.minor, t.currency)) AS amounts
	  FROM (SELECT l.strategy_id, l.version, l.currency::pg_catalog.text AS currency,
				   pg_catalog.sum(l.amount_minor)::pg_catalog.int8 AS minor
			  FROM compensation.ledger AS l
			 WHERE l.voided_at IS NULL
			 GROUP BY 1, 2, 3) AS t
	 GROUP BY t.strategy_id, t.version)
SELECT s.name AS strategy,
	   v.version,
	   v.status,
	   v.program,
	   COALESCE(d.candidates, 0) AS candidates,
	   COALESCE(g.grants, 0) AS grants,
	   COALESCE(c.amounts, '{}'::pg_catalog.jsonb) AS amount_by_currency,
	   COALESCE(d.holdouts, 0) AS holdouts,
	   COALESCE(d.skipped_duplicate, 0) AS skipped_duplicate,
	   COALESCE(d.skipped_currency, 0) AS skipped_currency,
	   COALESCE(d.skipped_cap, 0) AS skipped_cap,
	   COALESCE(d.skipped_budget, 0) AS skipped_budget,
	   COALESCE(d.skipped_pace, 0) AS skipped_pace,
	   COALESCE(d.expired, 0) AS expired,
	   COALESCE(g.voids, 0) AS voids,
	   CASE WHEN g.currencies OPERATOR(pg_catalog.=) 1 THEN
			(g.kept_minor::pg_catalog.float8 OPERATOR(pg_catalog./)
			 NULLIF((SELECT pg_catalog.sum(b.amount_minor) FROM compensation.budget AS b
					  WHERE b.budget_id OPERATOR(pg_catalog.=) ANY (g.budget_ids)), 0)::pg_catalog.float8)
	   END AS share_of_budget,
	   r.reviewed_grants,
	   r.first_review_after,
	   r.ratings_raised,
	   r.bought_review_rate,
	   r.bought_review_flag
  FROM compensation.strategy AS s
  JOIN compensation.strategy_version AS v ON v.strategy_id OPERATOR(pg_catalog.=) s.strategy_id
  LEFT JOIN d ON d.strategy OPERATOR(pg_catalog.=) s.name AND d.version OPERATOR(pg_catalog.=) v.version
  LEFT JOIN g ON g.strategy_id OPERATOR(pg_catalog.=) v.strategy_id AND g.version OPERATOR(pg_catalog.=) v.version
  LEFT JOIN by_currency AS c
	ON c.strategy_id OPERATOR(pg_catalog.=) v.strategy_id AND c.version OPERATOR(pg_catalog.=) v.version
  LEFT JOIN compensation.strategy_review_rates() AS r
	ON r.strategy OPERATOR(pg_catalog.=) s.name COLLATE "C" AND r.version OPERATOR(pg_catalog.=) v.version;

COMMENT ON VIEW compensation.strategy_performance IS
	'per strategy and version: unique candidates, grants and amounts per currency, holdouts, unique skips by reason, voids, share of the budgets charged; with a registered reviews source (register_reviews), per version: reviewed grants, first reviews and raised ratings after the grant, their rate and its flag (strategy_review_rates)';

GRANT SELECT ON compensation.strategy_performance TO compensation_reader;
