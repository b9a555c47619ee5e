/*-------------------------------------------------------------------------
 *
 * strategy.h
 *	  The compiled form of a strategy spec, shared by the parser
 *	  (spec_parse.c), the binder (spec_bind.c), the evaluator (spec_eval.c)
 *	  and the catalog/cache layer (strategy_cache.c).
 *
 * A spec goes through two stages:
 *	- parse: jsonb -> StrategySpec.  Checks everything that does not depend
 *	  on a row type (keys, operators, value shapes, numbers, windows).
 *	- bind:  StrategySpec x TupleDesc -> column numbers, constants converted
 *	  to the column types, comparison functions, and what evaluation runs
 *	  per row: the conditions as a flat program (ConditionProgram) and the
 *	  amount's constants as exact integers (ExactDecimal).  Done against
 *	  the source relation when a spec is defined, and against the facts' row
 *	  type when it is evaluated (columns are found by name, so any row type
 *	  works).
 *
 * Everything hangs off one memory context owned by whoever compiled it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COMPENSATION_STRATEGY_H
#define COMPENSATION_STRATEGY_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "datatype/timestamp.h"

/* ISO 4217 minor units go from 0 (JPY) to 4 (CLF). */
#define MAX_CURRENCY_EXPONENT 4

typedef enum ConditionKind
{
	COND_ALL,
	COND_ANY,
	COND_NOT,
	COND_COLUMN,				/* {"col": c, "op": o, "value": v} */
	COND_DAYS					/* {"days": [a, b], "op": o, "value": v} */
} ConditionKind;

typedef enum ConditionOp
{
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_BETWEEN,
	OP_IN,
	OP_NOT_IN,
	OP_IS_NULL,
	OP_IS_NOT_NULL
} ConditionOp;

/* A JSON scalar from the spec, before it is converted to a column type. */
typedef enum SpecScalarKind
{
	SCALAR_NUMBER,
	SCALAR_STRING,
	SCALAR_BOOL
} SpecScalarKind;

typedef struct SpecScalar
{
	SpecScalarKind kind;
	Numeric		number;
	char	   *string;
	bool		boolean;
} SpecScalar;

/* A column reference, resolved by bind. */
typedef struct SpecColumn
{
	char	   *name;
	const char *path;			/* JSON path of the reference, for errors */
	int			attindex;		/* 0-based index in the bound TupleDesc */
	Oid			typid;			/* base type (domains looked through) */
	int32		typmod;
	Oid			collation;
	FmgrInfo	output;			/* text-like columns: their output function */
} SpecColumn;

/*
 * How a column condition compares a value with its constants.  The fast
 * methods give the same answers as the type's btree comparison function:
 * integers, dates, timestamps and booleans are ordered as their int64
 * values; text and varchar under a deterministic collation are equal
 * exactly when their bytes are (what texteq does), so =, !=, in and not in
 * need no collation-aware comparison.
 */
typedef enum CompareMethod
{
	COMPARE_FMGR,				/* the btree comparison function */
	COMPARE_INT64,				/* integer-like by-value types */
	COMPARE_BYTES				/* equality of text bytes */
} CompareMethod;

struct ConditionProgram;

typedef struct Condition
{
	ConditionKind kind;
	const char *path;			/* "$.when.all[1]" */
	char	   *name;			/* optional "name": used in reasons */
	char	   *rendering;		/* readable form: days(promised_at, delivered_at) >= 3 */

	/* COND_ALL, COND_ANY, COND_NOT (one child) */
	int			nchildren;
	struct Condition **children;

	/* COND_COLUMN and COND_DAYS */
	ConditionOp op;
	SpecColumn	column;			/* COND_COLUMN; "from" column of COND_DAYS */
	SpecColumn	column_to;		/* COND_DAYS: "to" column */
	int			nvalues;		/* 0, 1, 2 (between) or n (in) */
	SpecScalar *values;

	/* bound */
	Datum	   *bound_values;	/* COND_COLUMN: constants of column's type */
	int64	   *bound_days;		/* COND_DAYS: whole days */
	FmgrInfo	cmp_proc;		/* COND_COLUMN: btree comparison function */
	CompareMethod compare_method;	/* COND_COLUMN with constants */
} Condition;

