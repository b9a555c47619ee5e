/*-------------------------------------------------------------------------
 *
 * decisions.c
 *	  What a real run records of every candidate it decides: its latest
 *	  outcome per strategy (compensation.candidate_outcome, shown by view
 *	  compensation.decisions), the arm of those that reached the holdout
 *	  decision, and the skips that age out of max_age.
 *
 * A run writes a decision only when it says something new: a candidate
 * decided again with the same outcome, version and amount (a budget skip
 * seen by every scheduled run) is not written again, so the record costs
 * what changed, and its counts are unique orders, not one per run.  A grant
 * is recorded by its ledger row (the decisions view reads the ledger first),
 * so an apply that grants every candidate writes no decision row.  The
 * candidate query brings each candidate's previous decision along.  An arm,
 * once given, never changes; the candidate query no longer returns such
 * orders (they are claimed in their group).  Written in batches of
 * WRITE_BATCH, as the extension's owner, in the run's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "apply.h"

/*
 * The orders in the buffer, by a hash of their key: one statement may not
 * upsert an order twice (a source with a row per order line), so a second
 * decision of a buffered order replaces the first.
 */
typedef struct BufferedOrder
{
	uint64		hash;
	int			index;
	char		status;
} BufferedOrder;

#define SH_PREFIX buffered_orders
#define SH_ELEMENT_TYPE BufferedOrder
#define SH_KEY_TYPE uint64
#define SH_KEY hash
#define SH_HASH_KEY(tb, key) ((uint32) ((key) ^ ((key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct DecisionBuffer
{
	int			count;
	Datum		order_keys[WRITE_BATCH];
	Datum		buyers[WRITE_BATCH];
	Datum		markets[WRITE_BATCH];
	bool		market_nulls[WRITE_BATCH];
	Datum		ats[WRITE_BATCH];
	Datum		outcomes[WRITE_BATCH];
	Datum		arms[WRITE_BATCH];
	bool		arm_nulls[WRITE_BATCH];
	Datum		currencies[WRITE_BATCH];
	Datum		amounts[WRITE_BATCH];
	Datum		budget_ids[WRITE_BATCH];
	bool		budget_id_nulls[WRITE_BATCH];
	buffered_orders_hash *orders;
	SPIPlanPtr	plan;
} DecisionBuffer;

/*
 * prepare_decisions
 *		The buffer and statement of a real run's decisions.
 */
