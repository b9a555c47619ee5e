/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *	  The SQL-callable strategy functions: eligible(), amount(), evaluate()
 *	  of a row, their *_columns and *_spec twins that the planner support
 *	  substitutes for a row, in_holdout(), holdout_hash() and validate_spec().
 *
 * Each call site keeps, in fn_extra, what it needs to decide rows fast: the
 * compiled strategy bound to the row type it sees (from strategy_cache.c,
 * shared by the whole backend), the tuple descriptor to deform rows with,
 * and for the twins the map from arguments to columns.  It is rebuilt when
 * the strategy name, the version, the row type or the catalog generation
 * changes, so a version activated in another session is used from this
 * session's next statement.
 *
 * The *_spec twins carry the version's stored spec and the row's column
 * names, so that a node without the strategy catalog (a Citus worker)
 * decides alone: it parses and binds the spec it is given, once per call
 * site, against the columns it is given, by name.  A node whose catalog
 * holds the same spec for that version uses its compiled form instead
 * (strategy_cache.c), bound to the row type named, as the other twins do.
 *
 * Per-row work runs in a memory context that is reset at every call, so
 * nothing allocated for one row outlives it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "parser/parse_type.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "compensation.h"
#include "strategy.h"

typedef struct EvaluationCache
{
	MemoryContext context;		/* holds everything below; reset on rebuild */
	MemoryContext row_context;	/* reset at every call */
	uint64		generation;
	bool		name_is_constant;	/* the strategy argument is a Const or Param */
	char	   *strategy_name;
	bool		has_version;
	int32		version;
	Oid			row_type;		/* InvalidOid: compiled without a row type */
	int32		row_typmod;
	TupleDesc	row_desc;
	StrategySpec *spec;			/* NULL while (re)building; owned by strategy_cache.c */
	Datum	   *values;
	bool	   *nulls;
	/* twins: argument first + i is the column at row_desc index [i] */
	int			npassed;
	int		   *passed_attindex;
	/* *_spec twins: the arguments it was built for, when not constants */
	Jsonb	   *given_spec;
	char	   *given_row_type;
	ArrayType  *given_names;
} EvaluationCache;

static bool
cache_matches(EvaluationCache *cache, text *name, bool has_version, int32 version,
			  Oid row_type, int32 row_typmod)
{
	size_t		name_len = VARSIZE_ANY_EXHDR(name);

	return cache->spec != NULL &&
		cache->generation == current_strategy_generation() &&
		cache->row_type == row_type && cache->row_typmod == row_typmod &&
		cache->has_version == has_version &&
		(!has_version || cache->version == version) &&
		strlen(cache->strategy_name) == name_len &&
		memcmp(cache->strategy_name, VARDATA_ANY(name), name_len) == 0;
}

/*
 * Is argument argnum of this call a Const?  (Not get_fn_expr_arg_stable:
 * PL/pgSQL evaluates a simple expression again and again with the same
 * FmgrInfo and new values for its PARAM_EXTERN parameters.)
 */
static bool
argument_is_const(FmgrInfo *flinfo, int argnum)
{
	List	   *args;

	if (flinfo->fn_expr == NULL || !IsA(flinfo->fn_expr, FuncExpr))
		return false;
	args = ((FuncExpr *) flinfo->fn_expr)->args;
	return argnum < list_length(args) && IsA(list_nth(args, argnum), Const);
}

/* Arguments of the *_columns twins: strategy, version, row type, attnums, ctid. */
#define TWIN_ARG_ATTNUMS 3
#define TWIN_ARG_CTID 4
#define TWIN_FIRST_COLUMN_ARG 5
#define TWIN_HINT "It is what the planner writes for eligible(), amount() and evaluate() of a table row; call those instead."

/*
 * map_passed_columns
 *		For a *_columns twin: which column of the row type each argument is
 *		(the constant attnums array the planner wrote), checked against the
 *		argument types so that a hand-written call can never make a value
 *		be read as another type, and against what the strategy reads.
 */
