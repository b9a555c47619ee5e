/*-------------------------------------------------------------------------
 *
 * analysis.h
 *	  Declarations shared by the analysis aggregates: burn.c, uplift.c,
 *	  their helpers in numeric_state.c and the t quantile in student_t.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COMPENSATION_ANALYSIS_H
#define COMPENSATION_ANALYSIS_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

/* numeric_state.c: PostgreSQL's numeric aggregate states inside ours */
extern void *NumericStateAdd(PGFunction accumulate, FunctionCallInfo aggcall, void *state, Datum value);
extern void *NumericStateCombine(PGFunction combine, FunctionCallInfo aggcall, void *into, void *from);
extern Numeric NumericStateResult(PGFunction final, FunctionCallInfo aggcall, void *state);
extern void SendNumericState(StringInfo buf, PGFunction serialize, FunctionCallInfo aggcall, void *state);
extern void *ReceiveNumericState(StringInfo buf, PGFunction deserialize, FunctionCallInfo aggcall);

/*
 * numeric_state.c: an aggregate state as an SQL type.  Its flat form is a
 * version byte and what write() appends; read() reads it back into a
 * zeroed struct of size bytes, checking every field (InvalidState).
 */
typedef struct AggStateType
{
	const char *name;			/* the SQL type, for messages */
	const char *aggregates;		/* the aggregates using it, for messages */
	Size		size;			/* of the C struct */
	void		(*write) (StringInfo buf, void *state, FunctionCallInfo aggcall);
	void		(*read) (StringInfo buf, void *state, FunctionCallInfo aggcall);
} AggStateType;

extern void *AggStateForUpdate(FunctionCallInfo fcinfo, int argno, const AggStateType *type,
							   MemoryContext aggcontext, MemoryContext *state_context, Datum *result);
extern const void *AggStateForReading(FunctionCallInfo fcinfo, int argno, const AggStateType *type);
extern Datum AggStateIn(const AggStateType *type, const char *text);
extern Datum AggStateOut(const AggStateType *type, Datum state);
extern Datum AggStateReceive(const AggStateType *type, StringInfo buf);
extern Datum AggStateSend(const AggStateType *type, Datum state);

/* numeric_state.c: aggregate glue */
extern MemoryContext AggregateContextOrError(FunctionCallInfo fcinfo, const char *function_name,
											 const char *aggregate);
extern Datum FormResultRow(FunctionCallInfo fcinfo, Datum *values, bool *nulls, int natts);
extern void InvalidState(const char *aggregate, const char *what) pg_attribute_noreturn();

/* student_t.c */
extern double StudentTQuantile(double p, double df);

/*
 * Small numeric helpers for the final functions (once per group).
 */
static inline Numeric
NumericAdd(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

static inline Numeric
NumericSub(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a, b, NULL);
}

static inline Numeric
NumericMul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

static inline int
NumericCmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline int
NumericSign(Numeric a)
{
	return NumericCmp(a, int64_to_numeric(0));
}

static inline bool
NumericIsFinite(Numeric a)
{
	return !numeric_is_nan(a) && !numeric_is_inf(a);
}

static inline int32
NumericScale(Numeric a)
{
	return DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(a)));
}

static inline double
NumericToDouble(Numeric a)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(a)));
}

#endif							/* COMPENSATION_ANALYSIS_H */
