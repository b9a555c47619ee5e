/*-------------------------------------------------------------------------
 *
 * budget_cutoff.c
 *	  compensation.budget_cutoff(budget) WITHIN GROUP (ORDER BY score DESC,
 *	  cost) and its companion budget_cutoff_funded(budget) WITHIN GROUP
 *	  (...): which candidates a budget funds, best first.
 *
 * Both are ordered-set aggregates over the same transition function: the
 * rows go into a tuplesort in the order the WITHIN GROUP clause gives (so
 * "score DESC, cost" is the documented use, not a fixed order), and the
 * final functions walk the sorted rows once, adding the costs exactly in
 * numeric.  Funding stops at the first candidate that does not fit:
 * budget_cutoff() returns the score of the last candidate funded, the
 * threshold a planner sets; budget_cutoff_funded() also counts what a
 * greedy pass in the same order funds (apply() with "rank" skips a
 * candidate that does not fit and tries the next, so cheaper candidates
 * below the cutoff may still be funded).
 *
 * Rows whose score or cost is NULL are left out (not ranked, not funded),
 * as percentile_disc() leaves out NULLs.  A cost must be a finite amount of
 * zero or more, the budget too.
 *
 * PostgreSQL never splits an ordered-set aggregate across parallel workers,
 * so there are no combine or serial functions.  The per-query sort set-up
 * is kept in the transition function's fn_extra, the per-group state in the
 * aggregate's group context; a shutdown callback ends the sort (it may have
 * temporary files).  Reads no tables.  The SQL objects are in
 * src/sql/62_budgets.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_aggregate.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplesort.h"

/* the aggregated arguments, as columns of the sorted tuples */
#define CUTOFF_SCORE_ATTNO 1
#define CUTOFF_COST_ATTNO 2
#define CUTOFF_NATTS 2

/*
 * Set up once per query (the same for every group, every final function
 * and every direct argument, since nodeAgg may share one transition state
 * between budget_cutoff() and budget_cutoff_funded()).
 */
typedef struct CutoffQuery
{
	TupleDesc	tupdesc;		/* (score, cost) */
	TupleTableSlot *slot;		/* to put and get rows */
	AttrNumber	sort_columns[CUTOFF_NATTS];
	Oid			sort_operators[CUTOFF_NATTS];
	Oid			sort_collations[CUTOFF_NATTS];
	bool		nulls_first[CUTOFF_NATTS];
	bool		rescan_needed;	/* more than one final call per group */
	int16		score_typlen;
	bool		score_typbyval;
	Numeric		zero;
} CutoffQuery;

/* One group's state: the rows, sorted by the first final call. */
typedef struct CutoffGroup
{
	CutoffQuery *query;
	Tuplesortstate *sort;
	int64		rows;			/* ranked rows: score and cost not NULL */
	bool		sorted;
} CutoffGroup;

/* What one walk of the sorted rows found. */
typedef struct CutoffWalk
{
	int64		candidates;
	int64		funded;			/* funded before the first that did not fit */
	Numeric		funded_cost;
	bool		has_score;
	Datum		last_score;		/* of the last candidate funded */
	int64		greedy_funded;	/* funded by a greedy pass in the same order */
	Numeric		greedy_cost;	/* (which funds the cutoff's and more) */
} CutoffWalk;

static MemoryContext
CutoffAggregateContext(FunctionCallInfo fcinfo, const char *function_name)
{
	MemoryContext group_context;

	if (AggCheckCallContext(fcinfo, &group_context) != AGG_CONTEXT_AGGREGATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("compensation.%s() can only be called by the aggregates compensation.budget_cutoff() and budget_cutoff_funded()",
						function_name),
				 errhint("Call budget_cutoff(budget) WITHIN GROUP (ORDER BY score DESC, cost).")));
	return group_context;
}

static void
CutoffShutdown(Datum arg)
{
	CutoffGroup *group = (CutoffGroup *) DatumGetPointer(arg);

	/* the sort may hold temporary files; its memory goes with the group */
	if (group->sort != NULL)
		tuplesort_end(group->sort);
	group->sort = NULL;
	ExecClearTuple(group->query->slot);
}

