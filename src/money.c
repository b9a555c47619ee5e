/*-------------------------------------------------------------------------
 *
 * money.c
 *	  Exact money arithmetic for the strategy engine.
 *
 * Owns the conversions between amounts in a currency's major unit (numeric,
 * as users write them) and integer minor units (int64, as the extension
 * computes and stores them), the single rounding rule (half-up, once, at
 * the end), and the currency-code lookup in a spec's copy of the ISO 4217
 * table.  Built on PostgreSQL's numeric type: no floating point touches
 * money.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "strategy.h"

static const int64 powers_of_ten[] = {1, 10, 100, 1000, 10000};

int
numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

bool
numeric_is_negative(Numeric value)
{
	static Numeric zero = NULL;

	if (zero == NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(TopMemoryContext);

		zero = int64_to_numeric(0);
		MemoryContextSwitchTo(oldcontext);
	}
	return numeric_compare(value, zero) < 0;
}

/* a * b exactly, or NULL when the product overflows numeric itself. */
Numeric
numeric_multiply_or_null(Numeric a, Numeric b)
{
	bool		overflow = false;
	Numeric		product = numeric_mul_opt_error(a, b, &overflow);

	return overflow ? NULL : product;
}

/* value * 10^exponent, exactly; NULL when it overflows numeric. */
Numeric
numeric_times_power_of_ten(Numeric value, int exponent)
{
	Assert(exponent >= 0 && exponent <= MAX_CURRENCY_EXPONENT);
	if (exponent == 0)
		return value;
	return numeric_multiply_or_null(value, int64_to_numeric(powers_of_ten[exponent]));
}

/*
 * numeric_to_minor_units_half_up
 *		Round a non-negative amount of minor units half-up to an integer.
 *		Returns false when it does not fit in int64 (or is not finite).
 */
bool
numeric_to_minor_units_half_up(Numeric value, int64 *result)
{
	static Numeric int64_max = NULL;
	Numeric		rounded;

	if (value == NULL || numeric_is_nan(value) || numeric_is_inf(value))
		return false;
	/* numeric_round rounds half away from zero: half-up for amounts >= 0 */
	rounded = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(value),
												  Int32GetDatum(0)));
	if (int64_max == NULL)
	{
		MemoryContext oldcontext = MemoryContextSwitchTo(TopMemoryContext);

		int64_max = int64_to_numeric(PG_INT64_MAX);
		MemoryContextSwitchTo(oldcontext);
	}
	if (numeric_compare(rounded, int64_max) > 0)
		return false;
	*result = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(rounded)));
	return true;
}

static int
compare_currency_code(const void *key, const void *entry)
{
	return strcmp((const char *) key, ((const CurrencyEntry *) entry)->code);
}

/* The minor-unit exponent of an ISO 4217 code, or -1 when unknown. */
int
lookup_currency_exponent(StrategySpec *spec, const char *code)
{
	CurrencyEntry *entry;

	if (strlen(code) != 3)
		return -1;
	entry = bsearch(code, spec->currencies, spec->ncurrencies, sizeof(CurrencyEntry),
					compare_currency_code);
	return entry ? entry->exponent : -1;
}
