/*-------------------------------------------------------------------------
 *
 * quarter.c
 *	  Calendar and fiscal quarters: compensation.quarter() and
 *	  compensation.quarter_range(), and the strict 'YYYY-Qn' parser that the
 *	  rest of the extension uses for quarter labels.
 *
 * A fiscal year starts on the first day of fiscal_start_month and is named by
 * the calendar year in which it starts: with fiscal_start_month = 4,
 * 2026-04-01 is in '2026-Q1' and 2027-03-31 in '2026-Q4'.  Quarters are
 * computed in the session's TimeZone, so a quarter starts at local midnight.
 *
 * This file holds no state and reads no tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "catalog/pg_type.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "compensation.h"

/* Labels have four-digit years, so that is the range we can name. */
#define MIN_QUARTER_YEAR 1
#define MAX_QUARTER_YEAR 9999

void
check_fiscal_start_month(int fiscal_start_month)
{
	if (fiscal_start_month < 1 || fiscal_start_month > 12)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fiscal_start_month must be between 1 and 12"),
				 errdetail("The value given was %d.", fiscal_start_month),
				 errhint("Use 1 for calendar quarters, or the month in which the fiscal year starts (4 for April).")));
}

/*
 * parse_quarter
 *		Parse exactly "YYYY-Qn" (year 0001..9999, n in 1..4).
 *
 * Returns false on anything else: no surrounding spaces, no lower-case 'q',
 * no other year widths.
 */
bool
parse_quarter(const char *text, FiscalQuarter *result)
{
	int			year = 0;

	if (strlen(text) != QUARTER_TEXT_LEN)
		return false;
	for (int i = 0; i < 4; i++)
	{
		if (text[i] < '0' || text[i] > '9')
			return false;
		year = year * 10 + (text[i] - '0');
	}
	if (text[4] != '-' || text[5] != 'Q' || text[6] < '1' || text[6] > '4')
		return false;
	if (year < MIN_QUARTER_YEAR)
		return false;
	result->fiscal_year = year;
	result->quarter = text[6] - '0';
	return true;
}

FiscalQuarter
parse_quarter_or_error(const char *text)
{
	FiscalQuarter result;

	if (!parse_quarter(text, &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid quarter: \"%s\"", text),
				 errdetail("A quarter is written YYYY-Qn: a four-digit year from 0001, a hyphen, a capital Q and a digit from 1 to 4."),
				 errhint("For example '2026-Q4'; compensation.quarter(now()) gives the current one.")));
	return result;
}

void
format_quarter(FiscalQuarter q, char *buf)
{
	snprintf(buf, QUARTER_TEXT_LEN + 1, "%04d-Q%d", q.fiscal_year, q.quarter);
}

FiscalQuarter
quarter_add(FiscalQuarter q, int quarters)
{
	int			index = q.fiscal_year * 4 + (q.quarter - 1) + quarters;
	FiscalQuarter result;

	result.fiscal_year = index / 4;
	result.quarter = index % 4 + 1;
	return result;
}

/*
 * quarter_of_timestamp
 *		The fiscal quarter containing ts, in the session's TimeZone.
 */
FiscalQuarter
quarter_of_timestamp(TimestampTz ts, int fiscal_start_month)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	int			months_into_year;
	FiscalQuarter result;

	check_fiscal_start_month(fiscal_start_month);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("an infinite timestamp has no quarter"),
				 errhint("Pass a finite timestamp.")));
	if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	/* tm_mon is 1..12; count months since the fiscal year began. */
	months_into_year = (tm.tm_mon - fiscal_start_month + 12) % 12;
	result.fiscal_year = tm.tm_mon >= fiscal_start_month ? tm.tm_year : tm.tm_year - 1;
	result.quarter = months_into_year / 3 + 1;

	if (result.fiscal_year < MIN_QUARTER_YEAR || result.fiscal_year > MAX_QUARTER_YEAR)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp is outside the years a quarter label can name"),
				 errdetail("Quarter labels have four-digit years, 0001 to 9999; this timestamp falls in fiscal year %d.",
						   result.fiscal_year),
				 errhint("Pass a timestamp between 0001 and 9999.")));
	return result;
}

