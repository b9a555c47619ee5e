/*-------------------------------------------------------------------------
 *
 * money.c
 *	  Exact money arithmetic, for the strategy engine and for SQL.
 *
 * Owns the conversions between amounts in a currency's major unit (numeric,
 * as users write them) and integer minor units (int64, as the extension
 * computes and stores them), the rounding rules (the engine rounds a
 * computed amount half-up, once, at the end; an amount a user writes, such
 * as a budget, is converted exactly or refused), and the currency-code
 * lookup: in a compiled spec's copy of the ISO 4217 table, or in this
 * backend's copy of compensation.currency.  The SQL functions
 * to_minor_units(), currency_exponent() and to_major_units() are this
 * file's entry points, so the views and PL/pgSQL code convert money with
 * the same code as the engine.  Built on PostgreSQL's numeric type: no
 * floating point touches money.
 *
 * The backend's copy of compensation.currency is read once and kept until
 * a relcache invalidation of the table (its statement trigger sends one at
 * commit, as for the strategy tables: see strategy_cache.c), so that a view
 * converting a million ledger rows reads the table once, not per row.
 *
 * Must not: round an amount a user gave, or read a table per row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

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

static int
compare_currency_entries(const void *a, const void *b)
{
	return strcmp(((const CurrencyEntry *) a)->code, ((const CurrencyEntry *) b)->code);
}

/*
 * The exponent of code (len bytes, not terminated) in a table sorted by
 * code, or -1.  Codes are exactly three bytes, compared as bytes: what
 * the SQL comparison of the char(3) key with a text did, so "usd" and
 * "USD " are unknown.
 */
static int
find_currency_exponent(const CurrencyEntry *entries, int nentries, const char *code, size_t len)
{
	char		key[4];
	const CurrencyEntry *entry;

	if (len != 3)
		return -1;
	memcpy(key, code, 3);
	key[3] = '\0';
	entry = bsearch(key, entries, nentries, sizeof(CurrencyEntry), compare_currency_code);
	return entry ? entry->exponent : -1;
}

/* The minor-unit exponent of an ISO 4217 code, or -1 when unknown. */
int
lookup_currency_exponent(StrategySpec *spec, const char *code)
{
	return find_currency_exponent(spec->currencies, spec->ncurrencies, code, strlen(code));
}

/* ---- this backend's copy of compensation.currency ------------------------ */

static MemoryContext currency_table_context = NULL;
static CurrencyEntry *currency_table = NULL;	/* sorted by code */
static int	currency_table_count = 0;
static bool currency_table_valid = false;
static Oid	currency_table_relid = InvalidOid;
static bool currency_callback_registered = false;

static void
currency_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == currency_table_relid)
	{
		currency_table_valid = false;
		/* dropped and created again (DROP EXTENSION), it has a new OID */
		currency_table_relid = InvalidOid;
	}
}

/*
 * Read compensation.currency into the backend's copy.  Read as pg_cron
 * reads its job table: a catalog snapshot (the latest committed rows and
 * this transaction's own), not the transaction's, so that a copy read
 * again after an invalidation in a REPEATABLE READ transaction is not an
 * old one kept past the change.  The table is reference data that every
 * role allowed to call the money functions may read.
 */
