/*-------------------------------------------------------------------------
 *
 * apply_engine.c
 *	  The decision engine: read a strategy's candidates in order and decide
 *	  each one, granted or skipped (duplicate, holdout, currency, cap,
 *	  budget), with no knowledge of what the decision is for: the mode's
 *	  callbacks (src/apply.c) write it, count it or return it.
 *
 * The candidate query reads the source once.  The rule is applied inside
 * it, by amount() of the version being run (the planner passes it only the
 * columns the rule reads), so rows the strategy does not compensate are
 * dropped by the executor and every row that comes back carries its
 * decision already made: order key, buyer, time, market and currency as
 * text the way the ledger stores them, and the amount.  Nothing is
 * evaluated again here.  Against a ledger, the eligible rows are joined
 * to the orders already granted in the exclusive group: those are counted
 * (they can only be duplicates), never decided; the others come back in
 * (at, order key) order.
 *
 * Apply and dry runs read the source as the version's author: the cursor
 * is planned, opened and fetched inside become_author() (src/security.c),
 * and everything else runs as the extension's owner.
 *
 * Memory: the query's sort and hash joins run under
 * compensation.run_work_mem; the cursor is read in batches; per-candidate
 * work happens in a context reset at every candidate.  What grows with the
 * run is the mode's memory of the orders it granted (src/apply.c: about two
 * bytes a grant) and the caps history.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply.h"

/* Rows fetched from the candidate cursor at a time. */
#define CANDIDATE_BATCH 1000
/*
 * Order keys and buyers are identifiers: longer ones are a bad row (the
 * ledger's unique index could not hold them), refused with the order named.
 */
#define MAX_KEY_BYTES 1000

const char *const outcome_names[NUM_OUTCOMES] = {
	"granted", "holdout", "cap", "budget", "duplicate", "currency", "pace", "expired"
};

/* The candidate query's columns. */
enum
{
	CANDIDATE_ORDER = 1,
	CANDIDATE_BUYER,
	CANDIDATE_AT,
	CANDIDATE_MARKET,
	CANDIDATE_CURRENCY,
	CANDIDATE_AMOUNT,
	CANDIDATE_GRANTED_BEFORE,	/* 1 on a settled row, else NULL */
	CANDIDATE_CLAIMED,
	CANDIDATE_PREVIOUS_OUTCOME,
	CANDIDATE_PREVIOUS_VERSION,
	CANDIDATE_PREVIOUS_AMOUNT,
	CANDIDATE_FIRST_COLUMN		/* then spec->candidate_columns, as text */
};

/*
 * The parameters of the candidate query: exclusive group, from, to, as_of,
 * strategy id; and for an incremental run (watermark.c), the previous
 * run's as_of and the changed_since bound.
 */
static Oid	candidate_argtypes[7] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID};

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

HTAB *
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
void *
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

/* ---- money and counts ---------------------------------------------------- */

/* "12.30" from 1230 minor units with exponent 2: the currency's decimals. */
char *
format_major_fixed(int64 amount_minor, int exponent)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(int64_div_fast_to_numeric(amount_minor, exponent))));
}

void
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

/* The run's totals per currency, as jsonb: {"EUR": 12.30}. */
Datum
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

