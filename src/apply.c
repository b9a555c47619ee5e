/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  The run engine behind compensation.apply() and compensation.simulate():
 *	  walk a strategy's candidates in order and decide, for each, granted or
 *	  skipped (duplicate, holdout, budget, currency, cap); write the grants,
 *	  their notifications and the holdout records.
 *
 * One engine, three modes, so that a dry run and a backtest can never
 * disagree with a real run about what the rules mean:
 *	- RUN_APPLY:	takes the locks, writes the ledger, outbox, holdout
 *					records, budgets and the run row, sends NOTIFY;
 *	- RUN_DRY:		the same decisions against the same ledger, no lock, no
 *					write;
 *	- RUN_SIMULATE: an empty ledger and an optional single budget; returns
 *					one row per candidate.
 *
 * Rights: apply() is SECURITY DEFINER, but its candidate queries read the
 * strategy's source as the version's author, never as the owner: planning,
 * opening and every fetch run inside become_author()/stop_being_author()
 * (src/security.c), and only the ledger writes run as the owner.  A dry
 * run reads the same way; simulate() is SECURITY INVOKER and reads as its
 * caller.
 *
 * Concurrency: a real run first takes transaction advisory locks on its
 * exclusive group and on its program, then locks every budget of its
 * program and quarter (FOR UPDATE, in budget_id order).  Runs that could
 * grant the same order, count the same buyer's grants or spend the same
 * budget therefore run one after the other, and each sees what the
 * previous one committed (READ COMMITTED takes a new snapshot for the
 * candidate query, opened after the locks).  apply_all takes all its
 * strategies' locks first, in the same order (groups, programs, budgets),
 * so runs never deadlock.  The unique constraint on (exclusive_group,
 * order_key) stays the last line of defence.  A run is a single
 * transaction: killed halfway, it leaves nothing.
 *
 * Memory: candidates are read through a cursor in batches; per-row work
 * happens in a context reset at every row.  What grows with the run is the
 * set of orders granted by it and the per-buyer history that caps need.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compensation.h"
#include "strategy.h"

/* Rows fetched from the candidate cursor at a time. */
#define CANDIDATE_BATCH 1000
/*
 * Order keys and buyers are identifiers: longer ones are a bad row (the
 * ledger's unique index could not hold them), refused with the order named.
 */
#define MAX_KEY_BYTES 1000
/* Grants and holdout records written per statement. */
#define WRITE_BATCH 1000
/*
 * NOTIFY payloads must stay under 8000 bytes (NOTIFY_PAYLOAD_MAX_LENGTH,
 * private to async.c: BLCKSZ - NAMEDATALEN - 128).
 */
#define NOTIFY_PAYLOAD_LIMIT (BLCKSZ - NAMEDATALEN - 128)
/* At most one progress NOTICE this often. */
#define PROGRESS_INTERVAL_MS 5000

typedef enum RunMode
{
	RUN_APPLY,
	RUN_DRY,
	RUN_SIMULATE
} RunMode;

typedef enum Outcome
{
	OUTCOME_GRANTED,
	OUTCOME_HOLDOUT,
	OUTCOME_CAP,
	OUTCOME_BUDGET,
	OUTCOME_DUPLICATE,
	OUTCOME_CURRENCY
} Outcome;

static const char *const outcome_names[] = {
	"granted", "holdout", "cap", "budget", "duplicate", "currency"
};

typedef struct BudgetState
{
	int64		budget_id;
	char	   *market;			/* NULL: all markets of the program */
	char		currency[4];
	int64		remaining_minor;
	int64		spent_minor;	/* spent by this run */
} BudgetState;

/* One earlier grant of a buyer, for caps. */
typedef struct HistoryEntry
{
	TimestampTz at;
	int64		amount_minor;
	char		currency[4];
	bool		same_strategy;
} HistoryEntry;

typedef struct BuyerHistory
{
	char	   *buyer;			/* hash key: pointer to a string */
	int			count;
	int			capacity;
	HistoryEntry *entries;
} BuyerHistory;

typedef struct OrderEntry
{
	char	   *order_key;		/* hash key */
} OrderEntry;

/*
 * A real run remembers the orders it granted by a 64-bit hash of the key
 * only (16 bytes a grant instead of the key and a dynahash entry), and
 * confirms a match against the grants themselves: see granted_by_run().
 */
typedef struct GrantedHash
{
	uint64		hash;
	char		status;
} GrantedHash;

#define SH_PREFIX granted_hashes
#define SH_ELEMENT_TYPE GrantedHash
#define SH_KEY_TYPE uint64
#define SH_KEY hash
#define SH_HASH_KEY(tb, key) ((uint32) ((key) ^ ((key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct CurrencyTotal
{
	char		currency[4];
	int			exponent;
	int64		amount_minor;
} CurrencyTotal;

/* Rows waiting to be written (grants, or holdout records). */
typedef struct WriteBuffer
{
	int			count;
	Datum		order_keys[WRITE_BATCH];
	Datum		buyers[WRITE_BATCH];
	Datum		markets[WRITE_BATCH];
	bool		market_nulls[WRITE_BATCH];
	Datum		ats[WRITE_BATCH];
	Datum		currencies[WRITE_BATCH];
	Datum		amounts[WRITE_BATCH];
	Datum		budget_ids[WRITE_BATCH];
	Datum		messages[WRITE_BATCH];
} WriteBuffer;

typedef struct RunState
{
	RunMode		mode;
	StrategySpec *spec;
	TimestampTz as_of;
	FiscalQuarter quarter;
	char		quarter_label[QUARTER_TEXT_LEN + 1];
	MemoryContext run_context;	/* lives as long as the run */
	MemoryContext row_context;	/* reset at every row */
	int64		run_id;
	Oid			author;			/* reads the source; InvalidOid: the caller */
	Oid			source_relid;	/* apply and dry runs: the source checked */

	/* budgets (apply, dry run) */
	int			nbudgets;
	BudgetState *budgets;

	/* the single budget of a simulation */
	bool		simulate_has_budget;
	char		simulate_currency[4];
	int64		simulate_remaining_minor;

	HTAB	   *history;		/* buyer -> BuyerHistory, when caps exist */
	HTAB	   *granted_orders; /* dry runs and simulations: orders granted */
	granted_hashes_hash *granted_hashes;	/* real runs: their key hashes */
	SPIPlanPtr	ledger_order_plan;	/* real runs: is this order in the ledger? */

	/* the current row, for error context */
	int64		rows_read;
	const char *current_order;

	/* counts */
	int64		candidates;
	int64		granted;
	int64		skipped[OUTCOME_CURRENCY + 1];
	List	   *totals;			/* of CurrencyTotal */

	WriteBuffer *grants;
	WriteBuffer *holdouts;
	SPIPlanPtr	grant_id_plan;
	SPIPlanPtr	grant_plan;
	SPIPlanPtr	outbox_plan;
	SPIPlanPtr	holdout_plan;

	/* the current row, deformed with spec->tupdesc */
	Datum	   *values;
	bool	   *nulls;

	/* simulate's result */
	Tuplestorestate *tuplestore;
	TupleDesc	result_desc;

	TimestampTz last_progress;
} RunState;

