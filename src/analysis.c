/*-------------------------------------------------------------------------
 *
 * analysis.c
 *	  The budget and analysis aggregates: compensation.burn(), uplift() and
 *	  roi(), and the Student t quantile behind uplift's 95% interval
 *	  (compensation.student_t_quantile()).
 *
 * Owns the aggregates' transition states and their transition, combine,
 * serial, deserial and final functions.  Money and outcomes are summed
 * exactly by PostgreSQL's own numeric aggregate code (numeric_avg_accum,
 * numeric_accum and their combine, serialize and deserialize functions),
 * called through a local FunctionCallInfo that carries the aggregate's own
 * context: AggCheckCallContext then finds the aggregate, so their states
 * live in the aggregate's memory context, and parallel workers ship them in
 * PostgreSQL's own format inside ours.  Per row, this file adds a few
 * comparisons to the builtin's work and allocates nothing; numeric
 * arithmetic of its own happens only once per group, in the final
 * functions.
 *
 * This file reads no tables and keeps no state beyond the aggregates'.  The
 * SQL objects are in src/sql/60_analysis.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "compensation.h"

/*
 * Calling PostgreSQL's numeric aggregate support functions.
 *
 * They check AggCheckCallContext() and allocate in the aggregate context it
 * returns, so the call must carry the calling aggregate's fcinfo->context.
 * They take at most two arguments and use no flinfo.
 */
static Datum
CallNumericAggSupport(PGFunction function, FunctionCallInfo aggcall, int nargs,
					  Datum arg0, bool arg0_isnull, Datum arg1, bool arg1_isnull,
					  bool *result_isnull)
{
	LOCAL_FCINFO(callinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*callinfo, NULL, nargs, InvalidOid, aggcall->context, NULL);
	callinfo->args[0].value = arg0;
	callinfo->args[0].isnull = arg0_isnull;
	callinfo->args[1].value = arg1;
	callinfo->args[1].isnull = arg1_isnull;
	result = function(callinfo);
	if (result_isnull != NULL)
		*result_isnull = callinfo->isnull;
	return result;
}

/*
 * Add value to a numeric aggregate state (NULL pointer: none yet) with
 * numeric_avg_accum (sum only) or numeric_accum (sum and sum of squares);
 * returns the state, created in the aggregate context on first use.
 */
static void *
NumericStateAdd(PGFunction accumulate, FunctionCallInfo aggcall, void *state, Datum value)
{
	return DatumGetPointer(CallNumericAggSupport(accumulate, aggcall, 2,
												 PointerGetDatum(state), state == NULL,
												 value, false, NULL));
}

/* Merge numeric state "from" into "into" (either may be NULL). */
static void *
NumericStateCombine(PGFunction combine, FunctionCallInfo aggcall, void *into, void *from)
{
	if (from == NULL)
		return into;
	return DatumGetPointer(CallNumericAggSupport(combine, aggcall, 2,
												 PointerGetDatum(into), into == NULL,
												 PointerGetDatum(from), false, NULL));
}

/* A final function of a numeric state (numeric_sum, numeric_avg, ...); NULL when it says so. */
static Numeric
NumericStateResult(PGFunction final, FunctionCallInfo aggcall, void *state)
{
	bool		isnull;
	Datum		result;

	if (state == NULL)
		return NULL;
	result = CallNumericAggSupport(final, aggcall, 1, PointerGetDatum(state), false,
								   (Datum) 0, true, &isnull);
	return isnull ? NULL : DatumGetNumeric(result);
}

/* Append a numeric state, serialized by its own serialize function, length first. */
static void
SendNumericState(StringInfo buf, PGFunction serialize, FunctionCallInfo aggcall, void *state)
{
	bytea	   *bytes = DatumGetByteaPP(CallNumericAggSupport(serialize, aggcall, 1,
															  PointerGetDatum(state), false,
															  (Datum) 0, true, NULL));

	pq_sendint32(buf, VARSIZE_ANY_EXHDR(bytes));
	pq_sendbytes(buf, VARDATA_ANY(bytes), VARSIZE_ANY_EXHDR(bytes));
}

/*
 * Read back what SendNumericState wrote.  The builtin deserializer reads
 * its bytes with the pq_getmsg functions and checks that it used them all,
 * so a truncated or padded state is an error there; here the length itself
 * is checked against what is left.
 */
static void *
ReceiveNumericState(StringInfo buf, PGFunction deserialize, FunctionCallInfo aggcall)
{
	int32		length = pq_getmsgint(buf, 4);
	bytea	   *bytes;

	if (length < 0 || length > buf->len - buf->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid aggregate state: a numeric state of %d bytes with %d left",
						length, buf->len - buf->cursor)));
	bytes = (bytea *) palloc(VARHDRSZ + length);
	SET_VARSIZE(bytes, VARHDRSZ + length);
	memcpy(VARDATA(bytes), pq_getmsgbytes(buf, length), length);
	return DatumGetPointer(CallNumericAggSupport(deserialize, aggcall, 2,
												 PointerGetDatum(bytes), false,
												 (Datum) 0, true, NULL));
}

/*
 * The aggregate's memory context.  SQL cannot call a support function on
 * its own (a value of type internal cannot be written in SQL), so only C
 * code could get here otherwise.
 */
static MemoryContext
AggregateContextOrError(FunctionCallInfo fcinfo, const char *function_name, const char *aggregate)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "unexpected: %s called outside aggregate %s", function_name, aggregate);
	return aggcontext;
}

/*
 * Small numeric helpers for the final functions (once per group).
 */
static Numeric
NumericAdd(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

static Numeric
NumericSub(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a, b, NULL);
}

static Numeric
NumericMul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

static int
NumericCmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static int
NumericSign(Numeric a)
{
	return NumericCmp(a, int64_to_numeric(0));
}

static bool
NumericIsFinite(Numeric a)
{
	return !numeric_is_nan(a) && !numeric_is_inf(a);
}

static int32
NumericScale(Numeric a)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(a)));
}

static double
NumericToDouble(Numeric a)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(a)));
}