static void
map_passed_columns(FunctionCallInfo fcinfo, EvaluationCache *cache, StrategySpec *spec)
{
	const char *function = get_func_name(fcinfo->flinfo->fn_oid);
	ArrayType  *attnums_array;
	Datum	   *attnums;
	bool	   *attnum_nulls;
	int			npassed;
	bool	   *passed;
	ListCell   *lc;

	if (PG_ARGISNULL(TWIN_ARG_ATTNUMS) || !argument_is_const(fcinfo->flinfo, TWIN_ARG_ATTNUMS))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s() needs a constant array of column numbers", function),
				 errhint("%s", TWIN_HINT)));
	attnums_array = PG_GETARG_ARRAYTYPE_P(TWIN_ARG_ATTNUMS);
	deconstruct_array(attnums_array, INT2OID, sizeof(int16), true, TYPALIGN_SHORT,
					  &attnums, &attnum_nulls, &npassed);
	if (npassed != PG_NARGS() - TWIN_FIRST_COLUMN_ARG)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s() got %d column numbers for %d columns",
						function, npassed, PG_NARGS() - TWIN_FIRST_COLUMN_ARG),
				 errhint("%s", TWIN_HINT)));

	cache->npassed = npassed;
	cache->passed_attindex = palloc(sizeof(int) * Max(npassed, 1));
	passed = palloc0(sizeof(bool) * cache->row_desc->natts);
	for (int i = 0; i < npassed; i++)
	{
		int			attindex = attnum_nulls[i] ? -1 : DatumGetInt16(attnums[i]) - 1;
		Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, TWIN_FIRST_COLUMN_ARG + i);

		if (attindex < 0 || attindex >= cache->row_desc->natts ||
			TupleDescAttr(cache->row_desc, attindex)->attisdropped ||
			TupleDescAttr(cache->row_desc, attindex)->atttypid != argtype)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s(): argument %d is not column %d of type %s",
							function, TWIN_FIRST_COLUMN_ARG + i + 1, attindex + 1,
							format_type_be(cache->row_type)),
					 errhint("%s", TWIN_HINT)));
		cache->passed_attindex[i] = attindex;
		passed[attindex] = true;
	}

	/*
	 * The planner passed the columns of the version in force when it
	 * planned; the strategy tables are in the plan's dependencies, so a
	 * change replans.  Only a version activated between planning and
	 * running can get here.
	 */
	foreach(lc, strategy_columns_read(spec))
	{
		SpecColumn *column = (SpecColumn *) lfirst(lc);

		if (!passed[column->attindex])
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("strategy \"%s\" changed while the query was being planned",
							spec->strategy_name),
					 errdetail("Version %d reads column \"%s\", which the plan does not read.",
							   spec->version, column->name),
					 errhint("Run the query again.")));
	}

	/* columns not passed stay NULL: the strategy does not read them */
	for (int i = 0; i < cache->row_desc->natts; i++)
	{
		cache->values[i] = (Datum) 0;
		cache->nulls[i] = true;
	}
}

/*
 * get_evaluation_cache
 *		The compiled strategy for this call site, rebuilt when the name, the
 *		version, the row type or the catalog changed.
 */
static EvaluationCache *
get_evaluation_cache(FunctionCallInfo fcinfo, Datum name_datum, bool has_version, int32 version,
					 Oid row_type, int32 row_typmod, bool columns_passed)
{
	EvaluationCache *cache = (EvaluationCache *) fcinfo->flinfo->fn_extra;
	MemoryContext oldcontext;
	text	   *name;

	/*
	 * The common case, once per row: same call site, constant strategy
	 * name, nothing changed.  A constant name cannot differ from the one
	 * the cache was built for, so it need not even be detoasted.
	 */
	if (cache != NULL && cache->spec != NULL && cache->name_is_constant &&
		cache->generation == current_strategy_generation() &&
		cache->row_type == row_type && cache->row_typmod == row_typmod &&
		cache->has_version == has_version && (!has_version || cache->version == version))
		return cache;

	name = DatumGetTextPP(name_datum);
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(EvaluationCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "compensation strategy",
											   ALLOCSET_SMALL_SIZES);
		cache->row_context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												   "compensation row",
												   ALLOCSET_DEFAULT_SIZES);
		cache->name_is_constant = argument_is_const(fcinfo->flinfo, 0);
		fcinfo->flinfo->fn_extra = cache;
	}
	else if (cache_matches(cache, name, has_version, version, row_type, row_typmod))
		return cache;

	cache->spec = NULL;
	MemoryContextReset(cache->context);
	oldcontext = MemoryContextSwitchTo(cache->context);

	cache->generation = current_strategy_generation();
	cache->strategy_name = text_to_cstring(name);
	cache->has_version = has_version;
	cache->version = version;
	cache->row_type = row_type;
	cache->row_typmod = row_typmod;

	if (OidIsValid(row_type))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(row_type, row_typmod);

		cache->row_desc = CreateTupleDescCopy(desc);
		ReleaseTupleDesc(desc);
		cache->values = palloc(sizeof(Datum) * Max(cache->row_desc->natts, 1));
		cache->nulls = palloc(sizeof(bool) * Max(cache->row_desc->natts, 1));
	}

	{
		StrategySpec *spec;

		if (OidIsValid(row_type))
			spec = load_bound_strategy(cache->strategy_name, has_version, version,
									   row_type, row_typmod, cache->row_desc,
									   row_type == RECORDOID ? "the facts row"
									   : psprintf("the facts row of type %s", format_type_be(row_type)));
		else
			spec = load_strategy(cache->strategy_name, has_version, version, false);
		if (columns_passed)
			map_passed_columns(fcinfo, cache, spec);
		cache->spec = spec;
	}
	MemoryContextSwitchTo(oldcontext);
	return cache;
}

