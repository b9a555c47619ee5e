/* src/sql/30_budget.sql — quarterly budgets per program (and market). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- One row per program, quarter and market (NULL market: the budget for all
-- markets of the program).  Amounts are integer minor units of currency.
-- spent_minor is maintained by apply and void_grant under the row lock, so
-- the row is also the serialisation point of everything that spends it.
--
-- A budget is at most 10^15 minor units of its currency (10 000 000 000 000.00
-- EUR, 1 000 000 000 000 000 JPY): small enough that every sum the extension
-- makes of budgets and grants fits in a bigint with room to spare (a
-- roll-over with the unspent rest, at most twice a budget; a run's total per
-- currency over the budgets of a program and quarter; a buyer's grants under
-- a cap).  set_budget and roll_quarter refuse more with a message and a hint,
-- against the same literal as the CHECK.
CREATE TABLE compensation.budget (
	budget_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	program		text NOT NULL CHECK (program <> '' AND program = btrim(program)),
	quarter		text NOT NULL CHECK (quarter ~ '^[0-9]{4}-Q[1-4]$'),
	market		text CHECK (market <> '' AND market = btrim(market)),
	currency	char(3) NOT NULL REFERENCES compensation.currency (code),
	amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
	spent_minor bigint NOT NULL DEFAULT 0 CHECK (spent_minor >= 0),
	-- 'asap': spend as candidates come; 'even': at most budget x the share
	-- of the quarter elapsed by the end of the run's day (src/budget_caps.c)
	pacing		text NOT NULL DEFAULT 'asap' CHECK (pacing IN ('asap', 'even')),
	-- when a run first could not fund a candidate for budget (NULL: never)
	exhausted_at timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	name NOT NULL DEFAULT session_user,
	CONSTRAINT budget_not_overspent CHECK (spent_minor <= amount_minor),
	CONSTRAINT budget_amount_within_max CHECK (amount_minor <= 1000000000000000),
	CONSTRAINT budget_program_quarter_market_key
		UNIQUE NULLS NOT DISTINCT (program, quarter, market)
);

COMMENT ON TABLE compensation.budget IS
	'quarterly budget of a compensation program, optionally per market, in integer minor units';

SELECT pg_catalog.pg_extension_config_dump('compensation.budget', '');
SELECT pg_catalog.pg_extension_config_dump('compensation.budget_budget_id_seq', '');

CREATE VIEW compensation.budgets AS
SELECT b.program,
	   b.quarter,
	   b.market,
	   b.currency::text AS currency,
	   compensation.to_major_units(b.amount_minor, b.currency) AS amount,
	   compensation.to_major_units(b.spent_minor, b.currency) AS spent,
	   compensation.to_major_units(b.amount_minor - b.spent_minor, b.currency) AS remaining,
	   b.amount_minor,
	   b.spent_minor,
	   b.pacing,
	   b.exhausted_at,
	   b.updated_at,
	   b.updated_by,
	   b.budget_id
  FROM compensation.budget AS b;

COMMENT ON VIEW compensation.budgets IS
	'budgets in the currency''s major unit, with what is spent and what remains';

/*
 * set_budget(program, quarter, amount, currency, market, pacing) -> budget_id
 *		Creates or replaces one quarter's budget.  The amount must be exact in
 *		the currency's minor units and not below what is already spent; the
 *		currency of a budget that has spent money cannot change.  pacing is
 *		'asap' or 'even' (NULL: keep the budget's, 'asap' for a new one).
 *		Raising the amount of an exhausted budget makes it fund again.
 */
