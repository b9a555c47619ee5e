/*-------------------------------------------------------------------------
 *
 * ledger_writer.c
 *	  What a real run writes: grants, their outbox messages and NOTIFY,
 *	  the budgets' spending and the run row (its decisions: decisions.c).
 *
 * Grants are buffered and written WRITE_BATCH at a
 * time, each batch one INSERT ... SELECT FROM unnest() of arrays, with
 * prepared plans.  A grant takes its id from the sequence as it is made:
 * its voucher code names it (voucher_code.c), and the outbox rows and the
 * NOTIFY payload name it too.  Everything is written
 * in the run's transaction: a run that fails or is killed leaves nothing.
 * Runs as the extension's owner (apply() is SECURITY DEFINER), never as a
 * strategy's author.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "apply.h"
#include "notify.h"

/*
 * NOTIFY payloads must stay under 8000 bytes (NOTIFY_PAYLOAD_MAX_LENGTH,
 * private to async.c: BLCKSZ - NAMEDATALEN - 128).
 */
#define NOTIFY_PAYLOAD_LIMIT (BLCKSZ - NAMEDATALEN - 128)

static SPIPlanPtr
prepare(const char *query, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(query, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "unexpected SPI_prepare failure for \"%s\": %s", query, SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Run a prepared plan.  SPI leaves CurrentMemoryContext at its procedure
 * context, which lives as long as the whole run: switch back, so that what
 * the caller allocates next (a batch's arrays, a row's values) goes where
 * it will be freed.
 */
void
execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, int expected)
{
	MemoryContext caller_context = CurrentMemoryContext;
	int			ret = SPI_execute_plan(plan, values, nulls, false, 0);

	MemoryContextSwitchTo(caller_context);
	if (ret != expected)
		elog(ERROR, "unexpected SPI result %s", SPI_result_code_string(ret));
}

/*
 * make_datum_array
 *		A one-dimensional array of the given elements (NULL nulls: none), for
 *		the batched INSERTs of the ledger and the decisions.
 */
ArrayType *
make_datum_array(Datum *elements, bool *nulls, int count, Oid element_type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {count};
	int			lbs[1] = {1};

	get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
	return construct_md_array(elements, nulls, 1, dims, lbs, element_type, typlen, typbyval, typalign);
}

static void
buffer_row(WriteBuffer *buffer, int64 grant_id, const char *order_key, const char *buyer,
		   const char *market, TimestampTz at, const char *currency, int64 amount_minor,
		   int64 budget_id, MemoryContext context)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(context);
	int			i = buffer->count++;

	buffer->grant_ids[i] = Int64GetDatum(grant_id);
	buffer->order_keys[i] = CStringGetTextDatum(order_key);
	buffer->buyers[i] = CStringGetTextDatum(buyer);
	buffer->market_nulls[i] = market == NULL;
	buffer->markets[i] = market ? CStringGetTextDatum(market) : (Datum) 0;
	buffer->ats[i] = TimestampTzGetDatum(at);
	buffer->currencies[i] = CStringGetTextDatum(currency);
	buffer->amounts[i] = Int64GetDatum(amount_minor);
	buffer->budget_ids[i] = Int64GetDatum(budget_id);
	MemoryContextSwitchTo(oldcontext);
}

static void
free_buffer_values(WriteBuffer *buffer)
{
	for (int i = 0; i < buffer->count; i++)
	{
		pfree(DatumGetPointer(buffer->order_keys[i]));
		pfree(DatumGetPointer(buffer->buyers[i]));
		if (!buffer->market_nulls[i])
			pfree(DatumGetPointer(buffer->markets[i]));
		pfree(DatumGetPointer(buffer->currencies[i]));
		if (buffer->notices[i])
		{
			GrantNotice *notice = buffer->notices[i];

			if (notice->code)
				pfree(notice->code);
			if (notice->message)
				pfree(notice->message);
			if (notice->void_message)
				pfree(notice->void_message);
			pfree(notice);
			buffer->notices[i] = NULL;
		}
	}
	buffer->count = 0;
}

/*
 * NOTIFY compensation_grant with the batch's grant ids, comma-separated,
 * three or more consecutive ids as a range "first-last" (a batch takes its
 * ids from the sequence together, so most of a batch is one range), in as
 * few notifications as the payload limit allows: a run of one grant sends
 * '<grant id>', of two '<id>,<id>'.  PostgreSQL keeps every pending
 * notification in memory until commit: one per grant made a run of a
 * million grants hold ~140 MB, the ids of a batch one by one ~8 bytes a
 * grant, ranges a few bytes a batch.  Delivered only if the transaction
 * commits, like the rows.
 */