static void
report_progress(RunState *run)
{
	TimestampTz now = GetCurrentTimestamp();

	/*
	 * At most one progress NOTICE every compensation.progress_interval,
	 * counted from the run's start.
	 */
	if (compensation_progress_interval <= 0 ||
		!TimestampDifferenceExceeds(run->last_progress, now,
									compensation_progress_interval))
		return;
	run->last_progress = now;
	ereport(NOTICE,
			(errmsg("apply %s: " INT64_FORMAT " rows read, " INT64_FORMAT " candidates, " INT64_FORMAT " granted",
					run->spec->strategy_name, run->rows_read, run->candidates, run->granted_count)));
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

/*
 * new_run
 *		A run of spec as of as_of, in a memory context of its own under the
 *		current one.
 */
RunState *
new_run(StrategySpec *spec, TimestampTz as_of, const RunCallbacks *callbacks)
{
	RunState   *run = palloc0(sizeof(RunState));

	run->callbacks = callbacks;
	run->spec = spec;
	run->as_of = as_of;
	run->run_context = AllocSetContextCreate(CurrentMemoryContext, "compensation run",
											 ALLOCSET_DEFAULT_SIZES);
	run->row_context = AllocSetContextCreate(run->run_context, "compensation run row",
											 ALLOCSET_DEFAULT_SIZES);
	run->history = create_string_hash("compensation buyer history",
									  buyer_history_entry_size, run->run_context);
	run->started = run->last_progress = GetCurrentTimestamp();
	return run;
}

/* ---- the candidate query ------------------------------------------------ */

/*
 * A source column as the ledger stores it: the text of its type's output
 * function.  A cast to text says the same for text and varchar only;
 * another type may have a cast of its own (a user's, on a composite) or a
 * text form of its own (char(n) keeps its padding), so its output function
 * is called, through concat(), which would make '' of a NULL.
 */
char *
column_as_text(RunState *run, const char *column)
{
	AttrNumber	attnum = get_attnum(run->source_relid, column);
	Oid			typid = attnum == InvalidAttrNumber ? InvalidOid	/* planning reports it */
		: getBaseType(get_atttype(run->source_relid, attnum));
	const char *quoted = quote_identifier(column);

	if (typid == TEXTOID || typid == VARCHAROID)
		return psprintf("(s.%s)::pg_catalog.text", quoted);
	return psprintf("CASE WHEN s.%s IS NOT NULL THEN pg_catalog.concat(s.%s) END", quoted, quoted);
}

/* The quoted, schema-qualified source name. */
static char *
quoted_source(StrategySpec *spec)
{
	List	   *names = stringToQualifiedNameList(spec->source);

	return quote_qualified_identifier(strVal(linitial(names)), strVal(lsecond(names)));
}

/*
 * amount() of the version being run, written out as its *_spec twin: the
 * stored spec and the columns the rule reads, by name.  What the planner
 * support writes for a table's or a pulled-up view's row, but in the query
 * text, so that it reaches the workers whatever Citus does with the source
 * (a view with joins is pushed down as the query was written, before the
 * planner support runs).  Decides as amount() does.
 */
static char *
amount_call_anywhere(RunState *run)
{
	StrategySpec *spec = run->spec;
	Jsonb	   *stored = load_strategy_jsonb(spec->strategy_name, true, spec->version);
	StringInfoData names;
	StringInfoData columns;
	List	   *seen = NIL;
	ListCell   *lc;

	if (stored == NULL)
		return psprintf("compensation.amount(%s, s, %d)",
						quote_literal_cstr(spec->strategy_name), spec->version);
	initStringInfo(&names);
	initStringInfo(&columns);
	foreach(lc, strategy_columns_read(spec))
	{
		char	   *name = ((SpecColumn *) lfirst(lc))->name;
		bool		duplicate = false;
		ListCell   *other;

		foreach(other, seen)
			duplicate |= strcmp((char *) lfirst(other), name) == 0;
		if (duplicate)
			continue;
		seen = lappend(seen, name);
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", quote_literal_cstr(name));
		appendStringInfo(&columns, ", s.%s", quote_identifier(name));
	}
	return psprintf("compensation.amount_spec(%s, %d, %s::pg_catalog.jsonb, %s,"
					" ARRAY[%s]::pg_catalog.text[], true%s)",
					quote_literal_cstr(spec->strategy_name), spec->version,
					quote_literal_cstr(JsonbToCString(NULL, &stored->root, VARSIZE(stored))),
					quote_literal_cstr(format_type_be_qualified(get_rel_type_id(run->source_relid))),
					names.data, columns.data);
}

/*
 * The candidate query: see the file header.  One row per eligible row of
 * the window.  Those whose order is already taken in the group and
 * recorded for this strategy ("settled") come first, with nothing but a 1
 * in their granted_before column: they are counted, never decided, and
 * their columns are not carried through the sort.  The others follow in
 * rank order (when the spec has one), then at and order key, each with
 * whether its order is taken in the group and the strategy's recorded
 * decision of it (to record what changed only).  Strategy and version are
 * literals, not parameters: constants let the planner pass amount() only
 * the columns it reads, whatever plan_cache_mode says.  The window is plain
 * range conditions on the source's at, so that an index on it restricts
 * the scan.  An incremental run (watermark.c) adds its condition to the
 * source's scan itself.
 *
 * Nothing is materialised but what the sort holds: the rows stream from
 * the scan through the joins into the one sort, whose memory the run
 * bounds (compensation.run_work_mem).  The count of rows already taken and
 * the candidates come from the same rows, read once.  The joined rows are
 * an OFFSET 0 subquery too, so that "settled" is computed once a row, not
 * again in each output column and sort key that tests it.
 *
 * On one node the eligible rows are an OFFSET 0 subquery, which keeps the
 * planner from pulling it up and evaluating amount() twice (in the filter
 * and in the output).  Where Citus is installed the source may be
 * distributed, and Citus would run an OFFSET 0 subquery on the coordinator
 * over every row of the window shipped to it; there the eligible rows are
 * a CTE of their own, which Citus pushes down whole: each worker applies
 * the rule to its shards (amount() written as its *_spec twin, which needs
 * no catalog) and ships only the candidates, at the cost of a second
 * amount() call for an eligible row.  The ledger stays on the coordinator:
 * the group's claimed orders and the strategy's decisions are CTEs of
 * their own too, which Citus plans locally from the query as written, so
 * the views are read with their owner's rights as on one node (a query
 * Citus writes out again as text would name the ledger tables, which the
 * author may not read); the joins then run on the coordinator over the
 * candidates.
 *
 * Why the parts agree, whatever snapshot each worker takes: the source is
 * read once, by the one scan of each shard under the statement; the ledger
 * views are read once, on the coordinator, under the statement's snapshot.
 * A source row a worker's snapshot does not see yet is a candidate of the
 * next run, as a row committed after the snapshot is on one node.
 */
char *
candidate_query(RunState *run)
{
	StrategySpec *spec = run->spec;
	const char *at = quote_identifier(spec->key_at.name);
	const char *order = quote_identifier(spec->key_order.name);
	StringInfoData outputs;		/* the candidate columns, NULL when settled */
	StringInfoData extra_inner;
	char	   *rows;			/* the source's rows in the window, with amount() */
	bool		pushed_down = OidIsValid(get_extension_oid("citus", true));
	int			ncolumns = list_length(spec->candidate_columns);
	ListCell   *lc;

	initStringInfo(&extra_inner);
	foreach(lc, spec->candidate_columns)
		appendStringInfo(&extra_inner, ", %s AS x%d",
						 column_as_text(run, (char *) lfirst(lc)), foreach_current_index(lc));
	if (spec->has_rank)
		appendStringInfo(&extra_inner, ", s.%s AS rank_raw", quote_identifier(spec->key_rank.name));

	rows = psprintf("SELECT %s AS o, %s AS b, (s.%s)::pg_catalog.timestamptz AS a,"
					"       %s AS m, %s AS cur, %s AS amount,"
					"       s.%s AS at_raw, s.%s AS order_raw%s"
					"  FROM %s AS s"
					" WHERE s.%s OPERATOR(pg_catalog.>=) $2 AND s.%s OPERATOR(pg_catalog.<) $3"
					"   AND s.%s OPERATOR(pg_catalog.<=) $4 AND $1 IS NOT NULL AND $5 IS NOT NULL%s",
					column_as_text(run, spec->key_order.name),
					column_as_text(run, spec->key_buyer.name),
					at,
					spec->has_key_market ? column_as_text(run, spec->key_market.name) : "NULL::pg_catalog.text",
					spec->has_key_currency ? column_as_text(run, spec->key_currency.name) : "NULL::pg_catalog.text",
					pushed_down ? amount_call_anywhere(run)
					: psprintf("compensation.amount(%s, s, %d)",
							   quote_literal_cstr(spec->strategy_name), spec->version),
					at, order, extra_inner.data,
					quoted_source(spec),
					at, at, at,
					run->incremental ? psprintf(" AND %s", watermark_condition(run)) : "");

	/* what a candidate carries, NULL on a settled row */
	initStringInfo(&outputs);
	for (int i = 0; i < CANDIDATE_FIRST_COLUMN - 1 + ncolumns; i++)
	{
		static const char *const fixed[CANDIDATE_FIRST_COLUMN - 1] = {
			"c.o", "c.b", "c.a", "c.m", "c.cur", "c.amount", NULL,
			"c.claimed", "c.previous_outcome", "c.previous_version", "c.previous_amount"
		};

		if (i + 1 == CANDIDATE_GRANTED_BEFORE)
			appendStringInfoString(&outputs, ", CASE WHEN c.settled THEN 1::pg_catalog.int8 END");
		else if (i + 1 < CANDIDATE_FIRST_COLUMN)
			appendStringInfo(&outputs, ", CASE WHEN NOT c.settled THEN %s END", fixed[i]);
		else
			appendStringInfo(&outputs, ", CASE WHEN NOT c.settled THEN c.x%d END",
							 i + 1 - CANDIDATE_FIRST_COLUMN);
	}

	return psprintf("%s"
					" SELECT %s"
					"   FROM (SELECT e.*, %s AS claimed, %s AS previous_outcome,"
					"                %s AS previous_version, %s AS previous_amount, %s AS settled"
					"           FROM %s"
					"           %s"
					"          WHERE e.amount IS NOT NULL OFFSET 0) AS c"
					"  ORDER BY c.settled DESC%s,"
					"        CASE WHEN NOT c.settled THEN c.at_raw END,"
					"        CASE WHEN NOT c.settled THEN c.order_raw END",
					!pushed_down ? ""
					: psprintf("WITH eligible AS MATERIALIZED (SELECT * FROM (%s) AS r"
							   " WHERE r.amount IS NOT NULL)%s", rows,
							   !run->against_ledger ? ""
							   : ", claimed AS MATERIALIZED (SELECT order_key, strategy_id FROM compensation.claimed_orders"
							   "   WHERE exclusive_group OPERATOR(pg_catalog.=) $1),"
							   " decided AS MATERIALIZED (SELECT order_key, outcome, version, amount_minor"
							   "   FROM compensation.decided_orders WHERE strategy_id OPERATOR(pg_catalog.=) $5)"),
					outputs.data + 2,
					run->against_ledger ? "g.order_key IS NOT NULL" : "false",
					run->against_ledger ? "d.outcome" : "NULL::pg_catalog.text",
					run->against_ledger ? "d.version" : "NULL::pg_catalog.int4",
					run->against_ledger ? "d.amount_minor" : "NULL::pg_catalog.int8",
					/*
					 * taken in the group, and recorded as such for this
					 * strategy: by its own grant (the ledger row is the
					 * record), or by a decision
					 */
					run->against_ledger
					? "(g.order_key IS NOT NULL"
					"   AND (g.strategy_id OPERATOR(pg_catalog.=) $5"
					"        OR (d.outcome IS NOT NULL"
					"            AND d.outcome IN ('granted', 'holdout', 'duplicate'))))"
					: "false",
					pushed_down ? "eligible AS e" : psprintf("(%s OFFSET 0) AS e", rows),
					run->against_ledger && pushed_down
					? "LEFT JOIN claimed AS g ON g.order_key OPERATOR(pg_catalog.=) e.o"
					" LEFT JOIN decided AS d ON d.order_key OPERATOR(pg_catalog.=) e.o"
					: run->against_ledger
					? "LEFT JOIN compensation.claimed_orders AS g"
					"   ON g.exclusive_group OPERATOR(pg_catalog.=) $1"
					"  AND g.order_key OPERATOR(pg_catalog.=) e.o"
					" LEFT JOIN compensation.decided_orders AS d"
					"   ON d.strategy_id OPERATOR(pg_catalog.=) $5"
					"  AND d.order_key OPERATOR(pg_catalog.=) e.o"
					: "",
					!spec->has_rank ? ""
					: ", CASE WHEN NOT c.settled THEN c.rank_raw END DESC NULLS LAST");
}

/* ---- deciding ----------------------------------------------------------- */

/*
 * A candidate row's columns, deformed once: the columns the templates and
 * the channel choice read come last in the row, after text columns, and
 * fetching each alone (SPI_getbinval) walked the row from its start every
 * time.
 */
typedef struct CandidateRow
{
	Datum	   *values;
	bool	   *nulls;
} CandidateRow;

static char *
text_or_null(CandidateRow *row, int column)
{
	return row->nulls[column - 1] ? NULL : TextDatumGetCString(row->values[column - 1]);
}

/* A candidate row of the query, in the current (per-candidate) context. */
static void
read_candidate(RunState *run, HeapTuple tuple, TupleDesc desc, Candidate *candidate)
{
	StrategySpec *spec = run->spec;
	CandidateRow row;
	Numeric		amount;
	char	   *currency;

	if (run->row_values == NULL)
	{
		run->row_values = MemoryContextAlloc(run->run_context, sizeof(Datum) * desc->natts);
		run->row_nulls = MemoryContextAlloc(run->run_context, sizeof(bool) * desc->natts);
	}
	row.values = run->row_values;
	row.nulls = run->row_nulls;
	heap_deform_tuple(tuple, desc, row.values, row.nulls);

	candidate->order_key = text_or_null(&row, CANDIDATE_ORDER);
	candidate->buyer = text_or_null(&row, CANDIDATE_BUYER);
	candidate->market = text_or_null(&row, CANDIDATE_MARKET);
	if (row.nulls[CANDIDATE_AT - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a candidate of strategy \"%s\" has no time (column \"%s\" is null)",
						spec->strategy_name, spec->key_at.name),
				 errhint("Filter such rows out in the source view.")));
	candidate->at = DatumGetTimestampTz(row.values[CANDIDATE_AT - 1]);
	currency = spec->has_key_currency ? text_or_null(&row, CANDIDATE_CURRENCY) : spec->currency;
	strlcpy(candidate->currency, currency, sizeof(candidate->currency));
	candidate->exponent = spec->has_key_currency
		? lookup_currency_exponent(spec, currency) : spec->currency_exponent;
	if (candidate->exponent < 0)
		elog(ERROR, "unexpected currency \"%s\" of an eligible row", currency);

	candidate->claimed = !row.nulls[CANDIDATE_CLAIMED - 1] &&
		DatumGetBool(row.values[CANDIDATE_CLAIMED - 1]);
	candidate->previous_outcome = text_or_null(&row, CANDIDATE_PREVIOUS_OUTCOME);
	if (candidate->previous_outcome)
	{
		candidate->previous_version = DatumGetInt32(row.values[CANDIDATE_PREVIOUS_VERSION - 1]);
		candidate->previous_amount_minor = DatumGetInt64(row.values[CANDIDATE_PREVIOUS_AMOUNT - 1]);
	}
	candidate->column_values = palloc(sizeof(char *) * Max(list_length(spec->candidate_columns), 1));
	for (int i = 0; i < list_length(spec->candidate_columns); i++)
		candidate->column_values[i] = text_or_null(&row, CANDIDATE_FIRST_COLUMN + i);

	/* amount() returned minor units / 10^exponent: exact back */
	amount = DatumGetNumeric(row.values[CANDIDATE_AMOUNT - 1]);
	candidate->amount_minor =
		DatumGetInt64(DirectFunctionCall1(numeric_int8,
										  NumericGetDatum(numeric_times_power_of_ten(amount,
																					 candidate->exponent))));
}

