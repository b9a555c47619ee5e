/*-------------------------------------------------------------------------
 *
 * simulate.c
 *	  The backtests: compensation.simulate() replays one strategy, and
 *	  simulate_all() every active (or named) strategy against shared budgets
 *	  and exclusive groups, at a cadence, on an empty ledger, with the same
 *	  engine as a real run (apply_engine.c).  They write nothing, and read
 *	  the sources as their caller.
 *
 * A replay runs as of from + cadence, from + 2 cadence, ... up to to, as a
 * scheduled job would have.  Each strategy keeps one run across the steps:
 * its caps history, its budgets' spending and its decisions carry over.
 * An order's latest decision is kept; one granted, held out or found taken
 * in its group is settled, and later steps leave it alone; one skipped for
 * budget or pace that ages out of max_age before it is funded expires.
 * The result is a row per strategy and order.
 *
 * simulate_all, step by step, runs the strategies in apply_all's order
 * (higher priority first, then by name), so they see each other's grants
 * and holdouts in their groups, spend the same budgets (those of each
 * step's quarter, as stored and fresh, or one per program for the whole
 * window) and count the same program-wide caps: a day-by-day replay of
 * apply_all on a copy, without the copy.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "apply.h"

/* At most this many steps in a replay. */
#define MAX_SIMULATE_STEPS 100000

typedef struct SimulatedOrder
{
	char	   *order_key;		/* hash key */
	Candidate	candidate;		/* copied into the run's context */
	Outcome		outcome;
	int64		sequence;		/* first decided: the result's order */
} SimulatedOrder;

/* An order taken in an exclusive group during the replay. */
typedef struct ClaimedOrder
{
	char	   *order_key;		/* hash key */
} ClaimedOrder;

/* The budgets of one program in one quarter (or the whole window). */
typedef struct SimulatedBudgets
{
	char	   *program;
	char		quarter[QUARTER_TEXT_LEN + 1];	/* "": the whole window */
	TimestampTz period_start;
	TimestampTz period_end;
	int			nbudgets;
	BudgetState *budgets;
} SimulatedBudgets;

/* One strategy of a replay: its run, kept across the steps. */
typedef struct SimulatedStrategy
{
	RunState   *run;
	HTAB	   *results;		/* order key -> SimulatedOrder */
	HTAB	   *claims;			/* its exclusive group's: shared */
	bool		respect_valid;	/* simulate_all: the valid window applies */
} SimulatedStrategy;

static SimulatedStrategy *
strategy_of(RunState *run)
{
	return (SimulatedStrategy *) run->granted;
}

static bool
simulated_settled(RunState *run, const char *order_key)
{
	SimulatedOrder *order = string_hash_lookup(run, strategy_of(run)->results, order_key, false,
											   sizeof(SimulatedOrder));

	return order != NULL && (order->outcome == OUTCOME_GRANTED || order->outcome == OUTCOME_HOLDOUT ||
							 order->outcome == OUTCOME_DUPLICATE);
}

/* taken in the group, by this strategy or another: a duplicate */
static bool
simulated_claimed(RunState *run, const char *order_key)
{
	return string_hash_lookup(run, strategy_of(run)->claims, order_key, false,
							  sizeof(ClaimedOrder)) != NULL;
}

static void
simulated_decided(RunState *run, Candidate *candidate, Outcome outcome, BudgetState *budget)
{
	SimulatedStrategy *strategy = strategy_of(run);
	SimulatedOrder *order = string_hash_lookup(run, strategy->results, candidate->order_key,
											   true, sizeof(SimulatedOrder));
	MemoryContext oldcontext = MemoryContextSwitchTo(run->run_context);

	if (order->candidate.order_key == NULL)
		order->sequence = hash_get_num_entries(strategy->results);
	else
	{
		pfree(order->candidate.buyer);
		if (order->candidate.market)
			pfree(order->candidate.market);
	}
	order->candidate = *candidate;
	order->candidate.order_key = order->order_key;
	order->candidate.buyer = pstrdup(candidate->buyer);
	order->candidate.market = candidate->market ? pstrdup(candidate->market) : NULL;
	order->candidate.column_values = NULL;
	order->outcome = outcome;
	MemoryContextSwitchTo(oldcontext);
	if (outcome == OUTCOME_GRANTED || outcome == OUTCOME_HOLDOUT)
		(void) string_hash_lookup(run, strategy->claims, candidate->order_key, true,
								  sizeof(ClaimedOrder));
}