/* ---- hash tables keyed by a string pointer ------------------------------ */

static uint32
string_key_hash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, (int) strlen(s));
}

static int
string_key_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

static HTAB *
create_string_hash(const char *name, Size entrysize, MemoryContext context)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = entrysize;
	ctl.hash = string_key_hash;
	ctl.match = string_key_match;
	ctl.hcxt = context;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/*
 * Find key; with create, insert a copy of it (in the run context) when
 * absent, with the rest of the entry zeroed (dynahash leaves it as is).
 */
static void *
string_hash_lookup(RunState *run, HTAB *table, const char *key, bool create,
				   Size entrysize)
{
	void	   *entry = hash_search(table, &key, HASH_FIND, NULL);

	if (entry == NULL && create)
	{
		char	   *copy = MemoryContextStrdup(run->run_context, key);
		bool		found;

		entry = hash_search(table, &copy, HASH_ENTER, &found);
		memset((char *) entry + sizeof(char *), 0, entrysize - sizeof(char *));
	}
	return entry;
}

/* ---- small helpers ------------------------------------------------------- */

static char *
column_text(SpecColumn *column, Datum *values, bool *nulls)
{
	if (nulls[column->attindex])
		return NULL;
	return OutputFunctionCall(&column->output, values[column->attindex]);
}

static TimestampTz
column_timestamptz(SpecColumn *column, Datum *values)
{
	Datum		value = values[column->attindex];

	if (column->typid == TIMESTAMPOID)
		return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, value));
	return DatumGetTimestampTz(value);
}

/* "12.30" from 1230 minor units with exponent 2: the currency's decimals. */
static char *
format_major_fixed(int64 amount_minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(int64_div_fast_to_numeric(amount_minor, exponent))));
}

/* Render a notification template; placeholders were checked at definition. */
static char *
render_message(StrategySpec *spec, const char *order_key, const char *buyer,
			   int64 amount_minor, int exponent, const char *currency)
{
	StringInfoData buf;
	const char *p = spec->notify_template;

	initStringInfo(&buf);
	while (*p)
	{
		const char *value = NULL;
		int			skip = 0;

		if (*p == '{')
		{
			if (strncmp(p, "{order}", 7) == 0)
				value = order_key, skip = 7;
			else if (strncmp(p, "{buyer}", 7) == 0)
				value = buyer, skip = 7;
			else if (strncmp(p, "{amount}", 8) == 0)
				value = format_major_fixed(amount_minor, exponent), skip = 8;
			else if (strncmp(p, "{currency}", 10) == 0)
				value = currency, skip = 10;
			else if (strncmp(p, "{instrument}", 12) == 0)
				value = spec->instrument, skip = 12;
		}
		if (value)
		{
			appendStringInfoString(&buf, value);
			p += skip;
		}
		else
			appendStringInfoChar(&buf, *p++);
	}
	return buf.data;
}

static void
add_to_totals(RunState *run, const char *currency, int exponent, int64 amount_minor)
{
	ListCell   *lc;
	CurrencyTotal *total;
	MemoryContext oldcontext;

	foreach(lc, run->totals)
	{
		total = (CurrencyTotal *) lfirst(lc);
		if (strcmp(total->currency, currency) == 0)
		{
			total->amount_minor += amount_minor;
			return;
		}
	}
	oldcontext = MemoryContextSwitchTo(run->run_context);
	total = palloc0(sizeof(CurrencyTotal));
	strlcpy(total->currency, currency, sizeof(total->currency));
	total->exponent = exponent;
	total->amount_minor = amount_minor;
	run->totals = lappend(run->totals, total);
	MemoryContextSwitchTo(oldcontext);
}

static void
report_progress(RunState *run, bool force)
{
	TimestampTz now = GetCurrentTimestamp();

	if (!force && !TimestampDifferenceExceeds(run->last_progress, now, PROGRESS_INTERVAL_MS))
		return;
	run->last_progress = now;
	ereport(NOTICE,
			(errmsg("apply %s: " INT64_FORMAT " rows read, " INT64_FORMAT " candidates, " INT64_FORMAT " granted",
					run->spec->strategy_name, run->rows_read, run->candidates, run->granted)));
}

static void
run_error_context(void *arg)
{
	RunState   *run = (RunState *) arg;

	if (run->current_order)
		errcontext("strategy \"%s\" version %d, candidate row " INT64_FORMAT " (order %s)",
				   run->spec->strategy_name, run->spec->version, run->rows_read, run->current_order);
	else
		errcontext("strategy \"%s\" version %d, candidate row " INT64_FORMAT,
				   run->spec->strategy_name, run->spec->version, run->rows_read);
}

/* ---- SPI helpers --------------------------------------------------------- */

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
static void
execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, int expected)
{
	MemoryContext caller_context = CurrentMemoryContext;
	int			ret = SPI_execute_plan(plan, values, nulls, false, 0);

	MemoryContextSwitchTo(caller_context);
	if (ret != expected)
		elog(ERROR, "unexpected SPI result %s", SPI_result_code_string(ret));
}

static ArrayType *
make_array(Datum *elements, bool *nulls, int count, Oid element_type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {count};
	int			lbs[1] = {1};

	get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
	return construct_md_array(elements, nulls, 1, dims, lbs, element_type, typlen, typbyval, typalign);
}

/* ---- budgets, history ---------------------------------------------------- */

static void
load_budgets(RunState *run)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	int			ret;
	MemoryContext oldcontext;

	args[0] = CStringGetTextDatum(run->spec->program);
	args[1] = CStringGetTextDatum(run->quarter_label);
	ret = SPI_execute_with_args(psprintf("SELECT budget_id, market, currency::pg_catalog.text,"
										 "       amount_minor OPERATOR(pg_catalog.-) spent_minor"
										 "  FROM compensation.budget"
										 " WHERE program OPERATOR(pg_catalog.=) $1"
										 "   AND quarter OPERATOR(pg_catalog.=) $2"
										 " ORDER BY budget_id%s",
										 run->mode == RUN_APPLY ? " FOR UPDATE" : ""),
								2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "unexpected SPI result %s reading budgets", SPI_result_code_string(ret));

	oldcontext = MemoryContextSwitchTo(run->run_context);
	run->nbudgets = (int) SPI_processed;
	run->budgets = palloc0(sizeof(BudgetState) * Max(run->nbudgets, 1));
	for (int i = 0; i < run->nbudgets; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		BudgetState *b = &run->budgets[i];
		bool		isnull;
		Datum		market;

		b->budget_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		market = SPI_getbinval(tuple, desc, 2, &isnull);
		b->market = isnull ? NULL : TextDatumGetCString(market);
		strlcpy(b->currency, TextDatumGetCString(SPI_getbinval(tuple, desc, 3, &isnull)),
				sizeof(b->currency));
		b->remaining_minor = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	}
	MemoryContextSwitchTo(oldcontext);
	SPI_freetuptable(SPI_tuptable);
}

