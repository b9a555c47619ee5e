/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  The SQL entry points of the run engine: compensation.apply(),
 *	  apply_all() and candidate_query() (the backtests are in simulate.c).
 *	  They check their arguments, take the locks, set up the run for its
 *	  mode and build the results; the engine (apply_engine.c) decides, the
 *	  writer (ledger_writer.c) writes.
 *
 * Three modes, one engine:
 *	- apply:	takes the locks, writes the ledger, outbox, holdout records,
 *				budgets and the run row, sends NOTIFY;
 *	- dry run:	the same decisions against the same ledger, no lock, no
 *				write;
 *	- simulate: an empty ledger, a replay at a cadence (simulate.c).
 *
 * Rights: apply() and apply_all() are SECURITY DEFINER, but a strategy's
 * source is read as the version's author, never as the owner (security.c);
 * simulate() is SECURITY INVOKER and reads as its caller.
 *
 * Concurrency: a real run first takes transaction advisory locks on its
 * exclusive group and on its program, then locks every budget of its
 * program and quarter (FOR UPDATE, in budget_id order).  Runs that could
 * grant the same order, count the same buyer's grants or spend the same
 * budget therefore run one after the other, and each sees what the
 * previous one committed (the candidate query takes its snapshot after the
 * locks).  apply_all takes all its strategies' locks first, in the same
 * order (groups, programs, budgets), so runs never deadlock; roll_quarter
 * and void_grant keep to that order too.  The unique constraint on
 * (exclusive_group, order_key) stays the last line of defence.  A run is a
 * single transaction: killed halfway, it leaves nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/bloomfilter.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "apply.h"

/* run_result's columns */
#define RUN_RESULT_COLUMNS 16

/*
 * A real run remembers the orders it granted in Bloom filters
 * (lib/bloomfilter.h, about two bytes a grant), and confirms a "maybe"
 * against the grants themselves (ledger_has_order()): an order's second
 * line in the source is rare, a false positive one in fifty.  A filter is
 * sized for the grants it takes; when it is full the next one, twice as
 * large, takes the grants after it, so that a run of any size keeps the
 * false-positive rate and about two bytes a grant without knowing its size
 * beforehand.
 */
#define FIRST_FILTER_GRANTS (512 * 1024)	/* bloom_create's 1 MB minimum */

typedef struct GrantedFilters
{
	List	   *filters;		/* bloom_filter *, oldest first */
	int64		room;			/* grants the newest one takes before full */
	int64		next_size;		/* grants the next one is sized for */
	MemoryContext context;
} GrantedFilters;

static GrantedFilters *
granted_filters_create(MemoryContext context)
{
	GrantedFilters *granted = MemoryContextAllocZero(context, sizeof(GrantedFilters));

	granted->next_size = FIRST_FILTER_GRANTS;
	granted->context = context;
	return granted;
}

static void
granted_filters_add(GrantedFilters *granted, const char *order_key)
{
	if (granted->room == 0)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(granted->context);

		/* bloom_work_mem in kB: two bytes an element */
		granted->filters = lappend(granted->filters,
								   bloom_create(granted->next_size,
												(int) Min(granted->next_size * 2 / 1024, MAX_KILOBYTES),
												0));
		MemoryContextSwitchTo(oldcontext);
		granted->room = granted->next_size;
		granted->next_size *= 2;
	}
	bloom_add_element(llast(granted->filters), (unsigned char *) order_key, strlen(order_key));
	granted->room--;
}

static bool
granted_filters_may_have(GrantedFilters *granted, const char *order_key)
{
	ListCell   *lc;

	foreach(lc, granted->filters)
		if (!bloom_lacks_element(lfirst(lc), (unsigned char *) order_key, strlen(order_key)))
			return true;
	return false;
}

/* Dry runs and simulations write nothing to confirm a hash against. */
typedef struct OrderEntry
{
	char	   *order_key;		/* hash key */
} OrderEntry;

/* ---- the modes ---------------------------------------------------------- */

/* apply: not in the filters, not granted by this run; a "maybe" is confirmed */
static bool
apply_granted_by_run(RunState *run, const char *order_key)
{
	if (!granted_filters_may_have(run->granted, order_key))
		return false;
	return ledger_has_order(run, order_key);
}