/* The sort order and tuple shape of this query, from the Aggref. */
static CutoffQuery *
CutoffQuerySetUp(FunctionCallInfo fcinfo)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	MemoryContext oldcontext;
	CutoffQuery *query;
	ListCell   *cell;
	int			i = 0;

	if (aggref == NULL || !AGGKIND_IS_ORDERED_SET(aggref->aggkind) ||
		list_length(aggref->aggorder) != CUTOFF_NATTS || list_length(aggref->args) != CUTOFF_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("compensation.budget_cutoff_transition() can only be called by the aggregates compensation.budget_cutoff() and budget_cutoff_funded()"),
				 errhint("Call budget_cutoff(budget) WITHIN GROUP (ORDER BY score DESC, cost).")));

	oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	query = palloc0(sizeof(CutoffQuery));
	query->rescan_needed = AggStateIsShared(fcinfo);
	foreach(cell, aggref->aggorder)
	{
		SortGroupClause *clause = lfirst_node(SortGroupClause, cell);
		TargetEntry *entry = get_sortgroupclause_tle(clause, aggref->args);

		query->sort_columns[i] = entry->resno;
		query->sort_operators[i] = clause->sortop;
		query->sort_collations[i] = exprCollation((Node *) entry->expr);
		query->nulls_first[i] = clause->nulls_first;
		i++;
	}
	query->tupdesc = ExecTypeFromTL(aggref->args);
	query->slot = MakeSingleTupleTableSlot(query->tupdesc, &TTSOpsMinimalTuple);
	get_typlenbyval(TupleDescAttr(query->tupdesc, CUTOFF_SCORE_ATTNO - 1)->atttypid,
					&query->score_typlen, &query->score_typbyval);
	query->zero = int64_to_numeric(0);
	MemoryContextSwitchTo(oldcontext);
	return query;
}

static bool
NumericIsFiniteNonNegative(Numeric value, Numeric zero)
{
	return !numeric_is_nan(value) && !numeric_is_inf(value) &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(value),
										  NumericGetDatum(zero))) >= 0;
}

static int
CutoffCompare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/*
 * compensation.budget_cutoff_transition(internal, score anyelement,
 *		cost numeric) -> internal
 *		Adds one candidate to the group's sort.  A NULL score or cost leaves
 *		the row out; a negative, NaN or infinite cost is an error.
 */
PG_FUNCTION_INFO_V1(compensation_budget_cutoff_transition);
Datum
compensation_budget_cutoff_transition(PG_FUNCTION_ARGS)
{
	MemoryContext group_context = CutoffAggregateContext(fcinfo, "budget_cutoff_transition");
	CutoffGroup *group;
	CutoffQuery *query;
	TupleTableSlot *slot;
	Numeric		cost;

	if (PG_ARGISNULL(0))
	{
		MemoryContext oldcontext;

		query = (CutoffQuery *) fcinfo->flinfo->fn_extra;
		if (query == NULL)
		{
			query = CutoffQuerySetUp(fcinfo);
			fcinfo->flinfo->fn_extra = query;
		}
		oldcontext = MemoryContextSwitchTo(group_context);
		group = palloc0(sizeof(CutoffGroup));
		group->query = query;
		group->sort = tuplesort_begin_heap(query->tupdesc, CUTOFF_NATTS, query->sort_columns,
										   query->sort_operators, query->sort_collations,
										   query->nulls_first, work_mem, NULL,
										   query->rescan_needed ? TUPLESORT_RANDOMACCESS : TUPLESORT_NONE);
		AggRegisterCallback(fcinfo, CutoffShutdown, PointerGetDatum(group));
		MemoryContextSwitchTo(oldcontext);
	}
	else
		group = (CutoffGroup *) PG_GETARG_POINTER(0);
	query = group->query;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(group);
	if (group->sorted)
		elog(ERROR, "budget_cutoff(): a row arrived after the group was sorted");

	cost = PG_GETARG_NUMERIC(2);
	if (!NumericIsFiniteNonNegative(cost, query->zero))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("budget_cutoff() cost must be a finite amount of zero or more"),
				 errdetail("A candidate has cost %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(cost)))),
				 errhint("Pass each candidate's cost in the budget's unit; leave out (or pass NULL for) candidates without one.")));

	slot = query->slot;
	ExecClearTuple(slot);
	slot->tts_values[CUTOFF_SCORE_ATTNO - 1] = PG_GETARG_DATUM(1);
	slot->tts_isnull[CUTOFF_SCORE_ATTNO - 1] = false;
	slot->tts_values[CUTOFF_COST_ATTNO - 1] = NumericGetDatum(cost);
	slot->tts_isnull[CUTOFF_COST_ATTNO - 1] = false;
	ExecStoreVirtualTuple(slot);
	tuplesort_puttupleslot(group->sort, slot);
	group->rows++;

	PG_RETURN_POINTER(group);
}