/* The market's budget if there is one, else the all-markets budget. */
static BudgetState *
budget_for(RunState *run, const char *market)
{
	BudgetState *all_markets = NULL;

	for (int i = 0; i < run->nbudgets; i++)
	{
		BudgetState *b = &run->budgets[i];

		if (b->market == NULL)
			all_markets = b;
		else if (market != NULL && strcmp(b->market, market) == 0)
			return b;
	}
	return all_markets;
}

static void
add_history(RunState *run, const char *buyer, TimestampTz at, int64 amount_minor,
			const char *currency, bool same_strategy)
{
	BuyerHistory *h = string_hash_lookup(run, run->history, buyer, true, sizeof(BuyerHistory));
	HistoryEntry *e;

	if (h->capacity == 0)
	{
		h->count = 0;
		h->capacity = 4;
		h->entries = MemoryContextAlloc(run->run_context, sizeof(HistoryEntry) * h->capacity);
	}
	else if (h->count == h->capacity)
	{
		h->capacity *= 2;
		h->entries = repalloc(h->entries, sizeof(HistoryEntry) * h->capacity);
	}
	e = &h->entries[h->count++];
	e->at = at;
	e->amount_minor = amount_minor;
	strlcpy(e->currency, currency, sizeof(e->currency));
	e->same_strategy = same_strategy;
}

/* The earliest instant a cap window can reach back to from a candidate. */
static TimestampTz
cap_window_start(RunState *run, CapRule *cap, TimestampTz at)
{
	if (cap->window_is_quarter)
		return quarter_start(quarter_of_timestamp(at, compensation_fiscal_start_month),
							 compensation_fiscal_start_month) - 1;
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(at),
												   PointerGetDatum(&cap->window)));
}

/* Earlier non-voided grants of the same buyers that a cap could count. */
static void
load_history(RunState *run)
{
	StrategySpec *spec = run->spec;
	bool		program_scope = (spec->cap_count.present && spec->cap_count.program_scope) ||
		(spec->cap_amount.present && spec->cap_amount.program_scope);
	TimestampTz since = DT_NOBEGIN;
	Oid			argtypes[4] = {INT4OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[4];
	Portal		portal;

	run->history = create_string_hash("compensation buyer history",
									  sizeof(BuyerHistory), run->run_context);
	if (!spec->cap_count.present && !spec->cap_amount.present)
		return;					/* nothing will ask */
	if (run->mode == RUN_SIMULATE)
		return;					/* a simulation starts from an empty ledger */

	if (spec->has_valid_from)
	{
		TimestampTz a = spec->cap_count.present ? cap_window_start(run, &spec->cap_count, spec->valid_from) : spec->valid_from;
		TimestampTz b = spec->cap_amount.present ? cap_window_start(run, &spec->cap_amount, spec->valid_from) : spec->valid_from;

		since = Min(a, b);
	}
	args[0] = Int32GetDatum(spec->strategy_id);
	args[1] = CStringGetTextDatum(spec->program);
	args[2] = TimestampTzGetDatum(since);
	args[3] = TimestampTzGetDatum(run->as_of);
	portal = SPI_cursor_open_with_args(NULL,
									   psprintf("SELECT buyer, at, amount_minor, currency::pg_catalog.text,"
												"       strategy_id OPERATOR(pg_catalog.=) $1"
												"  FROM compensation.ledger"
												" WHERE voided_at IS NULL"
												"   AND %s"
												"   AND at OPERATOR(pg_catalog.>) $3"
												"   AND at OPERATOR(pg_catalog.<=) $4",
												program_scope
												? "program OPERATOR(pg_catalog.=) $2"
												: "strategy_id OPERATOR(pg_catalog.=) $1 AND $2 IS NOT NULL"),
									   4, argtypes, args, NULL, false, 0);
	for (;;)
	{
		SPITupleTable *batch;

		SPI_cursor_fetch(portal, true, CANDIDATE_BATCH);
		batch = SPI_tuptable;
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = batch->vals[i];
			bool		isnull;

			add_history(run,
						TextDatumGetCString(SPI_getbinval(tuple, batch->tupdesc, 1, &isnull)),
						DatumGetTimestampTz(SPI_getbinval(tuple, batch->tupdesc, 2, &isnull)),
						DatumGetInt64(SPI_getbinval(tuple, batch->tupdesc, 3, &isnull)),
						TextDatumGetCString(SPI_getbinval(tuple, batch->tupdesc, 4, &isnull)),
						DatumGetBool(SPI_getbinval(tuple, batch->tupdesc, 5, &isnull)));
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);
}

/* Would one more grant of amount_minor break a cap? */
static bool
breaks_cap(RunState *run, const char *buyer, TimestampTz at, int64 amount_minor,
		   const char *currency, int exponent)
{
	StrategySpec *spec = run->spec;
	BuyerHistory *h = string_hash_lookup(run, run->history, buyer, false, sizeof(BuyerHistory));

	for (int c = 0; c < 2; c++)
	{
		CapRule    *cap = c == 0 ? &spec->cap_count : &spec->cap_amount;
		TimestampTz window_start;
		int64		count = 0;
		int64		amount = amount_minor;

		if (!cap->present)
			continue;
		window_start = cap_window_start(run, cap, at);
		for (int i = 0; h != NULL && i < h->count; i++)
		{
			HistoryEntry *e = &h->entries[i];

			if (e->at <= window_start || e->at > at)
				continue;
			if (!cap->program_scope && !e->same_strategy)
				continue;
			count++;
			if (strcmp(e->currency, currency) == 0)
				amount += e->amount_minor;
		}
		if (c == 0 && count + 1 > cap->max_count)
			return true;
		/* the amount cap is in the major unit of the candidate's currency */
		if (c == 1 && cap->max_amount_minor[exponent] >= 0 &&
			amount > cap->max_amount_minor[exponent])
			return true;
	}
	return false;
}

/* ---- writing ------------------------------------------------------------- */

static void
buffer_row(WriteBuffer *buffer, const char *order_key, const char *buyer, const char *market,
		   TimestampTz at, const char *currency, int64 amount_minor, int64 budget_id,
		   const char *message, MemoryContext context)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(context);
	int			i = buffer->count++;

	buffer->order_keys[i] = CStringGetTextDatum(order_key);
	buffer->buyers[i] = CStringGetTextDatum(buyer);
	buffer->market_nulls[i] = market == NULL;
	buffer->markets[i] = market ? CStringGetTextDatum(market) : (Datum) 0;
	buffer->ats[i] = TimestampTzGetDatum(at);
	buffer->currencies[i] = CStringGetTextDatum(currency);
	buffer->amounts[i] = Int64GetDatum(amount_minor);
	buffer->budget_ids[i] = Int64GetDatum(budget_id);
	buffer->messages[i] = message ? CStringGetTextDatum(message) : (Datum) 0;
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
		if (buffer->messages[i])
			pfree(DatumGetPointer(buffer->messages[i]));
	}
	buffer->count = 0;
}

