/*-------------------------------------------------------------------------
 *
 * budget_caps.c
 *	  What a run may spend: the budgets of the strategy's program for the
 *	  quarter of as_of (or a backtest's single budget), and the per-buyer
 *	  caps, counted over the buyer's earlier grants and this run's.
 *
 * Budgets are read once, FOR UPDATE in budget_id order in a real run (the
 * lock order of src/apply.c), and spent in memory; ledger_writer.c writes
 * what was spent at the end.  The caps history holds the non-voided grants
 * that a cap window can reach, by buyer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "apply.h"

/* One earlier grant of a buyer, for caps. */
typedef struct HistoryEntry
{
	TimestampTz at;
	int64		amount_minor;
	char		currency[4];
	int32		strategy_id;	/* its strategy: caps of one strategy count only its own */
} HistoryEntry;

typedef struct BuyerHistory
{
	char	   *buyer;			/* hash key: pointer to a string */
	int			count;
	int			capacity;
	HistoryEntry *entries;
} BuyerHistory;

/* Ledger rows fetched at a time. */
#define HISTORY_BATCH 1000

/* The hash of BuyerHistory that new_run() creates. */
Size		buyer_history_entry_size = sizeof(BuyerHistory);

/*
 * The end of as_of's day (local midnight, in the session TimeZone), within
 * [period_start, period_end]: how far an even pace may have spent by then.
 */
static int64
elapsed_by_end_of_day(TimestampTz as_of, TimestampTz period_start, TimestampTz period_end)
{
	Interval	one_day = {0, 1, 0};
	TimestampTz day_end;

	day_end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_trunc,
													  CStringGetTextDatum("day"),
													  TimestampTzGetDatum(as_of)));
	day_end = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													  TimestampTzGetDatum(day_end),
													  PointerGetDatum(&one_day)));
	return Max(0, Min(day_end, period_end) - period_start);
}

/*
 * load_budgets
 *		The budgets of the strategy's program for the run's quarter; locked
 *		FOR UPDATE (in budget_id order) when for_update.  A budget paced
 *		'even' may spend, as of the run, at most its amount times the share of
 *		the quarter elapsed by the end of as_of's day, rounded down to a minor
 *		unit, less what it has spent.
 */
void
load_budgets(RunState *run, bool for_update)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		args[4];
	int			ret;
	MemoryContext oldcontext;
	TimestampTz quarter_begins = quarter_start(run->quarter, compensation_fiscal_start_month);
	TimestampTz quarter_ends = quarter_start(quarter_add(run->quarter, 1), compensation_fiscal_start_month);

	args[0] = CStringGetTextDatum(run->spec->program);
	args[1] = CStringGetTextDatum(run->quarter_label);
	args[2] = Int64GetDatum(elapsed_by_end_of_day(run->as_of, quarter_begins, quarter_ends));
	args[3] = Int64GetDatum(quarter_ends - quarter_begins);
	ret = SPI_execute_with_args(psprintf("SELECT budget_id, market, currency::pg_catalog.text,"
										 "       amount_minor OPERATOR(pg_catalog.-) spent_minor,"
										 "       pacing OPERATOR(pg_catalog.=) 'even',"
										 "       pg_catalog.floor(amount_minor::pg_catalog.numeric"
										 "                        OPERATOR(pg_catalog.*) $3"
										 "                        OPERATOR(pg_catalog./) $4)::pg_catalog.int8"
										 "         OPERATOR(pg_catalog.-) spent_minor"
										 "  FROM compensation.budget"
										 " WHERE program OPERATOR(pg_catalog.=) $1"
										 "   AND quarter OPERATOR(pg_catalog.=) $2"
										 " ORDER BY budget_id%s",
										 for_update ? " FOR UPDATE" : ""),
								4, argtypes, args, NULL, false, 0);
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

		budget_from_row(b, tuple, desc);
		b->pace_remaining_minor = DatumGetInt64(SPI_getbinval(tuple, desc, 6, &isnull));
	}
	MemoryContextSwitchTo(oldcontext);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * budget_from_row
 *		A budget from the first five columns of a budget query: budget_id,
 *		market, currency, what it may spend (minor units) and whether it is
 *		paced evenly.  Allocates in the current memory context.
 */
void
budget_from_row(BudgetState *b, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		market;

	b->budget_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	market = SPI_getbinval(tuple, desc, 2, &isnull);
	b->market = isnull ? NULL : TextDatumGetCString(market);
	strlcpy(b->currency, TextDatumGetCString(SPI_getbinval(tuple, desc, 3, &isnull)),
			sizeof(b->currency));
	b->remaining_minor = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	b->even = DatumGetBool(SPI_getbinval(tuple, desc, 5, &isnull));
}

/*
 * set_single_budget
 *		A backtest's budget: one, for every market, in currency, or without a
 *		limit in any currency when currency is NULL.
 */