/*
 * quarter_start
 *		Local midnight (session TimeZone) of the first day of quarter q.
 *
 * Where local midnight does not exist (a daylight-saving jump at 00:00),
 * PostgreSQL's usual rule applies: the time is read with the offset in force
 * before the jump, which lands on the first instant of the day.
 */
TimestampTz
quarter_start(FiscalQuarter q, int fiscal_start_month)
{
	struct pg_tm tm;
	int			month_index;
	int			tz;
	TimestampTz result;

	check_fiscal_start_month(fiscal_start_month);
	month_index = (fiscal_start_month - 1) + (q.quarter - 1) * 3;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = q.fiscal_year + month_index / 12;
	tm.tm_mon = month_index % 12 + 1;
	tm.tm_mday = 1;

	tz = DetermineTimeZoneOffset(&tm, session_timezone);
	if (tm2timestamp(&tm, 0, &tz, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

/*
 * compensation.quarter(ts timestamptz, fiscal_start_month integer) -> text
 *		The quarter label of ts: '2026-Q4'.  STRICT, so NULL in gives NULL.
 */
PG_FUNCTION_INFO_V1(compensation_quarter);
Datum
compensation_quarter(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
	int32		fiscal_start_month = PG_GETARG_INT32(1);
	char		label[QUARTER_TEXT_LEN + 1];

	format_quarter(quarter_of_timestamp(ts, fiscal_start_month), label);
	PG_RETURN_TEXT_P(cstring_to_text(label));
}

/*
 * compensation.quarter_range(quarter text, fiscal_start_month integer)
 *		-> tstzrange
 *		[first instant, first instant of the next quarter) in the session's
 *		TimeZone.  The label must be exactly 'YYYY-Qn'.
 */
PG_FUNCTION_INFO_V1(compensation_quarter_range);
Datum
compensation_quarter_range(PG_FUNCTION_ARGS)
{
	char	   *label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		fiscal_start_month = PG_GETARG_INT32(1);
	FiscalQuarter q = parse_quarter_or_error(label);
	TypeCacheEntry *typcache;
	RangeBound	lower;
	RangeBound	upper;

	typcache = lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO);

	lower.val = TimestampTzGetDatum(quarter_start(q, fiscal_start_month));
	lower.infinite = false;
	lower.inclusive = true;
	lower.lower = true;

	upper.val = TimestampTzGetDatum(quarter_start(quarter_add(q, 1), fiscal_start_month));
	upper.infinite = false;
	upper.inclusive = false;
	upper.lower = false;

	PG_RETURN_RANGE_P(make_range(typcache, &lower, &upper, false));
}

/*
 * compensation.quarter_add(quarter text, quarters integer) -> text
 *		The label n quarters later (earlier when negative): what roll_quarter
 *		and dashboards use to name the next and previous quarters.
 */
PG_FUNCTION_INFO_V1(compensation_quarter_add);
Datum
compensation_quarter_add(PG_FUNCTION_ARGS)
{
	char	   *label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		quarters = PG_GETARG_INT32(1);
	FiscalQuarter q = parse_quarter_or_error(label);
	int64		index = (int64) q.fiscal_year * 4 + (q.quarter - 1) + quarters;
	char		result[QUARTER_TEXT_LEN + 1];

	if (index < (int64) MIN_QUARTER_YEAR * 4 || index > (int64) MAX_QUARTER_YEAR * 4 + 3)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("quarter %s plus %d quarters is outside the years a quarter label can name",
						label, quarters),
				 errhint("Quarter labels have four-digit years, 0001 to 9999.")));
	format_quarter(quarter_add(q, quarters), result);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
