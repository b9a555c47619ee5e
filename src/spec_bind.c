/*-------------------------------------------------------------------------
 *
 * spec_bind.c
 *	  Bind a parsed StrategySpec to a row type.
 *
 * Owns column resolution (by name, dropped columns skipped, domains looked
 * through), the type rules of each spec element (a comparison needs a
 * btree-comparable column and a constant of that type; "days" needs two
 * timestamp columns of the same kind; amounts need a numeric column), the
 * conversion of constants into the column's type, and the copy of the
 * ISO 4217 table that evaluation uses.  It also compiles what evaluation
 * runs per row, once: the condition tree into a flat program of steps
 * (ConditionProgram), and the constants of percent and tiered amounts
 * into exact integers for evaluation's integer fast path.  Both live in
 * the spec's context, so the backend-wide cache (strategy_cache.c) keeps
 * them with the bound spec.
 *
 * The same code checks a spec against its source when it is defined and
 * binds it to the facts' row type when it is evaluated, so the two can
 * never disagree about what a spec means.
 *
 * Allocates in CurrentMemoryContext (the spec's context).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "strategy.h"

/*
 * Errors say "invalid strategy spec at $.path: ..." when a spec is checked
 * against its source, and "strategy "x" version n cannot evaluate this row:
 * ... ($.path)" when a row does not fit a stored spec.
 */
#define bind_error(code, path, hint, ...) \
	ereport(ERROR, \
			(errcode(code), \
			 binding->error_prefix \
			 ? errmsg("%s: %s (at %s)", binding->error_prefix, psprintf(__VA_ARGS__), (path)) \
			 : errmsg("invalid strategy spec at %s: %s", (path), psprintf(__VA_ARGS__)), \
			 errhint("%s", (hint))))

typedef struct Binding
{
	TupleDesc	tupdesc;
	const char *described_as;	/* "source public.x", "the facts row" */
	const char *error_prefix;	/* NULL when validating a spec */
	bool		new_definition; /* check the bounds of a new definition */
} Binding;

/* What kind of column a spec element accepts. */
typedef enum ColumnUse
{
	USE_ANY,					/* keys.order, keys.buyer, keys.market */
	USE_COMPARABLE,				/* "col" of a condition */
	USE_TIMESTAMP,				/* "days", keys.at, keys.changed */
	USE_NUMBER,					/* amount base, keys.value */
	USE_TEXT					/* keys.currency, segment */
} ColumnUse;

static void
resolve_column(SpecColumn *ref, Binding *binding, ColumnUse use)
{
	TupleDesc	tupdesc = binding->tupdesc;
	int			found = -1;
	Oid			typid;
	int32		typmod = -1;
	char		category;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), ref->name) == 0)
		{
			found = i;
			break;
		}
	}
	if (found < 0)
		bind_error(ERRCODE_UNDEFINED_COLUMN, ref->path,
				   "Column names are matched exactly (case-sensitive); add the column to the source or fix the name.",
				   "column \"%s\" does not exist in %s", ref->name, binding->described_as);

	ref->attindex = found;
	typid = getBaseTypeAndTypmod(TupleDescAttr(tupdesc, found)->atttypid, &typmod);
	ref->typid = typid;
	ref->typmod = typmod;
	ref->collation = TupleDescAttr(tupdesc, found)->attcollation;
	category = TypeCategory(typid);

	switch (use)
	{
		case USE_ANY:
			break;
		case USE_COMPARABLE:
			{
				TypeCacheEntry *typentry = lookup_type_cache(typid, TYPECACHE_CMP_PROC);

				if (!OidIsValid(typentry->cmp_proc))
					bind_error(ERRCODE_UNDEFINED_FUNCTION, ref->path,
							   "Compare a column of a type with an ordering (numbers, text, dates, timestamps, booleans), or cast it in the source view.",
							   "column \"%s\" of type %s cannot be compared",
							   ref->name, format_type_be(typid));
				break;
			}
		case USE_TIMESTAMP:
			if (typid != TIMESTAMPTZOID && typid != TIMESTAMPOID)
				bind_error(ERRCODE_DATATYPE_MISMATCH, ref->path,
						   "Use a timestamp or timestamptz column, or cast it in the source view.",
						   "column \"%s\" is of type %s, not a timestamp",
						   ref->name, format_type_be(typid));
			break;
		case USE_NUMBER:
			if (typid != NUMERICOID && typid != INT2OID && typid != INT4OID &&
				typid != INT8OID && typid != FLOAT4OID && typid != FLOAT8OID)
				bind_error(ERRCODE_DATATYPE_MISMATCH, ref->path,
						   "Use a numeric, integer or float column, or cast it in the source view.",
						   "column \"%s\" is of type %s, not a number",
						   ref->name, format_type_be(typid));
			break;
		case USE_TEXT:
			if (category != TYPCATEGORY_STRING && category != TYPCATEGORY_ENUM)
				bind_error(ERRCODE_DATATYPE_MISMATCH, ref->path,
						   "Use a text, varchar, char or enum column, or cast it in the source view.",
						   "column \"%s\" is of type %s, not text",
						   ref->name, format_type_be(typid));
			break;
	}

	/* keys, currency and segment are read as text */
	{
		Oid			typoutput;
		bool		typisvarlena;

		getTypeOutputInfo(typid, &typoutput, &typisvarlena);
		fmgr_info(typoutput, &ref->output);
	}
}