static const RunCallbacks simulate_callbacks = {simulated_settled, simulated_claimed, simulated_decided};

/* A strategy's run of a replay, reading its source as the caller. */
static SimulatedStrategy *
new_simulated_strategy(StrategySpec *spec, TimestampTz as_of, HTAB *claims)
{
	SimulatedStrategy *strategy = palloc0(sizeof(SimulatedStrategy));

	strategy->run = new_run(spec, as_of, &simulate_callbacks);
	strategy->run->granted = strategy;
	strategy->results = create_string_hash("compensation simulated orders", sizeof(SimulatedOrder),
										   strategy->run->run_context);
	strategy->claims = claims;
	strategy->run->source_relid = strategy_source_relid(spec, psprintf("strategy \"%s\" version %d",
																	   spec->strategy_name, spec->version));
	return strategy;
}

/* Orders skipped for budget or pace, with at before the step's window. */
static void
expire_simulated(SimulatedStrategy *strategy, TimestampTz before)
{
	HASH_SEQ_STATUS status;
	SimulatedOrder *order;

	hash_seq_init(&status, strategy->results);
	while ((order = hash_seq_search(&status)) != NULL)
		if ((order->outcome == OUTCOME_BUDGET || order->outcome == OUTCOME_PACE) &&
			order->candidate.at < before)
			order->outcome = OUTCOME_EXPIRED;
}

/* One step of one strategy: its candidates as of as_of. */
static void
run_step(SimulatedStrategy *strategy, TimestampTz as_of, TimestampTz from, TimestampTz to)
{
	StrategySpec *spec = strategy->run->spec;
	TimestampTz lower = Max(from, oldest_candidate_time(spec, as_of));
	TimestampTz upper = to;

	if (strategy->respect_valid)
	{
		if (spec->has_valid_from)
			lower = Max(lower, spec->valid_from);
		if (spec->has_valid_to)
			upper = Min(upper, spec->valid_to);
	}
	strategy->run->as_of = as_of;
	if (spec->has_max_age)
		expire_simulated(strategy, lower);
	if (lower < upper)
		run_candidates(strategy->run, lower, upper);
}

static int
simulated_order_cmp(const void *a, const void *b)
{
	int64		x = (*(SimulatedOrder *const *) a)->sequence;
	int64		y = (*(SimulatedOrder *const *) b)->sequence;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * The result rows of a strategy, in the order its orders were first
 * decided; simulate_all's rows start with the strategy and version.
 */
static void
emit_results(SimulatedStrategy *strategy, ReturnSetInfo *rsinfo, bool with_strategy)
{
	HTAB	   *orders = strategy->results;
	long		n = hash_get_num_entries(orders);
	SimulatedOrder **sorted = palloc(sizeof(SimulatedOrder *) * Max(n, 1));
	HASH_SEQ_STATUS status;
	SimulatedOrder *order;
	long		i = 0;
	int			first = with_strategy ? 2 : 0;

	hash_seq_init(&status, orders);
	while ((order = hash_seq_search(&status)) != NULL)
		sorted[i++] = order;
	qsort(sorted, n, sizeof(SimulatedOrder *), simulated_order_cmp);
	for (i = 0; i < n; i++)
	{
		Candidate  *candidate = &sorted[i]->candidate;
		Datum		row[9];
		bool		nulls[9];

		memset(nulls, false, sizeof(nulls));
		if (with_strategy)
		{
			row[0] = CStringGetTextDatum(strategy->run->spec->strategy_name);
			row[1] = Int32GetDatum(strategy->run->spec->version);
		}
		row[first + 0] = CStringGetTextDatum(candidate->order_key);
		row[first + 1] = CStringGetTextDatum(candidate->buyer);
		row[first + 2] = TimestampTzGetDatum(candidate->at);
		nulls[first + 3] = candidate->market == NULL;
		row[first + 3] = candidate->market ? CStringGetTextDatum(candidate->market) : (Datum) 0;
		row[first + 4] = NumericGetDatum(int64_div_fast_to_numeric(candidate->amount_minor,
																  candidate->exponent));
		row[first + 5] = CStringGetTextDatum(candidate->currency);
		row[first + 6] = CStringGetTextDatum(outcome_names[sorted[i]->outcome]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
}

/* The window and the cadence of a replay, checked. */
static void
check_replay(TimestampTz from, TimestampTz to, Interval *cadence, const char *function)
{
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs a finite window", function),
				 errhint("The window is [from, to).")));
	if (from >= to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s window is empty: \"from\" is not before \"to\"", function),
				 errhint("The window is [from, to).")));
	if (cadence != NULL &&
		DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(from),
												PointerGetDatum(cadence))) <= from)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s cadence must be a positive interval", function),
				 errhint("For example cadence => '1 day', as a daily scheduled run; NULL replays once, as of \"to\".")));
}

