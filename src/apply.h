/*-------------------------------------------------------------------------
 *
 * apply.h
 *	  The run engine behind apply(), apply_all() and simulate(), shared by
 *	  its four files:
 *	- apply.c:			the SQL entry points: arguments, locks, the run row,
 *						the three modes, results;
 *	- apply_engine.c:	the candidate query and the decision of each
 *						candidate (granted, or skipped with its reason);
 *	- budget_caps.c:	budgets and the per-buyer caps history;
 *	- ledger_writer.c:	grants, outbox, holdout records, NOTIFY, budgets
 *						and the run row, written in batches.
 *
 * The engine decides; what a decision does (write it, count it, return it
 * as a row) is the mode's, through the callbacks in RunState, so a dry run
 * and a backtest can never disagree with a real run about what the rules
 * mean.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COMPENSATION_APPLY_H
#define COMPENSATION_APPLY_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/tuplestore.h"

#include "compensation.h"
#include "strategy.h"

/* Grants and holdout records written per statement. */
#define WRITE_BATCH 1000

typedef enum Outcome
{
	OUTCOME_GRANTED,
	OUTCOME_HOLDOUT,
	OUTCOME_CAP,
	OUTCOME_BUDGET,
	OUTCOME_DUPLICATE,
	OUTCOME_CURRENCY,
	OUTCOME_PACE,
	OUTCOME_EXPIRED
} Outcome;

#define NUM_OUTCOMES (OUTCOME_EXPIRED + 1)

extern const char *const outcome_names[NUM_OUTCOMES];

/* One candidate, as the candidate query returns it. */
typedef struct Candidate
{
	char	   *order_key;
	char	   *buyer;
	char	   *market;			/* NULL: none */
	TimestampTz at;
	char		currency[4];
	int			exponent;
	int64		amount_minor;
	char	  **column_values;	/* spec->candidate_columns' values, NULL: null */
	bool		claimed;		/* taken in the group before the run */
	/* the strategy's recorded decision of the order (outcome NULL: none) */
	char	   *previous_outcome;
	int32		previous_version;
	int64		previous_amount_minor;
} Candidate;

typedef struct BudgetState
{
	int64		budget_id;
	char	   *market;			/* NULL: all markets of the program */
	char		currency[4];	/* "": any currency (a backtest without budget) */
	int64		amount_minor;	/* a backtest's budget: what it started with */
	int64		remaining_minor;
	int64		spent_minor;	/* spent by this run */
	bool		even;			/* paced: at most pace_remaining_minor */
	int64		pace_remaining_minor;
	bool		exhausted;		/* this run could not fund a candidate */
} BudgetState;

typedef struct CurrencyTotal
{
	char		currency[4];
	int			exponent;
	int64		amount_minor;
} CurrencyTotal;

/* Grants waiting to be written. */
typedef struct WriteBuffer
{
	int			count;
	Datum		grant_ids[WRITE_BATCH];
	Datum		order_keys[WRITE_BATCH];
	Datum		buyers[WRITE_BATCH];
	Datum		markets[WRITE_BATCH];
	bool		market_nulls[WRITE_BATCH];
	Datum		ats[WRITE_BATCH];
	Datum		currencies[WRITE_BATCH];
	Datum		amounts[WRITE_BATCH];
	Datum		budget_ids[WRITE_BATCH];
	struct GrantNotice *notices[WRITE_BATCH];	/* grants: code, message (notify.c) */
} WriteBuffer;

typedef struct RunState RunState;

/* What a mode does with the engine's decisions. */
typedef struct RunCallbacks
{
	/* is the order settled by an earlier step of a replay (NULL: never)? */
	bool		(*settled) (RunState *run, const char *order_key);
	/* has this run granted (or held out) the order already? */
	bool		(*granted_by_run) (RunState *run, const char *order_key);
	/* a decision: granted (budget set), or skipped for outcome */
	void		(*decided) (RunState *run, Candidate *candidate, Outcome outcome,
							BudgetState *budget);
} RunCallbacks;

struct RunState
{
	const RunCallbacks *callbacks;
	StrategySpec *spec;			/* compiled, owned by strategy_cache.c */
	TimestampTz as_of;
	FiscalQuarter quarter;
	char		quarter_label[QUARTER_TEXT_LEN + 1];
	MemoryContext run_context;	/* lives as long as the run */
	MemoryContext row_context;	/* reset at every candidate */
	int64		run_id;			/* 0: nothing is written */