/* Convert a spec constant into a value of the column's type. */
static Datum
convert_scalar(SpecScalar *scalar, SpecColumn *column, const char *path, Binding *binding)
{
	char		category = TypeCategory(column->typid);
	const char *hint = "Give a constant of the column's type: a number for numeric columns, true/false for booleans, a string otherwise.";
	char	   *text;
	Oid			typinput;
	Oid			typioparam;
	Datum		result = (Datum) 0;
	MemoryContext oldcontext = CurrentMemoryContext;

	if (category == TYPCATEGORY_BOOLEAN)
	{
		if (scalar->kind != SCALAR_BOOL)
			bind_error(ERRCODE_DATATYPE_MISMATCH, path, hint,
					   "column \"%s\" is boolean; the value must be true or false", column->name);
		return BoolGetDatum(scalar->boolean);
	}
	if (category == TYPCATEGORY_NUMERIC)
	{
		if (scalar->kind != SCALAR_NUMBER)
			bind_error(ERRCODE_DATATYPE_MISMATCH, path, hint,
					   "column \"%s\" is of type %s; the value must be a JSON number",
					   column->name, format_type_be(column->typid));
		text = numeric_normalize(scalar->number);
	}
	else
	{
		if (scalar->kind != SCALAR_STRING)
			bind_error(ERRCODE_DATATYPE_MISMATCH, path, hint,
					   "column \"%s\" is of type %s; the value must be a JSON string",
					   column->name, format_type_be(column->typid));
		text = scalar->string;
	}

	getTypeInputInfo(column->typid, &typinput, &typioparam);
	PG_TRY();
	{
		result = OidInputFunctionCall(typinput, text, typioparam, -1);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		bind_error(ERRCODE_DATATYPE_MISMATCH, path, hint,
				   "value %s cannot be compared with column \"%s\" of type %s: %s",
				   scalar->kind == SCALAR_STRING ? quote_literal_cstr(text) : text,
				   column->name, format_type_be(column->typid), edata->message);
	}
	PG_END_TRY();
	return result;
}

static int
compare_constants(const void *a, const void *b, void *arg)
{
	return condition_compare((Condition *) arg, *(const Datum *) a, *(const Datum *) b);
}

/* The fastest way to compare c's column with its constants; see strategy.h. */
static CompareMethod
choose_compare_method(Condition *c)
{
	switch (c->column.typid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return COMPARE_INT64;
		case TEXTOID:
		case VARCHAROID:
			if ((c->op == OP_EQ || c->op == OP_NE || c->op == OP_IN || c->op == OP_NOT_IN) &&
				OidIsValid(c->column.collation) &&
				get_collation_isdeterministic(c->column.collation))
				return COMPARE_BYTES;
			break;
		default:
			break;
	}
	return COMPARE_FMGR;
}

