/*-------------------------------------------------------------------------
 *
 * numeric_state.c
 *	  What the analysis aggregates (burn.c, uplift.c) share: their states as
 *	  SQL types (compensation.burn_state, compensation.uplift_state) kept
 *	  as expanded objects while an aggregate runs, the text and binary I/O
 *	  of those types, calling PostgreSQL's own numeric aggregate support
 *	  functions on states kept inside ours, the aggregate-context check and
 *	  the composite result of a final function.
 *
 * Money and outcomes are summed exactly by PostgreSQL's numeric aggregate
 * code (numeric_avg_accum, numeric_accum and their combine, serialize and
 * deserialize functions), called through a local FunctionCallInfo that
 * carries the aggregate's own context: AggCheckCallContext then finds the
 * aggregate, so their states live in the aggregate's memory context, and
 * parallel workers and Citus workers ship them in PostgreSQL's own format
 * inside ours.
 *
 * Why a type and not internal: Citus pushes an aggregate down to its
 * workers as a partial aggregate only when its transition type is not a
 * pseudo-type (AggregateEnabledCustom() in Citus's
 * planner/multi_logical_optimizer.c); the workers then send the state as
 * the type's output text and the coordinator reads it back with the
 * type's input function and combines (utils/aggregate_utils.c).  So the
 * state is a varlena type whose flat form is the serialized state.
 *
 * Why it stays fast: while an aggregate runs, the state is a read-write
 * expanded object (utils/expandeddatum.h) holding the C struct, in its own
 * memory context under the aggregate context.  PostgreSQL's executor (and
 * Citus's worker_partial_agg) keep such a value without copying it, and
 * the transition function updates it in place and returns the same
 * pointer, as array_append does with expanded arrays: per row there is no
 * flattening and no copy.  The flat form is made only when the state
 * leaves the process (a parallel worker's or a Citus worker's partial
 * result) or is printed.
 *
 * Owns no aggregate.  Declarations in analysis.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"
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
 * The aggregate's memory context.  The support functions update their
 * state in place, which only an aggregate may let them do: called from SQL
 * on their own, they refuse.
 */
MemoryContext
AggregateContextOrError(FunctionCallInfo fcinfo, const char *function_name, const char *aggregate)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("compensation.%s() can only be called by the aggregate %s", function_name, aggregate),
				 errhint("Call the aggregate.")));
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
			 errhint("States are made by the aggregates themselves, as the partial results of parallel workers or Citus workers; do not write them by hand.")));
}


/* ====================================================================
 * Aggregate states as SQL types, expanded while the aggregate runs
 * ==================================================================== */

/*
 * The flat form: a varlena whose data is the format version byte, then
 * what the type's write function wrote.
 */
#define AGG_STATE_FORMAT_VERSION 1

typedef struct ExpandedAggState
{
	ExpandedObjectHeader header;
	const AggStateType *type;
	bytea	   *flat;			/* the flat form made by get_flat_size, or
								 * NULL; dropped at every update */
	/* the aggregate's state struct follows, MAXALIGNed */
} ExpandedAggState;

#define EXPANDED_AGG_STATE_SIZE MAXALIGN(sizeof(ExpandedAggState))
#define ExpandedAggStateData(expanded) ((void *) ((char *) (expanded) + EXPANDED_AGG_STATE_SIZE))

static Size ExpandedAggStateFlatSize(ExpandedObjectHeader *header);
static void ExpandedAggStateFlatten(ExpandedObjectHeader *header, void *result, Size allocated_size);

static const ExpandedObjectMethods expanded_agg_state_methods = {
	ExpandedAggStateFlatSize,
	ExpandedAggStateFlatten
};

/*
 * PostgreSQL's numeric serialize and deserialize functions only check that
 * an aggregate calls them (AggCheckCallContext(fcinfo, NULL): no context
 * is asked for) and work in the current memory context.  Outside an
 * aggregate (a state's input, output and flattening), they are called with
 * this stand-in: a node that says it is an AggState and is read no further.
 */