/*
 * NOTIFY compensation_grant with the batch's grant ids, comma-separated, as
 * few notifications as the payload limit allows: a run of one grant sends
 * '<grant id>'.  PostgreSQL keeps every pending notification in memory
 * until commit; one per grant made a run of a million grants hold ~140 MB,
 * one per batch holds a few bytes per grant.  Delivered only if the
 * transaction commits, like the rows.
 */
static void
notify_grants(Datum *grant_ids, int n)
{
	StringInfoData payload;

	initStringInfo(&payload);
	for (int i = 0; i < n; i++)
	{
		char		id[MAXINT8LEN + 1];
		int			len = pg_lltoa(DatumGetInt64(grant_ids[i]), id);

		if (payload.len > 0 && payload.len + 1 + len >= NOTIFY_PAYLOAD_LIMIT)
		{
			Async_Notify("compensation_grant", payload.data);
			resetStringInfo(&payload);
		}
		if (payload.len > 0)
			appendStringInfoChar(&payload, ',');
		appendBinaryStringInfo(&payload, id, len);
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
	Datum	   *grant_ids;
	Datum		args[14];
	Datum		count_arg[1];

	if (n == 0)
		return;

	/* grant ids first, so that the outbox rows can name them */
	count_arg[0] = Int32GetDatum(n);
	execute_plan(run->grant_id_plan, count_arg, NULL, SPI_OK_SELECT);
	grant_ids = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		grant_ids[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
	}
	SPI_freetuptable(SPI_tuptable);

	args[0] = PointerGetDatum(make_array(grant_ids, NULL, n, INT8OID));
	args[1] = Int64GetDatum(run->run_id);
	args[2] = Int32GetDatum(spec->strategy_id);
	args[3] = Int32GetDatum(spec->version);
	args[4] = CStringGetTextDatum(spec->program);
	args[5] = CStringGetTextDatum(spec->exclusive_group);
	args[6] = PointerGetDatum(make_array(buffer->order_keys, NULL, n, TEXTOID));
	args[7] = PointerGetDatum(make_array(buffer->buyers, NULL, n, TEXTOID));
	args[8] = PointerGetDatum(make_array(buffer->markets, buffer->market_nulls, n, TEXTOID));
	args[9] = PointerGetDatum(make_array(buffer->ats, NULL, n, TIMESTAMPTZOID));
	args[10] = PointerGetDatum(make_array(buffer->currencies, NULL, n, TEXTOID));
	args[11] = PointerGetDatum(make_array(buffer->amounts, NULL, n, INT8OID));
	args[12] = CStringGetTextDatum(spec->instrument);
	args[13] = PointerGetDatum(make_array(buffer->budget_ids, NULL, n, INT8OID));
	execute_plan(run->grant_plan, args, NULL, SPI_OK_INSERT);

	if (spec->notify_template)
	{
		Datum		outbox_args[3];

		outbox_args[0] = args[0];
		outbox_args[1] = CStringGetTextDatum(spec->notify_channel);
		outbox_args[2] = PointerGetDatum(make_array(buffer->messages, NULL, n, TEXTOID));
		execute_plan(run->outbox_plan, outbox_args, NULL, SPI_OK_INSERT);
	}

	notify_grants(grant_ids, n);
	pfree(grant_ids);
	free_buffer_values(buffer);
}

static void
flush_holdouts(RunState *run)
{
	WriteBuffer *buffer = run->holdouts;
	int			n = buffer->count;
	Datum		args[8];

	if (n == 0)
		return;
	args[0] = Int32GetDatum(run->spec->strategy_id);
	args[1] = Int32GetDatum(run->spec->version);
	args[2] = Int64GetDatum(run->run_id);
	args[3] = PointerGetDatum(make_array(buffer->order_keys, NULL, n, TEXTOID));
	args[4] = PointerGetDatum(make_array(buffer->buyers, NULL, n, TEXTOID));
	args[5] = PointerGetDatum(make_array(buffer->ats, NULL, n, TIMESTAMPTZOID));
	args[6] = PointerGetDatum(make_array(buffer->currencies, NULL, n, TEXTOID));
	args[7] = PointerGetDatum(make_array(buffer->amounts, NULL, n, INT8OID));
	execute_plan(run->holdout_plan, args, NULL, SPI_OK_INSERT);
	free_buffer_values(buffer);
}

static void
prepare_writes(RunState *run)
{
	Oid			id_types[1] = {INT4OID};
	Oid			text_types[2] = {TEXTOID, TEXTOID};
	Oid			grant_types[14] = {INT8ARRAYOID, INT8OID, INT4OID, INT4OID, TEXTOID, TEXTOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID,
	TEXTARRAYOID, INT8ARRAYOID, TEXTOID, INT8ARRAYOID};
	Oid			outbox_types[3] = {INT8ARRAYOID, TEXTOID, TEXTARRAYOID};
	Oid			holdout_types[8] = {INT4OID, INT4OID, INT8OID, TEXTARRAYOID, TEXTARRAYOID,
	TIMESTAMPTZARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
	MemoryContext oldcontext = MemoryContextSwitchTo(run->run_context);

	run->grants = palloc0(sizeof(WriteBuffer));
	run->holdouts = palloc0(sizeof(WriteBuffer));
	MemoryContextSwitchTo(oldcontext);

	run->ledger_order_plan = prepare("SELECT FROM compensation.ledger"
									 " WHERE exclusive_group OPERATOR(pg_catalog.=) $1"
									 "   AND order_key OPERATOR(pg_catalog.=) $2", 2, text_types);
	run->grant_id_plan = prepare("SELECT pg_catalog.nextval('compensation.ledger_grant_id_seq'::pg_catalog.regclass)"
								 "  FROM pg_catalog.generate_series(1, $1)", 1, id_types);
	run->grant_plan = prepare("INSERT INTO compensation.ledger"
							  " (grant_id, run_id, strategy_id, version, program, exclusive_group,"
							  "  order_key, buyer, market, at, currency, amount_minor, instrument, budget_id)"
							  " SELECT u.g, $2, $3, $4, $5, $6, u.o, u.b, u.m, u.a, u.c, u.x, $13, u.bid"
							  "   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($7), pg_catalog.unnest($8),"
							  "                   pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
							  "                   pg_catalog.unnest($12), pg_catalog.unnest($14))"
							  "        AS u(g, o, b, m, a, c, x, bid)", 14, grant_types);
	run->outbox_plan = prepare("INSERT INTO compensation.outbox (grant_id, channel, message)"
							   " SELECT u.g, $2, u.m"
							   "   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) AS u(g, m)",
							   3, outbox_types);
	run->holdout_plan = prepare("INSERT INTO compensation.holdout_decision"
								" (strategy_id, order_key, buyer, version, at, currency, amount_minor, run_id)"
								" SELECT $1, u.o, u.b, $2, u.a, u.c, u.x, $3"
								"   FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6),"
								"                   pg_catalog.unnest($7), pg_catalog.unnest($8)) AS u(o, b, a, c, x)"
								" ON CONFLICT (strategy_id, order_key) DO NOTHING", 8, holdout_types);
}

/* ---- the run ------------------------------------------------------------- */

/* The quoted, schema-qualified source name. */
static char *
quoted_source(StrategySpec *spec)
{
	List	   *names = stringToQualifiedNameList(spec->source);

	return quote_qualified_identifier(strVal(linitial(names)), strVal(lsecond(names)));
}

static uint64
order_key_hash(const char *order_key)
{
	return hash_bytes_extended((const unsigned char *) order_key, (int) strlen(order_key), 0);
}

/*
 * Has this run already granted order_key?  Dry runs and simulations write
 * nothing, so they keep the keys.  A real run keeps only their hashes: no
 * hash, no grant; a hash that is there is almost always the same order (a
 * source with a row per order line), which the grants not yet written or
 * else the ledger (this run's own rows, under the run's locks) confirm.
 */
static bool
granted_by_run(RunState *run, const char *order_key)
{
	WriteBuffer *pending = run->grants;
	size_t		key_len = strlen(order_key);
	Datum		args[2];
	bool		found;

	if (run->mode != RUN_APPLY)
		return string_hash_lookup(run, run->granted_orders, order_key, false,
								  sizeof(OrderEntry)) != NULL;
	if (granted_hashes_lookup(run->granted_hashes, order_key_hash(order_key)) == NULL)
		return false;
	for (int i = pending->count - 1; i >= 0; i--)
	{
		text	   *pending_key = (text *) DatumGetPointer(pending->order_keys[i]);

		if (VARSIZE_ANY_EXHDR(pending_key) == key_len &&
			memcmp(VARDATA_ANY(pending_key), order_key, key_len) == 0)
			return true;
	}
	args[0] = CStringGetTextDatum(run->spec->exclusive_group);
	args[1] = CStringGetTextDatum(order_key);
	execute_plan(run->ledger_order_plan, args, NULL, SPI_OK_SELECT);
	found = SPI_processed > 0;
	SPI_freetuptable(SPI_tuptable);
	return found;
}

static void
remember_granted(RunState *run, const char *order_key)
{
	bool		found;

	if (run->mode != RUN_APPLY)
		(void) string_hash_lookup(run, run->granted_orders, order_key, true, sizeof(OrderEntry));
	else
		(void) granted_hashes_insert(run->granted_hashes, order_key_hash(order_key), &found);
}

static void
decide(RunState *run, Datum *values, bool *nulls)
{
	StrategySpec *spec = run->spec;
	Decision	decision;
	char	   *order_key;
	char	   *buyer;
	char	   *market = NULL;
	TimestampTz at;
	Outcome		outcome;
	BudgetState *budget = NULL;

	evaluate_strategy(spec, values, nulls, false, &decision);
	if (!decision.eligible)
		return;
	run->candidates++;

	order_key = column_text(&spec->key_order, values, nulls);
	run->current_order = order_key;
	if (order_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a candidate of strategy \"%s\" has no order key (column \"%s\" is null)",
						spec->strategy_name, spec->key_order.name),
				 errhint("Filter such rows out in the source view.")));
	if (strlen(order_key) > MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("order %s... of strategy \"%s\" has a key of %zu bytes",
						pnstrdup(order_key, pg_mbcliplen(order_key, strlen(order_key), 64)),
						spec->strategy_name, strlen(order_key)),
				 errdetail("Order keys and buyers are at most %d bytes.", MAX_KEY_BYTES),
				 errhint("Filter such rows out in the source view, or key orders by a shorter column.")));
	buyer = column_text(&spec->key_buyer, values, nulls);
	if (buyer == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("order %s of strategy \"%s\" has no buyer (column \"%s\" is null)",
						order_key, spec->strategy_name, spec->key_buyer.name),
				 errhint("Filter such rows out in the source view.")));
	if (strlen(buyer) > MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("order %s of strategy \"%s\" has a buyer of %zu bytes",
						order_key, spec->strategy_name, strlen(buyer)),
				 errdetail("Order keys and buyers are at most %d bytes.", MAX_KEY_BYTES),
				 errhint("Filter such rows out in the source view.")));
	if (spec->has_key_market)
		market = column_text(&spec->key_market, values, nulls);
	at = column_timestamptz(&spec->key_at, values);

	if (granted_by_run(run, order_key))
		outcome = OUTCOME_DUPLICATE;
	else if (spec->holdout_buckets > 0 &&
			 buyer_in_holdout(spec->holdout_salt, spec->holdout_buckets, buyer, strlen(buyer)))
	{
		outcome = OUTCOME_HOLDOUT;
		if (run->mode == RUN_APPLY)
		{
			buffer_row(run->holdouts, order_key, buyer, market, at, decision.currency,
					   decision.amount_minor, 0, NULL, run->run_context);
			if (run->holdouts->count == WRITE_BATCH)
				flush_holdouts(run);
		}
	}
	else
	{
		int64		remaining;
		const char *budget_currency;

		if (run->mode == RUN_SIMULATE)
		{
			remaining = run->simulate_has_budget ? run->simulate_remaining_minor : PG_INT64_MAX;
			budget_currency = run->simulate_has_budget ? run->simulate_currency : decision.currency;
		}
		else
		{
			budget = budget_for(run, market);
			remaining = budget ? budget->remaining_minor : -1;
			budget_currency = budget ? budget->currency : NULL;
		}

		if (budget_currency == NULL)
			outcome = OUTCOME_BUDGET;	/* no budget for this market */
		else if (strcmp(budget_currency, decision.currency) != 0)
			outcome = OUTCOME_CURRENCY;
		else if ((spec->cap_count.present || spec->cap_amount.present) &&
				 breaks_cap(run, buyer, at, decision.amount_minor, decision.currency, decision.exponent))
			outcome = OUTCOME_CAP;
		else if (decision.amount_minor > remaining)
			outcome = OUTCOME_BUDGET;
		else
			outcome = OUTCOME_GRANTED;
	}

	if (outcome == OUTCOME_GRANTED)
	{
		run->granted++;
		if (run->mode == RUN_SIMULATE)
		{
			if (run->simulate_has_budget)
				run->simulate_remaining_minor -= decision.amount_minor;
		}
		else
		{
			budget->remaining_minor -= decision.amount_minor;
			budget->spent_minor += decision.amount_minor;
		}
		add_to_totals(run, decision.currency, decision.exponent, decision.amount_minor);
		remember_granted(run, order_key);
		if (spec->cap_count.present || spec->cap_amount.present)
			add_history(run, buyer, at, decision.amount_minor, decision.currency, true);
		if (run->mode == RUN_APPLY)
		{
			buffer_row(run->grants, order_key, buyer, market, at, decision.currency,
					   decision.amount_minor, budget->budget_id,
					   spec->notify_template
					   ? render_message(spec, order_key, buyer, decision.amount_minor,
										decision.exponent, decision.currency)
					   : NULL,
					   run->run_context);
			if (run->grants->count == WRITE_BATCH)
				flush_grants(run);
		}
	}
	else
		run->skipped[outcome]++;

	if (run->mode == RUN_SIMULATE)
	{
		Datum		row[7];
		bool		row_nulls[7] = {false, false, false, market == NULL, false, false, false};

		row[0] = CStringGetTextDatum(order_key);
		row[1] = CStringGetTextDatum(buyer);
		row[2] = TimestampTzGetDatum(at);
		row[3] = market ? CStringGetTextDatum(market) : (Datum) 0;
		row[4] = NumericGetDatum(int64_div_fast_to_numeric(decision.amount_minor, decision.exponent));
		row[5] = CStringGetTextDatum(decision.currency);
		row[6] = CStringGetTextDatum(outcome_names[outcome]);
		tuplestore_putvalues(run->tuplestore, run->result_desc, row, row_nulls);
	}
	run->current_order = NULL;
}