void
prepare_decisions(RunState *run)
{
	Oid			types[15] = {INT4OID, INT4OID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	DecisionBuffer *buffer = MemoryContextAllocZero(run->run_context, sizeof(DecisionBuffer));

	buffer->orders = buffered_orders_create(run->run_context, WRITE_BATCH * 2, NULL);

	buffer->plan = SPI_prepare("INSERT INTO compensation.candidate_outcome AS d"
							   " (strategy_id, version, program, exclusive_group, run_id, as_of,"
							   "  order_key, buyer, market, at, outcome, arm, assigned_at, currency,"
							   "  amount_minor, budget_id)"
							   " SELECT $1, $2, $3, $4, $5, $6, u.o, u.b, u.m, u.a, u.x, u.arm,"
							   "        CASE WHEN u.arm IS NOT NULL THEN $6 END, u.c, u.amount, u.bid"
							   "   FROM ROWS FROM (pg_catalog.unnest($7), pg_catalog.unnest($8),"
							   "                   pg_catalog.unnest($9), pg_catalog.unnest($10),"
							   "                   pg_catalog.unnest($11), pg_catalog.unnest($12),"
							   "                   pg_catalog.unnest($13), pg_catalog.unnest($14),"
							   "                   pg_catalog.unnest($15))"
							   "        AS u(o, b, m, a, x, arm, c, amount, bid)"
							   " ON CONFLICT (strategy_id, order_key) DO UPDATE"
							   "    SET version = excluded.version, run_id = excluded.run_id,"
							   "        as_of = excluded.as_of, buyer = excluded.buyer, market = excluded.market,"
							   "        at = excluded.at, outcome = excluded.outcome, arm = excluded.arm,"
							   "        assigned_at = excluded.assigned_at, currency = excluded.currency,"
							   "        amount_minor = excluded.amount_minor, budget_id = excluded.budget_id,"
							   "        decided_at = pg_catalog.now()"
							   "  WHERE d.arm IS NULL",
							   15, types);
	if (buffer->plan == NULL)
		elog(ERROR, "unexpected SPI_prepare failure: %s", SPI_result_code_string(SPI_result));
	run->decisions = buffer;
}

/* Free what a buffered decision holds. */
static void
free_buffered(DecisionBuffer *buffer, int i)
{
	pfree(DatumGetPointer(buffer->order_keys[i]));
	pfree(DatumGetPointer(buffer->buyers[i]));
	if (!buffer->market_nulls[i])
		pfree(DatumGetPointer(buffer->markets[i]));
	pfree(DatumGetPointer(buffer->currencies[i]));
	pfree(DatumGetPointer(buffer->outcomes[i]));
	if (!buffer->arm_nulls[i])
		pfree(DatumGetPointer(buffer->arms[i]));
}

/* Write the buffered decisions. */
void
flush_decisions(RunState *run)
{
	DecisionBuffer *buffer = (DecisionBuffer *) run->decisions;
	StrategySpec *spec = run->spec;
	int			n = buffer->count;
	Datum		args[15];

	if (n == 0)
		return;
	args[0] = Int32GetDatum(spec->strategy_id);
	args[1] = Int32GetDatum(spec->version);
	args[2] = CStringGetTextDatum(spec->program);
	args[3] = CStringGetTextDatum(spec->exclusive_group);
	args[4] = Int64GetDatum(run->run_id);
	args[5] = TimestampTzGetDatum(run->as_of);
	args[6] = PointerGetDatum(make_datum_array(buffer->order_keys, NULL, n, TEXTOID));
	args[7] = PointerGetDatum(make_datum_array(buffer->buyers, NULL, n, TEXTOID));
	args[8] = PointerGetDatum(make_datum_array(buffer->markets, buffer->market_nulls, n, TEXTOID));
	args[9] = PointerGetDatum(make_datum_array(buffer->ats, NULL, n, TIMESTAMPTZOID));
	args[10] = PointerGetDatum(make_datum_array(buffer->outcomes, NULL, n, TEXTOID));
	args[11] = PointerGetDatum(make_datum_array(buffer->arms, buffer->arm_nulls, n, TEXTOID));
	args[12] = PointerGetDatum(make_datum_array(buffer->currencies, NULL, n, TEXTOID));
	args[13] = PointerGetDatum(make_datum_array(buffer->amounts, NULL, n, INT8OID));
	args[14] = PointerGetDatum(make_datum_array(buffer->budget_ids, buffer->budget_id_nulls, n, INT8OID));
	execute_plan(buffer->plan, args, NULL, SPI_OK_INSERT);

	for (int i = 0; i < n; i++)
		free_buffered(buffer, i);
	buffer->count = 0;
	buffered_orders_reset(buffer->orders);
}

/*
 * The buffer slot for order_key: its slot when it is buffered already (the
 * later decision of an order replaces the earlier: one statement may not
 * upsert an order twice, as a source with a row per order line would make
 * it), else a new one.
 */
static int
buffer_slot(RunState *run, DecisionBuffer *buffer, const char *order_key)
{
	size_t		key_len = strlen(order_key);
	uint64		hash = hash_bytes_extended((const unsigned char *) order_key, (int) key_len, 0);
	BufferedOrder *entry = buffered_orders_lookup(buffer->orders, hash);
	bool		found;

	if (entry != NULL)
	{
		text	   *key = (text *) DatumGetPointer(buffer->order_keys[entry->index]);

		if (VARSIZE_ANY_EXHDR(key) == key_len && memcmp(VARDATA_ANY(key), order_key, key_len) == 0)
		{
			free_buffered(buffer, entry->index);
			return entry->index;
		}
		flush_decisions(run);	/* another order with the same hash: rare */
	}
	entry = buffered_orders_insert(buffer->orders, hash, &found);
	entry->index = buffer->count++;
	return entry->index;
}

/*
 * record_decision
 *		Buffer the decision of a candidate, unless it repeats the recorded
 *		one.  The arm goes with the outcomes that reached the holdout
 *		decision.
 */
void
record_decision(RunState *run, Candidate *candidate, Outcome outcome, BudgetState *budget)
{
	DecisionBuffer *buffer = (DecisionBuffer *) run->decisions;
	MemoryContext oldcontext;
	int			i;

	/*
	 * A grant is recorded by its ledger row, which the decisions view reads
	 * as granted, in treatment, with its version, run and as_of, ahead of any
	 * decision row of the order.  A row is written for a grant only to
	 * replace the candidate's earlier skip, so that the table keeps no stale
	 * skip for the common case; a grant costs no second write.
	 */
	if (outcome == OUTCOME_GRANTED && candidate->previous_outcome == NULL)
		return;
	if (candidate->previous_outcome != NULL &&
		strcmp(candidate->previous_outcome, outcome_names[outcome]) == 0 &&
		candidate->previous_version == run->spec->version &&
		candidate->previous_amount_minor == candidate->amount_minor)
		return;

	oldcontext = MemoryContextSwitchTo(run->run_context);
	i = buffer_slot(run, buffer, candidate->order_key);
	buffer->order_keys[i] = CStringGetTextDatum(candidate->order_key);
	buffer->buyers[i] = CStringGetTextDatum(candidate->buyer);
	buffer->market_nulls[i] = candidate->market == NULL;
	buffer->markets[i] = candidate->market ? CStringGetTextDatum(candidate->market) : (Datum) 0;
	buffer->ats[i] = TimestampTzGetDatum(candidate->at);
	buffer->outcomes[i] = CStringGetTextDatum(outcome_names[outcome]);
	buffer->arm_nulls[i] = outcome != OUTCOME_GRANTED && outcome != OUTCOME_HOLDOUT;
	buffer->arms[i] = outcome == OUTCOME_GRANTED ? CStringGetTextDatum("treatment")
		: outcome == OUTCOME_HOLDOUT ? CStringGetTextDatum("holdout") : (Datum) 0;
	buffer->currencies[i] = CStringGetTextDatum(candidate->currency);
	buffer->amounts[i] = Int64GetDatum(candidate->amount_minor);
	buffer->budget_id_nulls[i] = budget == NULL || budget->budget_id == 0;
	buffer->budget_ids[i] = Int64GetDatum(budget ? budget->budget_id : 0);
	MemoryContextSwitchTo(oldcontext);
	if (buffer->count == WRITE_BATCH)
		flush_decisions(run);
}

/*
 * pending_holdout
 *		Is order_key held out by this run, in a decision not written yet?
 */
bool
pending_holdout(RunState *run, const char *order_key)
{
	DecisionBuffer *buffer = (DecisionBuffer *) run->decisions;
	size_t		key_len = strlen(order_key);

	for (int i = buffer->count - 1; i >= 0; i--)
	{
		text	   *key = (text *) DatumGetPointer(buffer->order_keys[i]);

		if (!buffer->arm_nulls[i] && VARSIZE_ANY_EXHDR(key) == key_len &&
			memcmp(VARDATA_ANY(key), order_key, key_len) == 0)
			return true;
	}
	return false;
}

/*
 * expire_decisions
 *		The strategy's candidates skipped for budget or pace whose time is now
 *		before the run's first candidate time (as_of - max_age): they will
 *		never be candidates again.  A real run records them as 'expired'; a
 *		dry run only counts them.  Returns how many.
 */
int64
expire_decisions(RunState *run, TimestampTz before, bool record)
{
	Oid			types[4] = {INT4OID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID};
	Datum		args[4];
	int			ret;

	args[0] = Int32GetDatum(run->spec->strategy_id);
	args[1] = TimestampTzGetDatum(before);
	args[2] = Int64GetDatum(run->run_id);
	args[3] = TimestampTzGetDatum(run->as_of);
	if (record)
		ret = SPI_execute_with_args("UPDATE compensation.candidate_outcome"
									"   SET outcome = 'expired', run_id = $3, as_of = $4,"
									"       decided_at = pg_catalog.now()"
									" WHERE strategy_id OPERATOR(pg_catalog.=) $1"
									"   AND outcome IN ('budget', 'pace')"
									"   AND at OPERATOR(pg_catalog.<) $2",
									4, types, args, NULL, false, 0);
	else
		ret = SPI_execute_with_args("SELECT FROM compensation.candidate_outcome"
									" WHERE strategy_id OPERATOR(pg_catalog.=) $1"
									"   AND outcome IN ('budget', 'pace')"
									"   AND at OPERATOR(pg_catalog.<) $2"
									"   AND $3 IS NOT NULL AND $4 IS NOT NULL",
									4, types, args, NULL, true, 0);
	if (ret != (record ? SPI_OK_UPDATE : SPI_OK_SELECT))
		elog(ERROR, "unexpected SPI result %s expiring decisions", SPI_result_code_string(ret));
	return (int64) SPI_processed;
}
