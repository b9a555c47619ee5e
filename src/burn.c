/*-------------------------------------------------------------------------
 *
 * burn.c
 *	  compensation.burn(amount, at, budget, quarter [, as_of]): the budget
 *	  burn of a group of grants, and so of budget_status(), which is burn()
 *	  per budget over the ledger.
 *
 * Owns burn()'s transition state, its SQL type compensation.burn_state
 * (flat form, text and binary I/O; an expanded object while the aggregate
 * runs, see numeric_state.c), and its transition, combine and final
 * functions.  Per row it adds a few comparisons to
 * numeric_avg_accum's work and allocates nothing; numeric arithmetic of
 * its own happens once per group, in the final function.  Reads no tables.
 * The SQL objects are in src/sql/60_analysis.sql.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "analysis.h"
#include "compensation.h"

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

/* ====================================================================
 * burn(amount, at, budget, quarter [, as_of]) -> burn_result
 * ==================================================================== */

/*
 * The state of one burn() group.  budget, quarter and as_of are the
 * group's: the first non-NULL value is kept and every later row must agree.
 * While the aggregate runs it lives in its own memory context (an expanded
 * compensation.burn_state); budget is allocated there.
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
	bool		as_of_is_now;	/* the 4-argument burn(): as_of is the
								 * transaction's start, of whichever process
								 * runs the final function */
} BurnState;

#define BURN_FLAG_SPENT		0x01
#define BURN_FLAG_BUDGET	0x02
#define BURN_FLAG_QUARTER	0x04
#define BURN_FLAG_AS_OF		0x08
#define BURN_FLAG_AS_OF_IS_NOW	0x10
#define BURN_FLAGS_ALL		0x1F

static const AggStateType burn_state_type;

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
BurnNoteBudget(BurnState *state, Datum budget_datum, MemoryContext state_context)
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
		MemoryContext oldcontext = MemoryContextSwitchTo(state_context);

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
 * compensation.burn_transition(state burn_state, amount numeric,
 *		at timestamptz, budget numeric, quarter text [, as_of timestamptz])
 *		-> burn_state
 *		Adds one row to a burn() group, in place.  Not strict: it creates the
 *		state on the first row, as numeric_avg_accum does.  Without as_of (the
 *		4-argument aggregate) as_of is the transaction's start, which
 *		parallel workers share with their leader.  Citus workers run in
 *		transactions of their own, started a little later: their states say
 *		"now" rather than a time, combine without comparing them, and the
 *		final function takes the coordinator's.
 */
PG_FUNCTION_INFO_V1(compensation_burn_transition);
Datum
compensation_burn_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, "burn_transition", "compensation.burn()");
	MemoryContext state_context;
	Datum		result;
	BurnState  *state = AggStateForUpdate(fcinfo, 0, &burn_state_type, aggcontext, &state_context, &result);
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
	{
		as_of = GetCurrentTransactionStartTimestamp();
		state->as_of_is_now = true;
	}

	if (state->as_of_is_now)
	{
		state->as_of = as_of;
		state->has_as_of = true;
	}
	else
		BurnNoteAsOf(state, as_of);
	if (!PG_ARGISNULL(3))
		BurnNoteBudget(state, PG_GETARG_DATUM(3), state_context);
	if (!PG_ARGISNULL(4))
		BurnNoteQuarter(state, PG_GETARG_TEXT_PP(4));

	/*
	 * A NULL amount is no grant, but its row still names the budget and
	 * quarter (a budget LEFT JOINed to no grants reports spent 0).  An amount
	 * dated after as_of was not yet spent as of as_of.
	 */
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(result);
	if (!PG_ARGISNULL(2) && PG_GETARG_TIMESTAMPTZ(2) > as_of)
		PG_RETURN_DATUM(result);

	state->spent = NumericStateAdd(numeric_avg_accum, fcinfo, state->spent, PG_GETARG_DATUM(1));
	state->grants++;
	PG_RETURN_DATUM(result);
}