static void
bind_condition(Condition *c, Binding *binding)
{
	switch (c->kind)
	{
		case COND_ALL:
		case COND_ANY:
		case COND_NOT:
			for (int i = 0; i < c->nchildren; i++)
				bind_condition(c->children[i], binding);
			return;

		case COND_DAYS:
			resolve_column(&c->column, binding, USE_TIMESTAMP);
			resolve_column(&c->column_to, binding, USE_TIMESTAMP);
			if (c->column.typid != c->column_to.typid)
				bind_error(ERRCODE_DATATYPE_MISMATCH, c->column_to.path,
						   "Cast both columns to timestamptz in the source view.",
						   "\"days\" needs two columns of the same type; \"%s\" is %s and \"%s\" is %s",
						   c->column.name, format_type_be(c->column.typid),
						   c->column_to.name, format_type_be(c->column_to.typid));
			c->bound_days = palloc(sizeof(int64) * Max(c->nvalues, 1));
			for (int i = 0; i < c->nvalues; i++)
			{
				char	   *path = c->nvalues == 1 && c->op != OP_IN && c->op != OP_NOT_IN
					? psprintf("%s.value", c->path) : psprintf("%s.value[%d]", c->path, i);
				SpecScalar *s = &c->values[i];
				Numeric		truncated;

				if (s->kind != SCALAR_NUMBER)
					bind_error(ERRCODE_DATATYPE_MISMATCH, path,
							   "\"days\" counts whole days: compare it with a whole number.",
							   "\"days\" must be compared with a number");
				truncated = DatumGetNumeric(DirectFunctionCall2(numeric_trunc,
																NumericGetDatum(s->number),
																Int32GetDatum(0)));
				if (numeric_compare(truncated, s->number) != 0 ||
					numeric_compare(s->number, int64_to_numeric(-1000000000)) < 0 ||
					numeric_compare(s->number, int64_to_numeric(1000000000)) > 0)
					bind_error(ERRCODE_INVALID_PARAMETER_VALUE, path,
							   "\"days\" counts whole days: compare it with a whole number.",
							   "%s is not a whole number of days", numeric_normalize(s->number));
				c->bound_days[i] = DatumGetInt64(DirectFunctionCall1(numeric_int8,
																	 NumericGetDatum(s->number)));
			}
			if (binding->new_definition && c->op == OP_BETWEEN && c->bound_days[0] > c->bound_days[1])
				bind_error(ERRCODE_INVALID_PARAMETER_VALUE, psprintf("%s.value", c->path),
						   "Write \"value\": [low, high]; both ends are included.",
						   "\"between\" range is empty: " INT64_FORMAT " is greater than " INT64_FORMAT,
						   c->bound_days[0], c->bound_days[1]);
			return;

		case COND_COLUMN:
			resolve_column(&c->column, binding,
						   c->op == OP_IS_NULL || c->op == OP_IS_NOT_NULL ? USE_ANY : USE_COMPARABLE);
			if (c->nvalues == 0)
				return;
			fmgr_info(lookup_type_cache(c->column.typid, TYPECACHE_CMP_PROC)->cmp_proc, &c->cmp_proc);
			c->bound_values = palloc(sizeof(Datum) * c->nvalues);
			for (int i = 0; i < c->nvalues; i++)
			{
				char	   *path = c->op == OP_BETWEEN || c->op == OP_IN || c->op == OP_NOT_IN
					? psprintf("%s.value[%d]", c->path, i) : psprintf("%s.value", c->path);

				c->bound_values[i] = convert_scalar(&c->values[i], &c->column, path, binding);
			}
			c->compare_method = choose_compare_method(c);
			if (binding->new_definition && c->op == OP_BETWEEN &&
				condition_compare(c, c->bound_values[0], c->bound_values[1]) > 0)
				bind_error(ERRCODE_INVALID_PARAMETER_VALUE, psprintf("%s.value", c->path),
						   "Write \"value\": [low, high]; both ends are included.",
						   "\"between\" range is empty: the low end is greater than the high end");
			/* sorted, so that evaluation can binary-search */
			if (c->op == OP_IN || c->op == OP_NOT_IN)
				qsort_arg(c->bound_values, c->nvalues, sizeof(Datum), compare_constants, c);
			return;
	}
}

/*
 * exact_decimal
 *		n as coefficient / 10^scale in 18 digits each, from its plain text
 *		form (numeric_normalize drops the trailing zeros, so the scale is the
 *		smallest); fits is false when it needs more.  Bind time only.
 */
static ExactDecimal
exact_decimal(Numeric n)
{
	ExactDecimal result = {0, 0, false};
	const char *p;
	bool		negative = false;
	bool		fraction = false;

	if (n == NULL || numeric_is_nan(n) || numeric_is_inf(n))
		return result;
	p = numeric_normalize(n);
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p; p++)
	{
		if (*p == '.')
		{
			fraction = true;
			continue;
		}
		if (*p < '0' || *p > '9' ||
			pg_mul_s64_overflow(result.coefficient, 10, &result.coefficient) ||
			pg_add_s64_overflow(result.coefficient, *p - '0', &result.coefficient))
			return result;
		if (fraction && ++result.scale > 18)
			return result;
	}
	if (negative)
		result.coefficient = -result.coefficient;
	result.fits = true;
	return result;
}