/*
 * A number as coefficient / 10^scale, both integers: the form in which the
 * integer fast path of amounts (spec_eval.c) holds a spec's constants.
 * fits is false when the number needs more than 18 digits of coefficient
 * or of scale; evaluation then computes in numeric.
 */
typedef struct ExactDecimal
{
	int64		coefficient;
	int			scale;
	bool		fits;
} ExactDecimal;

typedef enum AmountKind
{
	AMOUNT_FIXED,
	AMOUNT_PERCENT,
	AMOUNT_TIERED
} AmountKind;

/* A tier pays a fixed amount or a rate of the "by" value, on [from, to). */
typedef struct AmountTier
{
	Numeric		from;			/* NULL: no lower bound */
	Numeric		to;				/* NULL: no upper bound */
	Numeric		fixed;			/* major units, or NULL */
	Numeric		rate;			/* or NULL */
	/* bound: fixed * 10^e per exponent e */
	Numeric		fixed_minor[MAX_CURRENCY_EXPONENT + 1];
	/* bound, for the integer fast path: the same numbers exactly */
	ExactDecimal from_exact;
	ExactDecimal to_exact;
	ExactDecimal fixed_minor_exact[MAX_CURRENCY_EXPONENT + 1];
	ExactDecimal rate_minor_exact[MAX_CURRENCY_EXPONENT + 1];	/* rate * 10^e */
} AmountTier;

typedef struct AmountRule
{
	AmountKind	kind;
	const char *path;			/* "$.amount" */
	Numeric		fixed;			/* AMOUNT_FIXED: major units */
	SpecColumn	base;			/* "of" (percent) or "by" (tiered) */
	bool		has_base;
	Numeric		rate;			/* AMOUNT_PERCENT */
	Numeric		min;			/* major units or NULL */
	Numeric		max;
	int			ntiers;
	AmountTier *tiers;

	/* optional segment multiplier */
	bool		has_segment;
	SpecColumn	segment;
	int			nsegments;
	char	  **segment_keys;	/* sorted, for bsearch */
	Numeric    *segment_multipliers;
	Numeric		segment_default;

	/* bound, per currency exponent e: amounts in minor units */
	Numeric		fixed_minor[MAX_CURRENCY_EXPONENT + 1];
	Numeric		rate_minor[MAX_CURRENCY_EXPONENT + 1];	/* rate * 10^e */
	int64		fixed_minor_units[MAX_CURRENCY_EXPONENT + 1];	/* rounded; -1: too large */
	int64		min_minor[MAX_CURRENCY_EXPONENT + 1];
	int64		max_minor[MAX_CURRENCY_EXPONENT + 1];
	Oid			base_typid;		/* type of base column, for conversion */

	/*
	 * bound, for the integer fast path (spec_eval.c): percent and tiered
	 * amounts of an integer or numeric base, with their constants exactly
	 * as integers
	 */
	bool		exact_path;
	ExactDecimal rate_minor_exact[MAX_CURRENCY_EXPONENT + 1];
	ExactDecimal *segment_multipliers_exact;	/* as segment_multipliers */
	ExactDecimal segment_default_exact;
} AmountRule;

/* A per-buyer cap: at most max grants (or amount) within a window. */
typedef struct CapRule
{
	bool		present;
	int64		max_count;		/* per_buyer_count */
	Numeric		max_amount;		/* per_buyer_amount, major units */
	int64		max_amount_minor[MAX_CURRENCY_EXPONENT + 1];	/* bound; -1: no limit */
	bool		window_is_quarter;	/* "quarter": the candidate's quarter */
	Interval	window;			/* otherwise (at - window, at] */
	bool		program_scope;	/* count every strategy of the program */
} CapRule;

/* One currency code and its minor unit, from compensation.currency. */
typedef struct CurrencyEntry
{
	char		code[4];
	int			exponent;
} CurrencyEntry;