/* The next step after as_of: as_of + cadence, at most to. */
static TimestampTz
next_step(TimestampTz as_of, TimestampTz to, Interval *cadence, int64 *steps)
{
	if (++*steps > MAX_SIMULATE_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a replay of more than %d steps", MAX_SIMULATE_STEPS),
				 errhint("Use a longer cadence or a shorter window.")));
	if (cadence == NULL)
		return to;
	return Min(to, DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														   TimestampTzGetDatum(as_of),
														   PointerGetDatum(cadence))));
}

static bool
parse_pacing(text *pacing)
{
	char	   *value = text_to_cstring(pacing);

	if (strcmp(value, "even") != 0 && strcmp(value, "asap") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown pacing \"%s\"", value),
				 errhint("pacing is 'asap' (spend as candidates come) or 'even' (at most the share of the period elapsed).")));
	return strcmp(value, "even") == 0;
}

/* An amount in a currency's major unit, in minor units; named for errors. */
static int64
budget_minor_units(StrategySpec *spec, Numeric amount, const char *currency, const char *what)
{
	int			exponent = lookup_currency_exponent(spec, currency);
	int64		minor;

	if (exponent < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: unknown currency \"%s\"", what, currency),
				 errhint("Use an ISO 4217 code from compensation.currency.")));
	if (numeric_is_nan(amount) || numeric_is_inf(amount) || numeric_is_negative(amount) ||
		!numeric_to_minor_units_half_up(numeric_times_power_of_ten(amount, exponent), &minor))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite amount of zero or more", what),
				 errhint("Give the budget in the major unit of the currency, such as 5000.")));
	return minor;
}

/*
 * compensation.simulate(strategy, from, to, budget, version, budget_currency,
 *						 cadence, pacing)
 *		-> SETOF (order_key, buyer, at, market, amount, currency, outcome)
 *
 * One strategy (any version: a draft backtested on any period, its valid
 * window ignored), no budget or the one given for the whole window (spent
 * evenly over it with pacing 'even').
 */