/* 10^exponent, exactly (exponent may be negative). */
static Numeric
NumericPowerOfTen(int exponent)
{
	char		text[32];

	snprintf(text, sizeof(text), "1e%d", exponent);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * numerator / denominator (denominator > 0) rounded half away from zero to
 * scale decimals, exactly: one rounding of the true quotient.  (numeric's
 * own division rounds at its chosen scale first, so rounding its result
 * again could round twice.)
 */
static Numeric
NumericDivideRounded(Numeric numerator, Numeric denominator, int scale)
{
	Numeric		scaled = NumericMul(numerator, NumericPowerOfTen(scale));
	Numeric		quotient;
	Numeric		twice_remainder;
	Numeric		result;

	Assert(NumericSign(denominator) > 0);
	quotient = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc, NumericGetDatum(scaled),
												   NumericGetDatum(denominator)));
	twice_remainder = NumericMul(NumericSub(scaled, NumericMul(quotient, denominator)),
								 int64_to_numeric(2));
	if (NumericCmp(DatumGetNumeric(DirectFunctionCall1(numeric_abs,
													   NumericGetDatum(twice_remainder))),
				   denominator) >= 0)
		quotient = NumericAdd(quotient, int64_to_numeric(NumericSign(scaled)));
	/* quotient * 10^-scale is exact; the rounding only sets the display scale */
	result = NumericMul(quotient, NumericPowerOfTen(-scale));
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(result),
											   Int32GetDatum(scale)));
}

/* Build the composite result of a final function from values and nulls. */
static Datum
FormResultRow(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "unexpected return type: not a row type");
	if (tupdesc->natts != natts)
		elog(ERROR, "unexpected return type: %d columns, expected %d", tupdesc->natts, natts);
	tupdesc = BlessTupleDesc(tupdesc);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}


/* ====================================================================
 * burn(amount, at, budget, quarter [, as_of]) -> burn_result
 * ==================================================================== */

/*
 * The state of one burn() group.  budget, quarter and as_of are the
 * group's: the first non-NULL value is kept and every later row must agree.
 */
typedef struct BurnState
{
	void	   *spent;			/* numeric_avg_accum state of the amounts, or
								 * NULL before the first one */
	int64		grants;			/* amounts added to spent */
	Numeric		budget;			/* NULL until a row gives one */
	bool		has_quarter;
	FiscalQuarter quarter;
	char		quarter_label[QUARTER_TEXT_LEN + 1];
	bool		has_as_of;
	TimestampTz as_of;
} BurnState;

#define BURN_FLAG_SPENT		0x01
#define BURN_FLAG_BUDGET	0x02
#define BURN_FLAG_QUARTER	0x04
#define BURN_FLAG_AS_OF		0x08
#define BURN_FLAGS_ALL		0x0F

/* Pace thresholds: within 5% of the budget is on track. */
#define PACE_OVER_FACTOR "1.05"
#define PACE_UNDER_FACTOR "0.95"

static void
BurnCheckBudget(Numeric budget)
{
	if (!NumericIsFinite(budget) || NumericSign(budget) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("burn() budget must be a finite amount of zero or more"),
				 errdetail("The budget given was %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(budget)))),
				 errhint("Pass the group's budget in the same unit as the amounts, or NULL when it has none.")));
}

static void
BurnBudgetMismatch(Numeric kept, Numeric other)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("burn() needs one budget per group"),
			 errdetail("One row has budget %s and another %s.",
					   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(kept))),
					   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(other)))),
			 errhint("Group by the budget (its program, quarter and market), or pass the same budget on every row.")));
}

static void
BurnQuarterMismatch(const char *kept, const char *other)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("burn() needs one quarter per group"),
			 errdetail("One row has quarter %s and another %s.", kept, other),
			 errhint("Group by the quarter, or pass the same quarter on every row.")));
}

static void
BurnAsOfMismatch(TimestampTz kept, TimestampTz other)
{
	/* timestamptz_to_str() returns a static buffer: copy the first */
	char	   *kept_text = pstrdup(timestamptz_to_str(kept));
	char	   *other_text = pstrdup(timestamptz_to_str(other));

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("burn() needs one as_of per group"),
			 errdetail("One row has as_of %s and another %s.", kept_text, other_text),
			 errhint("Pass a constant as_of, such as a query parameter.")));
}

/*
 * The row's budget must equal the group's.  The common case (the same
 * value, often the same bytes) is a byte comparison without detoasting a
 * short value; only different bytes (100 and 100.00, or a real mismatch)
 * take the numeric comparison.
 */
static void
BurnNoteBudget(BurnState *state, Datum budget_datum, MemoryContext aggcontext)
{
	struct varlena *budget = PG_DETOAST_DATUM_PACKED(budget_datum);

	if (state->budget != NULL)
	{
		Numeric		other;

		if (VARSIZE_ANY_EXHDR(budget) == VARSIZE_ANY_EXHDR(state->budget) &&
			memcmp(VARDATA_ANY(budget), VARDATA_ANY(state->budget), VARSIZE_ANY_EXHDR(budget)) == 0)
			return;
		other = DatumGetNumeric(budget_datum);
		if (NumericCmp(state->budget, other) != 0)
			BurnBudgetMismatch(state->budget, other);
		return;
	}
	BurnCheckBudget(DatumGetNumeric(budget_datum));
	/* once per group: a plain (4-byte header) copy that lives as long as the state */
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(aggcontext);

		state->budget = DatumGetNumericCopy(budget_datum);
		MemoryContextSwitchTo(oldcontext);
	}
}

/* The row's quarter must equal the group's; the first one is parsed once. */
static void
BurnNoteQuarter(BurnState *state, text *quarter)
{
	size_t		length = VARSIZE_ANY_EXHDR(quarter);

	if (state->has_quarter)
	{
		if (length != QUARTER_TEXT_LEN ||
			memcmp(VARDATA_ANY(quarter), state->quarter_label, QUARTER_TEXT_LEN) != 0)
			BurnQuarterMismatch(state->quarter_label, text_to_cstring(quarter));
		return;
	}
	state->quarter = parse_quarter_or_error(text_to_cstring(quarter));
	format_quarter(state->quarter, state->quarter_label);
	state->has_quarter = true;
}

static void
BurnNoteAsOf(BurnState *state, TimestampTz as_of)
{
	if (state->has_as_of)
	{
		if (state->as_of != as_of)
			BurnAsOfMismatch(state->as_of, as_of);
		return;
	}
	state->as_of = as_of;
	state->has_as_of = true;
}

/*
 * compensation.burn_transition(state internal, amount numeric,
 *		at timestamptz, budget numeric, quarter text [, as_of timestamptz])
 *		-> internal
 *		Adds one row to a burn() group.  Not strict: it creates the state on
 *		the first row, as numeric_avg_accum does.  Without as_of (the
 *		4-argument aggregate) as_of is the transaction's start, which
 *		parallel workers share with their leader.
 */