/* The checks a candidate's keys must pass before anything is decided. */
static void
check_candidate_keys(RunState *run, Candidate *candidate)
{
	StrategySpec *spec = run->spec;

	if (candidate->order_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a candidate of strategy \"%s\" has no order key (column \"%s\" is null)",
						spec->strategy_name, spec->key_order.name),
				 errhint("Filter such rows out in the source view.")));
	run->current_order = candidate->order_key;
	if (strlen(candidate->order_key) > MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("order %s... of strategy \"%s\" has a key of %zu bytes",
						pnstrdup(candidate->order_key,
								 pg_mbcliplen(candidate->order_key, strlen(candidate->order_key), 64)),
						spec->strategy_name, strlen(candidate->order_key)),
				 errdetail("Order keys and buyers are at most %d bytes.", MAX_KEY_BYTES),
				 errhint("Filter such rows out in the source view, or key orders by a shorter column.")));
	if (candidate->buyer == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("order %s of strategy \"%s\" has no buyer (column \"%s\" is null)",
						candidate->order_key, spec->strategy_name, spec->key_buyer.name),
				 errhint("Filter such rows out in the source view.")));
	if (strlen(candidate->buyer) > MAX_KEY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("order %s of strategy \"%s\" has a buyer of %zu bytes",
						candidate->order_key, spec->strategy_name, strlen(candidate->buyer)),
				 errdetail("Order keys and buyers are at most %d bytes.", MAX_KEY_BYTES),
				 errhint("Filter such rows out in the source view.")));
}