/* The parameters of every candidate query: exclusive group, from, to, as_of. */
static Oid	candidate_argtypes[4] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};

/*
 * Read one candidate query through a cursor and decide every row.  With
 * read_only, the query runs in the active snapshot; otherwise in a new one.
 */
static void
run_query(RunState *run, const char *query, Datum *args, bool read_only)
{
	StrategySpec *spec = run->spec;
	AuthorSwitch author;
	Portal		portal;

	/* the author's code runs as the cursor is planned, opened and read */
	if (OidIsValid(run->author))
		become_author(run->author, &author);
	portal = SPI_cursor_open_with_args(NULL, query, 4, candidate_argtypes, args,
									   NULL, read_only, 0);
	if (OidIsValid(run->author))
		stop_being_author(&author);

	for (;;)
	{
		SPITupleTable *batch;
		uint64		nrows;

		if (OidIsValid(run->author))
			become_author(run->author, &author);
		SPI_cursor_fetch(portal, true, CANDIDATE_BATCH);
		if (OidIsValid(run->author))
			stop_being_author(&author);
		batch = SPI_tuptable;
		nrows = SPI_processed;
		if (nrows == 0)
			break;
		if (run->values == NULL)
		{
			/* bind once: every query of a run returns the same columns */
			MemoryContext oldcontext = MemoryContextSwitchTo(run->run_context);
			TupleDesc	desc = CreateTupleDescCopy(batch->tupdesc);

			load_currencies(spec);
			bind_strategy_spec(spec, desc, psprintf("source %s", spec->source), true);
			run->values = palloc(sizeof(Datum) * desc->natts);
			run->nulls = palloc(sizeof(bool) * desc->natts);
			MemoryContextSwitchTo(oldcontext);
		}
		for (uint64 i = 0; i < nrows; i++)
		{
			MemoryContext oldcontext;

			CHECK_FOR_INTERRUPTS();
			run->rows_read++;
			MemoryContextReset(run->row_context);
			oldcontext = MemoryContextSwitchTo(run->row_context);
			heap_deform_tuple(batch->vals[i], spec->tupdesc, run->values, run->nulls);
			decide(run, run->values, run->nulls);
			MemoryContextSwitchTo(oldcontext);
			if ((run->rows_read & 1023) == 0)
				report_progress(run, false);
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);
}

/*
 * The order key as the ledger stores it: the text of its type's output
 * function (column_text()).  A cast to text says the same for text and
 * varchar only; another type may have a cast of its own (a user's, on a
 * composite) or a different text form (char(n) loses its padding), so its
 * output function is called, through concat().
 */
static char *
order_key_as_text(RunState *run, const char *order_column)
{
	AttrNumber	attnum = get_attnum(run->source_relid, run->spec->key_order.name);
	Oid			typid = attnum == InvalidAttrNumber ? InvalidOid	/* binding reports it */
		: getBaseType(get_atttype(run->source_relid, attnum));

	if (typid == TEXTOID || typid == VARCHAROID)
		return psprintf("(s.%s)::pg_catalog.text", order_column);
	return psprintf("pg_catalog.concat(s.%s)", order_column);
}

/*
 * run_strategy
 *		Walk the candidates with at in [from, to) and at <= as_of.
 *
 * The rule is also applied inside the candidate queries, by eligible() of
 * the version being run: rows it does not compensate (most rows of most
 * sources) are dropped by the executor, reading only the columns the rule
 * needs, and are never copied out, sorted or decided here.  Against a
 * ledger, eligible rows whose order is already granted in the group can
 * only be duplicates, whatever their order, so they are never read: one
 * query counts the eligible rows, the other reads those not granted yet,
 * anti-joined and in (at, order key) order, and the difference is the
 * duplicates.  Both run in one snapshot, so the difference is exact.  A
 * scheduled run that finds little new copies and sorts little, and hashes
 * the group's orders once.
 */
static void
run_strategy(RunState *run, TimestampTz from, TimestampTz to)
{
	StrategySpec *spec = run->spec;
	const char *at_column = quote_identifier(spec->key_at.name);
	const char *order_column = quote_identifier(spec->key_order.name);
	char	   *source = quoted_source(spec);
	char	   *window;
	char	   *group_orders;
	Datum		args[4];
	ErrorContextCallback errcallback;

	/*
	 * Strategy and version as literals, not parameters: constants let the
	 * planner pass eligible() only the columns it reads, whatever
	 * plan_cache_mode says.
	 */
	window = psprintf(" WHERE s.%s OPERATOR(pg_catalog.>=) $2 AND s.%s OPERATOR(pg_catalog.<) $3"
					  "   AND s.%s OPERATOR(pg_catalog.<=) $4 AND $1 IS NOT NULL"
					  "   AND compensation.eligible(%s, s, %d)",
					  at_column, at_column, at_column,
					  quote_literal_cstr(spec->strategy_name), spec->version);
	group_orders = psprintf("(SELECT l.order_key FROM compensation.granted_orders AS l"
							"  WHERE l.exclusive_group OPERATOR(pg_catalog.=) $1) AS g"
							"  ON g.order_key OPERATOR(pg_catalog.=) %s",
							order_key_as_text(run, order_column));
	args[0] = CStringGetTextDatum(spec->exclusive_group);
	args[1] = TimestampTzGetDatum(from);
	args[2] = TimestampTzGetDatum(to);
	args[3] = TimestampTzGetDatum(run->as_of);

	errcallback.callback = run_error_context;
	errcallback.arg = run;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (run->mode == RUN_SIMULATE)
		run_query(run, psprintf("SELECT s.* FROM %s AS s%s ORDER BY s.%s, s.%s",
								source, window, at_column, order_column),
				  args, false);
	else
	{
		Snapshot	snapshot;
		int64		eligible_rows;
		int64		read_before = run->rows_read;
		bool		isnull;

		/*
		 * The snapshot a new query would take now: after the run's locks,
		 * and seeing this transaction's own grants (apply_all runs several
		 * strategies in one transaction).  The cursor keeps it registered
		 * once open.
		 */
		AuthorSwitch author;
		int			ret;

		CommandCounterIncrement();
		snapshot = GetTransactionSnapshot();
		PushActiveSnapshot(snapshot);
		become_author(run->author, &author);
		ret = SPI_execute_with_args(psprintf("SELECT pg_catalog.count(*) FROM %s AS s%s", source, window),
									4, candidate_argtypes, args, NULL, true, 1);
		stop_being_author(&author);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "unexpected failure counting the eligible rows");
		eligible_rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
													1, &isnull));
		SPI_freetuptable(SPI_tuptable);
		run_query(run, psprintf("SELECT s.* FROM %s AS s LEFT JOIN %s%s AND g.order_key IS NULL"
								" ORDER BY s.%s, s.%s",
								source, group_orders, window, at_column, order_column),
				  args, true);
		PopActiveSnapshot();

		/* what the cursor did not return was granted before this run */
		run->candidates += eligible_rows - (run->rows_read - read_before);
		run->skipped[OUTCOME_DUPLICATE] += eligible_rows - (run->rows_read - read_before);
	}
	error_context_stack = errcallback.previous;
}