typedef struct StrategySpec
{
	/* identity (filled by the catalog layer, not by the parser) */
	char	   *strategy_name;
	int32		strategy_id;
	int32		version;
	char	   *status;
	char	   *holdout_salt;
	char	   *exclusive_group;	/* "exclusive", or the default group */
	char	   *created_by;		/* the author, whose rights read the source */
	char		source_kind;	/* the source's relkind and owner when the */
	char	   *source_owner;	/* version was defined */

	/*
	 * Set by the parser when a spec is being defined: the bounds that keep
	 * one strategy from poisoning every run apply to new definitions only,
	 * so that versions stored before a bound existed keep working.
	 */
	bool		new_definition;

	char	   *scenario;
	char	   *source;			/* "schema.relation" as written */
	char	   *instrument;
	char	   *program;
	char	   *exclusive;
	int32		priority;
	int32		holdout_buckets;	/* holdout fraction * 10000, rounded */
	bool		holdout_program_scope;	/* salted by the program, not the name */
	bool		has_max_age;	/* false: "max_age": null, no limit */
	Interval	max_age;		/* candidates: at >= as_of - max_age */

	/* keys */
	SpecColumn	key_order;
	SpecColumn	key_buyer;
	SpecColumn	key_at;
	SpecColumn	key_value;
	SpecColumn	key_currency;
	SpecColumn	key_market;
	bool		has_key_value;
	bool		has_key_currency;
	bool		has_key_market;
	SpecColumn	key_rank;		/* "rank": decided in its descending order */
	bool		has_rank;
	SpecColumn	key_changed;	/* "keys.changed": a run may read only rows */
	bool		has_key_changed;	/* changed since the previous (watermark.c) */
	char	   *currency;		/* constant currency, when no key */
	int			currency_exponent;	/* of the constant currency */

	Condition  *when;
	struct ConditionProgram *when_program;	/* bound: "when" as flat steps */
	AmountRule	amount;

	CapRule		cap_count;
	CapRule		cap_amount;
	/*
	 * Source columns that each candidate of a run carries, as text, for what
	 * is written with a grant (notification placeholders, the preferred
	 * channel): names, in the order Candidate.column_values has them.
	 */
	List	   *candidate_columns;
	List	   *candidate_column_refs;	/* their SpecColumn *, for bind (paths) */
	char	   *notify_channel;	/* NULL: no notification; the first channel */
	char	   *notify_template;
	struct NotifySpec *notify;	/* channels, templates, locale (notify.c) */
	bool		has_expires;	/* "expires": a grant's validity period */
	Interval	expires;
	bool		has_valid_from;
	bool		has_valid_to;
	TimestampTz valid_from;
	TimestampTz valid_to;

	/* bound */
	TupleDesc	tupdesc;
	int			ncurrencies;
	CurrencyEntry *currencies;	/* sorted by code */
	char		last_currency[4];	/* the previous row's known currency, or "" */
	int			last_currency_exponent;
} StrategySpec;

/*
 * The condition tree compiled into a flat array of steps, run by a loop
 * (spec_eval.c): what eligible() and amount() run per row.  The tree itself
 * is still walked when reasons are asked for, since a reason needs every
 * condition that held, not the first that decided.
 *
 * The truth value of the last step is kept in a register.  A combinator
 * "all" (or "any") becomes STEP_ALL_BEGIN (STEP_ANY_BEGIN), then each
 * child's steps followed by
 * STEP_ALL_NEXT (STEP_ANY_NEXT), then STEP_END: a child that decides it
 * jumps past STEP_END with that value; otherwise the child's value is folded
 * into an accumulator (one per nesting depth) that STEP_END loads.  "not"
 * is its child's steps then STEP_NOT.
 */
typedef enum StepKind
{
	STEP_INT64,					/* column condition compared as int64 */
	STEP_NULL_TEST,				/* is null / is not null */
	STEP_CONDITION,				/* any other leaf: the tree's evaluator */
	STEP_ALL_BEGIN,
	STEP_ANY_BEGIN,
	STEP_ALL_NEXT,
	STEP_ANY_NEXT,
	STEP_END,
	STEP_NOT
} StepKind;