CREATE FUNCTION compensation.set_budget(program text, quarter text, amount numeric,
										currency text, market text DEFAULT NULL,
										pacing text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	max_amount_minor constant bigint := 1000000000000000;	-- as budget_amount_within_max
	new_amount_minor bigint;
	existing compensation.budget;
	result bigint;
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('set_budget');
	IF pacing IS NOT NULL AND pacing NOT IN ('asap', 'even') THEN
		RAISE EXCEPTION 'unknown pacing "%"', pacing
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'pacing is ''asap'' (spend as candidates come) or ''even'' (at most the share of the quarter elapsed).';
	END IF;
	IF program IS NULL OR btrim(program) = '' THEN
		RAISE EXCEPTION 'program must be a non-empty name'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name the budget program, for example ''delivery'' or ''reviews''.';
	END IF;
	IF quarter IS NULL THEN
		RAISE EXCEPTION 'quarter must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Give a quarter such as ''2026-Q4''.';
	END IF;
	PERFORM compensation.quarter_range(quarter);	-- strict 'YYYY-Qn' check
	IF currency IS NULL THEN
		RAISE EXCEPTION 'currency must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Give an ISO 4217 code such as EUR.';
	END IF;
	IF market IS NOT NULL AND btrim(market) = '' THEN
		RAISE EXCEPTION 'market must be NULL (all markets) or a non-empty name'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass NULL for a budget that covers every market of the program.';
	END IF;
	currency := upper(btrim(currency));
	new_amount_minor := compensation.to_minor_units(amount, currency);
	IF new_amount_minor > max_amount_minor THEN
		RAISE EXCEPTION 'budget amount % % is above the maximum budget', amount, currency
			USING ERRCODE = 'numeric_value_out_of_range',
				  DETAIL = format('A budget is at most 10^15 minor units of its currency: %s %s.',
								  compensation.to_major_units(max_amount_minor, currency), currency),
				  HINT = 'Give a smaller amount, or split the budget by market.';
	END IF;
	program := btrim(program);
	market := btrim(market);

	-- The program first, as apply and roll_quarter do (src/apply.c): a
	-- transaction that sets several budgets never waits in a cycle with a
	-- roll-over, and two first inserts of one key wait instead of failing.
	PERFORM pg_catalog.pg_advisory_xact_lock(
				pg_catalog.hashtext('compensation.program'), pg_catalog.hashtext(program));
	-- Lock the row, if any, so that the checks below hold at commit.
	SELECT * INTO existing
	  FROM compensation.budget AS b
	 WHERE b.program OPERATOR(pg_catalog.=) set_budget.program
	   AND b.quarter OPERATOR(pg_catalog.=) set_budget.quarter
	   AND b.market IS NOT DISTINCT FROM set_budget.market
	   FOR UPDATE;

	IF FOUND THEN
		IF existing.spent_minor > 0 AND existing.currency <> currency THEN
			RAISE EXCEPTION 'budget % % % has spending in %; its currency cannot change',
				program, quarter, coalesce(market, '(all markets)'), existing.currency
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Set the budget in %s, or use another program.', existing.currency);
		END IF;
		IF new_amount_minor < existing.spent_minor THEN
			RAISE EXCEPTION 'budget % % % cannot be set below what is already spent',
				program, quarter, coalesce(market, '(all markets)')
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('%s %s is already spent; the new amount is %s %s.',
									  compensation.to_major_units(existing.spent_minor, currency),
									  currency, amount, currency),
					  HINT = 'To stop spending, pause the strategies of the program instead.';
		END IF;
		UPDATE compensation.budget AS b
		   SET amount_minor = new_amount_minor,
			   currency = set_budget.currency,
			   pacing = coalesce(set_budget.pacing, b.pacing),
			   exhausted_at = CASE WHEN new_amount_minor > b.amount_minor THEN NULL
								   ELSE b.exhausted_at END,
			   updated_at = now(),
			   updated_by = session_user
		 WHERE b.budget_id OPERATOR(pg_catalog.=) existing.budget_id;
		result := existing.budget_id;
	ELSE
		INSERT INTO compensation.budget (program, quarter, market, currency, amount_minor, pacing)
		VALUES (program, quarter, market, currency, new_amount_minor, coalesce(pacing, 'asap'))
		RETURNING budget_id INTO result;
	END IF;
	RETURN result;
END
$fn$;

COMMENT ON FUNCTION compensation.set_budget(text, text, numeric, text, text, text) IS
	'create or replace one quarter''s budget of a program (market NULL: all markets); returns budget_id';

/*
 * roll_quarter(from, to, carry_unspent) -> number of budgets written
 *		Copies every budget of quarter "from" into quarter "to".  With
 *		carry_unspent, the unspent part of "from" is added to the copied
 *		amount.  Budgets that already exist in "to" are left alone, so running
 *		it twice (or from two sessions) writes each budget once.  A budget
 *		whose copy would be above the maximum budget (10^15 minor units) is
 *		not copied: a WARNING names it, and the others are copied.
 *
 * Locks, in the order apply() and apply_all() take theirs (exclusive
 * groups, programs, budgets in budget_id order; src/apply.c), so that none
 * of them ever waits for the other in a cycle: the program advisory lock of
 * every program with a budget in "from", in apply_all's order (by lock key,
 * hashtext of the name), then the budgets of "from" FOR SHARE in
 * budget_id order, so that no spending, void or set_budget changes them
 * while they are copied.  It takes every lock before its first write.  A
 * budget of a program first budgeted in "from" while the roll-over runs is
 * not copied (its program is not locked): run it again to copy it.
 */
CREATE FUNCTION compensation.roll_quarter("from" text, "to" text, carry_unspent boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	programs text[];
	program_name text;
	source_ids bigint[];
	source compensation.budget;
	max_amount_minor constant bigint := 1000000000000000;	-- as budget_amount_within_max
	copied_minor numeric;		-- exact: amount + unspent may not fit in bigint
	source_exponent smallint;
	inserted integer;
	written integer := 0;
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('roll_quarter');
	IF "from" IS NULL OR "to" IS NULL OR carry_unspent IS NULL THEN
		RAISE EXCEPTION 'roll_quarter arguments must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'For example: SELECT compensation.roll_quarter(''2026-Q4'', ''2027-Q1'');';
	END IF;
	PERFORM compensation.quarter_range("from");
	PERFORM compensation.quarter_range("to");
	IF "from" = "to" THEN
		RAISE EXCEPTION 'roll_quarter needs two different quarters'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Roll into the next quarter: compensation.quarter_add(from, 1).';
	END IF;

	SELECT pg_catalog.array_agg(d.program ORDER BY pg_catalog.hashtext(d.program), d.program)
	  INTO programs
	  FROM (SELECT DISTINCT b.program FROM compensation.budget AS b
			 WHERE b.quarter OPERATOR(pg_catalog.=) "from") AS d;
	IF programs IS NULL THEN
		RETURN 0;
	END IF;
	FOREACH program_name IN ARRAY programs LOOP
		PERFORM pg_catalog.pg_advisory_xact_lock(
					pg_catalog.hashtext('compensation.program'), pg_catalog.hashtext(program_name));
	END LOOP;
	SELECT pg_catalog.array_agg(locked.budget_id) INTO source_ids
	  FROM (SELECT b.budget_id
			  FROM compensation.budget AS b
			 WHERE b.quarter OPERATOR(pg_catalog.=) "from"
			   AND b.program OPERATOR(pg_catalog.=) ANY (programs)
			 ORDER BY b.budget_id
			   FOR SHARE) AS locked;

	FOR source IN
		SELECT * FROM compensation.budget AS b
		 WHERE b.budget_id OPERATOR(pg_catalog.=) ANY (source_ids)
		 ORDER BY b.budget_id
	LOOP
		copied_minor := source.amount_minor;
		IF carry_unspent THEN
			copied_minor := copied_minor OPERATOR(pg_catalog.+)
				(source.amount_minor::numeric OPERATOR(pg_catalog.-) source.spent_minor);
		END IF;
		IF copied_minor > max_amount_minor THEN
			source_exponent := compensation.currency_exponent(source.currency);
			IF NOT EXISTS (SELECT FROM compensation.budget AS b
							WHERE b.program OPERATOR(pg_catalog.=) source.program
							  AND b.quarter OPERATOR(pg_catalog.=) "to"
							  AND b.market IS NOT DISTINCT FROM source.market) THEN
				RAISE WARNING 'budget % % % not rolled over into %: it would be above the maximum budget',
					source.program, "from", coalesce(source.market, '(all markets)'), "to"
					USING ERRCODE = 'numeric_value_out_of_range',
						  DETAIL = format('With its unspent rest it would be %s %s; a budget is at most %s %s.',
										  round(copied_minor / (10::numeric ^ source_exponent), source_exponent),
										  source.currency,
										  compensation.to_major_units(max_amount_minor, source.currency),
										  source.currency),
						  HINT = format('Set it with compensation.set_budget(%L, %L, amount, %L%s).',
										source.program, "to", source.currency,
										CASE WHEN source.market IS NULL THEN ''
											 ELSE format(', %L', source.market) END);
			END IF;
			CONTINUE;
		END IF;
		INSERT INTO compensation.budget (program, quarter, market, currency, amount_minor, pacing)
		VALUES (source.program, "to", source.market, source.currency, copied_minor::bigint,
				source.pacing)
		ON CONFLICT ON CONSTRAINT budget_program_quarter_market_key DO NOTHING;
		GET DIAGNOSTICS inserted = ROW_COUNT;
		written := written + inserted;
	END LOOP;
	RETURN written;
END
$fn$;

COMMENT ON FUNCTION compensation.roll_quarter(text, text, boolean) IS
	'copy the budgets of one quarter into another (optionally adding the unspent rest); idempotent; a budget whose copy would be above the maximum is left out with a WARNING';
