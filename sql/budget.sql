-- set_budget, the budgets view and roll_quarter.
SET TimeZone = 'UTC';

SELECT compensation.set_budget('delivery', '2026-Q4', 10000, 'EUR') > 0 AS created;
SELECT compensation.set_budget('delivery', '2026-Q4', 2500.50, 'BRL', 'BR') > 0 AS created;
SELECT compensation.set_budget('delivery', '2026-Q4', 300000, 'JPY', 'JP') > 0 AS created;
SELECT compensation.set_budget('reviews', '2026-Q4', 12.345, 'bhd', ' BH ') > 0 AS created_normalised;
SELECT program, quarter, market, currency, amount, spent, remaining, amount_minor, spent_minor
  FROM compensation.budgets ORDER BY program, market NULLS FIRST;

-- upsert: same key updates in place (same budget_id), the NULL market included
SELECT (SELECT budget_id FROM compensation.budgets WHERE program = 'delivery' AND market IS NULL)
	 = compensation.set_budget('delivery', '2026-Q4', 12000, 'EUR') AS same_row_all_markets;
SELECT (SELECT budget_id FROM compensation.budgets WHERE program = 'delivery' AND market = 'BR')
	 = compensation.set_budget('delivery', '2026-Q4', 3000, 'BRL', 'BR') AS same_row_market;
SELECT count(*) AS budgets, sum(amount_minor) FILTER (WHERE currency = 'EUR') AS eur_minor
  FROM compensation.budgets;

-- a budget with spending: cannot go below it, cannot change currency
UPDATE compensation.budget SET spent_minor = 500000 WHERE program = 'delivery' AND market IS NULL;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 4999.99, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 12000, 'USD')$$);
\x off
SELECT compensation.set_budget('delivery', '2026-Q4', 5000, 'EUR') > 0 AS exactly_spent_is_fine;
SELECT amount, spent, remaining FROM compensation.budgets WHERE program = 'delivery' AND market IS NULL;

-- bad input: each an error, nothing stored
CREATE TEMP TABLE before AS SELECT * FROM compensation.budget;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', -1, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 'NaN', 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', '-Infinity', 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 10.001, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 10.5, 'JPY', 'JP2')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 1e30, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', NULL, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q5', 10, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', 'Q4 2026', 10, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', NULL, 10, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 10, 'EURO', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 10, 'HRK', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 10, NULL, 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('', '2026-Q4', 10, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget(NULL, '2026-Q4', 10, 'EUR', 'DE')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('delivery', '2026-Q4', 10, 'EUR', '  ')$$);
\x off
SELECT (SELECT count(*) FROM compensation.budget) = (SELECT count(*) FROM before)
   AND NOT EXISTS (SELECT * FROM compensation.budget EXCEPT SELECT * FROM before) AS nothing_stored;

-- roll_quarter: copies, optionally with the unspent rest; idempotent
SELECT compensation.roll_quarter('2026-Q4', '2027-Q1') AS written;
SELECT compensation.roll_quarter('2026-Q4', '2027-Q1') AS written_again;
SELECT program, quarter, market, currency, amount, spent FROM compensation.budgets
 WHERE quarter = '2027-Q1' ORDER BY program, market NULLS FIRST;
UPDATE compensation.budget SET spent_minor = 100000 WHERE program = 'delivery' AND market = 'BR' AND quarter = '2026-Q4';
SELECT compensation.roll_quarter('2026-Q4', '2027-Q2', carry_unspent => true) AS written_with_carry;
SELECT program, quarter, market, currency, amount, spent FROM compensation.budgets
 WHERE quarter = '2027-Q2' ORDER BY program, market NULLS FIRST;
SELECT compensation.roll_quarter('2025-Q1', '2025-Q2') AS nothing_to_roll;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.roll_quarter('2026-Q4', '2026-Q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.roll_quarter('2026-Q4', 'next')$$);
SELECT * FROM regress.error_of($$SELECT compensation.roll_quarter(NULL, '2027-Q1')$$);
\x off

-- the maximum budget: 10^15 minor units of its currency (10000000000000.00
-- EUR), so that a roll-over with the unspent rest (at most twice a budget)
-- and every other sum of budgets fits in bigint.  The largest amount bigint
-- could hold is refused, and so is one minor unit more than the maximum.
\x on
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('huge', '2026-Q4', 92233720368547758.07, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('huge', '2026-Q4', 10000000000000.01, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.set_budget('huge', '2026-Q4', 1000000000000001, 'JPY', 'JP')$$);
-- the table holds it too (the detail, the failing row, has timestamps)
SELECT code, message FROM regress.error_of($$UPDATE compensation.budget SET amount_minor = 1000000000000001 WHERE program = 'delivery' AND quarter = '2026-Q4' AND market IS NULL$$);
\x off
SELECT compensation.set_budget('huge', '2026-Q4', 10000000000000.00, 'EUR') > 0 AS at_the_maximum;
SELECT compensation.set_budget('huge', '2026-Q4', 1000000000000000, 'JPY', 'JP') > 0 AS at_the_maximum_jpy;
UPDATE compensation.budget SET spent_minor = 1000000000000000 WHERE program = 'huge' AND market = 'JP';

-- A roll-over with the unspent rest: huge (all markets) would be twice the
-- maximum, so it is not copied and a WARNING (22003) names it with a hint;
-- every other budget is copied, huge JP (fully spent) at exactly the maximum.
BEGIN;
\set VERBOSITY sqlstate
SELECT compensation.roll_quarter('2026-Q4', '2027-Q3', carry_unspent => true) AS written_with_carry;
ROLLBACK;
\set VERBOSITY default
SELECT compensation.roll_quarter('2026-Q4', '2027-Q3', carry_unspent => true) AS written_with_carry;
SELECT program, market, currency, amount, amount_minor FROM compensation.budgets
 WHERE quarter = '2027-Q3' ORDER BY program, market NULLS FIRST;
-- without the unspent rest it fits; once it exists, a roll-over with the
-- rest leaves it alone without a warning
SELECT compensation.roll_quarter('2026-Q4', '2027-Q3') AS written_without_carry;
SELECT compensation.roll_quarter('2026-Q4', '2027-Q3', carry_unspent => true) AS written_again;
SELECT program, market, amount_minor FROM compensation.budgets
 WHERE quarter = '2027-Q3' AND program = 'huge' ORDER BY market NULLS FIRST;
DELETE FROM compensation.budget WHERE program = 'huge' OR quarter = '2027-Q3';