PG_FUNCTION_INFO_V1(compensation_burn_transition);
Datum
compensation_burn_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, "burn_transition", "compensation.burn()");
	BurnState  *state = PG_ARGISNULL(0) ? NULL : (BurnState *) PG_GETARG_POINTER(0);
	TimestampTz as_of;

	if (PG_NARGS() > 5)
	{
		if (PG_ARGISNULL(5))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("burn() as_of must not be null"),
					 errhint("Leave as_of out to use the transaction's timestamp, now().")));
		as_of = PG_GETARG_TIMESTAMPTZ(5);
	}
	else
		as_of = GetCurrentTransactionStartTimestamp();

	if (state == NULL)
		state = (BurnState *) MemoryContextAllocZero(aggcontext, sizeof(BurnState));

	BurnNoteAsOf(state, as_of);
	if (!PG_ARGISNULL(3))
		BurnNoteBudget(state, PG_GETARG_DATUM(3), aggcontext);
	if (!PG_ARGISNULL(4))
		BurnNoteQuarter(state, PG_GETARG_TEXT_PP(4));

	/*
	 * A NULL amount is no grant, but its row still names the budget and
	 * quarter (a budget LEFT JOINed to no grants reports spent 0).  An amount
	 * dated after as_of was not yet spent as of as_of.
	 */
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(state);
	if (!PG_ARGISNULL(2) && PG_GETARG_TIMESTAMPTZ(2) > as_of)
		PG_RETURN_POINTER(state);

	state->spent = NumericStateAdd(numeric_avg_accum, fcinfo, state->spent, PG_GETARG_DATUM(1));
	state->grants++;
	PG_RETURN_POINTER(state);
}

/*
 * compensation.burn_combine(internal, internal) -> internal
 *		Merges two partial burn() states; either may be NULL.  The first is
 *		updated in place (it lives in the aggregate context); when it is NULL
 *		the second is copied there, since it may live in a shorter context.
 */
PG_FUNCTION_INFO_V1(compensation_burn_combine);
Datum
compensation_burn_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, "burn_combine", "compensation.burn()");
	BurnState  *into = PG_ARGISNULL(0) ? NULL : (BurnState *) PG_GETARG_POINTER(0);
	BurnState  *from = PG_ARGISNULL(1) ? NULL : (BurnState *) PG_GETARG_POINTER(1);

	if (from == NULL)
	{
		if (into == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(into);
	}
	if (into == NULL)
		into = (BurnState *) MemoryContextAllocZero(aggcontext, sizeof(BurnState));

	if (from->has_as_of)
		BurnNoteAsOf(into, from->as_of);
	if (from->budget != NULL)
		BurnNoteBudget(into, NumericGetDatum(from->budget), aggcontext);
	if (from->has_quarter)
	{
		if (into->has_quarter)
		{
			if (strcmp(into->quarter_label, from->quarter_label) != 0)
				BurnQuarterMismatch(into->quarter_label, from->quarter_label);
		}
		else
		{
			into->quarter = from->quarter;
			memcpy(into->quarter_label, from->quarter_label, sizeof(into->quarter_label));
			into->has_quarter = true;
		}
	}
	into->spent = NumericStateCombine(numeric_avg_combine, fcinfo, into->spent, from->spent);
	into->grants += from->grants;
	PG_RETURN_POINTER(into);
}

/*
 * compensation.burn_serialize(internal) -> bytea
 *		flags byte, grants (int64), then what the flags say is there: as_of
 *		(int64), the quarter label (7 bytes), the budget (numeric_send
 *		format, length first), the spent state (numeric_avg_serialize
 *		format, length first).
 */
PG_FUNCTION_INFO_V1(compensation_burn_serialize);
Datum
compensation_burn_serialize(PG_FUNCTION_ARGS)
{
	BurnState  *state;
	StringInfoData buf;
	uint8		flags = 0;

	AggregateContextOrError(fcinfo, "burn_serialize", "compensation.burn()");
	state = (BurnState *) PG_GETARG_POINTER(0);

	if (state->spent != NULL)
		flags |= BURN_FLAG_SPENT;
	if (state->budget != NULL)
		flags |= BURN_FLAG_BUDGET;
	if (state->has_quarter)
		flags |= BURN_FLAG_QUARTER;
	if (state->has_as_of)
		flags |= BURN_FLAG_AS_OF;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, flags);
	pq_sendint64(&buf, state->grants);
	if (state->has_as_of)
		pq_sendint64(&buf, state->as_of);
	if (state->has_quarter)
		pq_sendbytes(&buf, state->quarter_label, QUARTER_TEXT_LEN);
	if (state->budget != NULL)
	{
		bytea	   *budget = DatumGetByteaPP(DirectFunctionCall1(numeric_send,
																 NumericGetDatum(state->budget)));

		pq_sendint32(&buf, VARSIZE_ANY_EXHDR(budget));
		pq_sendbytes(&buf, VARDATA_ANY(budget), VARSIZE_ANY_EXHDR(budget));
	}
	if (state->spent != NULL)
		SendNumericState(&buf, numeric_avg_serialize, fcinfo, state->spent);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
InvalidState(const char *aggregate, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid %s aggregate state: %s", aggregate, what),
			 errhint("Aggregate states are only exchanged between the processes of one query.")));
}

/*
 * compensation.burn_deserialize(bytea, internal) -> internal
 *		The inverse of burn_serialize.  Every field is checked: unknown
 *		flags, a negative count, a malformed quarter, a budget that numeric
 *		would not accept, truncated or trailing bytes are errors.  The state
 *		is built in the current (per-tuple) context; combine copies it.
 */