static void
notify_grants(Datum *grant_ids, int n)
{
	StringInfoData payload;
	int			first = 0;

	initStringInfo(&payload);
	while (first < n)
	{
		char		item[2 * MAXINT8LEN + 2];
		int			last = first;
		int			len;

		while (last + 1 < n && DatumGetInt64(grant_ids[last]) < PG_INT64_MAX &&
			   DatumGetInt64(grant_ids[last + 1]) == DatumGetInt64(grant_ids[last]) + 1)
			last++;
		if (last - first >= 2)
		{
			len = pg_lltoa(DatumGetInt64(grant_ids[first]), item);
			item[len++] = '-';
			len += pg_lltoa(DatumGetInt64(grant_ids[last]), item + len);
		}
		else
		{
			last = first;
			len = pg_lltoa(DatumGetInt64(grant_ids[first]), item);
		}
		if (payload.len > 0 && payload.len + 1 + len >= NOTIFY_PAYLOAD_LIMIT)
		{
			Async_Notify("compensation_grant", payload.data);
			resetStringInfo(&payload);
		}
		if (payload.len > 0)
			appendStringInfoChar(&payload, ',');
		appendBinaryStringInfo(&payload, item, len);
		first = last + 1;
	}
	if (payload.len > 0)
		Async_Notify("compensation_grant", payload.data);
	pfree(payload.data);
}

static void
flush_grants(RunState *run)
{
	WriteBuffer *buffer = run->grants;
	StrategySpec *spec = run->spec;
	int			n = buffer->count;
	Datum	   *grant_ids = buffer->grant_ids;
	Datum		args[17];
	char		nulls[17];
	Datum	   *codes = NULL;
	bool	   *code_nulls = NULL;

	if (n == 0)
		return;

	args[0] = PointerGetDatum(make_datum_array(grant_ids, NULL, n, INT8OID));
	args[1] = Int64GetDatum(run->run_id);
	args[2] = Int32GetDatum(spec->strategy_id);
	args[3] = Int32GetDatum(spec->version);
	args[4] = CStringGetTextDatum(spec->program);
	args[5] = CStringGetTextDatum(spec->exclusive_group);
	args[6] = PointerGetDatum(make_datum_array(buffer->order_keys, NULL, n, TEXTOID));
	args[7] = PointerGetDatum(make_datum_array(buffer->buyers, NULL, n, TEXTOID));
	args[8] = PointerGetDatum(make_datum_array(buffer->markets, buffer->market_nulls, n, TEXTOID));
	args[9] = PointerGetDatum(make_datum_array(buffer->ats, NULL, n, TIMESTAMPTZOID));
	args[10] = PointerGetDatum(make_datum_array(buffer->currencies, NULL, n, TEXTOID));
	args[11] = PointerGetDatum(make_datum_array(buffer->amounts, NULL, n, INT8OID));
	args[12] = CStringGetTextDatum(spec->instrument);
	args[13] = PointerGetDatum(make_datum_array(buffer->budget_ids, NULL, n, INT8OID));
	args[14] = TimestampTzGetDatum(run->as_of);
	/* voucher codes (NULL: none, unnest pads), expiry */
	memset(nulls, ' ', sizeof(nulls));
	if (spec->notify && spec->notify->uses_code)
	{
		codes = palloc(sizeof(Datum) * n);
		code_nulls = palloc(sizeof(bool) * n);
		for (int i = 0; i < n; i++)
		{
			code_nulls[i] = buffer->notices[i]->code == NULL;
			codes[i] = code_nulls[i] ? (Datum) 0 : CStringGetTextDatum(buffer->notices[i]->code);
		}
		args[15] = PointerGetDatum(make_datum_array(codes, code_nulls, n, TEXTOID));
	}
	else
		nulls[15] = 'n';
	if (spec->has_expires)
		args[16] = TimestampTzGetDatum(run->expires_at);
	else
		nulls[16] = 'n';
	execute_plan(run->grant_plan, args, nulls, SPI_OK_INSERT);

	if (spec->notify)
	{
		Datum		outbox_args[5];
		Datum	   *channels = palloc(sizeof(Datum) * n);
		Datum	   *messages = palloc(sizeof(Datum) * n);
		Datum	   *void_messages = palloc(sizeof(Datum) * n);
		bool	   *void_nulls = palloc(sizeof(bool) * n);
		Datum	   *reachable = palloc(sizeof(Datum) * n);

		for (int i = 0; i < n; i++)
		{
			GrantNotice *notice = buffer->notices[i];

			channels[i] = CStringGetTextDatum(notice->channel);
			messages[i] = CStringGetTextDatum(notice->message);
			void_nulls[i] = notice->void_message == NULL;
			void_messages[i] = void_nulls[i] ? (Datum) 0 : CStringGetTextDatum(notice->void_message);
			reachable[i] = BoolGetDatum(notice->reachable);
		}
		outbox_args[0] = args[0];
		outbox_args[1] = PointerGetDatum(make_datum_array(channels, NULL, n, TEXTOID));
		outbox_args[2] = PointerGetDatum(make_datum_array(messages, NULL, n, TEXTOID));
		outbox_args[3] = PointerGetDatum(make_datum_array(void_messages, void_nulls, n, TEXTOID));
		outbox_args[4] = PointerGetDatum(make_datum_array(reachable, NULL, n, BOOLOID));
		execute_plan(run->outbox_plan, outbox_args, NULL, SPI_OK_INSERT);
	}

	notify_grants(grant_ids, n);
	free_buffer_values(buffer);
}