static RunState *
new_run(RunMode mode, StrategySpec *spec, TimestampTz as_of)
{
	RunState   *run = palloc0(sizeof(RunState));

	run->mode = mode;
	run->spec = spec;
	run->as_of = as_of;
	run->run_context = AllocSetContextCreate(CurrentMemoryContext, "compensation run",
											 ALLOCSET_DEFAULT_SIZES);
	run->row_context = AllocSetContextCreate(run->run_context, "compensation run row",
											 ALLOCSET_DEFAULT_SIZES);
	if (mode == RUN_APPLY)
		run->granted_hashes = granted_hashes_create(run->run_context, 1024, NULL);
	else
		run->granted_orders = create_string_hash("compensation granted orders",
												 sizeof(OrderEntry), run->run_context);
	run->last_progress = GetCurrentTimestamp();
	return run;
}

static Datum
totals_jsonb(RunState *run)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, run->totals)
	{
		CurrencyTotal *t = (CurrencyTotal *) lfirst(lc);

		appendStringInfo(&buf, "%s\"%s\": %s", foreach_current_index(lc) > 0 ? ", " : "",
						 t->currency, format_major_fixed(t->amount_minor, t->exponent));
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * compensation.apply(strategy text, as_of timestamptz, dry_run boolean)
 *		-> compensation.run_result
 */
PG_FUNCTION_INFO_V1(compensation_apply);
Datum
compensation_apply(PG_FUNCTION_ARGS)
{
	char	   *name;
	TimestampTz as_of;
	bool		dry_run;
	StrategySpec *spec;
	RunState   *run;
	TupleDesc	result_desc;
	Datum		result[14];
	bool		result_nulls[14];
	TimestampTz from;
	TimestampTz to;

	refuse_in_restricted_operation("apply");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("apply needs a strategy, an as_of timestamp and dry_run"),
				 errhint("For example: SELECT * FROM compensation.apply('late_v3');")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	dry_run = PG_GETARG_BOOL(2);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite timestamp"),
				 errhint("Omit it to apply as of now().")));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "unexpected return type: not a row type");

	/*
	 * SPI_connect makes SPI's procedure context current, and SPI_finish
	 * frees it; the run must outlive it (the result is built from it), so
	 * allocate in the caller's context.
	 */
	{
		MemoryContext caller_context = CurrentMemoryContext;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "unexpected SPI_connect failure");
		MemoryContextSwitchTo(caller_context);
	}

	spec = load_strategy(name, false, -1, false);
	run = new_run(dry_run ? RUN_DRY : RUN_APPLY, spec, as_of);
	run->author = check_strategy_source(spec, &run->source_relid);
	run->quarter = quarter_of_timestamp(as_of, compensation_fiscal_start_month);
	format_quarter(run->quarter, run->quarter_label);

	if (run->mode == RUN_APPLY)
	{
		Oid			lock_types[1] = {TEXTOID};
		Datum		lock_args[1] = {CStringGetTextDatum(spec->exclusive_group)};
		Oid			run_types[4] = {INT4OID, INT4OID, TIMESTAMPTZOID, TEXTOID};
		Datum		run_args[4];
		bool		isnull;

		/*
		 * One run at a time per exclusive group, then per program (caps with
		 * "scope": "program" read every grant of the program), then per
		 * budget.  apply_all takes the same locks in the same order, all of
		 * them first, so that runs never wait on each other in a cycle.
		 */
		if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock("
								  " pg_catalog.hashtext('compensation.exclusive_group'),"
								  " pg_catalog.hashtext($1))",
								  1, lock_types, lock_args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "unexpected failure locking the exclusive group");
		lock_args[0] = CStringGetTextDatum(spec->program);
		if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock("
								  " pg_catalog.hashtext('compensation.program'),"
								  " pg_catalog.hashtext($1))",
								  1, lock_types, lock_args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "unexpected failure locking the program");
		run_args[0] = Int32GetDatum(spec->strategy_id);
		run_args[1] = Int32GetDatum(spec->version);
		run_args[2] = TimestampTzGetDatum(as_of);
		run_args[3] = CStringGetTextDatum(run->quarter_label);
		if (SPI_execute_with_args("INSERT INTO compensation.run (strategy_id, version, as_of, quarter)"
								  " VALUES ($1, $2, $3, $4) RETURNING run_id",
								  4, run_types, run_args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "unexpected failure recording the run");
		run->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		prepare_writes(run);
	}
	load_budgets(run);
	load_history(run);

	from = spec->has_valid_from ? spec->valid_from : DT_NOBEGIN;
	to = spec->has_valid_to ? spec->valid_to : DT_NOEND;
	run_strategy(run, from, to);

	if (run->mode == RUN_APPLY)
	{
		Oid			budget_types[2] = {INT8OID, INT8OID};
		Oid			done_types[9] = {INT8OID, INT8OID, INT8OID, JSONBOID, INT8OID, INT8OID,
		INT8OID, INT8OID, INT8OID};
		Datum		done_args[9];

		flush_grants(run);
		flush_holdouts(run);
		for (int i = 0; i < run->nbudgets; i++)
		{
			Datum		budget_args[2];

			if (run->budgets[i].spent_minor == 0)
				continue;
			budget_args[0] = Int64GetDatum(run->budgets[i].budget_id);
			budget_args[1] = Int64GetDatum(run->budgets[i].spent_minor);
			if (SPI_execute_with_args("UPDATE compensation.budget"
									  "   SET spent_minor = spent_minor OPERATOR(pg_catalog.+) $2,"
									  "       updated_at = pg_catalog.now()"
									  " WHERE budget_id OPERATOR(pg_catalog.=) $1",
									  2, budget_types, budget_args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "unexpected failure updating budget " INT64_FORMAT, run->budgets[i].budget_id);
		}
		done_args[0] = Int64GetDatum(run->run_id);
		done_args[1] = Int64GetDatum(run->candidates);
		done_args[2] = Int64GetDatum(run->granted);
		done_args[3] = totals_jsonb(run);
		done_args[4] = Int64GetDatum(run->skipped[OUTCOME_HOLDOUT]);
		done_args[5] = Int64GetDatum(run->skipped[OUTCOME_CAP]);
		done_args[6] = Int64GetDatum(run->skipped[OUTCOME_BUDGET]);
		done_args[7] = Int64GetDatum(run->skipped[OUTCOME_DUPLICATE]);
		done_args[8] = Int64GetDatum(run->skipped[OUTCOME_CURRENCY]);
		if (SPI_execute_with_args("UPDATE compensation.run"
								  "   SET status = 'done', finished_at = pg_catalog.clock_timestamp(),"
								  "       candidates = $2, granted = $3, amount_by_currency = $4,"
								  "       skipped_holdout = $5, skipped_cap = $6, skipped_budget = $7,"
								  "       skipped_duplicate = $8, skipped_currency = $9"
								  " WHERE run_id OPERATOR(pg_catalog.=) $1",
								  9, done_types, done_args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "unexpected failure finishing the run");
	}
	if (run->rows_read > 0 && TimestampDifferenceExceeds(GetCurrentTransactionStartTimestamp(),
														 GetCurrentTimestamp(), PROGRESS_INTERVAL_MS))
		report_progress(run, true);

	/* the result, in the caller's memory */
	SPI_finish();
	memset(result_nulls, 0, sizeof(result_nulls));
	result[0] = Int64GetDatum(run->run_id);
	result_nulls[0] = run->mode != RUN_APPLY;
	result[1] = Int64GetDatum(run->candidates);
	result[2] = Int64GetDatum(run->granted);
	if (list_length(run->totals) == 1)
	{
		CurrencyTotal *t = (CurrencyTotal *) linitial(run->totals);

		result[3] = NumericGetDatum(int64_div_fast_to_numeric(t->amount_minor, t->exponent));
		result[9] = CStringGetTextDatum(t->currency);
	}
	else if (run->totals == NIL)
	{
		result[3] = NumericGetDatum(int64_to_numeric(0));
		result_nulls[9] = true;
	}
	else
		result_nulls[3] = result_nulls[9] = true;	/* never add currencies */
	result[4] = Int64GetDatum(run->skipped[OUTCOME_HOLDOUT]);
	result[5] = Int64GetDatum(run->skipped[OUTCOME_CAP]);
	result[6] = Int64GetDatum(run->skipped[OUTCOME_BUDGET]);
	result[7] = Int64GetDatum(run->skipped[OUTCOME_DUPLICATE]);
	result[8] = Int64GetDatum(run->skipped[OUTCOME_CURRENCY]);
	result[10] = totals_jsonb(run);
	result[11] = CStringGetTextDatum(spec->strategy_name);
	result[12] = Int32GetDatum(spec->version);
	result_nulls[13] = true;	/* error: set by apply_all for a failed run */
	result_desc = BlessTupleDesc(result_desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result, result_nulls)));
}