/*
 * bind_exact_path
 *		The integer fast path of percent and tiered amounts: their constants
 *		as exact decimals, per currency exponent.  Only for a base whose
 *		value evaluation can read as an integer coefficient without rounding
 *		(integers and numeric); a float base is converted to numeric as
 *		before, with its own rounding.
 */
static void
bind_exact_path(AmountRule *rule)
{
	rule->exact_path = false;
	if (rule->kind == AMOUNT_FIXED || !rule->has_base)
		return;
	switch (rule->base_typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			break;
		default:
			return;
	}
	for (int e = 0; e <= MAX_CURRENCY_EXPONENT; e++)
	{
		if (rule->kind == AMOUNT_PERCENT)
			rule->rate_minor_exact[e] = exact_decimal(rule->rate_minor[e]);
		for (int t = 0; t < rule->ntiers; t++)
		{
			AmountTier *tier = &rule->tiers[t];

			if (tier->fixed)
				tier->fixed_minor_exact[e] = exact_decimal(tier->fixed_minor[e]);
			if (tier->rate)
				tier->rate_minor_exact[e] =
					exact_decimal(numeric_times_power_of_ten(tier->rate, e));
		}
	}
	for (int t = 0; t < rule->ntiers; t++)
	{
		AmountTier *tier = &rule->tiers[t];

		/* an open end fits: it is never compared */
		tier->from_exact = tier->from ? exact_decimal(tier->from)
			: (ExactDecimal) {0, 0, true};
		tier->to_exact = tier->to ? exact_decimal(tier->to)
			: (ExactDecimal) {0, 0, true};
	}
	if (rule->has_segment)
	{
		rule->segment_multipliers_exact = palloc(sizeof(ExactDecimal) * rule->nsegments);
		for (int i = 0; i < rule->nsegments; i++)
			rule->segment_multipliers_exact[i] = exact_decimal(rule->segment_multipliers[i]);
		rule->segment_default_exact = exact_decimal(rule->segment_default);
	}
	rule->exact_path = true;
}

static int
compare_cstrings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
bind_amount(AmountRule *rule, Binding *binding)
{
	if (rule->has_base)
	{
		resolve_column(&rule->base, binding, USE_NUMBER);
		rule->base_typid = rule->base.typid;
	}
	if (rule->has_segment)
	{
		Numeric    *sorted_multipliers = palloc(sizeof(Numeric) * rule->nsegments);
		char	  **sorted_keys = palloc(sizeof(char *) * rule->nsegments);

		resolve_column(&rule->segment, binding, USE_TEXT);
		/* sort keys (strcmp order) with their multipliers, for bsearch */
		memcpy(sorted_keys, rule->segment_keys, sizeof(char *) * rule->nsegments);
		qsort(sorted_keys, rule->nsegments, sizeof(char *), compare_cstrings);
		for (int i = 0; i < rule->nsegments; i++)
			for (int j = 0; j < rule->nsegments; j++)
				if (sorted_keys[i] == rule->segment_keys[j])
					sorted_multipliers[i] = rule->segment_multipliers[j];
		rule->segment_keys = sorted_keys;
		rule->segment_multipliers = sorted_multipliers;
	}

	/* Everything that depends only on the currency exponent, precomputed. */
	for (int e = 0; e <= MAX_CURRENCY_EXPONENT; e++)
	{
		if (rule->fixed &&
			(rule->fixed_minor[e] = numeric_times_power_of_ten(rule->fixed, e)) == NULL)
			bind_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, psprintf("%s.value", rule->path),
					   "Give a realistic amount.", "value is too large");
		if (rule->rate &&
			(rule->rate_minor[e] = numeric_times_power_of_ten(rule->rate, e)) == NULL)
			bind_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, psprintf("%s.rate", rule->path),
					   "Give a realistic rate, such as 0.10.", "rate is too large");
		/* a fixed amount without a multiplier is the same for every row */
		rule->fixed_minor_units[e] = -1;
		if (rule->fixed &&
			!numeric_to_minor_units_half_up(rule->fixed_minor[e], &rule->fixed_minor_units[e]))
			rule->fixed_minor_units[e] = -1;
		rule->min_minor[e] = -1;
		rule->max_minor[e] = -1;
		if (rule->min && !numeric_to_minor_units_half_up(numeric_times_power_of_ten(rule->min, e),
														 &rule->min_minor[e]))
			bind_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, psprintf("%s.min", rule->path),
					   "Give a realistic amount.", "min is too large");
		if (rule->max && !numeric_to_minor_units_half_up(numeric_times_power_of_ten(rule->max, e),
														 &rule->max_minor[e]))
			bind_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, psprintf("%s.max", rule->path),
					   "Give a realistic amount.", "max is too large");
		for (int t = 0; t < rule->ntiers; t++)
		{
			AmountTier *tier = &rule->tiers[t];

			if (tier->fixed &&
				(tier->fixed_minor[e] = numeric_times_power_of_ten(tier->fixed, e)) == NULL)
				bind_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
						   psprintf("%s.tiers[%d].amount", rule->path, t),
						   "Give a realistic amount.", "amount is too large");
		}
	}
	bind_exact_path(rule);
}

