/*-------------------------------------------------------------------------
 *
 * uplift.c
 *	  compensation.uplift(treated, outcome) and roi(treated, outcome, cost):
 *	  treated against control, Welch's two-sample comparison, and the return
 *	  on the cost of the treatment.
 *
 * Owns the state both aggregates share (roi is uplift plus the sum of the
 * costs), its SQL type compensation.uplift_state (flat form, text and
 * binary I/O; an expanded object while the aggregate runs, see
 * numeric_state.c), and their transition, combine and final functions.
 * Per row it adds a few comparisons to numeric_accum's work; the
 * statistics are computed once per group.  Reads no tables.  The t
 * quantile of the interval is student_t.c's.  The SQL objects are in
 * src/sql/60_analysis.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "analysis.h"

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

static const AggStateType uplift_state_type;

static Datum
UpliftTransition(FunctionCallInfo fcinfo, const char *function_name, const char *aggregate,
				 bool with_cost)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, function_name, aggregate);
	MemoryContext state_context;
	Datum		result;
	UpliftState *state = AggStateForUpdate(fcinfo, 0, &uplift_state_type, aggcontext, &state_context,
										   &result);

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
	return result;
}

/*
 * compensation.uplift_transition(uplift_state, treated boolean,
 *		outcome numeric) -> uplift_state
 *		Adds a row to its arm; rows with a NULL treated or outcome are left
 *		out.  Not strict: it creates the state on the first row.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_transition);
Datum
compensation_uplift_transition(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(UpliftTransition(fcinfo, "uplift_transition", "compensation.uplift()", false));
}

/*
 * compensation.roi_transition(uplift_state, treated boolean, outcome numeric,
 *		cost numeric) -> uplift_state
 *		uplift_transition, plus every row's non-NULL cost.
 */
PG_FUNCTION_INFO_V1(compensation_roi_transition);
Datum
compensation_roi_transition(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(UpliftTransition(fcinfo, "roi_transition", "compensation.roi()", true));
}

/*
 * compensation.uplift_combine(uplift_state, uplift_state) -> uplift_state
 *		Merges two partial uplift() or roi() states; either may be NULL.  The
 *		first is updated in place when it is this aggregate's own (expanded)
 *		state, else copied into a new one; the second is only read.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_combine);
Datum
compensation_uplift_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, "uplift_combine",
													   "compensation.uplift() or compensation.roi()");
	MemoryContext state_context;
	Datum		result;
	const UpliftState *from;
	UpliftState *into;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	from = AggStateForReading(fcinfo, 1, &uplift_state_type);
	into = AggStateForUpdate(fcinfo, 0, &uplift_state_type, aggcontext, &state_context, &result);

	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
	{
		into->outcome[arm] = NumericStateCombine(numeric_combine, fcinfo, into->outcome[arm],
												 from->outcome[arm]);
		into->n[arm] += from->n[arm];
	}
	into->cost = NumericStateCombine(numeric_avg_combine, fcinfo, into->cost, from->cost);
	PG_RETURN_DATUM(result);
}

/*
 * The flat form of an uplift_state (after the version byte): flags byte,
 * control and treated counts (int64), then the states the flags say are
 * there, each length first: control and treated (numeric_serialize
 * format), cost (numeric_avg_serialize format).
 */
static void
UpliftStateWrite(StringInfo buf, void *state_pointer, FunctionCallInfo aggcall)
{
	UpliftState *state = (UpliftState *) state_pointer;
	uint8		flags = 0;

	if (state->outcome[ARM_CONTROL] != NULL)
		flags |= UPLIFT_FLAG_CONTROL;
	if (state->outcome[ARM_TREATED] != NULL)
		flags |= UPLIFT_FLAG_TREATED;
	if (state->cost != NULL)
		flags |= UPLIFT_FLAG_COST;

	pq_sendbyte(buf, flags);
	pq_sendint64(buf, state->n[ARM_CONTROL]);
	pq_sendint64(buf, state->n[ARM_TREATED]);
	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
		if (state->outcome[arm] != NULL)
			SendNumericState(buf, numeric_serialize, aggcall, state->outcome[arm]);
	if (state->cost != NULL)
		SendNumericState(buf, numeric_avg_serialize, aggcall, state->cost);
}

/*
 * The inverse of UpliftStateWrite, into a zeroed UpliftState in the
 * current memory context; unknown flags, negative counts, a count without
 * its state (or the reverse), truncated or trailing bytes are errors.
 */