/*
 * Evaluate the (strategy, facts [, version]) arguments of fcinfo.
 * Returns NULL when strategy or facts is NULL (the SQL functions then
 * return NULL).
 */
static EvaluationCache *
evaluate_arguments(FunctionCallInfo fcinfo, bool want_reasons, Decision *decision)
{
	HeapTupleHeader facts;
	bool		has_version;
	int32		version;
	EvaluationCache *cache;
	HeapTupleData tuple;
	MemoryContext oldcontext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return NULL;
	facts = PG_GETARG_HEAPTUPLEHEADER(1);
	has_version = PG_NARGS() > 2 && !PG_ARGISNULL(2);
	version = has_version ? PG_GETARG_INT32(2) : -1;

	cache = get_evaluation_cache(fcinfo, PG_GETARG_DATUM(0), has_version, version,
								 HeapTupleHeaderGetTypeId(facts),
								 HeapTupleHeaderGetTypMod(facts), false);

	MemoryContextReset(cache->row_context);
	oldcontext = MemoryContextSwitchTo(cache->row_context);
	tuple.t_len = HeapTupleHeaderGetDatumLength(facts);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = facts;
	heap_deform_tuple(&tuple, cache->row_desc, cache->values, cache->nulls);
	evaluate_strategy(cache->spec, cache->values, cache->nulls, want_reasons, decision);
	MemoryContextSwitchTo(oldcontext);
	return cache;
}

/*
 * Evaluate the (strategy, version, row type, attnums, ctid, column...)
 * arguments of the *_columns twins that planner_support.c substitutes for a table row.
 * Returns NULL when the strategy is NULL or the row is missing (NULL ctid:
 * null-extended by an outer join).
 */
static EvaluationCache *
evaluate_column_arguments(FunctionCallInfo fcinfo, bool want_reasons, Decision *decision)
{
	EvaluationCache *cache;
	bool		has_version = !PG_ARGISNULL(1);
	MemoryContext oldcontext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(TWIN_ARG_CTID))
		return NULL;
	if (PG_NARGS() <= TWIN_ARG_CTID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s() needs the row's ctid after the column numbers",
						get_func_name(fcinfo->flinfo->fn_oid)),
				 errhint("%s", TWIN_HINT)));
	if (PG_GETARG_OID(2) == RECORDOID || !type_is_rowtype(PG_GETARG_OID(2)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s(): type %u is not a table's row type",
						get_func_name(fcinfo->flinfo->fn_oid), PG_GETARG_OID(2)),
				 errhint("%s", TWIN_HINT)));
	cache = get_evaluation_cache(fcinfo, PG_GETARG_DATUM(0), has_version,
								 has_version ? PG_GETARG_INT32(1) : -1,
								 PG_GETARG_OID(2), -1, true);

	MemoryContextReset(cache->row_context);
	oldcontext = MemoryContextSwitchTo(cache->row_context);
	for (int i = 0; i < cache->npassed; i++)
	{
		int			attindex = cache->passed_attindex[i];

		cache->values[attindex] = PG_GETARG_DATUM(TWIN_FIRST_COLUMN_ARG + i);
		cache->nulls[attindex] = PG_ARGISNULL(TWIN_FIRST_COLUMN_ARG + i);
	}
	evaluate_strategy(cache->spec, cache->values, cache->nulls, want_reasons, decision);
	MemoryContextSwitchTo(oldcontext);
	return cache;
}