static void
apply_decided(RunState *run, Candidate *candidate, Outcome outcome, BudgetState *budget)
{
	if (outcome == OUTCOME_GRANTED || outcome == OUTCOME_HOLDOUT)
		granted_filters_add(run->granted, candidate->order_key);
	if (outcome == OUTCOME_GRANTED)
		buffer_grant(run, candidate, budget);
	/* a later line of an order this run took says nothing new */
	if (outcome != OUTCOME_DUPLICATE || candidate->claimed)
		record_decision(run, candidate, outcome, budget);
}

static const RunCallbacks apply_callbacks = {NULL, apply_granted_by_run, apply_decided};

/* dry runs: the same decisions, remembered by key, nothing written */
static bool
keys_granted_by_run(RunState *run, const char *order_key)
{
	return string_hash_lookup(run, (HTAB *) run->granted, order_key, false,
							  sizeof(OrderEntry)) != NULL;
}

static void
dry_decided(RunState *run, Candidate *candidate, Outcome outcome, BudgetState *budget)
{
	if (outcome == OUTCOME_GRANTED || outcome == OUTCOME_HOLDOUT)
		(void) string_hash_lookup(run, (HTAB *) run->granted, candidate->order_key, true,
								  sizeof(OrderEntry));
}

static const RunCallbacks dry_callbacks = {NULL, keys_granted_by_run, dry_decided};

/* ---- one run ------------------------------------------------------------ */

static int
fiscal_start_month(void)
{
	return compensation_fiscal_start_month;
}

/* An advisory lock of apply's lock order: (class, hashtext(name)). */
static void
lock_name(const char *class, const char *name)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2] = {CStringGetTextDatum(class), CStringGetTextDatum(name)};

	if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock("
							  " pg_catalog.hashtext($1), pg_catalog.hashtext($2))",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "unexpected failure taking an advisory lock");
}

/* The earliest at of a candidate as of as_of: as_of - max_age. */
TimestampTz
oldest_candidate_time(StrategySpec *spec, TimestampTz as_of)
{
	if (!spec->has_max_age)
		return DT_NOBEGIN;
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(as_of),
												   PointerGetDatum(&spec->max_age)));
}

/*
 * execute_run
 *		Run the active version of strategy name (version, when not -1: that
 *		one, which must still be active) as of as_of: a real run when
 *		!dry_run.  SPI must be connected; the run is allocated in the current
 *		memory context.
 */
static RunState *
execute_run(const char *name, int32 version, TimestampTz as_of, bool dry_run)
{
	StrategySpec *spec = load_strategy(name, version != -1, version, false);
	RunState   *run;
	TimestampTz from;

	if (strcmp(spec->status, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("strategy \"%s\" version %d is no longer active", name, version),
				 errhint("It changed while apply_all ran; the next run applies the version in force.")));
	run = new_run(spec, as_of, dry_run ? &dry_callbacks : &apply_callbacks);

	run->quarter = quarter_of_timestamp(as_of, fiscal_start_month());
	format_quarter(run->quarter, run->quarter_label);
	run->author = check_strategy_source(spec, &run->source_relid);
	run->against_ledger = true;

	if (dry_run)
		run->granted = create_string_hash("compensation granted orders", sizeof(OrderEntry),
										  run->run_context);
	else
	{
		Oid			run_types[4] = {INT4OID, INT4OID, TIMESTAMPTZOID, TEXTOID};
		Datum		run_args[4];
		bool		isnull;

		run->granted = granted_filters_create(run->run_context);

		/*
		 * One run at a time per exclusive group, then per program (caps with
		 * "scope": "program" read every grant of the program), then per
		 * budget (load_budgets).
		 */
		lock_name("compensation.exclusive_group", spec->exclusive_group);
		lock_name("compensation.program", spec->program);
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
		prepare_decisions(run);
		/* only a real run reads incrementally: a dry run shows the window */
		plan_watermark(run);
	}
	load_budgets(run, !dry_run);
	load_history(run);
	from = Max(spec->has_valid_from ? spec->valid_from : DT_NOBEGIN,
			   oldest_candidate_time(spec, as_of));
	if (spec->has_max_age)
		run->skipped[OUTCOME_EXPIRED] = expire_decisions(run, from, !dry_run);
	run_candidates(run, from, spec->has_valid_to ? spec->valid_to : DT_NOEND);
	if (!dry_run)
		finish_writes(run);
	return run;
}