static FunctionCallInfo
StandInAggregateCall(void)
{
	static AggState stand_in;
	static FunctionCallInfoBaseData call;

	stand_in.ss.ps.type = T_AggState;
	InitFunctionCallInfoData(call, NULL, 0, InvalidOid, (Node *) &stand_in, NULL);
	return &call;
}

/* The flat form of a state struct, made with its type's write function. */
static bytea *
AggStateFlatten(const AggStateType *type, void *state)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, AGG_STATE_FORMAT_VERSION);
	type->write(&buf, state, StandInAggregateCall());
	return pq_endtypsend(&buf);
}

/*
 * Read a flat form into a zeroed state struct (in the current memory
 * context): the version, the type's fields, and nothing after them.  Every
 * byte is checked; a state that does not parse is an error.
 */
static void
AggStateRead(const AggStateType *type, const char *data, int length, void *state,
			 FunctionCallInfo aggcall)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, data, length);
	if (length < 1 || pq_getmsgbyte(&buf) != AGG_STATE_FORMAT_VERSION)
		InvalidState(type->aggregates, "unknown format version");
	type->read(&buf, state, aggcall);
	pq_getmsgend(&buf);
	pfree(buf.data);
}

static ExpandedAggState *
ExpandedAggStateOf(Datum datum, const AggStateType *type)
{
	ExpandedAggState *expanded;

	if (!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(datum)))
		return NULL;
	expanded = (ExpandedAggState *) DatumGetEOHP(datum);
	if (expanded->header.eoh_methods != &expanded_agg_state_methods || expanded->type != type)
		return NULL;
	return expanded;
}

static Size
ExpandedAggStateFlatSize(ExpandedObjectHeader *header)
{
	ExpandedAggState *expanded = (ExpandedAggState *) header;

	if (expanded->flat == NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(header->eoh_context);

		expanded->flat = AggStateFlatten(expanded->type, ExpandedAggStateData(expanded));
		MemoryContextSwitchTo(oldcontext);
	}
	return VARSIZE(expanded->flat);
}

static void
ExpandedAggStateFlatten(ExpandedObjectHeader *header, void *result, Size allocated_size)
{
	ExpandedAggState *expanded = (ExpandedAggState *) header;

	if (ExpandedAggStateFlatSize(header) != allocated_size)
		elog(ERROR, "unexpected: flattening a %s into %zu bytes, it needs %zu",
			 expanded->type->name, allocated_size, (Size) VARSIZE(expanded->flat));
	memcpy(result, expanded->flat, allocated_size);
}

/*
 * The state argument argno of a transition or combine function, ready to
 * be updated in place; *result is the datum to return.  NULL: a new state.
 * The read-write expanded state this aggregate returned before: itself.
 * Anything else (a flat state from a parallel worker or a Citus worker):
 * a new expanded copy.  The new state's memory context is a child of the
 * aggregate context, so the executor keeps it as it is.
 */
void *
AggStateForUpdate(FunctionCallInfo fcinfo, int argno, const AggStateType *type,
				  MemoryContext aggcontext, MemoryContext *state_context, Datum *result)
{
	ExpandedAggState *expanded = NULL;
	MemoryContext context;
	MemoryContext oldcontext;

	if (!PG_ARGISNULL(argno))
	{
		Datum		datum = PG_GETARG_DATUM(argno);

		if (VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(datum)))
			expanded = ExpandedAggStateOf(datum, type);
		if (expanded != NULL)
		{
			if (expanded->flat != NULL)
			{
				pfree(expanded->flat);
				expanded->flat = NULL;
			}
			*state_context = expanded->header.eoh_context;
			*result = datum;
			return ExpandedAggStateData(expanded);
		}
	}

	context = AllocSetContextCreate(aggcontext, "compensation aggregate state", ALLOCSET_SMALL_SIZES);
	expanded = (ExpandedAggState *) MemoryContextAllocZero(context, EXPANDED_AGG_STATE_SIZE + type->size);
	EOH_init_header(&expanded->header, &expanded_agg_state_methods, context);
	expanded->type = type;
	if (!PG_ARGISNULL(argno))
	{
		struct varlena *flat = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(argno));

		/* the numeric states read here live (and grow) in the new context */
		oldcontext = MemoryContextSwitchTo(context);
		AggStateRead(type, VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat), ExpandedAggStateData(expanded),
					 fcinfo);
		MemoryContextSwitchTo(oldcontext);
	}
	*state_context = context;
	*result = EOHPGetRWDatum(&expanded->header);
	return ExpandedAggStateData(expanded);
}