void
set_single_budget(RunState *run, const char *currency, int64 amount_minor)
{
	run->nbudgets = 1;
	run->budgets = MemoryContextAllocZero(run->run_context, sizeof(BudgetState));
	if (currency)
		strlcpy(run->budgets[0].currency, currency, sizeof(run->budgets[0].currency));
	run->budgets[0].remaining_minor = currency ? amount_minor : PG_INT64_MAX;
	run->budgets[0].amount_minor = run->budgets[0].remaining_minor;
}

/*
 * pace_budget
 *		Pace a budget evenly over [period_start, period_end), as of as_of: it
 *		may have spent at most its amount times the share of the period
 *		elapsed by the end of as_of's day (the backtests call it before each
 *		step of a replay; a real run's budgets are paced by load_budgets).
 */
void
pace_budget(BudgetState *b, TimestampTz as_of, TimestampTz period_start, TimestampTz period_end)
{
	Numeric		allowed;
	int64		allowed_minor;

	b->even = true;
	allowed = numeric_mul_opt_error(int64_to_numeric(b->amount_minor),
									int64_to_numeric(elapsed_by_end_of_day(as_of, period_start,
																		   period_end)),
									NULL);
	allowed = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc, NumericGetDatum(allowed),
												  NumericGetDatum(int64_to_numeric(period_end - period_start))));
	allowed_minor = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(allowed)));
	b->pace_remaining_minor = allowed_minor - (b->amount_minor - b->remaining_minor);
}

/* The market's budget if there is one, else the all-markets budget. */
BudgetState *
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

void
add_history(RunState *run, const char *buyer, TimestampTz at, int64 amount_minor,
			const char *currency, int32 strategy_id)
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
	e->strategy_id = strategy_id;
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

/*
 * load_history
 *		Earlier non-voided grants, and holdouts (shadow grants: both arms live
 *		by the same caps), that a cap could count (a backtest starts from an
 *		empty ledger and does not call this).
 */
void
load_history(RunState *run)
{
	StrategySpec *spec = run->spec;
	bool		program_scope = (spec->cap_count.present && spec->cap_count.program_scope) ||
		(spec->cap_amount.present && spec->cap_amount.program_scope);
	TimestampTz since = DT_NOBEGIN;
	Oid			argtypes[4] = {INT4OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[4];
	Portal		portal;

	if (!spec->cap_count.present && !spec->cap_amount.present)
		return;					/* nothing will ask */

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
												"       strategy_id"
												"  FROM compensation.ledger"
												" WHERE voided_at IS NULL"
												"   AND %s"
												"   AND at OPERATOR(pg_catalog.>) $3"
												"   AND at OPERATOR(pg_catalog.<=) $4"
												/* a holdout counts as a shadow grant */
												" UNION ALL"
												" SELECT buyer, at, amount_minor, currency::pg_catalog.text,"
												"       strategy_id"
												"  FROM compensation.candidate_outcome"
												" WHERE arm OPERATOR(pg_catalog.=) 'holdout'"
												"   AND %s"
												"   AND at OPERATOR(pg_catalog.>) $3"
												"   AND at OPERATOR(pg_catalog.<=) $4",
												program_scope
												? "program OPERATOR(pg_catalog.=) $2"
												: "strategy_id OPERATOR(pg_catalog.=) $1 AND $2 IS NOT NULL",
												program_scope
												? "program OPERATOR(pg_catalog.=) $2"
												: "strategy_id OPERATOR(pg_catalog.=) $1 AND $2 IS NOT NULL"),
									   4, argtypes, args, NULL, false, 0);
	for (;;)
	{
		SPITupleTable *batch;

		SPI_cursor_fetch(portal, true, HISTORY_BATCH);
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
						DatumGetInt32(SPI_getbinval(tuple, batch->tupdesc, 5, &isnull)));
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);
}

/* Would granting the candidate break a cap? */
bool
breaks_cap(RunState *run, Candidate *candidate)
{
	StrategySpec *spec = run->spec;
	BuyerHistory *h = string_hash_lookup(run, run->history, candidate->buyer, false,
										 sizeof(BuyerHistory));
	TimestampTz at = candidate->at;

	for (int c = 0; c < 2; c++)
	{
		CapRule    *cap = c == 0 ? &spec->cap_count : &spec->cap_amount;
		TimestampTz window_start;
		int64		count = 0;
		int64		amount = candidate->amount_minor;

		if (!cap->present)
			continue;
		window_start = cap_window_start(run, cap, at);
		for (int i = 0; h != NULL && i < h->count; i++)
		{
			HistoryEntry *e = &h->entries[i];

			if (e->at <= window_start || e->at > at)
				continue;
			if (!cap->program_scope && e->strategy_id != spec->strategy_id)
				continue;
			count++;
			if (strcmp(e->currency, candidate->currency) == 0)
				amount += e->amount_minor;
		}
		if (c == 0 && count + 1 > cap->max_count)
			return true;
		/* the amount cap is in the major unit of the candidate's currency */
		if (c == 1 && cap->max_amount_minor[candidate->exponent] >= 0 &&
			amount > cap->max_amount_minor[candidate->exponent])
			return true;
	}
	return false;
}