static void
UpliftStateRead(StringInfo buf, void *state_pointer, FunctionCallInfo aggcall)
{
	UpliftState *state = (UpliftState *) state_pointer;
	uint8		flags;

	flags = pq_getmsgbyte(buf);
	if (flags & ~UPLIFT_FLAGS_ALL)
		InvalidState("compensation.uplift() or compensation.roi()", "unknown flags");
	state->n[ARM_CONTROL] = pq_getmsgint64(buf);
	state->n[ARM_TREATED] = pq_getmsgint64(buf);
	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
	{
		bool		present = (flags & (arm == ARM_CONTROL ? UPLIFT_FLAG_CONTROL : UPLIFT_FLAG_TREATED)) != 0;

		if (state->n[arm] < 0 || (state->n[arm] > 0) != present)
			InvalidState("compensation.uplift() or compensation.roi()", "counts do not match the states");
	}
	for (int arm = ARM_CONTROL; arm <= ARM_TREATED; arm++)
		if (state->n[arm] > 0)
			state->outcome[arm] = ReceiveNumericState(buf, numeric_deserialize, aggcall);
	if (flags & UPLIFT_FLAG_COST)
		state->cost = ReceiveNumericState(buf, numeric_avg_deserialize, aggcall);
}

static const AggStateType uplift_state_type = {
	"compensation.uplift_state",
	"compensation.uplift() or compensation.roi()",
	sizeof(UpliftState),
	UpliftStateWrite,
	UpliftStateRead
};

/* compensation.uplift_state_in(cstring) -> uplift_state: hexadecimal, every byte checked */
PG_FUNCTION_INFO_V1(compensation_uplift_state_in);
Datum
compensation_uplift_state_in(PG_FUNCTION_ARGS)
{
	return AggStateIn(&uplift_state_type, PG_GETARG_CSTRING(0));
}

/* compensation.uplift_state_out(uplift_state) -> cstring */
PG_FUNCTION_INFO_V1(compensation_uplift_state_out);
Datum
compensation_uplift_state_out(PG_FUNCTION_ARGS)
{
	return AggStateOut(&uplift_state_type, PG_GETARG_DATUM(0));
}

/* compensation.uplift_state_recv(internal) -> uplift_state: the flat form's bytes, checked */
PG_FUNCTION_INFO_V1(compensation_uplift_state_recv);
Datum
compensation_uplift_state_recv(PG_FUNCTION_ARGS)
{
	return AggStateReceive(&uplift_state_type, (StringInfo) PG_GETARG_POINTER(0));
}

/* compensation.uplift_state_send(uplift_state) -> bytea */
PG_FUNCTION_INFO_V1(compensation_uplift_state_send);
Datum
compensation_uplift_state_send(PG_FUNCTION_ARGS)
{
	return AggStateSend(&uplift_state_type, PG_GETARG_DATUM(0));
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
UpliftStatistics(FunctionCallInfo fcinfo, const UpliftState *state, Datum *values, bool *nulls)
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
 * compensation.uplift_final(uplift_state) -> uplift_result
 *		NULL when the aggregate saw no row at all.
 */
PG_FUNCTION_INFO_V1(compensation_uplift_final);
Datum
compensation_uplift_final(PG_FUNCTION_ARGS)
{
	Datum		values[UPLIFT_RESULT_NATTS];
	bool		nulls[UPLIFT_RESULT_NATTS];

	AggregateContextOrError(fcinfo, "uplift_final", "compensation.uplift()");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	memset(values, 0, sizeof(values));
	memset(nulls, true, sizeof(nulls));
	UpliftStatistics(fcinfo, AggStateForReading(fcinfo, 0, &uplift_state_type), values, nulls);
	PG_RETURN_DATUM(FormResultRow(fcinfo, values, nulls, UPLIFT_RESULT_NATTS));
}

/*
 * compensation.roi_final(uplift_state) -> roi_result
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
	const UpliftState *state;
	Datum		values[ROI_RESULT_NATTS];
	bool		nulls[ROI_RESULT_NATTS];
	Numeric		difference;
	Numeric		cost;
	Numeric		incremental = NULL;

	AggregateContextOrError(fcinfo, "roi_final", "compensation.roi()");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = AggStateForReading(fcinfo, 0, &uplift_state_type);
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