typedef struct ConditionStep
{
	StepKind	kind;
	ConditionOp op;
	int			attindex;		/* STEP_INT64, STEP_NULL_TEST */
	Oid			typid;			/* STEP_INT64: how to read the value */
	int			depth;			/* STEP_*_BEGIN..STEP_END: accumulator */
	int			jump;			/* STEP_*_NEXT: the step after STEP_END */
	int			nconstants;		/* STEP_INT64: 1, 2 (between), n (in) */
	int64	   *constants;		/* STEP_INT64: sorted for in / not in */
	Condition  *condition;		/* the leaf it comes from */
} ConditionStep;

typedef struct ConditionProgram
{
	int			nsteps;
	int			max_depth;		/* accumulators needed */
	ConditionStep *steps;
} ConditionProgram;

/* The outcome of evaluating one row. */
typedef struct Decision
{
	bool		eligible;		/* conditions held and an amount was computed */
	bool		conditions_held;
	int64		amount_minor;
	int			exponent;
	char		currency[4];
	List	   *reasons;		/* of char *, only when asked for */
} Decision;

/* security.c: reading a source as the version's author */
typedef struct AuthorSwitch
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} AuthorSwitch;

extern Oid	strategy_source_relid(StrategySpec *spec, const char *context);
extern Oid	check_strategy_source(StrategySpec *spec, Oid *source_relid);
extern const char *relkind_name(char relkind);
extern void become_author(Oid author, AuthorSwitch *saved);
extern void stop_being_author(AuthorSwitch *saved);
extern void refuse_in_restricted_operation(const char *what);
extern int	pin_search_path(void);
extern void unpin_search_path(int nestlevel);

/* strategy_cache.c */
extern StrategySpec *load_strategy(const char *name, bool has_version, int32 version,
								   bool missing_ok);
extern StrategySpec *load_bound_strategy(const char *name, bool has_version, int32 version,
										 Oid row_type, int32 row_typmod, TupleDesc row_desc,
										 const char *described_as);
extern Jsonb *load_strategy_jsonb(const char *name, bool has_version, int32 version);
extern uint64 current_strategy_generation(void);
extern void strategy_catalog_relids(Oid *strategy, Oid *strategy_version);

/* spec_parse.c */
extern StrategySpec *parse_strategy_spec(Jsonb *spec, bool new_definition);

/* spec_bind.c */
extern void bind_strategy_spec(StrategySpec *spec, TupleDesc tupdesc,
							   const char *described_as, bool for_source);
extern void load_currencies(StrategySpec *spec);
extern List *strategy_columns_read(StrategySpec *spec);

/* spec_eval.c */
extern void evaluate_strategy(StrategySpec *spec, Datum *values, bool *nulls,
							  bool want_reasons, Decision *decision);
extern int	condition_compare(Condition *c, Datum value, Datum constant);
extern int64 datum_as_int64(Oid typid, Datum value);

/* money.c */
extern int	lookup_currency_exponent(StrategySpec *spec, const char *code);
extern int	currency_exponent_of(const char *code, size_t len);
extern CurrencyEntry *currency_table_copy(int *count);
extern int64 amount_to_minor_units_exact(Numeric amount, const char *currency, int exponent,
										 const char *param_name);
extern Numeric numeric_times_power_of_ten(Numeric value, int exponent);
extern Numeric numeric_multiply_or_null(Numeric a, Numeric b);
extern bool numeric_to_minor_units_half_up(Numeric value, int64 *result);
extern int	numeric_compare(Numeric a, Numeric b);
extern bool numeric_is_negative(Numeric value);

/* holdout.c */
extern uint32 holdout_hash(const char *salt, const char *buyer, size_t buyer_len);
extern bool buyer_in_holdout(const char *salt, int32 holdout_buckets,
							 const char *buyer, size_t buyer_len);

#endif							/* COMPENSATION_STRATEGY_H */
