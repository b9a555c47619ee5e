/* src/sql/90_privileges.sql — who may do what (keep last). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- Least privilege: nothing in the schema is usable by PUBLIC.  Tables are
-- written only through the SECURITY DEFINER functions above, whose
-- search_path is pinned; nobody holds INSERT, UPDATE or DELETE on any of
-- them.  Readers get the views and the pure functions.
REVOKE ALL ON ALL TABLES IN SCHEMA compensation FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA compensation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA compensation FROM PUBLIC;

GRANT USAGE ON SCHEMA compensation
	TO compensation_reader, compensation_applier, compensation_admin;

-- reader
GRANT SELECT ON compensation.currency, compensation.budgets TO compensation_reader;
GRANT EXECUTE ON FUNCTION
	compensation.quarter(timestamptz, integer),
	compensation.quarter_range(text, integer),
	compensation.quarter_add(text, integer),
	compensation.currency_exponent(text),
	compensation.to_minor_units(numeric, text, text),
	compensation.to_major_units(bigint, text),
	compensation.eligible(text, record, integer),
	compensation.amount(text, record, integer),
	compensation.evaluate(text, record, integer),
	compensation.eligible_columns(text, integer, oid, int2[], "any"),
	compensation.amount_columns(text, integer, oid, int2[], "any"),
	compensation.evaluate_columns(text, integer, oid, int2[], "any"),
	compensation.eligible_spec(text, integer, jsonb, text, text[], "any"),
	compensation.amount_spec(text, integer, jsonb, text, text[], "any"),
	compensation.evaluate_spec(text, integer, jsonb, text, text[], "any"),
	compensation.in_holdout(text, text, integer),
	compensation.holdout_hash(text, text),
	compensation.validate_spec(jsonb)
	TO compensation_reader;
-- evaluation reads the strategy tables as the caller
GRANT SELECT ON compensation.strategies, compensation.strategy,
	compensation.strategy_version TO compensation_reader;

-- admin (applier's extra rights come with the ledger)
GRANT EXECUTE ON FUNCTION
	compensation.set_budget(text, text, numeric, text, text, text),
	compensation.roll_quarter(text, text, boolean),
	compensation.define_strategy(text, jsonb),
	compensation.activate(text, integer),
	compensation.pause(text),
	compensation.retire(text)
	TO compensation_admin;
-- The strategy functions are SECURITY DEFINER: admins cannot write the
-- strategy tables directly, so a version's author (the session user of the
-- define_strategy call), salt and status cannot be forged.  The version
-- trigger still validates every row and forbids changing anything but a
-- version's status.

-- the ledger: read by everyone, written by apply/void only
GRANT SELECT ON compensation.grants, compensation.runs, compensation.outbox,
	compensation.holdout_decision, compensation.decisions, compensation.claimed_orders,
	compensation.decided_orders TO compensation_reader;
GRANT EXECUTE ON FUNCTION
	compensation.simulate(text, timestamptz, timestamptz, numeric, integer, text, interval, text),
	compensation.simulate_all(timestamptz, timestamptz, jsonb, text[], interval)
	TO compensation_reader;
GRANT EXECUTE ON FUNCTION
	compensation.apply(text, timestamptz, boolean),
	compensation.apply_all(timestamptz, boolean),
	compensation.void_grant(bigint, text),
	compensation.outbox_mark_sent(bigint)
	TO compensation_applier;