/*
 * compensation.burn_combine(burn_state, burn_state) -> burn_state
 *		Merges two partial burn() states; either may be NULL.  The first is
 *		updated in place when it is this aggregate's own (expanded) state,
 *		else copied into a new one; the second is only read.
 */
PG_FUNCTION_INFO_V1(compensation_burn_combine);
Datum
compensation_burn_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggregateContextOrError(fcinfo, "burn_combine", "compensation.burn()");
	MemoryContext state_context;
	Datum		result;
	const BurnState *from;
	BurnState  *into;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	from = AggStateForReading(fcinfo, 1, &burn_state_type);
	into = AggStateForUpdate(fcinfo, 0, &burn_state_type, aggcontext, &state_context, &result);

	if (from->as_of_is_now || into->as_of_is_now)
	{
		if (!into->has_as_of)
			into->as_of = from->as_of;
		into->as_of_is_now = true;
		into->has_as_of = true;
	}
	else if (from->has_as_of)
		BurnNoteAsOf(into, from->as_of);
	if (from->budget != NULL)
		BurnNoteBudget(into, NumericGetDatum(from->budget), state_context);
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
	PG_RETURN_DATUM(result);
}

/*
 * The flat form of a burn_state (after the version byte): flags byte,
 * grants (int64), then what the flags say is there: as_of (int64), the
 * quarter label (7 bytes), the budget (numeric_send format, length first),
 * the spent state (numeric_avg_serialize format, length first).
 */
static void
BurnStateWrite(StringInfo buf, void *state_pointer, FunctionCallInfo aggcall)
{
	BurnState  *state = (BurnState *) state_pointer;
	uint8		flags = 0;

	if (state->spent != NULL)
		flags |= BURN_FLAG_SPENT;
	if (state->budget != NULL)
		flags |= BURN_FLAG_BUDGET;
	if (state->has_quarter)
		flags |= BURN_FLAG_QUARTER;
	if (state->has_as_of)
		flags |= BURN_FLAG_AS_OF;
	if (state->as_of_is_now)
		flags |= BURN_FLAG_AS_OF_IS_NOW;

	pq_sendbyte(buf, flags);
	pq_sendint64(buf, state->grants);
	if (state->has_as_of)
		pq_sendint64(buf, state->as_of);
	if (state->has_quarter)
		pq_sendbytes(buf, state->quarter_label, QUARTER_TEXT_LEN);
	if (state->budget != NULL)
	{
		bytea	   *budget = DatumGetByteaPP(DirectFunctionCall1(numeric_send,
																 NumericGetDatum(state->budget)));

		pq_sendint32(buf, VARSIZE_ANY_EXHDR(budget));
		pq_sendbytes(buf, VARDATA_ANY(budget), VARSIZE_ANY_EXHDR(budget));
	}
	if (state->spent != NULL)
		SendNumericState(buf, numeric_avg_serialize, aggcall, state->spent);
}

/*
 * The inverse of BurnStateWrite, into a zeroed BurnState in the current
 * memory context.  Every field is checked: unknown flags, a negative
 * count, a malformed quarter, a budget that numeric would not accept,
 * truncated or trailing bytes are errors.
 */