PG_FUNCTION_INFO_V1(compensation_simulate);
Datum
compensation_simulate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StrategySpec *spec;
	SimulatedStrategy *strategy;
	RunState   *run;
	TimestampTz from;
	TimestampTz to;
	Interval   *cadence = PG_ARGISNULL(6) ? NULL : PG_GETARG_INTERVAL_P(6);
	bool		even = !PG_ARGISNULL(7) && parse_pacing(PG_GETARG_TEXT_PP(7));
	MemoryContext oldcontext;
	int64		steps = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("simulate needs a strategy and a [from, to) window"),
				 errhint("For example: SELECT * FROM compensation.simulate('late_v3', '2026-07-01', '2026-10-01');")));
	from = PG_GETARG_TIMESTAMPTZ(1);
	to = PG_GETARG_TIMESTAMPTZ(2);
	check_replay(from, to, cadence, "simulate");

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	spec = load_strategy(text_to_cstring(PG_GETARG_TEXT_PP(0)), !PG_ARGISNULL(4),
						 PG_ARGISNULL(4) ? -1 : PG_GETARG_INT32(4), false);
	strategy = new_simulated_strategy(spec, to, NULL);
	run = strategy->run;
	strategy->claims = create_string_hash("compensation simulated claims", sizeof(ClaimedOrder),
										  run->run_context);

	if (!PG_ARGISNULL(3))
	{
		const char *currency = !PG_ARGISNULL(5) ? text_to_cstring(PG_GETARG_TEXT_PP(5)) : spec->currency;

		if (currency == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("simulate needs budget_currency: strategy \"%s\" takes its currency from column \"%s\"",
							spec->strategy_name, spec->key_currency.name),
					 errhint("Pass budget_currency => 'EUR' (candidates in other currencies get outcome \"currency\").")));
		set_single_budget(run, currency,
						  budget_minor_units(spec, PG_GETARG_NUMERIC(3), currency, "simulate budget"));
	}
	else
	{
		if (even)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("simulate with pacing 'even' needs a budget"),
					 errhint("Pass budget => 5000, the budget spent evenly over [from, to).")));
		set_single_budget(run, NULL, 0);
	}
	MemoryContextSwitchTo(oldcontext);

	for (TimestampTz as_of = from; as_of < to;)
	{
		as_of = next_step(as_of, to, cadence, &steps);
		if (even)
			pace_budget(&run->budgets[0], as_of, from, to);
		run_step(strategy, as_of, from, to);
	}
	emit_results(strategy, rsinfo, false);
	SPI_finish();
	return (Datum) 0;
}

/* ---- simulate_all ------------------------------------------------------- */

typedef struct Replay
{
	List	   *budgets;		/* of SimulatedBudgets */
	Jsonb	   *given;			/* the budgets argument, or NULL */
	TimestampTz from;
	TimestampTz to;
	bool		given_even;
} Replay;

/*
 * The budgets a strategy spends as of as_of: the program's budgets of
 * as_of's quarter as stored, fresh (nothing spent: an empty ledger), or
 * the one given for the program for the whole window.  Loaded once.
 */