	/* whose rights read the source: the author, or InvalidOid (the caller) */
	Oid			author;
	Oid			source_relid;
	bool		against_ledger; /* exclude orders granted before the run */

	/*
	 * The watermark (watermark.c): incremental, the run reads only the rows
	 * of its window with at after previous_as_of, changed at or after
	 * changed_since, or left open; watermark is what it leaves the next run.
	 */
	bool		incremental;
	TimestampTz previous_as_of;
	TimestampTz changed_since;
	TimestampTz watermark;

	int			nbudgets;
	BudgetState *budgets;

	HTAB	   *history;		/* buyer -> BuyerHistory, when caps exist */
	void	   *granted;		/* the mode's memory of the orders it granted */

	/* counts */
	int64		rows_read;
	int64		candidates;
	int64		granted_count;
	int64		skipped[NUM_OUTCOMES];
	List	   *totals;			/* of CurrencyTotal */

	/* the current candidate, for error context */
	const char *current_order;
	/* its row, deformed (apply_engine.c, read_candidate) */
	Datum	   *row_values;
	bool	   *row_nulls;

	/* apply: the ledger writer's buffers and plans */
	WriteBuffer *grants;
	void	   *decisions;		/* decisions.c's buffer */
	SPIPlanPtr	ledger_order_plan;
	SPIPlanPtr	grant_plan;
	SPIPlanPtr	outbox_plan;
	Oid			grant_id_sequence;	/* grant ids are taken as grants are made */
	TimestampTz expires_at;		/* this run's grants' end of validity */
	char	   *expiry;			/* ... as {expires_at} writes it */

	/* simulate: the result */
	Tuplestorestate *tuplestore;
	TupleDesc	result_desc;

	TimestampTz started;
	TimestampTz last_progress;
};

/* apply.c */
extern TimestampTz oldest_candidate_time(StrategySpec *spec, TimestampTz as_of);
extern void check_as_of(TimestampTz as_of);

/* apply_engine.c */
extern RunState *new_run(StrategySpec *spec, TimestampTz as_of, const RunCallbacks *callbacks);
extern void run_candidates(RunState *run, TimestampTz from, TimestampTz to);
extern char *candidate_query(RunState *run);
extern char *column_as_text(RunState *run, const char *column);
extern void add_to_totals(RunState *run, const char *currency, int exponent, int64 amount_minor);
extern char *format_major_fixed(int64 amount_minor, int exponent);
extern Datum totals_jsonb(RunState *run);
extern void execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, int expected);
extern HTAB *create_string_hash(const char *name, Size entrysize, MemoryContext context);
extern void *string_hash_lookup(RunState *run, HTAB *table, const char *key, bool create,
								Size entrysize);

/* watermark.c */
extern void plan_watermark(RunState *run);
extern char *watermark_condition(RunState *run);
extern TimestampTz watermark_before_snapshot(void);

/* budget_caps.c */
extern Size buyer_history_entry_size;
extern void load_budgets(RunState *run, bool for_update);
extern void pace_budget(BudgetState *b, TimestampTz as_of, TimestampTz period_start,
						TimestampTz period_end);
extern void budget_from_row(BudgetState *b, HeapTuple tuple, TupleDesc desc);
extern void set_single_budget(RunState *run, const char *currency, int64 amount_minor);
extern BudgetState *budget_for(RunState *run, const char *market);
extern void load_history(RunState *run);
extern bool breaks_cap(RunState *run, Candidate *candidate);
extern void add_history(RunState *run, const char *buyer, TimestampTz at, int64 amount_minor,
						const char *currency, int32 strategy_id);

/* ledger_writer.c */
extern ArrayType *make_datum_array(Datum *elements, bool *nulls, int count, Oid element_type);
extern void prepare_writes(RunState *run);
extern void buffer_grant(RunState *run, Candidate *candidate, BudgetState *budget);
extern bool ledger_has_order(RunState *run, const char *order_key);
extern void finish_writes(RunState *run);

/* decisions.c */
extern void prepare_decisions(RunState *run);
extern void record_decision(RunState *run, Candidate *candidate, Outcome outcome,
							BudgetState *budget);
extern void flush_decisions(RunState *run);
extern bool pending_holdout(RunState *run, const char *order_key);
extern int64 expire_decisions(RunState *run, TimestampTz before, bool record);

#endif							/* COMPENSATION_APPLY_H */