/*
 * compensation.eligible(strategy text, facts record, version integer)
 *		-> boolean: the rule holds for the row and an amount can be computed.
 */
PG_FUNCTION_INFO_V1(compensation_eligible);
Datum
compensation_eligible(PG_FUNCTION_ARGS)
{
	Decision	decision;

	if (evaluate_arguments(fcinfo, false, &decision) == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(decision.eligible);
}

/*
 * compensation.amount(strategy text, facts record, version integer)
 *		-> numeric in the row's currency, NULL when not eligible.
 */
PG_FUNCTION_INFO_V1(compensation_amount);
Datum
compensation_amount(PG_FUNCTION_ARGS)
{
	Decision	decision;

	if (evaluate_arguments(fcinfo, false, &decision) == NULL || !decision.eligible)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(decision.amount_minor, decision.exponent));
}

/* The compensation.decision row of a decision. */
static Datum
decision_datum(FunctionCallInfo fcinfo, EvaluationCache *cache, Decision *decision)
{
	TupleDesc	result_desc;
	Datum		result_values[6];
	bool		result_nulls[6] = {false, false, false, false, false, false};
	Datum	   *reasons;
	int			nreasons;
	ListCell   *lc;
	int			i = 0;

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "unexpected return type: not a row type");
	result_desc = BlessTupleDesc(result_desc);

	nreasons = list_length(decision->reasons);
	reasons = palloc(sizeof(Datum) * Max(nreasons, 1));
	foreach(lc, decision->reasons)
		reasons[i++] = CStringGetTextDatum((char *) lfirst(lc));

	result_values[0] = BoolGetDatum(decision->eligible);
	if (decision->eligible)
	{
		result_values[1] = NumericGetDatum(int64_div_fast_to_numeric(decision->amount_minor,
																	 decision->exponent));
		result_values[2] = CStringGetTextDatum(decision->currency);
	}
	else
		result_nulls[1] = result_nulls[2] = true;
	result_values[3] = CStringGetTextDatum(cache->spec->instrument);
	result_values[4] = PointerGetDatum(construct_array(reasons, nreasons, TEXTOID, -1, false,
													   TYPALIGN_INT));
	result_values[5] = Int32GetDatum(cache->spec->version);
	return HeapTupleGetDatum(heap_form_tuple(result_desc, result_values, result_nulls));
}

/*
 * compensation.evaluate(strategy text, facts record, version integer)
 *		-> compensation.decision (eligible, amount, currency, instrument,
 *		reasons, version).
 */