/*
 * decide
 *		The first check a candidate fails skips it: duplicate (taken by this
 *		run, or in its group before), budget (none for its market),
 *		currency, cap, budget (does not fit what is left), pace (does not fit
 *		today's allowance of an evenly paced budget).  A candidate that passes
 *		them all is held out when its buyer is in the holdout, and granted
 *		otherwise: the holdout decision comes last, so the holdout is the
 *		configured share of would-be grants in every period and never
 *		consumes budget.  A holdout counts toward the buyer's caps and takes
 *		the order in its group, as a grant does, so both arms live by the
 *		same rules.
 */
static void
decide(RunState *run, Candidate *candidate)
{
	StrategySpec *spec = run->spec;
	BudgetState *budget = NULL;
	bool		caps = spec->cap_count.present || spec->cap_amount.present;
	Outcome		outcome;

	run->candidates++;
	check_candidate_keys(run, candidate);

	if (run->callbacks->granted_by_run(run, candidate->order_key) || candidate->claimed)
		outcome = OUTCOME_DUPLICATE;
	else if ((budget = budget_for(run, candidate->market)) == NULL)
		outcome = OUTCOME_BUDGET;	/* no budget for this market */
	else if (budget->currency[0] != '\0' && strcmp(budget->currency, candidate->currency) != 0)
		outcome = OUTCOME_CURRENCY;
	else if (caps && breaks_cap(run, candidate))
		outcome = OUTCOME_CAP;
	else if (candidate->amount_minor > budget->remaining_minor)
	{
		outcome = OUTCOME_BUDGET;
		budget->exhausted = true;
	}
	else if (budget->even && candidate->amount_minor > budget->pace_remaining_minor)
		outcome = OUTCOME_PACE;
	else if (spec->holdout_buckets > 0 &&
			 buyer_in_holdout(spec->holdout_salt, spec->holdout_buckets,
							  candidate->buyer, strlen(candidate->buyer)))
		outcome = OUTCOME_HOLDOUT;
	else
		outcome = OUTCOME_GRANTED;

	if (outcome == OUTCOME_GRANTED)
	{
		run->granted_count++;
		budget->remaining_minor -= candidate->amount_minor;
		budget->pace_remaining_minor -= candidate->amount_minor;
		budget->spent_minor += candidate->amount_minor;
		add_to_totals(run, candidate->currency, candidate->exponent, candidate->amount_minor);
	}
	else
		run->skipped[outcome]++;
	if ((outcome == OUTCOME_GRANTED || outcome == OUTCOME_HOLDOUT) && caps)
		add_history(run, candidate->buyer, candidate->at, candidate->amount_minor,
					candidate->currency, spec->strategy_id);
	run->callbacks->decided(run, candidate, outcome, budget);
	run->current_order = NULL;
}