static void
load_currency_table(void)
{
	Relation	relation;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			allocated = 256;
	int			count = 0;
	CurrencyEntry *entries;

	if (!currency_callback_registered)
	{
		CacheRegisterRelcacheCallback(currency_relcache_callback, (Datum) 0);
		currency_callback_registered = true;
	}
	if (currency_table_context == NULL)
		currency_table_context = AllocSetContextCreate(CacheMemoryContext,
													   "compensation currency table",
													   ALLOCSET_SMALL_SIZES);
	if (!OidIsValid(currency_table_relid))
		currency_table_relid = get_relname_relid("currency",
												 get_namespace_oid("compensation", false));
	if (!OidIsValid(currency_table_relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table compensation.currency does not exist"),
				 errhint("The extension's objects must not be dropped or renamed.")));

	/* a failure halfway leaves the copy invalid: read again next time */
	currency_table_valid = false;
	MemoryContextReset(currency_table_context);
	currency_table = NULL;
	currency_table_count = 0;

	entries = MemoryContextAlloc(currency_table_context, sizeof(CurrencyEntry) * allocated);
	relation = table_open(currency_table_relid, AccessShareLock);
	/*
	 * Taking the lock took in pending invalidations, and the callback may
	 * have forgotten the OID: the rows read below are newer than those
	 * invalidations, and the table's OID must stay known for the next one.
	 */
	currency_table_relid = RelationGetRelid(relation);
	scan = systable_beginscan(relation, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		code_null;
		bool		exponent_null;
		Datum		code = heap_getattr(tuple, 1, RelationGetDescr(relation), &code_null);
		Datum		exponent = heap_getattr(tuple, 2, RelationGetDescr(relation), &exponent_null);
		char	   *code_text;

		if (code_null || exponent_null)
			elog(ERROR, "compensation.currency has a NULL code or minor_unit");
		if (count == allocated)
		{
			allocated *= 2;
			entries = repalloc(entries, sizeof(CurrencyEntry) * allocated);
		}
		code_text = TextDatumGetCString(code);
		strlcpy(entries[count].code, code_text, sizeof(entries[count].code));
		pfree(code_text);
		entries[count].exponent = DatumGetInt16(exponent);
		/* the table's CHECK holds it to 0..4; an array is indexed by it */
		if (entries[count].exponent < 0 || entries[count].exponent > MAX_CURRENCY_EXPONENT)
			elog(ERROR, "compensation.currency has minor_unit %d for %s",
				 entries[count].exponent, entries[count].code);
		count++;
	}
	systable_endscan(scan);
	table_close(relation, AccessShareLock);

	qsort(entries, count, sizeof(CurrencyEntry), compare_currency_entries);
	currency_table = entries;
	currency_table_count = count;
	currency_table_valid = true;
}

/*
 * currency_exponent_of
 *		The minor-unit exponent of a currency code (len bytes) from this
 *		backend's copy of compensation.currency, or -1 when unknown.
 */
int
currency_exponent_of(const char *code, size_t len)
{
	if (!currency_table_valid)
		load_currency_table();
	return find_currency_exponent(currency_table, currency_table_count, code, len);
}

/*
 * currency_table_copy
 *		This backend's copy of compensation.currency, sorted by code, copied
 *		into the current memory context; *count entries.
 */
CurrencyEntry *
currency_table_copy(int *count)
{
	CurrencyEntry *copy;

	if (!currency_table_valid)
		load_currency_table();
	copy = palloc(sizeof(CurrencyEntry) * Max(currency_table_count, 1));
	memcpy(copy, currency_table, sizeof(CurrencyEntry) * currency_table_count);
	*count = currency_table_count;
	return copy;
}

/* The unknown-currency error; currency NULL is printed as RAISE did. */
static void
unknown_currency_error(const char *currency)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown currency: \"%s\"", currency ? currency : "<NULL>"),
			 errdetail("Currencies are ISO 4217 codes in upper case, listed in compensation.currency."),
			 errhint("Use a code such as EUR, USD, BRL or JPY.")));
}

/*
 * currency_exponent_or_error
 *		The exponent of currency (a text, or NULL), or the unknown-currency
 *		error naming it.
 */
static int
currency_exponent_or_error(text *currency)
{
	int			exponent = -1;

	if (currency != NULL)
		exponent = currency_exponent_of(VARDATA_ANY(currency), VARSIZE_ANY_EXHDR(currency));
	if (exponent < 0)
		unknown_currency_error(currency ? text_to_cstring(currency) : NULL);
	return exponent;
}