PG_FUNCTION_INFO_V1(compensation_evaluate);
Datum
compensation_evaluate(PG_FUNCTION_ARGS)
{
	Decision	decision;
	EvaluationCache *cache = evaluate_arguments(fcinfo, true, &decision);

	if (cache == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(decision_datum(fcinfo, cache, &decision));
}

/*
 * compensation.eligible_columns / amount_columns / evaluate_columns
 *		(strategy text, version integer, row type oid, attnums int2[],
 *		VARIADIC "any": the row's ctid, then the columns attnums lists): what
 *		planner_support.c rewrites a call with a table row into.  Not meant
 *		to be called by hand.
 */
PG_FUNCTION_INFO_V1(compensation_eligible_columns);
Datum
compensation_eligible_columns(PG_FUNCTION_ARGS)
{
	Decision	decision;

	if (evaluate_column_arguments(fcinfo, false, &decision) == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(decision.eligible);
}

PG_FUNCTION_INFO_V1(compensation_amount_columns);
Datum
compensation_amount_columns(PG_FUNCTION_ARGS)
{
	Decision	decision;

	if (evaluate_column_arguments(fcinfo, false, &decision) == NULL || !decision.eligible)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(decision.amount_minor, decision.exponent));
}

PG_FUNCTION_INFO_V1(compensation_evaluate_columns);
Datum
compensation_evaluate_columns(PG_FUNCTION_ARGS)
{
	Decision	decision;
	EvaluationCache *cache = evaluate_column_arguments(fcinfo, true, &decision);

	if (cache == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(decision_datum(fcinfo, cache, &decision));
}

/* ---- the *_spec twins --------------------------------------------------- */

/*
 * Arguments of the *_spec twins: strategy, version, spec, row type name,
 * column names, then (VARIADIC "any") the row marker and the columns.
 */
#define SPEC_ARG_VERSION 1
#define SPEC_ARG_SPEC 2
#define SPEC_ARG_ROW_TYPE 3
#define SPEC_ARG_NAMES 4
#define SPEC_ARG_ROW 5
#define SPEC_FIRST_COLUMN_ARG 6

/* A copy of a varlena (not pnstrdup: a jsonb or an array has zero bytes). */
static void *
copy_varlena(const void *value)
{
	void	   *copy = palloc(VARSIZE(value));

	memcpy(copy, value, VARSIZE(value));
	return copy;
}

static bool
same_bytes(const void *a, const void *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return VARSIZE_ANY(a) == VARSIZE_ANY(b) && memcmp(a, b, VARSIZE_ANY(a)) == 0;
}

/*
 * spec_columns_desc
 *		The tuple descriptor of the columns a *_spec twin is given: the names
 *		of the names array, the types (and typmods and collations) of the
 *		arguments.  Checked so that a hand-written call is an error, never a
 *		value read as another type.
 */
static TupleDesc
spec_columns_desc(FunctionCallInfo fcinfo, ArrayType *names_array, const char *function)
{
	Datum	   *names;
	bool	   *name_nulls;
	int			npassed;
	List	   *fn_args = NIL;
	TupleDesc	desc;

	if (ARR_NDIM(names_array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s() needs a one-dimensional array of column names", function),
				 errhint("%s", TWIN_HINT)));
	deconstruct_array(names_array, TEXTOID, -1, false, TYPALIGN_INT, &names, &name_nulls, &npassed);
	if (npassed != PG_NARGS() - SPEC_FIRST_COLUMN_ARG)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s() got %d column names for %d columns",
						function, npassed, Max(PG_NARGS() - SPEC_FIRST_COLUMN_ARG, 0)),
				 errhint("%s", TWIN_HINT)));
	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s() needs its columns as separate arguments, not a VARIADIC array", function),
				 errhint("%s", TWIN_HINT)));
	if (fcinfo->flinfo->fn_expr != NULL && IsA(fcinfo->flinfo->fn_expr, FuncExpr))
		fn_args = ((FuncExpr *) fcinfo->flinfo->fn_expr)->args;

	desc = CreateTemplateTupleDesc(npassed);
	for (int i = 0; i < npassed; i++)
	{
		int			argnum = SPEC_FIRST_COLUMN_ARG + i;
		Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argnum);
		char	   *name = name_nulls[i] ? NULL : TextDatumGetCString(names[i]);
		Node	   *arg = argnum < list_length(fn_args) ? list_nth(fn_args, argnum) : NULL;

		if (name == NULL || name[0] == '\0' || strlen(name) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s(): column name %d is null, empty or too long", function, i + 1),
					 errhint("%s", TWIN_HINT)));
		for (int j = 0; j < i; j++)
			if (strcmp(NameStr(TupleDescAttr(desc, j)->attname), name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("%s(): column \"%s\" is given twice", function, name),
						 errhint("%s", TWIN_HINT)));
		if (!OidIsValid(argtype) || get_typtype(argtype) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s(): argument %d (column \"%s\") has no usable type", function,
							argnum + 1, name),
					 errhint("%s", TWIN_HINT)));
		TupleDescInitEntry(desc, i + 1, name, argtype,
						   arg != NULL ? exprTypmod(arg) : -1, 0);
		TupleDescInitEntryCollation(desc, i + 1,
									arg != NULL ? exprCollation(arg) : get_typcollation(argtype));
	}
	return desc;
}

/*
 * named_row_type
 *		On a node whose catalog has the version: the named row type, when
 *		every column given is a column of it of the same type, so that the
 *		compiled form bound to that row type is shared with every other call
 *		on it.  InvalidOid otherwise.
 */
static Oid
named_row_type(const char *row_type_name, TupleDesc given, TupleDesc *row_desc)
{
	Oid			row_type;
	int32		typmod;
	TupleDesc	desc;

	if (row_type_name == NULL)
		return InvalidOid;
	parseTypeString(row_type_name, &row_type, &typmod, true);
	if (!OidIsValid(row_type) || row_type == RECORDOID || !type_is_rowtype(row_type))
		return InvalidOid;
	desc = lookup_rowtype_tupdesc(row_type, -1);
	*row_desc = CreateTupleDescCopy(desc);
	ReleaseTupleDesc(desc);
	for (int i = 0; i < given->natts; i++)
	{
		Form_pg_attribute column = TupleDescAttr(given, i);
		bool		found = false;

		for (int j = 0; j < (*row_desc)->natts && !found; j++)
			found = !TupleDescAttr(*row_desc, j)->attisdropped &&
				TupleDescAttr(*row_desc, j)->atttypid == column->atttypid &&
				strcmp(NameStr(TupleDescAttr(*row_desc, j)->attname), NameStr(column->attname)) == 0;
		if (!found)
			return InvalidOid;
	}
	return row_type;
}