/*
 * run_candidates
 *		Decide every candidate with at in [from, to) and at <= as_of, in
 *		order.  Against a ledger, the query runs in a snapshot taken now:
 *		after the run's locks, and seeing this transaction's own grants
 *		(apply_all runs several strategies in one transaction).  The
 *		watermark the run leaves is read from the clock just before.
 */
void
run_candidates(RunState *run, TimestampTz from, TimestampTz to)
{
	Datum		args[7];
	ErrorContextCallback errcallback;
	AuthorSwitch author;
	Portal		portal;
	int			guc_nestlevel;
	char	   *query = candidate_query(run);

	args[0] = CStringGetTextDatum(run->spec->exclusive_group);
	args[1] = TimestampTzGetDatum(from);
	args[2] = TimestampTzGetDatum(to);
	args[3] = TimestampTzGetDatum(run->as_of);
	args[4] = Int32GetDatum(run->spec->strategy_id);
	args[5] = TimestampTzGetDatum(run->previous_as_of);
	args[6] = TimestampTzGetDatum(run->changed_since);

	errcallback.callback = run_error_context;
	errcallback.arg = run;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	CommandCounterIncrement();
	run->watermark = watermark_before_snapshot();
	PushActiveSnapshot(GetTransactionSnapshot());

	/*
	 * The query's sort and hash joins take their memory from work_mem as
	 * they start, on the first fetch: compensation.run_work_mem holds until
	 * the cursor is closed (an error unwinds it with the transaction).
	 */
	guc_nestlevel = NewGUCNestLevel();
	if (compensation_run_work_mem >= 0)
	{
		char		kb[32];

		snprintf(kb, sizeof(kb), "%dkB", Max(compensation_run_work_mem, 64));
		(void) set_config_option("work_mem", kb, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}

	/* the author's code runs as the cursor is planned, opened and read */
	if (OidIsValid(run->author))
		become_author(run->author, &author);
	portal = SPI_cursor_open_with_args(NULL, query, run->incremental ? 7 : 5, candidate_argtypes,
									   args, NULL, true, 0);
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
		for (uint64 i = 0; i < nrows; i++)
		{
			HeapTuple	tuple = batch->vals[i];
			bool		isnull;
			Datum		granted_before = SPI_getbinval(tuple, batch->tupdesc,
													   CANDIDATE_GRANTED_BEFORE, &isnull);
			MemoryContext oldcontext;
			Candidate	candidate;

			CHECK_FOR_INTERRUPTS();
			if (!isnull)
			{
				/* settled: taken in the group and recorded before this run */
				run->candidates += DatumGetInt64(granted_before);
				run->skipped[OUTCOME_DUPLICATE] += DatumGetInt64(granted_before);
				continue;
			}
			run->rows_read++;
			MemoryContextReset(run->row_context);
			oldcontext = MemoryContextSwitchTo(run->row_context);
			read_candidate(run, tuple, batch->tupdesc, &candidate);
			if (run->callbacks->settled == NULL || candidate.order_key == NULL ||
				!run->callbacks->settled(run, candidate.order_key))
				decide(run, &candidate);
			MemoryContextSwitchTo(oldcontext);
			if ((run->rows_read & 1023) == 0)
				report_progress(run);
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);
	AtEOXact_GUC(true, guc_nestlevel);
	PopActiveSnapshot();
	error_context_stack = errcallback.previous;
	if (run->rows_read > 0)
		report_progress(run);
}
