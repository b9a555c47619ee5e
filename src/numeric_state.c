/*-------------------------------------------------------------------------
 *
 * numeric_state.c
 *	  What the analysis aggregates (burn.c, uplift.c) share: calling
 *	  PostgreSQL's own numeric aggregate support functions on states kept
 *	  inside ours, the aggregate-context check, the composite result of a
 *	  final function and the error for a forged state.
 *
 * Money and outcomes are summed exactly by PostgreSQL's numeric aggregate
 * code (numeric_avg_accum, numeric_accum and their combine, serialize and
 * deserialize functions), called through a local FunctionCallInfo that
 * carries the aggregate's own context: AggCheckCallContext then finds the
 * aggregate, so their states live in the aggregate's memory context, and
 * parallel workers ship them in PostgreSQL's own format inside ours.
 *
 * Owns no aggregate and no state of its own.  Declarations in analysis.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "utils/numeric.h"

#include "analysis.h"

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
void *
NumericStateAdd(PGFunction accumulate, FunctionCallInfo aggcall, void *state, Datum value)
{
	return DatumGetPointer(CallNumericAggSupport(accumulate, aggcall, 2,
												 PointerGetDatum(state), state == NULL,
												 value, false, NULL));
}

/* Merge numeric state "from" into "into" (either may be NULL). */
void *
NumericStateCombine(PGFunction combine, FunctionCallInfo aggcall, void *into, void *from)
{
	if (from == NULL)
		return into;
	return DatumGetPointer(CallNumericAggSupport(combine, aggcall, 2,
												 PointerGetDatum(into), into == NULL,
												 PointerGetDatum(from), false, NULL));
}

/* A final function of a numeric state (numeric_sum, numeric_avg, ...); NULL when it says so. */
Numeric
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
void
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
void *
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
MemoryContext
AggregateContextOrError(FunctionCallInfo fcinfo, const char *function_name, const char *aggregate)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "unexpected: %s called outside aggregate %s", function_name, aggregate);
	return aggcontext;
}

/* Build the composite result of a final function from values and nulls. */
Datum
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

/* A serialized state that does not parse: an error, never a crash. */
void
InvalidState(const char *aggregate, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid %s aggregate state: %s", aggregate, what),
			 errhint("Aggregate states are only exchanged between the processes of one query.")));
}