/*
 * prepare_writes
 *		The buffers and the prepared statements of a real run.
 */
void
prepare_writes(RunState *run)
{
	Oid			text_types[2] = {TEXTOID, TEXTOID};
	Oid			grant_types[17] = {INT8ARRAYOID, INT8OID, INT4OID, INT4OID, TEXTOID, TEXTOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
	TEXTARRAYOID, INT8ARRAYOID, TEXTOID, INT8ARRAYOID, TIMESTAMPTZOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Oid			outbox_types[5] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, BOOLARRAYOID};
	MemoryContext oldcontext = MemoryContextSwitchTo(run->run_context);

	run->grants = palloc0(sizeof(WriteBuffer));
	/* every grant of a run expires at its as_of + "expires" */
	run->expires_at = run->spec->has_expires
		? DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												  TimestampTzGetDatum(run->as_of),
												  PointerGetDatum(&run->spec->expires)))
		: DT_NOEND;
	run->expiry = format_expiry(run->spec, run->expires_at);
	MemoryContextSwitchTo(oldcontext);
	run->grant_id_sequence = get_relname_relid("ledger_grant_id_seq",
											   get_namespace_oid("compensation", false));
	if (!OidIsValid(run->grant_id_sequence))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("sequence compensation.ledger_grant_id_seq does not exist"),
				 errhint("The extension's objects must not be dropped or renamed.")));

	run->ledger_order_plan = prepare("SELECT FROM compensation.claimed_orders"
									 " WHERE exclusive_group OPERATOR(pg_catalog.=) $1"
									 "   AND order_key OPERATOR(pg_catalog.=) $2", 2, text_types);
	run->grant_plan = prepare("INSERT INTO compensation.ledger"
							  " (grant_id, run_id, strategy_id, version, program, exclusive_group,"
							  "  order_key, buyer, market, at, currency, amount_minor, instrument, budget_id, as_of,"
							  "  voucher_code, expires_at)"
							  " SELECT u.g, $2, $3, $4, $5, $6, u.o, u.b, u.m, u.a, u.c, u.x, $13, u.bid, $15, u.code, $17"
							  "   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($7), pg_catalog.unnest($8),"
							  "                   pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
							  "                   pg_catalog.unnest($12), pg_catalog.unnest($14), pg_catalog.unnest($16))"
							  "        AS u(g, o, b, m, a, c, x, bid, code)", 17, grant_types);
	/* a buyer no listed channel reaches gets the message 'dead' at once */
	run->outbox_plan = prepare("INSERT INTO compensation.outbox_message"
							   " (grant_id, kind, channel, message, void_message, status, last_error)"
							   " SELECT u.g, 'grant', u.ch, u.m, u.vm,"
							   "        CASE WHEN u.r THEN 'pending' ELSE 'dead' END,"
							   "        CASE WHEN u.r THEN NULL ELSE 'no listed channel reaches the buyer' END"
							   "   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
							   "                   pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(g, ch, m, vm, r)",
							   5, outbox_types);
}


/*
 * A granted candidate, with its id, voucher code and message (notify.c);
 * written WRITE_BATCH at a time.
 */
void
buffer_grant(RunState *run, Candidate *candidate, BudgetState *budget)
{
	StrategySpec *spec = run->spec;
	int64		grant_id = nextval_internal(run->grant_id_sequence, true);

	buffer_row(run->grants, grant_id, candidate->order_key, candidate->buyer, candidate->market,
			   candidate->at, candidate->currency, candidate->amount_minor, budget->budget_id,
			   run->run_context);
	if (spec->notify)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(run->run_context);

		run->grants->notices[run->grants->count - 1] =
			make_grant_notice(spec, candidate, grant_id, run->expiry);
		MemoryContextSwitchTo(oldcontext);
	}
	if (run->grants->count == WRITE_BATCH)
		flush_grants(run);
}