/*
 * get_spec_cache
 *		The compiled spec of a *_spec twin's call site, rebuilt when an
 *		argument that is not a constant changed, or the catalog (or the
 *		currency table) did.
 */
static EvaluationCache *
get_spec_cache(FunctionCallInfo fcinfo)
{
	EvaluationCache *cache = (EvaluationCache *) fcinfo->flinfo->fn_extra;
	const char *function;
	text	   *name;
	int32		version;
	Jsonb	   *given_spec;
	char	   *row_type_name;
	ArrayType  *names;
	TupleDesc	given;
	Jsonb	   *stored;
	StrategySpec *spec;
	MemoryContext oldcontext;

	if (cache != NULL && cache->spec != NULL && cache->name_is_constant &&
		cache->generation == current_strategy_generation())
		return cache;

	function = get_func_name(fcinfo->flinfo->fn_oid);
	if (PG_ARGISNULL(SPEC_ARG_VERSION) || PG_ARGISNULL(SPEC_ARG_SPEC) || PG_ARGISNULL(SPEC_ARG_NAMES))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s() needs a version, a spec and column names", function),
				 errhint("%s", TWIN_HINT)));
	name = PG_GETARG_TEXT_PP(0);
	version = PG_GETARG_INT32(SPEC_ARG_VERSION);
	given_spec = PG_GETARG_JSONB_P(SPEC_ARG_SPEC);
	row_type_name = PG_ARGISNULL(SPEC_ARG_ROW_TYPE) ? NULL
		: TextDatumGetCString(PG_GETARG_DATUM(SPEC_ARG_ROW_TYPE));
	names = PG_GETARG_ARRAYTYPE_P(SPEC_ARG_NAMES);

	if (cache != NULL && cache->spec != NULL &&
		cache->generation == current_strategy_generation() &&
		cache->version == version &&
		strlen(cache->strategy_name) == VARSIZE_ANY_EXHDR(name) &&
		memcmp(cache->strategy_name, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) == 0 &&
		same_bytes(cache->given_spec, given_spec) && same_bytes(cache->given_names, names) &&
		(cache->given_row_type == NULL ? row_type_name == NULL
		 : row_type_name != NULL && strcmp(cache->given_row_type, row_type_name) == 0))
		return cache;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(EvaluationCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "compensation strategy",
											   ALLOCSET_SMALL_SIZES);
		cache->row_context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												   "compensation row",
												   ALLOCSET_DEFAULT_SIZES);
		cache->name_is_constant = true;
		for (int i = 0; i <= SPEC_ARG_NAMES; i++)
			cache->name_is_constant &= argument_is_const(fcinfo->flinfo, i);
		fcinfo->flinfo->fn_extra = cache;
	}
	cache->spec = NULL;
	MemoryContextReset(cache->context);
	oldcontext = MemoryContextSwitchTo(cache->context);

	cache->generation = current_strategy_generation();
	cache->strategy_name = text_to_cstring(name);
	cache->has_version = true;
	cache->version = version;
	cache->given_spec = (Jsonb *) copy_varlena(given_spec);
	cache->given_names = (ArrayType *) copy_varlena(names);
	cache->given_row_type = row_type_name ? pstrdup(row_type_name) : NULL;
	given = spec_columns_desc(fcinfo, names, function);
	cache->npassed = given->natts;
	cache->passed_attindex = palloc(sizeof(int) * Max(given->natts, 1));

	stored = load_strategy_jsonb(cache->strategy_name, true, version);
	if (stored != NULL && same_bytes(stored, given_spec))
	{
		/* this node has the version: its compiled form, shared */
		TupleDesc	row_desc = NULL;
		Oid			row_type = named_row_type(row_type_name, given, &row_desc);
		int32		row_typmod = -1;
		bool	   *passed;
		ListCell   *lc;

		if (!OidIsValid(row_type))
		{
			row_desc = BlessTupleDesc(given);
			row_type = RECORDOID;
			row_typmod = row_desc->tdtypmod;
		}
		cache->row_type = row_type;
		cache->row_typmod = row_typmod;
		cache->row_desc = row_desc;
		passed = palloc0(sizeof(bool) * Max(row_desc->natts, 1));
		for (int i = 0; i < given->natts; i++)
		{
			int			j = 0;

			while (TupleDescAttr(row_desc, j)->attisdropped ||
				   strcmp(NameStr(TupleDescAttr(row_desc, j)->attname),
						  NameStr(TupleDescAttr(given, i)->attname)) != 0)
				j++;
			cache->passed_attindex[i] = j;
			passed[j] = true;
		}
		spec = load_bound_strategy(cache->strategy_name, true, version, row_type, row_typmod,
								   row_desc, row_type == RECORDOID ? "the facts row"
								   : psprintf("the facts row of type %s", format_type_be(row_type)));
		foreach(lc, strategy_columns_read(spec))
		{
			SpecColumn *column = (SpecColumn *) lfirst(lc);

			if (!passed[column->attindex])
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s() is not given column \"%s\", which version %d of strategy \"%s\" reads",
								function, column->name, version, cache->strategy_name),
						 errhint("%s", TWIN_HINT)));
		}
	}
	else
	{
		/*
		 * A node without the version (a Citus worker): the spec it is
		 * given, parsed and bound here, against the columns given by name.
		 * It reads nothing but the currency table: the caller evaluates the
		 * row it passes, as with any other function.
		 */
		spec = parse_strategy_spec(given_spec, false);
		spec->strategy_name = cache->strategy_name;
		spec->version = version;
		spec->status = "";
		spec->holdout_salt = "";
		spec->exclusive_group = "";
		spec->created_by = "";
		spec->source_owner = "";
		load_currencies(spec);
		bind_strategy_spec(spec, given,
						   row_type_name == NULL ? "the facts row"
						   : psprintf("the facts row of type %s", row_type_name), false);
		cache->row_type = RECORDOID;
		cache->row_typmod = -1;
		cache->row_desc = given;
		for (int i = 0; i < given->natts; i++)
			cache->passed_attindex[i] = i;
	}
	cache->values = palloc(sizeof(Datum) * Max(cache->row_desc->natts, 1));
	cache->nulls = palloc(sizeof(bool) * Max(cache->row_desc->natts, 1));
	/* columns not passed stay NULL: the strategy does not read them */
	for (int i = 0; i < cache->row_desc->natts; i++)
	{
		cache->values[i] = (Datum) 0;
		cache->nulls[i] = true;
	}
	cache->spec = spec;
	MemoryContextSwitchTo(oldcontext);
	return cache;
}