/* The run_result row of a run (NULL: of a failed strategy, with error). */
static HeapTuple
run_result_tuple(TupleDesc desc, RunState *run, bool show_run_id, const char *name,
				 int32 version, const char *error)
{
	Datum		result[RUN_RESULT_COLUMNS];
	bool		nulls[RUN_RESULT_COLUMNS];

	memset(nulls, true, sizeof(nulls));
	result[11] = CStringGetTextDatum(name);
	result[12] = Int32GetDatum(version);
	nulls[11] = nulls[12] = false;
	if (run == NULL)
	{
		result[13] = CStringGetTextDatum(error);
		nulls[13] = false;
		return heap_form_tuple(desc, result, nulls);
	}
	memset(nulls, false, sizeof(nulls));
	result[0] = Int64GetDatum(run->run_id);
	nulls[0] = !show_run_id;
	result[1] = Int64GetDatum(run->candidates);
	result[2] = Int64GetDatum(run->granted_count);
	if (list_length(run->totals) == 1)
	{
		CurrencyTotal *t = (CurrencyTotal *) linitial(run->totals);

		result[3] = NumericGetDatum(int64_div_fast_to_numeric(t->amount_minor, t->exponent));
		result[9] = CStringGetTextDatum(t->currency);
	}
	else if (run->totals == NIL)
	{
		result[3] = NumericGetDatum(int64_to_numeric(0));
		nulls[9] = true;
	}
	else
		nulls[3] = nulls[9] = true; /* never add currencies */
	result[4] = Int64GetDatum(run->skipped[OUTCOME_HOLDOUT]);
	result[5] = Int64GetDatum(run->skipped[OUTCOME_CAP]);
	result[6] = Int64GetDatum(run->skipped[OUTCOME_BUDGET]);
	result[7] = Int64GetDatum(run->skipped[OUTCOME_DUPLICATE]);
	result[8] = Int64GetDatum(run->skipped[OUTCOME_CURRENCY]);
	result[10] = totals_jsonb(run);
	nulls[13] = true;			/* error: only for a failed strategy */
	result[14] = Int64GetDatum(run->skipped[OUTCOME_PACE]);
	result[15] = Int64GetDatum(run->skipped[OUTCOME_EXPIRED]);
	return heap_form_tuple(desc, result, nulls);
}

void
check_as_of(TimestampTz as_of)
{
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite timestamp"),
				 errhint("Omit it to apply as of now().")));
}

/*
 * compensation.apply(strategy text, as_of timestamptz, dry_run boolean)
 *		-> compensation.run_result
 */
PG_FUNCTION_INFO_V1(compensation_apply);
Datum
compensation_apply(PG_FUNCTION_ARGS)
{
	MemoryContext caller_context = CurrentMemoryContext;
	TupleDesc	result_desc;
	RunState   *run;
	HeapTuple	result;

	refuse_in_restricted_operation("apply");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("apply needs a strategy, an as_of timestamp and dry_run"),
				 errhint("For example: SELECT * FROM compensation.apply('late_v3');")));
	check_as_of(PG_GETARG_TIMESTAMPTZ(1));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "unexpected return type: not a row type");

	/*
	 * SPI_connect makes SPI's procedure context current, and SPI_finish
	 * frees it; the run must outlive it (the result is built from it), so
	 * allocate in the caller's context.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	MemoryContextSwitchTo(caller_context);
	run = execute_run(text_to_cstring(PG_GETARG_TEXT_PP(0)), -1, PG_GETARG_TIMESTAMPTZ(1),
					  PG_GETARG_BOOL(2));
	SPI_finish();
	result = run_result_tuple(BlessTupleDesc(result_desc), run, !PG_GETARG_BOOL(2),
							  run->spec->strategy_name, run->spec->version, NULL);
	PG_RETURN_DATUM(HeapTupleGetDatum(result));
}

/*
 * compensation.candidate_query(strategy text, as_of timestamptz) -> text
 *		The candidate query a real run of the active version would read as
 *		of as_of, its parameters written in as literals: what EXPLAIN shows
 *		of a run (an index on the source's at column, partition pruning,
 *		and with a watermark the indexes on the change and order columns).
 */