PG_FUNCTION_INFO_V1(compensation_burn_deserialize);
Datum
compensation_burn_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *serialized;
	StringInfoData buf;
	BurnState  *state;
	uint8		flags;

	AggregateContextOrError(fcinfo, "burn_deserialize", "compensation.burn()");
	serialized = PG_GETARG_BYTEA_PP(0);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(serialized), VARSIZE_ANY_EXHDR(serialized));
	state = (BurnState *) palloc0(sizeof(BurnState));

	flags = pq_getmsgbyte(&buf);
	if (flags & ~BURN_FLAGS_ALL)
		InvalidState("burn()", "unknown flags");
	state->grants = pq_getmsgint64(&buf);
	if (state->grants < 0)
		InvalidState("burn()", "negative count of grants");
	if (flags & BURN_FLAG_AS_OF)
	{
		state->as_of = pq_getmsgint64(&buf);
		state->has_as_of = true;
	}
	if (flags & BURN_FLAG_QUARTER)
	{
		const char *label = pq_getmsgbytes(&buf, QUARTER_TEXT_LEN);

		memcpy(state->quarter_label, label, QUARTER_TEXT_LEN);
		state->quarter_label[QUARTER_TEXT_LEN] = '\0';
		if (!parse_quarter(state->quarter_label, &state->quarter))
			InvalidState("burn()", "malformed quarter");
		state->has_quarter = true;
	}
	if (flags & BURN_FLAG_BUDGET)
	{
		int32		length = pq_getmsgint(&buf, 4);
		StringInfoData budget_buf;

		if (length < 0 || length > buf.len - buf.cursor)
			InvalidState("burn()", "truncated budget");
		initStringInfo(&budget_buf);
		appendBinaryStringInfo(&budget_buf, pq_getmsgbytes(&buf, length), length);
		state->budget = DatumGetNumeric(DirectFunctionCall3(numeric_recv,
															PointerGetDatum(&budget_buf),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
		if (budget_buf.cursor != budget_buf.len)
			InvalidState("burn()", "trailing bytes after the budget");
		BurnCheckBudget(state->budget);
	}
	if (flags & BURN_FLAG_SPENT)
		state->spent = ReceiveNumericState(&buf, numeric_avg_deserialize, fcinfo);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* burn_result's columns, in order */
enum
{
	BURN_SPENT,
	BURN_REMAINING,
	BURN_SHARE_SPENT,
	BURN_SHARE_ELAPSED,
	BURN_DAILY_RATE,
	BURN_PROJECTED_SPEND,
	BURN_PROJECTED_EXHAUSTION,
	BURN_PACE,
	BURN_GRANTS,
	BURN_RESULT_NATTS
};

static Numeric
NumericFromCString(const char *text)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * compensation.burn_final(internal) -> burn_result
 *
 * With start and end the quarter's bounds (compensation.fiscal_start_month,
 * session TimeZone) and elapsed = min(max(as_of, start), end) - start:
 *
 *	spent				exact sum of the amounts (0 when there is none)
 *	remaining			budget - spent
 *	share_spent			spent / budget (NULL when the budget is NULL or 0)
 *	share_elapsed		elapsed / (end - start), so in [0, 1]
 *	daily_rate			spent / elapsed days, rounded half away from zero to
 *						two more decimals than the money (the larger scale
 *						of spent and budget): a rate is finer than amounts
 *	projected_spend		spent * (end - start) / elapsed, rounded to the
 *						money's scale
 *	projected_exhaustion start + budget * elapsed / spent (= budget /
 *						daily_rate, exact to the microsecond) when that is
 *						before end; as_of once spent >= budget; else NULL
 *	pace				'exhausted' once spent >= budget; else 'over' or
 *						'under' when the exact projection is above 105% or
 *						below 95% of the budget; else 'on_track'
 *	grants				the amounts counted
 *
 * The time-based fields are NULL without a quarter and when elapsed is 0
 * (as_of at or before the start); remaining, share_spent and pace are NULL
 * without a budget.  Pace compares the exact projection, not the rounded
 * one shown.
 */
PG_FUNCTION_INFO_V1(compensation_burn_final);
Datum
compensation_burn_final(PG_FUNCTION_ARGS)
{
	BurnState  *state;
	Datum		values[BURN_RESULT_NATTS];
	bool		nulls[BURN_RESULT_NATTS];
	Numeric		spent;
	Numeric		budget;
	bool		exhausted = false;
	Numeric		spent_times_quarter = NULL;
	Numeric		budget_times_elapsed = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* no row at all: like sum() */
	state = (BurnState *) PG_GETARG_POINTER(0);
	memset(values, 0, sizeof(values));
	memset(nulls, true, sizeof(nulls));

	spent = NumericStateResult(numeric_sum, fcinfo, state->spent);
	if (spent == NULL)
		spent = int64_to_numeric(0);
	if (!NumericIsFinite(spent))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("burn() amounts must be finite"),
				 errdetail("The amounts add up to %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(spent)))),
				 errhint("Leave out the rows whose amount is NaN or infinite.")));
	budget = state->budget;

	values[BURN_SPENT] = NumericGetDatum(spent);
	nulls[BURN_SPENT] = false;
	values[BURN_GRANTS] = Int64GetDatum(state->grants);
	nulls[BURN_GRANTS] = false;

	if (budget != NULL)
	{
		values[BURN_REMAINING] = NumericGetDatum(NumericSub(budget, spent));
		nulls[BURN_REMAINING] = false;
		if (NumericSign(budget) != 0)
		{
			values[BURN_SHARE_SPENT] =
				Float8GetDatum(NumericToDouble(numeric_div_opt_error(spent, budget, NULL)));
			nulls[BURN_SHARE_SPENT] = false;
		}
		exhausted = NumericCmp(spent, budget) >= 0;
	}

	if (state->has_quarter)
	{
		TimestampTz start = quarter_start(state->quarter, compensation_fiscal_start_month);
		TimestampTz end = quarter_start(quarter_add(state->quarter, 1),
										compensation_fiscal_start_month);
		TimestampTz clamped = Min(Max(state->as_of, start), end);
		int64		quarter_us = end - start;
		int64		elapsed_us = clamped - start;

		values[BURN_SHARE_ELAPSED] = Float8GetDatum((double) elapsed_us / (double) quarter_us);
		nulls[BURN_SHARE_ELAPSED] = false;

		if (elapsed_us > 0)
		{
			Numeric		elapsed = int64_to_numeric(elapsed_us);
			int			money_scale = NumericScale(spent);

			if (budget != NULL)
				money_scale = Max(money_scale, NumericScale(budget));

			values[BURN_DAILY_RATE] =
				NumericGetDatum(NumericDivideRounded(NumericMul(spent, int64_to_numeric(USECS_PER_DAY)),
													 elapsed, money_scale + 2));
			nulls[BURN_DAILY_RATE] = false;
			spent_times_quarter = NumericMul(spent, int64_to_numeric(quarter_us));
			values[BURN_PROJECTED_SPEND] =
				NumericGetDatum(NumericDivideRounded(spent_times_quarter, elapsed, money_scale));
			nulls[BURN_PROJECTED_SPEND] = false;

			if (budget != NULL)
			{
				budget_times_elapsed = NumericMul(budget, elapsed);
				if (!exhausted && NumericSign(spent) > 0)
				{
					/* at this pace the budget lasts budget * elapsed / spent */
					Numeric		lasts_us = NumericDivideRounded(budget_times_elapsed, spent, 0);

					if (NumericCmp(lasts_us, int64_to_numeric(quarter_us)) < 0)
					{
						int64		offset = DatumGetInt64(DirectFunctionCall1(numeric_int8,
																			   NumericGetDatum(lasts_us)));

						values[BURN_PROJECTED_EXHAUSTION] = TimestampTzGetDatum(start + offset);
						nulls[BURN_PROJECTED_EXHAUSTION] = false;
					}
				}
			}
		}
	}

	if (exhausted)
	{
		values[BURN_PROJECTED_EXHAUSTION] = TimestampTzGetDatum(state->as_of);
		nulls[BURN_PROJECTED_EXHAUSTION] = false;
		values[BURN_PACE] = CStringGetTextDatum("exhausted");
		nulls[BURN_PACE] = false;
	}
	else if (budget_times_elapsed != NULL)
	{
		/* projected > factor * budget  <=>  spent * quarter > factor * budget * elapsed */
		const char *pace = "on_track";

		if (NumericCmp(spent_times_quarter,
					   NumericMul(budget_times_elapsed, NumericFromCString(PACE_OVER_FACTOR))) > 0)
			pace = "over";
		else if (NumericCmp(spent_times_quarter,
							NumericMul(budget_times_elapsed, NumericFromCString(PACE_UNDER_FACTOR))) < 0)
			pace = "under";
		values[BURN_PACE] = CStringGetTextDatum(pace);
		nulls[BURN_PACE] = false;
	}

	PG_RETURN_DATUM(FormResultRow(fcinfo, values, nulls, BURN_RESULT_NATTS));
}