static char *
numeric_text(Numeric value)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value)));
}

/*
 * amount_to_minor_units_exact
 *		amount (major units of a currency of the given exponent) in integer
 *		minor units, exactly, or an error naming param_name: an amount that
 *		is NULL, not finite, negative, has more decimals than the currency,
 *		or is 2^63 minor units or more.  Never rounds: an amount a user
 *		writes (a budget) is either exact or refused.
 */
int64
amount_to_minor_units_exact(Numeric amount, const char *currency, int exponent,
							const char *param_name)
{
	int64		minor;
	Numeric		rounded;

	Assert(exponent >= 0 && exponent <= MAX_CURRENCY_EXPONENT);
	if (amount == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", param_name),
				 errhint("Give an amount in the major unit of the currency, such as 25.00.")));
	if (numeric_is_nan(amount) || numeric_is_inf(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number, not %s", param_name, numeric_text(amount)),
				 errhint("Give an amount in the major unit of the currency, such as 25.00.")));
	if (numeric_is_negative(amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", param_name),
				 errdetail("The value given was %s %s.", numeric_text(amount), currency),
				 errhint("Compensation amounts and budgets are zero or more.")));
	/* more decimals than the currency: rounding to them changes it */
	rounded = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(amount),
												  Int32GetDatum(exponent)));
	if (numeric_compare(rounded, amount) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has more decimals than %s has minor units", param_name, currency),
				 errdetail("%s %s has %d decimal places; %s has %d.", numeric_text(amount), currency,
						   DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(amount))),
						   currency, exponent),
				 errhint("Round the amount to %d decimal places.", exponent)));
	/* a whole number of minor units now: rounding it changes nothing */
	if (!numeric_to_minor_units_half_up(numeric_times_power_of_ten(amount, exponent), &minor))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is too large", param_name),
				 errdetail("%s %s is more than 2^63-1 minor units.", numeric_text(amount), currency),
				 errhint("Amounts are stored as 64-bit integers of minor units.")));
	return minor;
}

/* ---- SQL ----------------------------------------------------------------- */

/*
 * to_minor_units(amount, currency, param_name): amount in integer minor
 * units of currency, exactly; param_name names the argument or JSON path
 * in the errors.  Not strict: a NULL amount is an error that names it.
 */
PG_FUNCTION_INFO_V1(compensation_to_minor_units);
Datum
compensation_to_minor_units(PG_FUNCTION_ARGS)
{
	Numeric		amount = PG_ARGISNULL(0) ? NULL : PG_GETARG_NUMERIC(0);
	text	   *currency = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	char	   *param_name = PG_ARGISNULL(2) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	int			exponent;

	if (amount == NULL)
		(void) amount_to_minor_units_exact(NULL, NULL, 0, param_name);
	exponent = currency_exponent_or_error(currency);
	PG_RETURN_INT64(amount_to_minor_units_exact(amount, text_to_cstring(currency), exponent,
												param_name));
}

/* currency_exponent(currency): the minor unit of a code; unknown: an error */
PG_FUNCTION_INFO_V1(compensation_currency_exponent);
Datum
compensation_currency_exponent(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT16((int16) currency_exponent_or_error(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0)));
}

/*
 * to_major_units(minor, currency): integer minor units as an amount with
 * exactly the currency's decimals (the division evaluate.c's amount() does
 * too); NULL for a code compensation.currency does not list, as the SQL
 * function it replaces returned no row.
 */
PG_FUNCTION_INFO_V1(compensation_to_major_units);
Datum
compensation_to_major_units(PG_FUNCTION_ARGS)
{
	int64		minor = PG_GETARG_INT64(0);
	text	   *currency = PG_GETARG_TEXT_PP(1);
	int			exponent = currency_exponent_of(VARDATA_ANY(currency), VARSIZE_ANY_EXHDR(currency));

	if (exponent < 0)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(int64_div_fast_to_numeric(minor, exponent));
}