/*
 * The state argument argno, to read only (a combine function's second
 * state, a final function's): the expanded state itself, or a flat one
 * read into a struct in the current memory context.  NULL for NULL.
 */
const void *
AggStateForReading(FunctionCallInfo fcinfo, int argno, const AggStateType *type)
{
	ExpandedAggState *expanded;
	struct varlena *flat;
	void	   *state;

	if (PG_ARGISNULL(argno))
		return NULL;
	expanded = ExpandedAggStateOf(PG_GETARG_DATUM(argno), type);
	if (expanded != NULL)
		return ExpandedAggStateData(expanded);
	flat = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(argno));
	state = palloc0(type->size);
	AggStateRead(type, VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat), state, fcinfo);
	return state;
}

/* The flat form of a state datum (expanded or not). */
static struct varlena *
AggStateFlat(Datum datum, const AggStateType *type)
{
	ExpandedAggState *expanded = ExpandedAggStateOf(datum, type);

	if (expanded != NULL)
		return (struct varlena *) AggStateFlatten(type, ExpandedAggStateData(expanded));
	return PG_DETOAST_DATUM_PACKED(datum);
}

/*
 * A state's flat form from bytes given by a client (text or binary input):
 * read completely into a throwaway struct first, so that only a state the
 * aggregate itself could have made is accepted.
 */
static Datum
AggStateFromBytes(const AggStateType *type, const char *data, int length)
{
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "aggregate state check",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcontext = MemoryContextSwitchTo(scratch);
	bytea	   *flat;

	AggStateRead(type, data, length, palloc0(type->size), StandInAggregateCall());
	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(scratch);
	flat = (bytea *) palloc(VARHDRSZ + length);
	SET_VARSIZE(flat, VARHDRSZ + length);
	memcpy(VARDATA(flat), data, length);
	PG_RETURN_BYTEA_P(flat);
}

/*
 * Text form: the flat form's bytes in hexadecimal, lower case (what a Citus
 * worker sends its coordinator).
 */
Datum
AggStateIn(const AggStateType *type, const char *text)
{
	size_t		length = strlen(text);
	char	   *bytes;
	uint64		decoded;

	if (length % 2 != 0 || length == 0 || strspn(text, "0123456789abcdefABCDEF") != length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", type->name),
				 errdetail("A state is written as an even number of hexadecimal digits."),
				 errhint("States are made by the aggregates %s; do not write them by hand.",
						 type->aggregates)));
	if (length / 2 > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s value too long", type->name)));
	bytes = palloc(length / 2);
	decoded = hex_decode(text, length, bytes);
	return AggStateFromBytes(type, bytes, (int) decoded);
}

Datum
AggStateOut(const AggStateType *type, Datum state)
{
	struct varlena *flat = AggStateFlat(state, type);
	size_t		length = VARSIZE_ANY_EXHDR(flat);
	char	   *text = palloc(length * 2 + 1);

	text[hex_encode(VARDATA_ANY(flat), length, text)] = '\0';
	PG_RETURN_CSTRING(text);
}

/* Binary form: the flat form's bytes. */
Datum
AggStateReceive(const AggStateType *type, StringInfo buf)
{
	int			length = buf->len - buf->cursor;

	return AggStateFromBytes(type, pq_getmsgbytes(buf, length), length);
}

Datum
AggStateSend(const AggStateType *type, Datum state)
{
	struct varlena *flat = AggStateFlat(state, type);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(flat), VARSIZE_ANY_EXHDR(flat));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}