PG_FUNCTION_INFO_V1(compensation_candidate_query);
Datum
compensation_candidate_query(PG_FUNCTION_ARGS)
{
	StrategySpec *spec;
	RunState   *run;
	TimestampTz as_of;
	TimestampTz from;
	char	   *query;
	const char *literals[7];
	MemoryContext caller_context = CurrentMemoryContext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	check_as_of(as_of);
	/* allocate in the caller's context: SPI_finish frees SPI's */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	MemoryContextSwitchTo(caller_context);
	spec = load_strategy(text_to_cstring(PG_GETARG_TEXT_PP(0)), false, -1, false);
	run = new_run(spec, as_of, &dry_callbacks);
	run->source_relid = strategy_source_relid(spec, psprintf("strategy \"%s\" version %d",
															 spec->strategy_name, spec->version));
	run->against_ledger = true;
	plan_watermark(run);
	from = Max(spec->has_valid_from ? spec->valid_from : DT_NOBEGIN,
			   oldest_candidate_time(spec, as_of));
	query = candidate_query(run);
	SPI_finish();

	literals[0] = quote_literal_cstr(spec->exclusive_group);
	literals[1] = psprintf("%s::pg_catalog.timestamptz",
						   quote_literal_cstr(timestamptz_to_str(from)));
	literals[2] = psprintf("%s::pg_catalog.timestamptz",
						   quote_literal_cstr(spec->has_valid_to ? timestamptz_to_str(spec->valid_to) : "infinity"));
	literals[3] = psprintf("%s::pg_catalog.timestamptz", quote_literal_cstr(timestamptz_to_str(as_of)));
	literals[4] = psprintf("%d", spec->strategy_id);
	literals[5] = psprintf("%s::pg_catalog.timestamptz",
						   quote_literal_cstr(timestamptz_to_str(run->previous_as_of)));
	literals[6] = psprintf("%s::pg_catalog.timestamptz",
						   quote_literal_cstr(timestamptz_to_str(run->changed_since)));
	for (int i = 6; i >= 0; i--)
	{
		char		param[4];
		char	   *at;
		StringInfoData buf;

		snprintf(param, sizeof(param), "$%d", i + 1);
		initStringInfo(&buf);
		while ((at = strstr(query, param)) != NULL)
		{
			appendBinaryStringInfo(&buf, query, at - query);
			appendStringInfoString(&buf, literals[i]);
			query = at + strlen(param);
		}
		appendStringInfoString(&buf, query);
		query = buf.data;
	}
	PG_RETURN_TEXT_P(cstring_to_text(query));
}

/* ---- apply_all ---------------------------------------------------------- */

typedef struct ActiveStrategy
{
	char	   *name;
	int32		strategy_id;
	int32		version;
	char	   *exclusive_group;
	char	   *program;
} ActiveStrategy;

/*
 * The active strategies, higher priority first, then by name; and how many
 * strategies exist at all.
 */