/*
 * Evaluate the (strategy, version, spec, row type, names, row, column...)
 * arguments of the *_spec twins.  Returns NULL when the strategy is NULL
 * or the row is missing (NULL marker: null-extended by an outer join).
 */
static EvaluationCache *
evaluate_spec_arguments(FunctionCallInfo fcinfo, bool want_reasons, Decision *decision)
{
	EvaluationCache *cache;
	MemoryContext oldcontext;

	if (PG_ARGISNULL(0) || PG_NARGS() <= SPEC_ARG_ROW || PG_ARGISNULL(SPEC_ARG_ROW))
		return NULL;
	cache = get_spec_cache(fcinfo);

	MemoryContextReset(cache->row_context);
	oldcontext = MemoryContextSwitchTo(cache->row_context);
	for (int i = 0; i < cache->npassed; i++)
	{
		int			attindex = cache->passed_attindex[i];

		cache->values[attindex] = PG_GETARG_DATUM(SPEC_FIRST_COLUMN_ARG + i);
		cache->nulls[attindex] = PG_ARGISNULL(SPEC_FIRST_COLUMN_ARG + i);
	}
	evaluate_strategy(cache->spec, cache->values, cache->nulls, want_reasons, decision);
	MemoryContextSwitchTo(oldcontext);
	return cache;
}

/*
 * compensation.eligible_spec / amount_spec / evaluate_spec
 *		(strategy text, version integer, spec jsonb, row_type text,
 *		columns text[], VARIADIC "any": a row marker (the row's ctid, NULL
 *		for a missing row), then the columns named): what planner_support.c
 *		rewrites a call with a row into when the strategy and version are
 *		constants.  Evaluate only the row given, on any node.  Not meant to
 *		be called by hand.
 */