static SimulatedBudgets *
budgets_of(Replay *replay, StrategySpec *spec, TimestampTz as_of, MemoryContext context)
{
	FiscalQuarter quarter = quarter_of_timestamp(as_of, compensation_fiscal_start_month);
	char		label[QUARTER_TEXT_LEN + 1] = "";
	SimulatedBudgets *found;
	ListCell   *lc;
	MemoryContext oldcontext;

	if (replay->given == NULL)
		format_quarter(quarter, label);
	foreach(lc, replay->budgets)
	{
		found = (SimulatedBudgets *) lfirst(lc);
		if (strcmp(found->program, spec->program) == 0 && strcmp(found->quarter, label) == 0)
			return found;
	}

	oldcontext = MemoryContextSwitchTo(context);
	found = palloc0(sizeof(SimulatedBudgets));
	found->program = pstrdup(spec->program);
	strlcpy(found->quarter, label, sizeof(found->quarter));
	if (replay->given != NULL)
	{
		JsonbValue *program = getKeyJsonValueFromContainer(&replay->given->root, spec->program,
														   strlen(spec->program), NULL);

		found->period_start = replay->from;
		found->period_end = replay->to;
		if (program != NULL)
		{
			JsonbValue *amount = NULL;
			JsonbValue *currency = NULL;
			JsonbValue *pacing = NULL;

			if (program->type == jbvBinary && JsonContainerIsObject(program->val.binary.data))
			{
				amount = getKeyJsonValueFromContainer(program->val.binary.data, "amount", 6, NULL);
				currency = getKeyJsonValueFromContainer(program->val.binary.data, "currency", 8, NULL);
				pacing = getKeyJsonValueFromContainer(program->val.binary.data, "pacing", 6, NULL);
			}
			if (amount == NULL || amount->type != jbvNumeric || currency == NULL ||
				currency->type != jbvString ||
				(pacing != NULL && (pacing->type != jbvString ||
									(strncmp(pacing->val.string.val, "even", pacing->val.string.len) != 0 &&
									 strncmp(pacing->val.string.val, "asap", pacing->val.string.len) != 0))))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("simulate_all budgets of program \"%s\" must be {\"amount\": n, \"currency\": \"EUR\"}",
								spec->program),
						 errhint("For example: budgets => '{\"delivery\": {\"amount\": 5000, \"currency\": \"EUR\", \"pacing\": \"even\"}}'.")));
			found->nbudgets = 1;
			found->budgets = palloc0(sizeof(BudgetState));
			strlcpy(found->budgets[0].currency,
					pnstrdup(currency->val.string.val, currency->val.string.len),
					sizeof(found->budgets[0].currency));
			found->budgets[0].amount_minor = found->budgets[0].remaining_minor =
				budget_minor_units(spec, amount->val.numeric, found->budgets[0].currency,
								   psprintf("simulate_all budget of program \"%s\"", spec->program));
			found->budgets[0].even = pacing != NULL && pacing->val.string.len == 4 &&
				strncmp(pacing->val.string.val, "even", 4) == 0;
		}
	}
	else
	{
		Oid			types[2] = {TEXTOID, TEXTOID};
		Datum		args[2] = {CStringGetTextDatum(spec->program), CStringGetTextDatum(label)};

		found->period_start = quarter_start(quarter, compensation_fiscal_start_month);
		found->period_end = quarter_start(quarter_add(quarter, 1), compensation_fiscal_start_month);
		if (SPI_execute_with_args("SELECT budget_id, market, currency::pg_catalog.text, amount_minor,"
								  "       pacing OPERATOR(pg_catalog.=) 'even'"
								  "  FROM compensation.budget"
								  " WHERE program OPERATOR(pg_catalog.=) $1"
								  "   AND quarter OPERATOR(pg_catalog.=) $2"
								  " ORDER BY budget_id",
								  2, types, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "unexpected failure reading budgets");
		MemoryContextSwitchTo(context);
		found->nbudgets = (int) SPI_processed;
		found->budgets = palloc0(sizeof(BudgetState) * Max(found->nbudgets, 1));
		for (int i = 0; i < found->nbudgets; i++)
		{
			BudgetState *b = &found->budgets[i];

			budget_from_row(b, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
			b->amount_minor = b->remaining_minor;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	replay->budgets = lappend(replay->budgets, found);
	MemoryContextSwitchTo(oldcontext);
	return found;
}

/* The claims of an exclusive group, shared by its strategies. */
typedef struct GroupClaims
{
	char	   *group;			/* hash key */
	HTAB	   *claims;
} GroupClaims;

/* A program's caps history, shared by its strategies. */
typedef struct ProgramHistory
{
	char	   *program;		/* hash key */
	HTAB	   *history;
} ProgramHistory;

/*
 * compensation.simulate_all(from, to, budgets jsonb, strategies text[],
 *							 cadence interval)
 *		-> SETOF (strategy, version, order_key, buyer, at, market, amount,
 *				  currency, outcome)
 *
 * Every active strategy (or the named ones: each one's active version, or
 * its latest), replayed together: see the file header.  budgets: NULL for
 * the budgets of each step's quarter as stored (fresh), or
 * {"program": {"amount": n, "currency": "EUR", "pacing": "even"}} for one
 * budget per program over the whole window.
 */
PG_FUNCTION_INFO_V1(compensation_simulate_all);
Datum
compensation_simulate_all(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Interval   *cadence = PG_ARGISNULL(4) ? NULL : PG_GETARG_INTERVAL_P(4);
	Replay		replay;
	List	   *strategies = NIL;
	List	   *names = NIL;
	HTAB	   *groups;
	HTAB	   *programs;
	MemoryContext context;
	MemoryContext oldcontext;
	ListCell   *lc;
	int64		steps = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("simulate_all needs a [from, to) window"),
				 errhint("For example: SELECT * FROM compensation.simulate_all('2026-07-01', '2026-10-01');")));
	memset(&replay, 0, sizeof(replay));
	replay.from = PG_GETARG_TIMESTAMPTZ(0);
	replay.to = PG_GETARG_TIMESTAMPTZ(1);
	check_replay(replay.from, replay.to, cadence, "simulate_all");
	if (!PG_ARGISNULL(2))
	{
		replay.given = PG_GETARG_JSONB_P(2);
		if (!JsonContainerIsObject(&replay.given->root) || JsonContainerIsScalar(&replay.given->root))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("simulate_all budgets must be an object of programs"),
					 errhint("For example: budgets => '{\"delivery\": {\"amount\": 5000, \"currency\": \"EUR\"}}'.")));
	}

	InitMaterializedSRF(fcinfo, 0);
	context = rsinfo->econtext->ecxt_per_query_memory;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	oldcontext = MemoryContextSwitchTo(context);

	/* the strategies, in apply_all's order */
	{
		Oid			types[1] = {TEXTARRAYOID};
		Datum		args[1] = {PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3)};
		char		nulls[1] = {PG_ARGISNULL(3) ? 'n' : ' '};

		if (SPI_execute_with_args("SELECT s.name, v.version"
								  "  FROM compensation.strategy AS s"
								  "  JOIN LATERAL (SELECT COALESCE(pg_catalog.max(w.version)"
								  "                                  FILTER (WHERE w.status OPERATOR(pg_catalog.=) 'active'),"
								  "                                pg_catalog.max(w.version)) AS version"
								  "                  FROM compensation.strategy_version AS w"
								  "                 WHERE w.strategy_id OPERATOR(pg_catalog.=) s.strategy_id) AS c ON true"
								  "  JOIN compensation.strategy_version AS v"
								  "    ON v.strategy_id OPERATOR(pg_catalog.=) s.strategy_id"
								  "   AND v.version OPERATOR(pg_catalog.=) c.version"
								  " WHERE CASE WHEN $1 IS NULL THEN v.status OPERATOR(pg_catalog.=) 'active'"
								  "            ELSE s.name OPERATOR(pg_catalog.=) ANY ($1) END"
								  " ORDER BY v.priority DESC, s.name",
								  1, types, args, nulls, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "unexpected failure listing the strategies");
		MemoryContextSwitchTo(context);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int32	   *version = palloc(sizeof(int32));

			names = lappend(names, TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
																	 SPI_tuptable->tupdesc, 1, &isnull)));
			*version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
			names = lappend(names, version);
		}
		SPI_freetuptable(SPI_tuptable);
	}

	groups = create_string_hash("compensation simulated groups", sizeof(GroupClaims), context);
	programs = create_string_hash("compensation simulated programs", sizeof(ProgramHistory), context);
	for (int i = 0; i < list_length(names); i += 2)
	{
		StrategySpec *spec = load_strategy((char *) list_nth(names, i), true,
										   *(int32 *) list_nth(names, i + 1), false);
		SimulatedStrategy *strategy = new_simulated_strategy(spec, replay.from, NULL);
		GroupClaims *group = string_hash_lookup(strategy->run, groups, spec->exclusive_group,
												true, sizeof(GroupClaims));
		ProgramHistory *program = string_hash_lookup(strategy->run, programs, spec->program,
													 true, sizeof(ProgramHistory));

		if (group->claims == NULL)
			group->claims = create_string_hash("compensation simulated claims", sizeof(ClaimedOrder),
											   context);
		if (program->history == NULL)
			program->history = strategy->run->history;
		strategy->claims = group->claims;
		strategy->run->history = program->history;
		strategy->respect_valid = true;
		strategies = lappend(strategies, strategy);
	}
	MemoryContextSwitchTo(oldcontext);

	for (TimestampTz as_of = replay.from; as_of < replay.to;)
	{
		as_of = next_step(as_of, replay.to, cadence, &steps);
		foreach(lc, strategies)
		{
			SimulatedStrategy *strategy = (SimulatedStrategy *) lfirst(lc);
			SimulatedBudgets *budgets = budgets_of(&replay, strategy->run->spec, as_of, context);

			strategy->run->nbudgets = budgets->nbudgets;
			strategy->run->budgets = budgets->budgets;
			for (int b = 0; b < budgets->nbudgets; b++)
				if (budgets->budgets[b].even)
					pace_budget(&budgets->budgets[b], as_of, budgets->period_start, budgets->period_end);
			CHECK_FOR_INTERRUPTS();
			run_step(strategy, as_of, replay.from, replay.to);
		}
	}
	foreach(lc, strategies)
		emit_results((SimulatedStrategy *) lfirst(lc), rsinfo, true);
	SPI_finish();
	return (Datum) 0;
}