/* ====================================================================
 * uplift(treated, outcome) -> uplift_result
 * roi(treated, outcome, cost) -> roi_result
 * ==================================================================== */

/*
 * One state for both: roi() is uplift() plus the sum of the costs, so they
 * share the combine, serial and deserial functions and the statistics.
 */
typedef struct UpliftState
{
	/* numeric_accum states (sum, sum of squares) per arm; NULL before its first row */
	void	   *outcome[2];		/* [0] control, [1] treated */
	int64		n[2];
	void	   *cost;			/* numeric_avg_accum state of the costs, or NULL */
} UpliftState;

#define ARM_CONTROL 0
#define ARM_TREATED 1

#define UPLIFT_FLAG_CONTROL		0x01
#define UPLIFT_FLAG_TREATED		0x02
#define UPLIFT_FLAG_COST		0x04
#define UPLIFT_FLAGS_ALL		0x07

/* uplift_result's columns, in order; roi_result has them first */
enum
{
	UPLIFT_TREATED_N,
	UPLIFT_CONTROL_N,
	UPLIFT_TREATED_MEAN,
	UPLIFT_CONTROL_MEAN,
	UPLIFT_DIFFERENCE,
	UPLIFT_STD_ERROR,
	UPLIFT_DF,
	UPLIFT_CI_LOW,
	UPLIFT_CI_HIGH,
	UPLIFT_RESULT_NATTS,
	ROI_COST = UPLIFT_RESULT_NATTS,
	ROI_INCREMENTAL,
	ROI_ROI,
	ROI_ROI_LOW,
	ROI_ROI_HIGH,
	ROI_RESULT_NATTS
};

/* The two-sided 95% interval's quantile. */
#define UPLIFT_CONFIDENCE_QUANTILE 0.975

static double StudentTQuantile(double p, double df);

static UpliftState *
UpliftTransition(FunctionCallInfo fcinfo, const char *function_name, const char *aggregate,
				 bool with_cost)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, function_name, aggregate);
	UpliftState *state = PG_ARGISNULL(0) ? NULL : (UpliftState *) PG_GETARG_POINTER(0);

	if (state == NULL)
		state = (UpliftState *) MemoryContextAllocZero(aggcontext, sizeof(UpliftState));
	/* a cost is money spent whether or not the row's outcome is known */
	if (with_cost && !PG_ARGISNULL(3))
		state->cost = NumericStateAdd(numeric_avg_accum, fcinfo, state->cost, PG_GETARG_DATUM(3));
	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
	{
		int			arm = PG_GETARG_BOOL(1) ? ARM_TREATED : ARM_CONTROL;

		state->outcome[arm] = NumericStateAdd(numeric_accum, fcinfo, state->outcome[arm],
											  PG_GETARG_DATUM(2));
		state->n[arm]++;
	}
	return state;
}

/*
 * compensation.uplift_transition(internal, treated boolean, outcome numeric)
 *		-> internal
 *		Adds a row to its arm; rows with a NULL treated or outcome are left
 *		out.  Not strict: it creates the state on the first row.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_transition);
Datum
compensation_uplift_transition(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(UpliftTransition(fcinfo, "uplift_transition", "compensation.uplift()", false));
}

/*
 * compensation.roi_transition(internal, treated boolean, outcome numeric,
 *		cost numeric) -> internal
 *		uplift_transition, plus every row's non-NULL cost.
 */
PG_FUNCTION_INFO_V1(compensation_roi_transition);
Datum
compensation_roi_transition(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(UpliftTransition(fcinfo, "roi_transition", "compensation.roi()", true));
}

/*
 * compensation.uplift_combine(internal, internal) -> internal
 *		Merges two partial uplift() or roi() states; either may be NULL.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_combine);
Datum
compensation_uplift_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, "uplift_combine",
													   "compensation.uplift() or compensation.roi()");
	UpliftState *into = PG_ARGISNULL(0) ? NULL : (UpliftState *) PG_GETARG_POINTER(0);
	UpliftState *from = PG_ARGISNULL(1) ? NULL : (UpliftState *) PG_GETARG_POINTER(1);

	if (from == NULL)
	{
		if (into == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(into);
	}
	if (into == NULL)
		into = (UpliftState *) MemoryContextAllocZero(aggcontext, sizeof(UpliftState));

	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
	{
		into->outcome[arm] = NumericStateCombine(numeric_combine, fcinfo, into->outcome[arm],
												 from->outcome[arm]);
		into->n[arm] += from->n[arm];
	}
	into->cost = NumericStateCombine(numeric_avg_combine, fcinfo, into->cost, from->cost);
	PG_RETURN_POINTER(into);
}

/*
 * compensation.uplift_serialize(internal) -> bytea
 *		flags byte, control and treated counts (int64), then the states the
 *		flags say are there, each length first: control and treated
 *		(numeric_serialize format), cost (numeric_avg_serialize format).
 */
PG_FUNCTION_INFO_V1(compensation_uplift_serialize);
Datum
compensation_uplift_serialize(PG_FUNCTION_ARGS)
{
	UpliftState *state;
	StringInfoData buf;
	uint8		flags = 0;

	AggregateContextOrError(fcinfo, "uplift_serialize", "compensation.uplift() or compensation.roi()");
	state = (UpliftState *) PG_GETARG_POINTER(0);

	if (state->outcome[ARM_CONTROL] != NULL)
		flags |= UPLIFT_FLAG_CONTROL;
	if (state->outcome[ARM_TREATED] != NULL)
		flags |= UPLIFT_FLAG_TREATED;
	if (state->cost != NULL)
		flags |= UPLIFT_FLAG_COST;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, flags);
	pq_sendint64(&buf, state->n[ARM_CONTROL]);
	pq_sendint64(&buf, state->n[ARM_TREATED]);
	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
		if (state->outcome[arm] != NULL)
			SendNumericState(&buf, numeric_serialize, fcinfo, state->outcome[arm]);
	if (state->cost != NULL)
		SendNumericState(&buf, numeric_avg_serialize, fcinfo, state->cost);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * compensation.uplift_deserialize(bytea, internal) -> internal
 *		The inverse of uplift_serialize; unknown flags, negative counts, a
 *		count without its state (or the reverse), truncated or trailing
 *		bytes are errors.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_deserialize);