PG_FUNCTION_INFO_V1(compensation_eligible_spec);
Datum
compensation_eligible_spec(PG_FUNCTION_ARGS)
{
	Decision	decision;

	if (evaluate_spec_arguments(fcinfo, false, &decision) == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(decision.eligible);
}

PG_FUNCTION_INFO_V1(compensation_amount_spec);
Datum
compensation_amount_spec(PG_FUNCTION_ARGS)
{
	Decision	decision;

	if (evaluate_spec_arguments(fcinfo, false, &decision) == NULL || !decision.eligible)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(decision.amount_minor, decision.exponent));
}

PG_FUNCTION_INFO_V1(compensation_evaluate_spec);
Datum
compensation_evaluate_spec(PG_FUNCTION_ARGS)
{
	Decision	decision;
	EvaluationCache *cache = evaluate_spec_arguments(fcinfo, true, &decision);

	if (cache == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(decision_datum(fcinfo, cache, &decision));
}

/*
 * compensation.in_holdout(strategy text, buyer text, version integer)
 *		-> boolean: is the buyer in the strategy's holdout?
 */
PG_FUNCTION_INFO_V1(compensation_in_holdout);
Datum
compensation_in_holdout(PG_FUNCTION_ARGS)
{
	text	   *buyer;
	EvaluationCache *cache;
	bool		has_version;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	buyer = PG_GETARG_TEXT_PP(1);
	has_version = PG_NARGS() > 2 && !PG_ARGISNULL(2);
	cache = get_evaluation_cache(fcinfo, PG_GETARG_DATUM(0), has_version,
								 has_version ? PG_GETARG_INT32(2) : -1, InvalidOid, -1, false);
	PG_RETURN_BOOL(buyer_in_holdout(cache->spec->holdout_salt, cache->spec->holdout_buckets,
									VARDATA_ANY(buyer), VARSIZE_ANY_EXHDR(buyer)));
}

/*
 * compensation.holdout_hash(salt text, buyer text) -> bigint
 *		FNV-1a 32-bit of salt || ':' || buyer: the documented holdout hash.
 */
PG_FUNCTION_INFO_V1(compensation_holdout_hash);
Datum
compensation_holdout_hash(PG_FUNCTION_ARGS)
{
	char	   *salt = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *buyer = PG_GETARG_TEXT_PP(1);

	PG_RETURN_INT64((int64) holdout_hash(salt, VARDATA_ANY(buyer), VARSIZE_ANY_EXHDR(buyer)));
}

/*
 * compensation.validate_spec(spec jsonb) -> void
 *		Every check a spec must pass to be stored: its shape, its bounds, and
 *		its source (exists, is not temporary, is readable by the session
 *		user, who would be its author, has the columns, of types the spec
 *		can use).  Raises the first problem found.
 */
PG_FUNCTION_INFO_V1(compensation_validate_spec);
Datum
compensation_validate_spec(PG_FUNCTION_ARGS)
{
	Jsonb	   *jsonb = PG_GETARG_JSONB_P(0);
	StrategySpec *spec = parse_strategy_spec(jsonb, true);
	const char *context = "invalid strategy spec at $.source";
	Oid			relid;
	Relation	rel;

	/*
	 * The author is the session user: define_strategy records it, and
	 * apply reads the source with its rights.  The current user must be
	 * able to read it too, when an analyst calls this directly (in
	 * define_strategy, a SECURITY DEFINER function, it is the owner).
	 */
	relid = strategy_source_relid(spec, context);
	for (int i = 0; i < 2; i++)
	{
		Oid			reader = i == 0 ? GetUserId() : GetSessionUserId();
		char	   *reader_name = GetUserNameFromId(reader, false);

		if (pg_class_aclcheck(relid, reader, ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s: permission denied for relation %s", context, spec->source),
					 errdetail("Role \"%s\" cannot read it; a strategy reads its source with the rights of the session user who defines it.",
							   reader_name),
					 errhint("GRANT SELECT ON %s TO %s.", spec->source, quote_identifier(reader_name))));
	}

	load_currencies(spec);
	rel = relation_open(relid, NoLock);
	bind_strategy_spec(spec, RelationGetDescr(rel),
					   psprintf("source %s", spec->source), true);
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}