static List *
active_strategies(int64 *strategies_defined)
{
	List	   *active = NIL;
	bool		isnull;

	if (SPI_execute("SELECT s.name, s.strategy_id, v.version, v.exclusive_group, v.program"
					"  FROM compensation.strategy AS s"
					"  JOIN compensation.strategy_version AS v"
					"    ON v.strategy_id OPERATOR(pg_catalog.=) s.strategy_id"
					" WHERE v.status OPERATOR(pg_catalog.=) 'active'"
					" ORDER BY v.priority DESC, s.name",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "unexpected failure listing the active strategies");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		ActiveStrategy *strategy = palloc(sizeof(ActiveStrategy));

		strategy->name = TextDatumGetCString(SPI_getbinval(tuple, desc, 1, &isnull));
		strategy->strategy_id = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
		strategy->version = DatumGetInt32(SPI_getbinval(tuple, desc, 3, &isnull));
		strategy->exclusive_group = TextDatumGetCString(SPI_getbinval(tuple, desc, 4, &isnull));
		strategy->program = TextDatumGetCString(SPI_getbinval(tuple, desc, 5, &isnull));
		active = lappend(active, strategy);
	}
	if (SPI_execute("SELECT pg_catalog.count(*) FROM compensation.strategy", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "unexpected failure counting the strategies");
	*strategies_defined = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
	return active;
}

/*
 * Every lock the runs of the active strategies will take, first and in
 * apply's order (exclusive groups, programs, each by lock key; then budgets
 * by id), so that apply_all and single applies never wait on each other in
 * a cycle.  The strategies are the ones listed before, so that a strategy
 * activated meanwhile is not run without its locks.
 */
static void
lock_active_strategies(List *active, TimestampTz as_of)
{
	Oid			types[2] = {TEXTARRAYOID, TEXTOID};
	Datum	   *groups = palloc(sizeof(Datum) * Max(list_length(active), 1));
	Datum	   *programs = palloc(sizeof(Datum) * Max(list_length(active), 1));
	Datum		args[2];
	char		label[QUARTER_TEXT_LEN + 1];
	ListCell   *lc;

	foreach(lc, active)
	{
		ActiveStrategy *strategy = (ActiveStrategy *) lfirst(lc);

		groups[foreach_current_index(lc)] = CStringGetTextDatum(strategy->exclusive_group);
		programs[foreach_current_index(lc)] = CStringGetTextDatum(strategy->program);
	}
	format_quarter(quarter_of_timestamp(as_of, fiscal_start_month()), label);
	args[1] = CStringGetTextDatum(label);
	args[0] = PointerGetDatum(construct_array(groups, list_length(active), TEXTOID, -1, false,
											  TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock("
							  "        pg_catalog.hashtext('compensation.exclusive_group'), k.key)"
							  "  FROM (SELECT DISTINCT pg_catalog.hashtext(g) AS key"
							  "          FROM pg_catalog.unnest($1) AS g ORDER BY 1) AS k"
							  " WHERE $2 IS NOT NULL",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "unexpected failure locking the exclusive groups");
	args[0] = PointerGetDatum(construct_array(programs, list_length(active), TEXTOID, -1, false,
											  TYPALIGN_INT));
	if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock("
							  "        pg_catalog.hashtext('compensation.program'), k.key)"
							  "  FROM (SELECT DISTINCT pg_catalog.hashtext(p) AS key"
							  "          FROM pg_catalog.unnest($1) AS p ORDER BY 1) AS k"
							  " WHERE $2 IS NOT NULL",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT ||
		SPI_execute_with_args("SELECT 1 FROM compensation.budget AS b"
							  " WHERE b.quarter OPERATOR(pg_catalog.=) $2"
							  "   AND b.program OPERATOR(pg_catalog.=) ANY ($1)"
							  " ORDER BY b.budget_id FOR UPDATE",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "unexpected failure locking the programs and their budgets");
}

/* A run row for what apply_all could not do (strategy NULL: none was active). */
static int64
record_failed_run(ActiveStrategy *strategy, TimestampTz as_of, const char *error)
{
	Oid			types[5] = {INT4OID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	char		label[QUARTER_TEXT_LEN + 1];
	bool		isnull;

	format_quarter(quarter_of_timestamp(as_of, fiscal_start_month()), label);
	args[0] = strategy ? Int32GetDatum(strategy->strategy_id) : (Datum) 0;
	args[1] = strategy ? Int32GetDatum(strategy->version) : (Datum) 0;
	nulls[0] = nulls[1] = strategy ? ' ' : 'n';
	args[2] = TimestampTzGetDatum(as_of);
	args[3] = CStringGetTextDatum(label);
	args[4] = CStringGetTextDatum(error);
	if (SPI_execute_with_args("INSERT INTO compensation.run"
							  " (strategy_id, version, as_of, quarter, status, finished_at, error)"
							  " VALUES ($1, $2, $3, $4, 'failed', pg_catalog.clock_timestamp(), $5)"
							  " RETURNING run_id",
							  5, types, args, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "unexpected failure recording a failed run");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Run one strategy of apply_all in a subtransaction: a failure (a source
 * gone, a right revoked, a bad row) rolls back that strategy alone, is
 * recorded and reported, and apply_all goes on.  A cancel, or anything
 * that is not an ordinary error, still stops everything.
 */
static HeapTuple
apply_one_of_all(ActiveStrategy *strategy, TimestampTz as_of, bool dry_run, TupleDesc desc)
{
	MemoryContext strategy_context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	HeapTuple	result = NULL;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(strategy_context);
	PG_TRY();
	{
		RunState   *run = execute_run(strategy->name, strategy->version, as_of, false);

		result = run_result_tuple(desc, run, !dry_run, strategy->name, strategy->version, NULL);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(strategy_context);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(strategy_context);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(strategy_context);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->elevel > ERROR)
			ReThrowError(edata);
	}
	PG_END_TRY();

	if (edata != NULL)
	{
		char	   *error = psprintf("%s (SQLSTATE %s)", edata->message,
									 unpack_sql_state(edata->sqlerrcode));
		int64		run_id = record_failed_run(strategy, as_of, error);

		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("strategy \"%s\" version %d failed: %s",
						strategy->name, strategy->version, edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("apply_all applied the other strategies; compensation.runs keeps the error of this one.")));
		result = run_result_tuple(desc, NULL, false, strategy->name, strategy->version, error);
		if (!dry_run)
		{
			Datum		values[RUN_RESULT_COLUMNS];
			bool		nulls[RUN_RESULT_COLUMNS];

			heap_deform_tuple(result, desc, values, nulls);
			values[0] = Int64GetDatum(run_id);
			nulls[0] = false;
			result = heap_form_tuple(desc, values, nulls);
		}
	}
	return result;
}

/*
 * compensation.apply_all(as_of timestamptz, dry_run boolean)
 *		-> SETOF compensation.run_result: one per active strategy, higher
 *		priority first (ties by name), so that strategies competing for an
 *		order in one exclusive group resolve by priority.  A dry run applies
 *		them all for real inside a subtransaction and rolls it back: exactly
 *		what a real run would do now, strategies seeing each other's grants,
 *		and nothing written (run_id is NULL).
 */
PG_FUNCTION_INFO_V1(compensation_apply_all);
Datum
compensation_apply_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller_context;
	MemoryContext strategy_context;
	ResourceOwner owner;
	TimestampTz as_of;
	bool		dry_run;
	List	   *active;
	ListCell   *lc;
	int64		strategies_defined;

	refuse_in_restricted_operation("apply_all");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("apply_all arguments must not be null"),
				 errhint("Call compensation.apply_all() for now, or give a timestamp.")));
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	dry_run = PG_GETARG_BOOL(1);
	check_as_of(as_of);

	InitMaterializedSRF(fcinfo, 0);
	caller_context = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	MemoryContextSwitchTo(caller_context);
	strategy_context = AllocSetContextCreate(caller_context, "compensation apply_all strategy",
											 ALLOCSET_DEFAULT_SIZES);
	owner = CurrentResourceOwner;

	/* a dry run: the real runs, in a subtransaction rolled back at the end */
	if (dry_run)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(caller_context);
	}
	active = active_strategies(&strategies_defined);
	lock_active_strategies(active, as_of);
	if (active == NIL && strategies_defined > 0)
	{
		const char *error = "no strategy is active";

		if (!dry_run)
			(void) record_failed_run(NULL, as_of, error);
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("apply_all found no active strategy among the " INT64_FORMAT " defined", strategies_defined),
				 errhint("compensation.strategies shows their status; compensation.activate() puts a version in force.")));
	}
	foreach(lc, active)
	{
		HeapTuple	result;

		MemoryContextSwitchTo(strategy_context);
		result = apply_one_of_all((ActiveStrategy *) lfirst(lc), as_of, dry_run, rsinfo->setDesc);
		tuplestore_puttuple(rsinfo->setResult, result);
		MemoryContextSwitchTo(caller_context);
		MemoryContextReset(strategy_context);
	}
	if (dry_run)
	{
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = owner;
	}
	SPI_finish();
	MemoryContextSwitchTo(caller_context);
	return (Datum) 0;
}