Datum
compensation_uplift_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *serialized;
	StringInfoData buf;
	UpliftState *state;
	uint8		flags;

	AggregateContextOrError(fcinfo, "uplift_deserialize", "compensation.uplift() or compensation.roi()");
	serialized = PG_GETARG_BYTEA_PP(0);
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, VARDATA_ANY(serialized), VARSIZE_ANY_EXHDR(serialized));
	state = (UpliftState *) palloc0(sizeof(UpliftState));

	flags = pq_getmsgbyte(&buf);
	if (flags & ~UPLIFT_FLAGS_ALL)
		InvalidState("uplift()", "unknown flags");
	state->n[ARM_CONTROL] = pq_getmsgint64(&buf);
	state->n[ARM_TREATED] = pq_getmsgint64(&buf);
	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
	{
		bool		present = (flags & (arm == ARM_CONTROL ? UPLIFT_FLAG_CONTROL : UPLIFT_FLAG_TREATED)) != 0;

		if (state->n[arm] < 0 || (state->n[arm] > 0) != present)
			InvalidState("uplift()", "counts do not match the states");
	}
	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
		if (state->n[arm] > 0)
			state->outcome[arm] = ReceiveNumericState(&buf, numeric_deserialize, fcinfo);
	if (flags & UPLIFT_FLAG_COST)
		state->cost = ReceiveNumericState(&buf, numeric_avg_deserialize, fcinfo);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/*
 * Fill the uplift_result columns of values/nulls (Welch's unequal-variance
 * two-sample comparison):
 *
 *	treated_n, control_n	rows counted per arm
 *	treated_mean, control_mean	exact means (numeric avg())
 *	difference			treated_mean - control_mean
 *	std_error			sqrt(s1^2/n1 + s0^2/n0), s^2 the sample variances
 *						(numeric var_samp(), then float8)
 *	df					Welch-Satterthwaite degrees of freedom
 *	ci_low, ci_high		difference -/+ t(0.975, df) * std_error
 *
 * What an arm with fewer than two rows cannot give is NULL.  When
 * std_error is 0 the interval is [difference, difference] and df is NULL
 * (0/0).  Returns the difference (or NULL) for roi().
 */
static Numeric
UpliftStatistics(FunctionCallInfo fcinfo, UpliftState *state, Datum *values, bool *nulls)
{
	Numeric		mean[2] = {NULL, NULL};
	Numeric		variance[2] = {NULL, NULL};
	Numeric		difference = NULL;

	values[UPLIFT_TREATED_N] = Int64GetDatum(state->n[ARM_TREATED]);
	nulls[UPLIFT_TREATED_N] = false;
	values[UPLIFT_CONTROL_N] = Int64GetDatum(state->n[ARM_CONTROL]);
	nulls[UPLIFT_CONTROL_N] = false;

	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
	{
		mean[arm] = NumericStateResult(numeric_avg, fcinfo, state->outcome[arm]);
		if (mean[arm] != NULL && !NumericIsFinite(mean[arm]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("uplift() outcomes must be finite"),
					 errdetail("The %s outcomes average %s.", arm == ARM_TREATED ? "treated" : "control",
							   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(mean[arm])))),
					 errhint("Leave out the rows whose outcome is NaN or infinite.")));
		variance[arm] = NumericStateResult(numeric_var_samp, fcinfo, state->outcome[arm]);
	}
	if (mean[ARM_TREATED] != NULL)
	{
		values[UPLIFT_TREATED_MEAN] = NumericGetDatum(mean[ARM_TREATED]);
		nulls[UPLIFT_TREATED_MEAN] = false;
	}
	if (mean[ARM_CONTROL] != NULL)
	{
		values[UPLIFT_CONTROL_MEAN] = NumericGetDatum(mean[ARM_CONTROL]);
		nulls[UPLIFT_CONTROL_MEAN] = false;
	}
	if (mean[ARM_TREATED] != NULL && mean[ARM_CONTROL] != NULL)
	{
		difference = NumericSub(mean[ARM_TREATED], mean[ARM_CONTROL]);
		values[UPLIFT_DIFFERENCE] = NumericGetDatum(difference);
		nulls[UPLIFT_DIFFERENCE] = false;
	}
	if (variance[ARM_TREATED] != NULL && variance[ARM_CONTROL] != NULL)
	{
		double		n1 = (double) state->n[ARM_TREATED];
		double		n0 = (double) state->n[ARM_CONTROL];
		double		v1 = NumericToDouble(variance[ARM_TREATED]) / n1;
		double		v0 = NumericToDouble(variance[ARM_CONTROL]) / n0;
		double		std_error = sqrt(v1 + v0);
		double		center = NumericToDouble(difference);

		values[UPLIFT_STD_ERROR] = Float8GetDatum(std_error);
		nulls[UPLIFT_STD_ERROR] = false;
		if (std_error > 0)
		{
			/*
			 * (v1 + v0)^2 / (v1^2/(n1-1) + v0^2/(n0-1)), written with the
			 * treated share of the variance so that it cannot overflow.
			 */
			double		share = v1 / (v1 + v0);
			double		df = 1.0 / (share * share / (n1 - 1) + (1 - share) * (1 - share) / (n0 - 1));
			double		t = StudentTQuantile(UPLIFT_CONFIDENCE_QUANTILE, df);

			values[UPLIFT_DF] = Float8GetDatum(df);
			nulls[UPLIFT_DF] = false;
			values[UPLIFT_CI_LOW] = Float8GetDatum(center - t * std_error);
			values[UPLIFT_CI_HIGH] = Float8GetDatum(center + t * std_error);
		}
		else
		{
			values[UPLIFT_CI_LOW] = Float8GetDatum(center);
			values[UPLIFT_CI_HIGH] = Float8GetDatum(center);
		}
		nulls[UPLIFT_CI_LOW] = false;
		nulls[UPLIFT_CI_HIGH] = false;
	}
	return difference;
}

/*
 * compensation.uplift_final(internal) -> uplift_result
 *		NULL when the aggregate saw no row at all.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_final);
Datum
compensation_uplift_final(PG_FUNCTION_ARGS)
{
	Datum		values[UPLIFT_RESULT_NATTS];
	bool		nulls[UPLIFT_RESULT_NATTS];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	memset(values, 0, sizeof(values));
	memset(nulls, true, sizeof(nulls));
	UpliftStatistics(fcinfo, (UpliftState *) PG_GETARG_POINTER(0), values, nulls);
	PG_RETURN_DATUM(FormResultRow(fcinfo, values, nulls, UPLIFT_RESULT_NATTS));
}

/*
 * compensation.roi_final(internal) -> roi_result
 *		uplift's columns, then
 *
 *	cost				exact sum of the non-NULL costs of every row
 *	incremental			difference * treated_n: the outcome the treatment
 *						added
 *	roi					(incremental - cost) / cost (NULL when the cost is
 *						NULL or 0)
 *	roi_low, roi_high	the same with ci_low, ci_high for the difference
 */