static void
BurnStateRead(StringInfo buf, void *state_pointer, FunctionCallInfo aggcall)
{
	BurnState  *state = (BurnState *) state_pointer;
	uint8		flags;

	flags = pq_getmsgbyte(buf);
	if (flags & ~BURN_FLAGS_ALL)
		InvalidState("compensation.burn()", "unknown flags");
	state->grants = pq_getmsgint64(buf);
	if (state->grants < 0)
		InvalidState("compensation.burn()", "negative count of grants");
	if ((state->grants > 0) != ((flags & BURN_FLAG_SPENT) != 0))
		InvalidState("compensation.burn()", "the count of grants does not match the amounts");
	if (flags & BURN_FLAG_AS_OF)
	{
		state->as_of = pq_getmsgint64(buf);
		if (!TIMESTAMP_NOT_FINITE(state->as_of) && !IS_VALID_TIMESTAMP(state->as_of))
			InvalidState("compensation.burn()", "as_of out of range");
		state->has_as_of = true;
	}
	if (flags & BURN_FLAG_AS_OF_IS_NOW)
	{
		if (!(flags & BURN_FLAG_AS_OF))
			InvalidState("compensation.burn()", "\"now\" without a time");
		state->as_of_is_now = true;
	}
	if (flags & BURN_FLAG_QUARTER)
	{
		const char *label = pq_getmsgbytes(buf, QUARTER_TEXT_LEN);

		memcpy(state->quarter_label, label, QUARTER_TEXT_LEN);
		state->quarter_label[QUARTER_TEXT_LEN] = '\0';
		if (!parse_quarter(state->quarter_label, &state->quarter))
			InvalidState("compensation.burn()", "malformed quarter");
		state->has_quarter = true;
	}
	if (flags & BURN_FLAG_BUDGET)
	{
		int32		length = pq_getmsgint(buf, 4);
		StringInfoData budget_buf;

		if (length < 0 || length > buf->len - buf->cursor)
			InvalidState("compensation.burn()", "truncated budget");
		initStringInfo(&budget_buf);
		appendBinaryStringInfo(&budget_buf, pq_getmsgbytes(buf, length), length);
		state->budget = DatumGetNumeric(DirectFunctionCall3(numeric_recv,
															PointerGetDatum(&budget_buf),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
		if (budget_buf.cursor != budget_buf.len)
			InvalidState("compensation.burn()", "trailing bytes after the budget");
		BurnCheckBudget(state->budget);
	}
	if (flags & BURN_FLAG_SPENT)
		state->spent = ReceiveNumericState(buf, numeric_avg_deserialize, aggcall);
}

static const AggStateType burn_state_type = {
	"compensation.burn_state",
	"compensation.burn()",
	sizeof(BurnState),
	BurnStateWrite,
	BurnStateRead
};

/* compensation.burn_state_in(cstring) -> burn_state: hexadecimal, every byte checked */
PG_FUNCTION_INFO_V1(compensation_burn_state_in);
Datum
compensation_burn_state_in(PG_FUNCTION_ARGS)
{
	return AggStateIn(&burn_state_type, PG_GETARG_CSTRING(0));
}

/* compensation.burn_state_out(burn_state) -> cstring */
PG_FUNCTION_INFO_V1(compensation_burn_state_out);
Datum
compensation_burn_state_out(PG_FUNCTION_ARGS)
{
	return AggStateOut(&burn_state_type, PG_GETARG_DATUM(0));
}

/* compensation.burn_state_recv(internal) -> burn_state: the flat form's bytes, checked */
PG_FUNCTION_INFO_V1(compensation_burn_state_recv);
Datum
compensation_burn_state_recv(PG_FUNCTION_ARGS)
{
	return AggStateReceive(&burn_state_type, (StringInfo) PG_GETARG_POINTER(0));
}

/* compensation.burn_state_send(burn_state) -> bytea */
PG_FUNCTION_INFO_V1(compensation_burn_state_send);
Datum
compensation_burn_state_send(PG_FUNCTION_ARGS)
{
	return AggStateSend(&burn_state_type, PG_GETARG_DATUM(0));
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
 * compensation.burn_final(burn_state) -> burn_result
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
	const BurnState *state;
	Datum		values[BURN_RESULT_NATTS];
	bool		nulls[BURN_RESULT_NATTS];
	Numeric		spent;
	Numeric		budget;
	bool		exhausted = false;
	Numeric		spent_times_quarter = NULL;
	Numeric		budget_times_elapsed = NULL;
	TimestampTz as_of;

	AggregateContextOrError(fcinfo, "burn_final", "compensation.burn()");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* no row at all: like sum() */
	state = AggStateForReading(fcinfo, 0, &burn_state_type);
	as_of = state->as_of_is_now ? GetCurrentTransactionStartTimestamp() : state->as_of;
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
		TimestampTz clamped = Min(Max(as_of, start), end);
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
		values[BURN_PROJECTED_EXHAUSTION] = TimestampTzGetDatum(as_of);
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