/*
 * load_currencies
 *		Copy compensation.currency into the spec (sorted by code), from the
 *		backend's copy that the money functions read (money.c), and check
 *		the spec's constant currency against it.  A change to the table
 *		invalidates both that copy and the compiled strategies.
 */
void
load_currencies(StrategySpec *spec)
{
	spec->currencies = currency_table_copy(&spec->ncurrencies);

	if (spec->currency)
	{
		Binding		validation = {NULL, NULL, NULL, false};
		Binding    *binding = &validation;

		spec->currency_exponent = lookup_currency_exponent(spec, spec->currency);
		if (spec->currency_exponent < 0)
			bind_error(ERRCODE_INVALID_PARAMETER_VALUE, "$.currency",
					   "Use an ISO 4217 code in upper case from compensation.currency, such as \"EUR\".",
					   "unknown currency \"%s\"", spec->currency);
	}
}

static void
collect_condition_columns(Condition *c, List **columns)
{
	if (c->kind == COND_COLUMN || c->kind == COND_DAYS)
		*columns = lappend(*columns, &c->column);
	if (c->kind == COND_DAYS)
		*columns = lappend(*columns, &c->column_to);
	for (int i = 0; i < c->nchildren; i++)
		collect_condition_columns(c->children[i], columns);
}

/*
 * strategy_columns_read
 *		The SpecColumns that evaluation reads (the currency key, conditions,
 *		amount base, segment): by name before binding, by attindex after.
 *		What a row must carry for eligible(), amount() and evaluate().
 */
List *
strategy_columns_read(StrategySpec *spec)
{
	List	   *columns = NIL;

	if (spec->has_key_currency)
		columns = lappend(columns, &spec->key_currency);
	collect_condition_columns(spec->when, &columns);
	if (spec->amount.has_base)
		columns = lappend(columns, &spec->amount.base);
	if (spec->amount.has_segment)
		columns = lappend(columns, &spec->amount.segment);
	return columns;
}

/*
 * compile_condition
 *		Append c's steps to program (see ConditionProgram in strategy.h).
 *		Steps are allocated for the whole tree up front, so appending never
 *		reallocates.
 */
static void
compile_condition(Condition *c, ConditionProgram *program, int depth)
{
	ConditionStep *step;

	switch (c->kind)
	{
		case COND_ALL:
		case COND_ANY:
			{
				int			begin = program->nsteps++;
				int		   *nexts = palloc(sizeof(int) * Max(c->nchildren, 1));

				program->steps[begin].kind = c->kind == COND_ALL ? STEP_ALL_BEGIN : STEP_ANY_BEGIN;
				program->steps[begin].depth = depth;
				program->max_depth = Max(program->max_depth, depth + 1);
				for (int i = 0; i < c->nchildren; i++)
				{
					compile_condition(c->children[i], program, depth + 1);
					nexts[i] = program->nsteps++;
					program->steps[nexts[i]].kind = c->kind == COND_ALL ? STEP_ALL_NEXT : STEP_ANY_NEXT;
					program->steps[nexts[i]].depth = depth;
				}
				step = &program->steps[program->nsteps++];
				step->kind = STEP_END;
				step->depth = depth;
				for (int i = 0; i < c->nchildren; i++)
					program->steps[nexts[i]].jump = program->nsteps;
				pfree(nexts);
				return;
			}
		case COND_NOT:
			compile_condition(c->children[0], program, depth);
			program->steps[program->nsteps++].kind = STEP_NOT;
			return;
		case COND_COLUMN:
		case COND_DAYS:
			break;
	}

	step = &program->steps[program->nsteps++];
	step->condition = c;
	step->op = c->op;
	step->attindex = c->column.attindex;
	step->typid = c->column.typid;
	if (c->kind == COND_COLUMN && (c->op == OP_IS_NULL || c->op == OP_IS_NOT_NULL))
		step->kind = STEP_NULL_TEST;
	else if (c->kind == COND_COLUMN && c->compare_method == COMPARE_INT64)
	{
		/* in the order bind sorted them: condition_compare's, the int64 one */
		step->kind = STEP_INT64;
		step->nconstants = c->nvalues;
		step->constants = palloc(sizeof(int64) * Max(c->nvalues, 1));
		for (int i = 0; i < c->nvalues; i++)
			step->constants[i] = datum_as_int64(c->column.typid, c->bound_values[i]);
	}
	else
		step->kind = STEP_CONDITION;
}