/*
 * Has this run granted (or held out) order_key?  For a real run, which
 * remembers only a hash of the orders it took: on a hash match, the grants
 * and holdouts not written yet, then what is written (this run's own rows,
 * under its locks), confirm.
 */
bool
ledger_has_order(RunState *run, const char *order_key)
{
	WriteBuffer *pending = run->grants;
	size_t		key_len = strlen(order_key);
	Datum		args[2];
	bool		found;

	for (int i = pending->count - 1; i >= 0; i--)
	{
		text	   *pending_key = (text *) DatumGetPointer(pending->order_keys[i]);

		if (VARSIZE_ANY_EXHDR(pending_key) == key_len &&
			memcmp(VARDATA_ANY(pending_key), order_key, key_len) == 0)
			return true;
	}
	if (pending_holdout(run, order_key))
		return true;
	args[0] = CStringGetTextDatum(run->spec->exclusive_group);
	args[1] = CStringGetTextDatum(order_key);
	execute_plan(run->ledger_order_plan, args, NULL, SPI_OK_SELECT);
	found = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	return found;
}

/*
 * finish_writes
 *		Write what is still buffered, add what the run spent to its budgets,
 *		and record the run's counts in its row.
 */
void
finish_writes(RunState *run)
{
	Oid			budget_types[4] = {INT8OID, INT8OID, BOOLOID, TIMESTAMPTZOID};
	Oid			done_types[13] = {INT8OID, INT8OID, INT8OID, JSONBOID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		done_args[13];
	char		done_nulls[13];

	flush_grants(run);
	flush_decisions(run);
	for (int i = 0; i < run->nbudgets; i++)
	{
		Datum		budget_args[4];

		if (run->budgets[i].spent_minor == 0 && !run->budgets[i].exhausted)
			continue;
		budget_args[0] = Int64GetDatum(run->budgets[i].budget_id);
		budget_args[1] = Int64GetDatum(run->budgets[i].spent_minor);
		budget_args[2] = BoolGetDatum(run->budgets[i].exhausted);
		budget_args[3] = TimestampTzGetDatum(run->as_of);
		if (SPI_execute_with_args("UPDATE compensation.budget"
								  "   SET spent_minor = spent_minor OPERATOR(pg_catalog.+) $2,"
								  "       exhausted_at = COALESCE(exhausted_at,"
								  "                        CASE WHEN $3 THEN $4::pg_catalog.timestamptz END),"
								  "       updated_at = pg_catalog.now()"
								  " WHERE budget_id OPERATOR(pg_catalog.=) $1",
								  4, budget_types, budget_args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "unexpected failure updating budget " INT64_FORMAT, run->budgets[i].budget_id);
	}
	done_args[0] = Int64GetDatum(run->run_id);
	done_args[1] = Int64GetDatum(run->candidates);
	done_args[2] = Int64GetDatum(run->granted_count);
	done_args[3] = totals_jsonb(run);
	done_args[4] = Int64GetDatum(run->skipped[OUTCOME_HOLDOUT]);
	done_args[5] = Int64GetDatum(run->skipped[OUTCOME_CAP]);
	done_args[6] = Int64GetDatum(run->skipped[OUTCOME_BUDGET]);
	done_args[7] = Int64GetDatum(run->skipped[OUTCOME_DUPLICATE]);
	done_args[8] = Int64GetDatum(run->skipped[OUTCOME_CURRENCY]);
	done_args[9] = Int64GetDatum(run->skipped[OUTCOME_PACE]);
	done_args[10] = Int64GetDatum(run->skipped[OUTCOME_EXPIRED]);
	/* the watermark the next run reads from, and what this one read from */
	done_args[11] = TimestampTzGetDatum(run->watermark);
	done_args[12] = TimestampTzGetDatum(run->changed_since);
	memset(done_nulls, ' ', sizeof(done_nulls));
	done_nulls[12] = run->incremental ? ' ' : 'n';
	if (SPI_execute_with_args("UPDATE compensation.run"
							  "   SET status = 'done', finished_at = pg_catalog.clock_timestamp(),"
							  "       candidates = $2, granted = $3, amount_by_currency = $4,"
							  "       skipped_holdout = $5, skipped_cap = $6, skipped_budget = $7,"
							  "       skipped_duplicate = $8, skipped_currency = $9,"
							  "       skipped_pace = $10, skipped_expired = $11,"
							  "       watermark = $12, changed_since = $13"
							  " WHERE run_id OPERATOR(pg_catalog.=) $1",
							  13, done_types, done_args, done_nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "unexpected failure finishing the run");
}