PG_FUNCTION_INFO_V1(compensation_roi_final);
Datum
compensation_roi_final(PG_FUNCTION_ARGS)
{
	UpliftState *state;
	Datum		values[ROI_RESULT_NATTS];
	bool		nulls[ROI_RESULT_NATTS];
	Numeric		difference;
	Numeric		cost;
	Numeric		incremental = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (UpliftState *) PG_GETARG_POINTER(0);
	memset(values, 0, sizeof(values));
	memset(nulls, true, sizeof(nulls));
	difference = UpliftStatistics(fcinfo, state, values, nulls);

	cost = NumericStateResult(numeric_sum, fcinfo, state->cost);
	if (cost != NULL)
	{
		if (!NumericIsFinite(cost))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("roi() costs must be finite"),
					 errdetail("The costs add up to %s.",
							   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(cost)))),
					 errhint("Leave out the rows whose cost is NaN or infinite.")));
		values[ROI_COST] = NumericGetDatum(cost);
		nulls[ROI_COST] = false;
	}
	if (difference != NULL)
	{
		incremental = NumericMul(difference, int64_to_numeric(state->n[ARM_TREATED]));
		values[ROI_INCREMENTAL] = NumericGetDatum(incremental);
		nulls[ROI_INCREMENTAL] = false;
	}
	if (cost != NULL && NumericSign(cost) != 0)
	{
		double		cost_double = NumericToDouble(cost);
		double		treated_n = (double) state->n[ARM_TREATED];

		if (incremental != NULL)
		{
			values[ROI_ROI] = Float8GetDatum(NumericToDouble(numeric_div_opt_error(NumericSub(incremental, cost),
																				   cost, NULL)));
			nulls[ROI_ROI] = false;
		}
		if (!nulls[UPLIFT_CI_LOW])
		{
			values[ROI_ROI_LOW] = Float8GetDatum((DatumGetFloat8(values[UPLIFT_CI_LOW]) * treated_n - cost_double)
												 / cost_double);
			values[ROI_ROI_HIGH] = Float8GetDatum((DatumGetFloat8(values[UPLIFT_CI_HIGH]) * treated_n - cost_double)
												  / cost_double);
			nulls[ROI_ROI_LOW] = false;
			nulls[ROI_ROI_HIGH] = false;
		}
	}
	PG_RETURN_DATUM(FormResultRow(fcinfo, values, nulls, ROI_RESULT_NATTS));
}


/* ====================================================================
 * The Student t quantile
 * ==================================================================== */

/*
 * The t distribution's tail is a regularized incomplete beta function:
 *
 *	 P(|T| > t) = I_x(df/2, 1/2),  x = df / (df + t^2)
 *
 * I_x(a, b) is x^a (1-x)^b / (a B(a, b)) times a continued fraction
 * (Numerical Recipes' betacf, evaluated with the modified Lentz method), or
 * 1 - I_(1-x)(b, a) by symmetry.  The fraction for I_x(a, b) converges
 * quickly for x < (a+1)/(a+b+2); for large df (a >= BETA_LARGE_A), however,
 * x is so close to 1 that it loses accuracy there (about 1e-8 relative at
 * df = 1e9), while the one for I_(1-x)(1/2, a) converges in a few steps as
 * long as a (1-x), about t^2/2, is moderate.  So with large df the second
 * is used up to a (1-x) = BETA_LARGE_A_SWITCH (t about 4), the first beyond.
 *
 * Checked against 60-digit values (mpmath) over df from 0.01 to 1e15 and
 * p from 1e-300 to 1 - 1e-12: relative error below 1e-10 for df up to 1e9,
 * and for any df while 1e-4 < p < 1 - 1e-4; beyond df = 1e9, in the far
 * tails, about 1e-7.  The quantile is found by bisection on t to the last
 * bit of a double, so its error is the tail function's.  It is used below
 * STUDENT_T_EXPANSION_DF (1e6) degrees of freedom, where its quantiles are
 * within 2e-13 relative of mpmath's; from there on the expansion around the
 * normal quantile below is exact to a few units in the last place.
 */
#define BETA_CF_MAX_ITERATIONS 100000
#define BETA_CF_EPSILON 1e-16
#define BETA_CF_TINY 1e-300
#define BETA_LARGE_A 5e4
#define BETA_LARGE_A_SWITCH 8.0

/* The Stirling series of log Gamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2), x >= 10. */
static double
LogGammaCorrection(double x)
{
	double		inverse_square = 1.0 / (x * x);

	return (1.0 / 12.0 - inverse_square * (1.0 / 360.0 - inverse_square *
										   (1.0 / 1260.0 - inverse_square *
											(1.0 / 1680.0 - inverse_square / 1188.0)))) / x;
}

/*
 * log B(a, b).  With a large argument, lgamma(q) - lgamma(p + q) would lose
 * everything to cancellation; it is written as its Stirling difference
 * instead, with log1p.
 */
static double
LogBeta(double a, double b)
{
	double		p = Min(a, b);
	double		q = Max(a, b);
	double		log_gamma_ratio;	/* log Gamma(q) - log Gamma(p + q) */

	if (q < 10.0)
		return lgamma(p) + lgamma(q) - lgamma(p + q);
	log_gamma_ratio = -p * log(q) - (p + q - 0.5) * log1p(p / q) + p
		+ LogGammaCorrection(q) - LogGammaCorrection(p + q);
	if (p < 10.0)
		return lgamma(p) + log_gamma_ratio;
	return (p - 0.5) * log(p) - p + 0.5 * log(2.0 * M_PI) + LogGammaCorrection(p) + log_gamma_ratio;
}