static int
count_steps(Condition *c)
{
	int			n = 1;

	for (int i = 0; i < c->nchildren; i++)
		n += count_steps(c->children[i]) + (c->kind == COND_NOT ? 0 : 1);
	return n + (c->kind == COND_ALL || c->kind == COND_ANY ? 1 : 0);
}

static ConditionProgram *
compile_condition_program(Condition *when)
{
	ConditionProgram *program = palloc0(sizeof(ConditionProgram));
	int			capacity = count_steps(when);

	program->steps = palloc0(sizeof(ConditionStep) * capacity);
	compile_condition(when, program, 0);
	Assert(program->nsteps == capacity);
	return program;
}

/*
 * bind_strategy_spec
 *		Resolve the spec's columns in tupdesc.  described_as names the row type
 *		in errors ("source public.order_experience", "the facts row").
 *
 *		for_source: the spec is being validated against its source, so every
 *		key column must exist and errors say the spec is invalid.  Otherwise
 *		the row only needs what evaluation reads (conditions, amount,
 *		currency), so an analyst can pass any row that carries those.
 */
void
bind_strategy_spec(StrategySpec *spec, TupleDesc tupdesc, const char *described_as,
				   bool for_source)
{
	Binding		binding_data;
	Binding    *binding = &binding_data;

	binding->tupdesc = tupdesc;
	binding->described_as = described_as;
	binding->new_definition = for_source && spec->new_definition;
	binding->error_prefix = for_source ? NULL
		: psprintf("strategy \"%s\" version %d cannot evaluate this row",
				   spec->strategy_name, spec->version);

	if (for_source)
	{
		resolve_column(&spec->key_order, binding, USE_ANY);
		resolve_column(&spec->key_buyer, binding, USE_ANY);
		resolve_column(&spec->key_at, binding, USE_TIMESTAMP);
		if (spec->has_key_value)
			resolve_column(&spec->key_value, binding, USE_NUMBER);
		if (spec->has_key_market)
			resolve_column(&spec->key_market, binding, USE_ANY);
		if (spec->has_rank)
			resolve_column(&spec->key_rank, binding, USE_NUMBER);
		/* compared with the watermark, a timestamptz */
		if (spec->has_key_changed)
			resolve_column(&spec->key_changed, binding, USE_TIMESTAMP);
		/* what a grant's writing reads: template columns, channel choice */
		for (int i = 0; i < list_length(spec->candidate_column_refs); i++)
			resolve_column((SpecColumn *) list_nth(spec->candidate_column_refs, i), binding, USE_ANY);
	}
	if (spec->has_key_currency)
		resolve_column(&spec->key_currency, binding, USE_TEXT);

	bind_condition(spec->when, binding);
	spec->when_program = compile_condition_program(spec->when);
	bind_amount(&spec->amount, binding);

	/* the amount cap in minor units per exponent; too large to hold: no limit */
	if (spec->cap_amount.present)
		for (int e = 0; e <= MAX_CURRENCY_EXPONENT; e++)
			if (!numeric_to_minor_units_half_up(numeric_times_power_of_ten(spec->cap_amount.max_amount, e),
												&spec->cap_amount.max_amount_minor[e]))
				spec->cap_amount.max_amount_minor[e] = -1;
	spec->tupdesc = tupdesc;
}