/*
 * compensation.simulate(strategy, from, to, budget, version, budget_currency)
 *		-> SETOF (order_key, buyer, at, market, amount, currency, outcome)
 */
PG_FUNCTION_INFO_V1(compensation_simulate);
Datum
compensation_simulate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StrategySpec *spec;
	RunState   *run;
	TimestampTz from;
	TimestampTz to;
	MemoryContext per_query;
	MemoryContext oldcontext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("simulate needs a strategy and a [from, to) window"),
				 errhint("For example: SELECT * FROM compensation.simulate('late_v3', '2026-07-01', '2026-10-01');")));
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	if (from >= to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("simulate window is empty: \"from\" is not before \"to\""),
				 errhint("The window is [from, to).")));

	InitMaterializedSRF(fcinfo, 0);
	per_query = rsinfo->econtext->ecxt_per_query_memory;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	oldcontext = MemoryContextSwitchTo(per_query);
	spec = load_strategy(text_to_cstring(PG_GETARG_TEXT_PP(0)), !PG_ARGISNULL(4),
						 PG_ARGISNULL(4) ? -1 : PG_GETARG_INT32(4), false);
	run = new_run(RUN_SIMULATE, spec, to - 1);
	MemoryContextSwitchTo(oldcontext);
	run->tuplestore = rsinfo->setResult;
	run->result_desc = rsinfo->setDesc;

	if (!PG_ARGISNULL(3))
	{
		const char *currency = !PG_ARGISNULL(5) ? text_to_cstring(PG_GETARG_TEXT_PP(5)) : spec->currency;
		Numeric		budget = PG_GETARG_NUMERIC(3);
		int			exponent;

		if (currency == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("simulate needs budget_currency: strategy \"%s\" takes its currency from column \"%s\"",
							spec->strategy_name, spec->key_currency.name),
					 errhint("Pass budget_currency => 'EUR' (candidates in other currencies get outcome \"currency\").")));
		load_currencies(spec);
		exponent = lookup_currency_exponent(spec, currency);
		if (exponent < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown currency: \"%s\"", currency),
					 errhint("Use an ISO 4217 code from compensation.currency.")));
		if (numeric_is_nan(budget) || numeric_is_inf(budget) || numeric_is_negative(budget) ||
			!numeric_to_minor_units_half_up(numeric_times_power_of_ten(budget, exponent),
											&run->simulate_remaining_minor))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("simulate budget must be a finite amount of zero or more"),
					 errhint("Give the budget in the major unit of the currency, such as 5000.")));
		run->simulate_has_budget = true;
		strlcpy(run->simulate_currency, currency, sizeof(run->simulate_currency));
	}
	load_history(run);
	run_strategy(run, from, to);
	SPI_finish();
	return (Datum) 0;
}