/* The continued fraction of I_x(a, b), modified Lentz. */
static double
BetaContinuedFraction(double a, double b, double x)
{
	double		c = 1.0;
	double		d = 1.0 - (a + b) * x / (a + 1.0);
	double		result;

	if (fabs(d) < BETA_CF_TINY)
		d = BETA_CF_TINY;
	d = 1.0 / d;
	result = d;
	for (int m = 1; m <= BETA_CF_MAX_ITERATIONS; m++)
	{
		double		term;
		double		step;

		/* even step */
		term = m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m));
		d = 1.0 + term * d;
		if (fabs(d) < BETA_CF_TINY)
			d = BETA_CF_TINY;
		c = 1.0 + term / c;
		if (fabs(c) < BETA_CF_TINY)
			c = BETA_CF_TINY;
		d = 1.0 / d;
		result *= d * c;
		/* odd step */
		term = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m));
		d = 1.0 + term * d;
		if (fabs(d) < BETA_CF_TINY)
			d = BETA_CF_TINY;
		c = 1.0 + term / c;
		if (fabs(c) < BETA_CF_TINY)
			c = BETA_CF_TINY;
		d = 1.0 / d;
		step = d * c;
		result *= step;
		if (fabs(step - 1.0) < BETA_CF_EPSILON)
			return result;
	}
	elog(ERROR, "unexpected: incomplete beta continued fraction did not converge (a=%g, b=%g, x=%g)",
		 a, b, x);
	return 0.0;					/* keep the compiler quiet */
}

/*
 * P(T > t) for t >= 0.  x = df/(df + t^2) and y = 1 - x are computed from
 * log(t^2/df) so that neither is rounded to 0 or 1 where the other is
 * tiny, and t^2 cannot overflow.
 */
static double
StudentTUpperTail(double t, double df)
{
	double		a = df / 2.0;
	double		b = 0.5;
	double		log_ratio;
	double		log_x;
	double		log_y;
	double		x;
	double		y;
	double		front;
	bool		direct;

	if (t == 0.0)
		return 0.5;
	if (isinf(t))
		return 0.0;
	log_ratio = 2.0 * log(t) - log(df);
	/* log x = -log(1 + e^s), log y = -log(1 + e^-s), s = log(t^2/df) */
	if (log_ratio > 0)
	{
		log_y = -log1p(exp(-log_ratio));
		log_x = log_y - log_ratio;
	}
	else
	{
		log_x = -log1p(exp(log_ratio));
		log_y = log_x + log_ratio;
	}
	x = exp(log_x);
	y = exp(log_y);
	front = exp(a * log_x + b * log_y - LogBeta(a, b));

	if (a < BETA_LARGE_A)
		direct = x < (a + 1.0) / (a + b + 2.0);
	else
		direct = a * y > BETA_LARGE_A_SWITCH;
	if (direct)
		return 0.5 * front * BetaContinuedFraction(a, b, x) / a;
	return 0.5 * (1.0 - front * BetaContinuedFraction(b, a, y) / b);
}

/*
 * The p-quantile of a symmetric distribution given its upper tail P(X > t)
 * (0 < p < 1): the t with P(X <= t) = p, by bisection on the tail to the
 * last bit of a double.  May be infinite when the true quantile is beyond
 * the range of float8.
 */
static double
QuantileByBisection(double p, double (*upper_tail) (double t, double df), double df)
{
	bool		lower = p < 0.5;
	double		tail = lower ? p : 1.0 - p;
	double		low = 0.0;
	double		high = 1.0;

	if (p == 0.5)
		return 0.0;
	while (upper_tail(high, df) > tail)
	{
		low = high;
		high *= 2.0;
		if (isinf(high))
			return lower ? -high : high;
	}
	/* halve [low, high] until no double lies strictly inside */
	for (;;)
	{
		double		middle = low + (high - low) / 2.0;

		if (middle <= low || middle >= high)
			break;
		if (upper_tail(middle, df) > tail)
			low = middle;
		else
			high = middle;
	}
	return lower ? -(low + (high - low) / 2.0) : low + (high - low) / 2.0;
}

/* P(Z > t) of the standard normal (the df argument is unused). */
static double
NormalUpperTail(double t, double df)
{
	return 0.5 * erfc(t * M_SQRT1_2);
}

/*
 * From STUDENT_T_EXPANSION_DF degrees of freedom on, the t quantile is the
 * normal quantile z plus its Cornish-Fisher expansion in 1/df (Abramowitz
 * and Stegun 26.7.5, the terms g1 to g4):
 *
 *	 t = z + g1(z)/df + g2(z)/df^2 + g3(z)/df^3 + g4(z)/df^4 + ...
 *
 * The first term left out is about 7e-5 z (z^2/df)^5 and z is at most 38.5
 * (the tail of a double cannot be smaller than 5e-324), so from df = 1e6 on
 * it is below 1e-18 relative: the expansion is exact to double precision,
 * where the continued fraction loses accuracy in the tails (x = df/(df+t^2)
 * is too close to 1) and, for df beyond about 1e17, stops converging.  Once
 * g1/df is below half a unit in the last place of z (df above 2^52 (z^2 + 1),
 * at most 7e18), the sum is z itself: the normal limit.
 */
#define STUDENT_T_EXPANSION_DF 1e6

static double
StudentTByExpansion(double z, double df)
{
	double		z2 = z * z;
	double		g1 = (z2 + 1.0) * z / 4.0;
	double		g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
	double		g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
	double		g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;

	return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
}

/*
 * The p-quantile of Student's t with df degrees of freedom (0 < p < 1,
 * df > 0 finite): bisection on the tail below STUDENT_T_EXPANSION_DF, the
 * expansion around the normal quantile from there on.  May be infinite
 * when the true quantile is beyond the range of float8 (tiny df).
 */
static double
StudentTQuantile(double p, double df)
{
	if (df >= STUDENT_T_EXPANSION_DF)
		return StudentTByExpansion(QuantileByBisection(p, NormalUpperTail, 0.0), df);
	return QuantileByBisection(p, StudentTUpperTail, df);
}

/*
 * compensation.student_t_quantile(p float8, df float8) -> float8
 *		The p-quantile of Student's t distribution with df degrees of freedom
 *		(df need not be an integer): what uplift() multiplies the standard
 *		error by, with p = 0.975.
 */
PG_FUNCTION_INFO_V1(compensation_student_t_quantile);
Datum
compensation_student_t_quantile(PG_FUNCTION_ARGS)
{
	float8		p;
	float8		df;

	/* the SQL function is STRICT; this guards a direct call without it */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("p and df must not be null"),
				 errhint("For the two-sided 95%% interval use p = 0.975.")));
	p = PG_GETARG_FLOAT8(0);
	df = PG_GETARG_FLOAT8(1);
	if (!(p > 0.0 && p < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p must be between 0 and 1, both excluded"),
				 errdetail("The value given was %g.", p),
				 errhint("For the two-sided 95%% interval use p = 0.975.")));
	if (!(df > 0.0) || isinf(df))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("df must be a finite number of degrees of freedom above 0"),
				 errdetail("The value given was %g.", df),
				 errhint("For the normal distribution's quantile give a large df: from 1e19 on, the result is the normal quantile.")));
	PG_RETURN_FLOAT8(StudentTQuantile(p, df));
}