/* NULL for a NULL budget; an error for a negative, NaN or infinite one. */
static Numeric
CutoffBudget(FunctionCallInfo fcinfo, const char *aggregate)
{
	Numeric		budget;

	if (PG_ARGISNULL(1))
		return NULL;
	budget = PG_GETARG_NUMERIC(1);
	if (!NumericIsFiniteNonNegative(budget, int64_to_numeric(0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s budget must be a finite amount of zero or more", aggregate),
				 errdetail("The budget given was %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(budget)))),
				 errhint("Pass the budget in the same unit as the costs, for example budget_cutoff(5000) WITHIN GROUP (ORDER BY score DESC, cost).")));
	return budget;
}

/*
 * Walk the group's rows in order, funding while the cumulative cost stays
 * within budget; with greedy, go on past the first that does not fit and
 * fund every later one that still fits.  The results are in the caller's
 * memory context.
 *
 * Per row, the arithmetic happens in one of two small memory contexts: the
 * one holding the running sum (and the last score funded) is kept, the
 * other is reset and used for the row, and they swap when the row is
 * funded.  So a walk over millions of rows uses constant memory.
 */
static void
CutoffWalkRows(CutoffGroup *group, Numeric budget, bool greedy, CutoffWalk *walk)
{
	CutoffQuery *query = group->query;
	TupleTableSlot *slot = query->slot;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext kept = AllocSetContextCreate(caller, "budget_cutoff kept", ALLOCSET_SMALL_SIZES);
	MemoryContext scratch = AllocSetContextCreate(caller, "budget_cutoff scratch", ALLOCSET_SMALL_SIZES);
	Numeric		cumulative = query->zero;
	bool		stopped = false;

	memset(walk, 0, sizeof(*walk));
	walk->candidates = group->rows;

	if (group->rows > 0)
	{
		if (!group->sorted)
		{
			tuplesort_performsort(group->sort);
			group->sorted = true;
		}
		else
			tuplesort_rescan(group->sort);
	}

	while (group->rows > 0 && tuplesort_gettupleslot(group->sort, true, false, slot, NULL))
	{
		bool		isnull;
		Numeric		cost;
		Numeric		sum;
		MemoryContext swap;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(scratch);
		MemoryContextSwitchTo(scratch);
		cost = DatumGetNumeric(slot_getattr(slot, CUTOFF_COST_ATTNO, &isnull));
		Assert(!isnull);
		sum = numeric_add_opt_error(cumulative, cost, NULL);
		if (CutoffCompare(sum, budget) > 0)
		{
			if (stopped)
				continue;		/* greedy: try the next */
			/* the first that does not fit: the cutoff's results are final */
			stopped = true;
			MemoryContextSwitchTo(caller);
			walk->funded = walk->greedy_funded;
			walk->funded_cost = (Numeric) datumCopy(NumericGetDatum(cumulative), false, -1);
			if (walk->has_score)
				walk->last_score = datumCopy(walk->last_score, query->score_typbyval,
											 query->score_typlen);
			if (!greedy)
				break;
			continue;
		}
		if (!stopped)
		{
			walk->last_score = datumCopy(slot_getattr(slot, CUTOFF_SCORE_ATTNO, &isnull),
										 query->score_typbyval, query->score_typlen);
			Assert(!isnull);
			walk->has_score = true;
		}
		walk->greedy_funded++;
		cumulative = sum;
		swap = kept;
		kept = scratch;
		scratch = swap;
	}
	ExecClearTuple(slot);

	MemoryContextSwitchTo(caller);
	if (!stopped)
	{
		/* everything fitted */
		walk->funded = walk->greedy_funded;
		walk->funded_cost = (Numeric) datumCopy(NumericGetDatum(cumulative), false, -1);
		if (walk->has_score)
			walk->last_score = datumCopy(walk->last_score, query->score_typbyval,
										 query->score_typlen);
	}
	walk->greedy_cost = (Numeric) datumCopy(NumericGetDatum(cumulative), false, -1);
	MemoryContextDelete(kept);
	MemoryContextDelete(scratch);
}

/*
 * compensation.budget_cutoff_final(internal, budget numeric,
 *		score anyelement, cost numeric) -> anyelement
 *		The score of the last candidate funded in order before the first
 *		that does not fit in the budget; NULL when none is funded (no
 *		candidate, or the first costs more than the budget) or the budget is
 *		NULL.
 */
PG_FUNCTION_INFO_V1(compensation_budget_cutoff_final);
Datum
compensation_budget_cutoff_final(PG_FUNCTION_ARGS)
{
	Numeric		budget;
	CutoffWalk	walk;

	CutoffAggregateContext(fcinfo, "budget_cutoff_final");
	budget = CutoffBudget(fcinfo, "budget_cutoff()");
	if (budget == NULL || PG_ARGISNULL(0))
		PG_RETURN_NULL();
	CutoffWalkRows((CutoffGroup *) PG_GETARG_POINTER(0), budget, false, &walk);
	if (!walk.has_score)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(walk.last_score);
}

/* budget_cutoff_result's columns, in order */
enum
{
	CUTOFF_FUNDED,
	CUTOFF_FUNDED_COST,
	CUTOFF_GREEDY_FUNDED,
	CUTOFF_GREEDY_COST,
	CUTOFF_CANDIDATES,
	CUTOFF_RESULT_NATTS
};

/*
 * compensation.budget_cutoff_funded_final(internal, budget numeric,
 *		score anyelement, cost numeric) -> budget_cutoff_result
 *		funded and funded_cost: the candidates funded up to the cutoff;
 *		greedy_funded and greedy_cost: those a greedy pass in the same order
 *		funds (the cutoff's, and later ones that still fit); candidates: the
 *		rows ranked.  NULL when the budget is NULL; zeros without rows.
 */
PG_FUNCTION_INFO_V1(compensation_budget_cutoff_funded_final);
Datum
compensation_budget_cutoff_funded_final(PG_FUNCTION_ARGS)
{
	Numeric		budget;
	CutoffWalk	walk;
	TupleDesc	tupdesc;
	Datum		values[CUTOFF_RESULT_NATTS];
	bool		nulls[CUTOFF_RESULT_NATTS];

	CutoffAggregateContext(fcinfo, "budget_cutoff_funded_final");
	budget = CutoffBudget(fcinfo, "budget_cutoff_funded()");
	if (budget == NULL)
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0))
	{
		memset(&walk, 0, sizeof(walk));
		walk.funded_cost = walk.greedy_cost = int64_to_numeric(0);
	}
	else
		CutoffWalkRows((CutoffGroup *) PG_GETARG_POINTER(0), budget, true, &walk);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != CUTOFF_RESULT_NATTS)
		elog(ERROR, "budget_cutoff_funded_final: unexpected return type");
	memset(nulls, false, sizeof(nulls));
	values[CUTOFF_FUNDED] = Int64GetDatum(walk.funded);
	values[CUTOFF_FUNDED_COST] = NumericGetDatum(walk.funded_cost);
	values[CUTOFF_GREEDY_FUNDED] = Int64GetDatum(walk.greedy_funded);
	values[CUTOFF_GREEDY_COST] = NumericGetDatum(walk.greedy_cost);
	values[CUTOFF_CANDIDATES] = Int64GetDatum(walk.candidates);
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
