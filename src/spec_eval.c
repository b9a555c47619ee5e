/*-------------------------------------------------------------------------
 *
 * spec_eval.c
 *	  Evaluate a bound strategy over one deformed row.
 *
 * Owns the semantics of conditions (SQL three-valued logic: a comparison
 * with NULL is unknown, "not unknown" is unknown, a row is eligible only
 * when the rule is true), of "days" (floor of elapsed seconds / 86400), and
 * of amounts (exact, in minor units of the row's currency, rounded half-up
 * once, then clamped to min/max).  An eligible row whose amount cannot be
 * computed is not eligible, and the reason says why.
 *
 * Runs once per row: it must not allocate anything that outlives the row
 * (callers run it in a per-row memory context) and must not look anything
 * up in the catalogs.
 *
 * Two ways through each half, one meaning:
 *	- conditions: eligible() and amount() run the flat program that bind
 *	  compiled (ConditionProgram, strategy.h) in a loop; evaluate() and the
 *	  explaining paths walk the tree, because a reason needs every condition
 *	  that held, not the first one that decided.
 *	- percent and tiered amounts of an integer or numeric base are computed
 *	  in int64/int128 minor units (the base's digits read straight from its
 *	  value, one half-up rounding at the end), and in numeric when a number
 *	  does not fit or the row has no amount (the numeric path says why).
 *	  Assertion-enabled builds compute both and fail on any difference, so
 *	  the oracle tests check the fast path against numeric on every row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/numeric.h"

#include "strategy.h"

/*
 * Ordered so that "all" is the minimum of its children, "any" the maximum,
 * and "not" is TV_TRUE - value (unknown stays unknown).
 */
typedef enum TruthValue
{
	TV_FALSE = 0,
	TV_UNKNOWN = 1,
	TV_TRUE = 2
} TruthValue;

static TruthValue
compare_result(ConditionOp op, int cmp)
{
	switch (op)
	{
		case OP_EQ:
			return cmp == 0 ? TV_TRUE : TV_FALSE;
		case OP_NE:
			return cmp != 0 ? TV_TRUE : TV_FALSE;
		case OP_LT:
			return cmp < 0 ? TV_TRUE : TV_FALSE;
		case OP_LE:
			return cmp <= 0 ? TV_TRUE : TV_FALSE;
		case OP_GT:
			return cmp > 0 ? TV_TRUE : TV_FALSE;
		case OP_GE:
			return cmp >= 0 ? TV_TRUE : TV_FALSE;
		default:
			elog(ERROR, "unexpected operator %d in compare_result", (int) op);
	}
	pg_unreachable();
}

/* An integer-like value (COMPARE_INT64) as int64, in the type's order. */
static inline int64
int64_of(Oid typid, Datum value)
{
	switch (typid)
	{
		case BOOLOID:
			return DatumGetBool(value) ? 1 : 0;
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
		case DATEOID:
			return DatumGetInt32(value);
		default:				/* int8, timestamp, timestamptz */
			return DatumGetInt64(value);
	}
}

/* The same, for bind: the constants of a STEP_INT64 step. */
int64
datum_as_int64(Oid typid, Datum value)
{
	return int64_of(typid, value);
}

/*
 * condition_compare
 *		Order value against constant the way condition c compares them.
 *		COMPARE_BYTES orders by length, then bytes: not the collation's
 *		order, but equal exactly when the values are, which is all =, !=,
 *		in and not in ask (and bind sorts "in" lists with this same order).
 */
int
condition_compare(Condition *c, Datum value, Datum constant)
{
	switch (c->compare_method)
	{
		case COMPARE_INT64:
			{
				int64		a = int64_of(c->column.typid, value);
				int64		b = int64_of(c->column.typid, constant);

				return a < b ? -1 : a > b ? 1 : 0;
			}
		case COMPARE_BYTES:
			{
				struct varlena *a = (struct varlena *) DatumGetPointer(value);
				struct varlena *b = (struct varlena *) DatumGetPointer(constant);
				Size		alen;
				Size		blen;

				if (VARATT_IS_COMPRESSED(a) || VARATT_IS_EXTERNAL(a))
					a = pg_detoast_datum_packed(a);
				if (VARATT_IS_COMPRESSED(b) || VARATT_IS_EXTERNAL(b))
					b = pg_detoast_datum_packed(b);
				alen = VARSIZE_ANY_EXHDR(a);
				blen = VARSIZE_ANY_EXHDR(b);
				if (alen != blen)
					return alen < blen ? -1 : 1;
				return memcmp(VARDATA_ANY(a), VARDATA_ANY(b), alen);
			}
		case COMPARE_FMGR:
			break;
	}
	return DatumGetInt32(FunctionCall2Coll(&c->cmp_proc, c->column.collation, value, constant));
}

static bool
sorted_values_contain(Condition *c, Datum value)
{
	int			low = 0;
	int			high = c->nvalues - 1;

	while (low <= high)
	{
		int			middle = low + (high - low) / 2;
		int			cmp = condition_compare(c, value, c->bound_values[middle]);

		if (cmp == 0)
			return true;
		if (cmp < 0)
			high = middle - 1;
		else
			low = middle + 1;
	}
	return false;
}

static TruthValue
evaluate_column(Condition *c, Datum *values, bool *nulls)
{
	int			index = c->column.attindex;
	Datum		value = values[index];

	if (c->op == OP_IS_NULL)
		return nulls[index] ? TV_TRUE : TV_FALSE;
	if (c->op == OP_IS_NOT_NULL)
		return nulls[index] ? TV_FALSE : TV_TRUE;
	if (nulls[index])
		return TV_UNKNOWN;

	switch (c->op)
	{
		case OP_BETWEEN:
			return condition_compare(c, value, c->bound_values[0]) >= 0 &&
				condition_compare(c, value, c->bound_values[1]) <= 0 ? TV_TRUE : TV_FALSE;
		case OP_IN:
			return sorted_values_contain(c, value) ? TV_TRUE : TV_FALSE;
		case OP_NOT_IN:
			return sorted_values_contain(c, value) ? TV_FALSE : TV_TRUE;
		default:
			return compare_result(c->op, condition_compare(c, value, c->bound_values[0]));
	}
}

/* floor((to - from) / 1 day); unknown when either is NULL or infinite. */
static TruthValue
evaluate_days(Condition *c, Datum *values, bool *nulls)
{
	int			from_index = c->column.attindex;
	int			to_index = c->column_to.attindex;
	int64		from;
	int64		to;
	int64		elapsed;
	int64		days;

	if (nulls[from_index] || nulls[to_index])
		return TV_UNKNOWN;
	/* timestamp and timestamptz are both int64 microseconds */
	from = DatumGetInt64(values[from_index]);
	to = DatumGetInt64(values[to_index]);
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to) ||
		pg_sub_s64_overflow(to, from, &elapsed))
		return TV_UNKNOWN;
	days = elapsed / USECS_PER_DAY;
	if (elapsed % USECS_PER_DAY != 0 && elapsed < 0)
		days--;

	switch (c->op)
	{
		case OP_BETWEEN:
			return days >= c->bound_days[0] && days <= c->bound_days[1] ? TV_TRUE : TV_FALSE;
		case OP_IN:
		case OP_NOT_IN:
			{
				bool		found = false;

				for (int i = 0; i < c->nvalues && !found; i++)
					found = days == c->bound_days[i];
				return found == (c->op == OP_IN) ? TV_TRUE : TV_FALSE;
			}
		default:
			return compare_result(c->op, days < c->bound_days[0] ? -1 : days > c->bound_days[0] ? 1 : 0);
	}
}

/*
 * evaluate_condition
 *		With reasons == NULL, all/any stop at the first child that decides
 *		them; with reasons, every child is evaluated so that every condition
 *		that held is reported (leaves, and combinators that have a name).
 */
static TruthValue
evaluate_condition(Condition *c, Datum *values, bool *nulls, List **reasons)
{
	TruthValue	result;

	switch (c->kind)
	{
		case COND_COLUMN:
			result = evaluate_column(c, values, nulls);
			break;
		case COND_DAYS:
			result = evaluate_days(c, values, nulls);
			break;
		case COND_NOT:
			result = evaluate_condition(c->children[0], values, nulls, reasons);
			if (result != TV_UNKNOWN)
				result = result == TV_TRUE ? TV_FALSE : TV_TRUE;
			break;
		case COND_ALL:
		case COND_ANY:
			{
				TruthValue	decisive = c->kind == COND_ALL ? TV_FALSE : TV_TRUE;
				bool		any_unknown = false;

				result = c->kind == COND_ALL ? TV_TRUE : TV_FALSE;
				for (int i = 0; i < c->nchildren; i++)
				{
					TruthValue	child = evaluate_condition(c->children[i], values, nulls, reasons);

					if (child == decisive)
					{
						result = decisive;
						if (reasons == NULL)
							break;
					}
					else if (child == TV_UNKNOWN)
						any_unknown = true;
				}
				if (result != decisive && any_unknown)
					result = TV_UNKNOWN;
				break;
			}
		default:
			elog(ERROR, "unexpected condition kind %d", (int) c->kind);
	}

	if (reasons && result == TV_TRUE &&
		(c->name || c->kind == COND_COLUMN || c->kind == COND_DAYS || c->kind == COND_NOT))
		*reasons = lappend(*reasons, c->rendering);
	return result;
}

/* A STEP_INT64 leaf: as evaluate_column with COMPARE_INT64, inlined. */
static inline TruthValue
run_int64_step(ConditionStep *step, Datum *values, bool *nulls)
{
	int64		value;
	int64	   *k = step->constants;

	if (nulls[step->attindex])
		return TV_UNKNOWN;
	value = int64_of(step->typid, values[step->attindex]);
	switch (step->op)
	{
		case OP_EQ:
			return value == k[0] ? TV_TRUE : TV_FALSE;
		case OP_NE:
			return value != k[0] ? TV_TRUE : TV_FALSE;
		case OP_LT:
			return value < k[0] ? TV_TRUE : TV_FALSE;
		case OP_LE:
			return value <= k[0] ? TV_TRUE : TV_FALSE;
		case OP_GT:
			return value > k[0] ? TV_TRUE : TV_FALSE;
		case OP_GE:
			return value >= k[0] ? TV_TRUE : TV_FALSE;
		case OP_BETWEEN:
			return value >= k[0] && value <= k[1] ? TV_TRUE : TV_FALSE;
		case OP_IN:
		case OP_NOT_IN:
			{
				int			low = 0;
				int			high = step->nconstants - 1;
				bool		found = false;

				while (low <= high && !found)
				{
					int			middle = low + (high - low) / 2;

					if (k[middle] == value)
						found = true;
					else if (k[middle] < value)
						low = middle + 1;
					else
						high = middle - 1;
				}
				return found == (step->op == OP_IN) ? TV_TRUE : TV_FALSE;
			}
		default:
			elog(ERROR, "unexpected operator %d in an int64 step", (int) step->op);
	}
	pg_unreachable();
}

/*
 * run_condition_program
 *		The truth value of spec->when for one row, from its flat program
 *		(see ConditionProgram in strategy.h): the same value as
 *		evaluate_condition without reasons, stopping at the same children.
 */
static TruthValue
run_condition_program(ConditionProgram *program, Datum *values, bool *nulls)
{
	TruthValue	local[32];
	TruthValue *acc = local;
	TruthValue	value = TV_UNKNOWN;
	ConditionStep *steps = program->steps;
	int			nsteps = program->nsteps;
	int			pc = 0;

	/* deeper nesting than any hand-written rule: per-row memory */
	if (program->max_depth > lengthof(local))
		acc = palloc(sizeof(TruthValue) * program->max_depth);

	while (pc < nsteps)
	{
		ConditionStep *step = &steps[pc++];

		switch (step->kind)
		{
			case STEP_INT64:
				value = run_int64_step(step, values, nulls);
				break;
			case STEP_NULL_TEST:
				value = nulls[step->attindex] == (step->op == OP_IS_NULL) ? TV_TRUE : TV_FALSE;
				break;
			case STEP_CONDITION:
				value = step->condition->kind == COND_DAYS
					? evaluate_days(step->condition, values, nulls)
					: evaluate_column(step->condition, values, nulls);
				break;
			case STEP_ALL_BEGIN:
				acc[step->depth] = TV_TRUE;
				break;
			case STEP_ANY_BEGIN:
				acc[step->depth] = TV_FALSE;
				break;
			case STEP_ALL_NEXT:
				if (value == TV_FALSE)
					pc = step->jump;
				else
					acc[step->depth] = Min(acc[step->depth], value);
				break;
			case STEP_ANY_NEXT:
				if (value == TV_TRUE)
					pc = step->jump;
				else
					acc[step->depth] = Max(acc[step->depth], value);
				break;
			case STEP_END:
				value = acc[step->depth];
				break;
			case STEP_NOT:
				value = TV_TRUE - value;
				break;
		}
	}
	return value;
}

/* A numeric column value as Numeric; false when it is not a finite number. */
static bool
base_value(AmountRule *rule, Datum datum, Numeric *result)
{
	switch (rule->base_typid)
	{
		case NUMERICOID:
			*result = DatumGetNumeric(datum);
			break;
		case INT2OID:
			*result = int64_to_numeric(DatumGetInt16(datum));
			break;
		case INT4OID:
			*result = int64_to_numeric(DatumGetInt32(datum));
			break;
		case INT8OID:
			*result = int64_to_numeric(DatumGetInt64(datum));
			break;
		case FLOAT4OID:
			if (isnan(DatumGetFloat4(datum)) || isinf(DatumGetFloat4(datum)))
				return false;
			*result = DatumGetNumeric(DirectFunctionCall1(float4_numeric, datum));
			break;
		case FLOAT8OID:
			if (isnan(DatumGetFloat8(datum)) || isinf(DatumGetFloat8(datum)))
				return false;
			*result = DatumGetNumeric(DirectFunctionCall1(float8_numeric, datum));
			break;
		default:
			elog(ERROR, "unexpected base column type %u", rule->base_typid);
	}
	return !numeric_is_nan(*result) && !numeric_is_inf(*result);
}

static int
compare_segment_key(const void *key, const void *entry)
{
	return strcmp((const char *) key, *(char *const *) entry);
}

/*
 * currency_code
 *		The row's currency code as text.  Returns spec->last_currency itself
 *		when it is the same code as the previous row's: rows mostly repeat a
 *		handful of currencies, and the bytes of a text, varchar or char
 *		value are what its output function would return, so the common case
 *		costs a comparison of at most three bytes.
 */
static char *
currency_code(StrategySpec *spec, Datum value)
{
	Oid			typid = spec->key_currency.typid;

	if (typid == TEXTOID || typid == VARCHAROID || typid == BPCHAROID)
	{
		struct varlena *code = (struct varlena *) DatumGetPointer(value);
		Size		len;

		if (VARATT_IS_COMPRESSED(code) || VARATT_IS_EXTERNAL(code))
			code = pg_detoast_datum_packed(code);
		len = VARSIZE_ANY_EXHDR(code);
		if (len > 0 && len == strlen(spec->last_currency) &&
			memcmp(VARDATA_ANY(code), spec->last_currency, len) == 0)
			return spec->last_currency;
		return pnstrdup(VARDATA_ANY(code), len);
	}
	return OutputFunctionCall(&spec->key_currency.output, value);
}

/*
 * The segment of the row: the index of its multiplier in the rule's sorted
 * keys, or -1 for the default (no key matched, or NULL).
 */
static int
segment_index(AmountRule *rule, Datum *values, bool *nulls)
{
	int			index = rule->segment.attindex;
	char	   *segment;
	char	  **found;

	if (nulls[index])
		return -1;
	segment = OutputFunctionCall(&rule->segment.output, values[index]);
	found = bsearch(segment, rule->segment_keys, rule->nsegments,
					sizeof(char *), compare_segment_key);
	return found ? (int) (found - rule->segment_keys) : -1;
}

/*
 * numeric_amount
 *		The amount of a row in minor units, computed in numeric: *minor, or
 *		*too_large when it is beyond 2^63-1 minor units.  Returns the reason
 *		when the row has no amount.
 */
static const char *
numeric_amount(AmountRule *rule, int exponent, Datum *values, bool *nulls,
			   int segment, int64 *minor, bool *too_large)
{
	Numeric		base = NULL;
	Numeric		raw = NULL;

	*too_large = false;
	if (rule->has_base)
	{
		if (!base_value(rule, values[rule->base.attindex], &base))
			return psprintf("no amount: %s is not a finite number", quote_identifier(rule->base.name));
		if (numeric_is_negative(base) && rule->kind == AMOUNT_PERCENT)
			return psprintf("no amount: %s is negative", quote_identifier(rule->base.name));
	}

	switch (rule->kind)
	{
		case AMOUNT_FIXED:
			raw = rule->fixed_minor[exponent];
			break;
		case AMOUNT_PERCENT:
			raw = numeric_multiply_or_null(base, rule->rate_minor[exponent]);
			break;
		case AMOUNT_TIERED:
			{
				AmountTier *tier = NULL;

				for (int t = 0; t < rule->ntiers && tier == NULL; t++)
					if ((rule->tiers[t].from == NULL || numeric_compare(base, rule->tiers[t].from) >= 0) &&
						(rule->tiers[t].to == NULL || numeric_compare(base, rule->tiers[t].to) < 0))
						tier = &rule->tiers[t];
				if (tier == NULL)
					return psprintf("no amount: no tier for %s = %s",
									quote_identifier(rule->base.name), numeric_normalize(base));
				if (tier->fixed)
					raw = tier->fixed_minor[exponent];
				else
				{
					Numeric		scaled = numeric_times_power_of_ten(base, exponent);

					raw = scaled ? numeric_multiply_or_null(scaled, tier->rate) : NULL;
				}
				break;
			}
	}

	if (rule->has_segment && raw != NULL)
		raw = numeric_multiply_or_null(raw, segment < 0 ? rule->segment_default
									   : rule->segment_multipliers[segment]);

	/* raw is NULL when a product overflowed numeric: too large, like below */
	if (raw != NULL && numeric_is_negative(raw))
		return pstrdup("no amount: the computed amount is negative");
	if (!numeric_to_minor_units_half_up(raw, minor))
		*too_large = true;
	return NULL;
}

/*
 * The on-disk layout of a numeric value (private to numeric.c): a 2-byte
 * header, or a 4-byte one (sign and scale, then the weight), then base-10000
 * digits, most significant first.  It cannot change without breaking
 * pg_upgrade, which keeps tables' numeric values as they are.
 */
#define NUMERIC_SIGN_MASK	0xC000
#define NUMERIC_NEG			0x4000
#define NUMERIC_SHORT		0x8000
#define NUMERIC_SPECIAL		0xC000
#define NUMERIC_SHORT_SIGN_MASK			0x2000
#define NUMERIC_SHORT_WEIGHT_SIGN_MASK	0x0040
#define NUMERIC_SHORT_WEIGHT_MASK		0x003F
#define NBASE				10000
#define DEC_DIGITS			4

/* The largest base scale the fast path takes: tiers compare it in int128. */
#define MAX_EXACT_BASE_SCALE 16

/*
 * numeric_datum_exact
 *		A numeric value as coefficient / 10^scale, read from its digits
 *		without converting it; false when it is not finite, is compressed or
 *		stored out of line, or needs more than int64 or MAX_EXACT_BASE_SCALE.
 */
static bool
numeric_datum_exact(Datum datum, int64 *coefficient, int *scale)
{
	struct varlena *value = (struct varlena *) DatumGetPointer(datum);
	const char *data;
	const char *digits;
	Size		len;
	uint16		header;
	bool		negative;
	int			weight;
	int			ndigits;
	int			exponent;
	int64		result = 0;

	if (VARATT_IS_COMPRESSED(value) || VARATT_IS_EXTERNAL(value))
		return false;
	data = VARDATA_ANY(value);
	len = VARSIZE_ANY_EXHDR(value);
	if (len < sizeof(uint16))
		return false;
	/* a 1-byte varlena header leaves the fields unaligned */
	memcpy(&header, data, sizeof(uint16));
	switch (header & NUMERIC_SIGN_MASK)
	{
		case NUMERIC_SPECIAL:
			return false;
		case NUMERIC_SHORT:
			negative = (header & NUMERIC_SHORT_SIGN_MASK) != 0;
			weight = ((header & NUMERIC_SHORT_WEIGHT_SIGN_MASK) ? ~NUMERIC_SHORT_WEIGHT_MASK : 0) |
				(header & NUMERIC_SHORT_WEIGHT_MASK);
			digits = data + sizeof(uint16);
			len -= sizeof(uint16);
			break;
		default:
			{
				int16		long_weight;

				if (len < sizeof(uint16) + sizeof(int16))
					return false;
				negative = (header & NUMERIC_SIGN_MASK) == NUMERIC_NEG;
				memcpy(&long_weight, data + sizeof(uint16), sizeof(int16));
				weight = long_weight;
				digits = data + sizeof(uint16) + sizeof(int16);
				len -= sizeof(uint16) + sizeof(int16);
				break;
			}
	}

	ndigits = (int) (len / sizeof(int16));
	for (int i = 0; i < ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, digits + i * sizeof(int16), sizeof(int16));
		if (digit < 0 || digit >= NBASE || result > (PG_INT64_MAX - digit) / NBASE)
			return false;
		result = result * NBASE + digit;
	}

	/* the value is result * NBASE^exponent */
	exponent = ndigits == 0 ? 0 : weight - ndigits + 1;
	*scale = 0;
	for (; exponent > 0; exponent--)
	{
		if (result > PG_INT64_MAX / NBASE)
			return false;
		result *= NBASE;
	}
	if (exponent < 0)
	{
		if (-exponent * DEC_DIGITS > MAX_EXACT_BASE_SCALE)
			return false;
		*scale = -exponent * DEC_DIGITS;
	}
	*coefficient = negative ? -result : result;
	return true;
}

#ifdef HAVE_INT128

/* 10^k for k in 0..38: every power of ten an int128 holds. */
static int128
power_of_ten_128(int k)
{
	static int128 powers[39];

	Assert(k >= 0 && k < lengthof(powers));
	if (powers[0] == 0)
	{
		powers[0] = 1;
		for (int i = 1; i < lengthof(powers); i++)
			powers[i] = powers[i - 1] * 10;
	}
	return powers[k];
}

/*
 * The sign of base / 10^base_scale - bound; both scales are at most 18 and
 * both coefficients int64, so the cross products fit in int128.
 */
static int
exact_compare(int64 base, int base_scale, ExactDecimal bound)
{
	int128		left = (int128) base * power_of_ten_128(bound.scale);
	int128		right = (int128) bound.coefficient * power_of_ten_128(base_scale);

	return left < right ? -1 : left > right ? 1 : 0;
}

/*
 * exact_amount
 *		The fast path of numeric_amount, for the rows that have an amount:
 *		the same exact product, in int64/int128 instead of numeric, rounded
 *		half-up once.  Returns false, having decided nothing, when a number
 *		does not fit or the row has no amount: numeric_amount then decides,
 *		and says why.
 */
static bool
exact_amount(AmountRule *rule, int exponent, Datum base_datum, int segment,
			 int64 *minor, bool *too_large)
{
	int64		base;
	int			base_scale;
	ExactDecimal factor;
	bool		times_base = true;
	int128		product;
	int			scale;
	int128		rounded;

	switch (rule->base_typid)
	{
		case INT2OID:
			base = DatumGetInt16(base_datum);
			base_scale = 0;
			break;
		case INT4OID:
			base = DatumGetInt32(base_datum);
			base_scale = 0;
			break;
		case INT8OID:
			base = DatumGetInt64(base_datum);
			base_scale = 0;
			break;
		default:
			if (!numeric_datum_exact(base_datum, &base, &base_scale))
				return false;
			break;
	}

	if (rule->kind == AMOUNT_PERCENT)
	{
		if (base < 0)
			return false;
		factor = rule->rate_minor_exact[exponent];
	}
	else
	{
		AmountTier *tier = NULL;

		for (int t = 0; t < rule->ntiers && tier == NULL; t++)
		{
			AmountTier *candidate = &rule->tiers[t];

			if (!candidate->from_exact.fits || !candidate->to_exact.fits)
				return false;
			if ((candidate->from == NULL || exact_compare(base, base_scale, candidate->from_exact) >= 0) &&
				(candidate->to == NULL || exact_compare(base, base_scale, candidate->to_exact) < 0))
				tier = candidate;
		}
		if (tier == NULL)
			return false;
		times_base = tier->fixed == NULL;
		factor = times_base ? tier->rate_minor_exact[exponent] : tier->fixed_minor_exact[exponent];
	}
	if (!factor.fits)
		return false;

	/* both factors are below 2^63: the product is below 2^126 */
	product = times_base ? (int128) base * factor.coefficient : (int128) factor.coefficient;
	scale = (times_base ? base_scale : 0) + factor.scale;
	if (rule->has_segment)
	{
		ExactDecimal multiplier = segment < 0 ? rule->segment_default_exact
			: rule->segment_multipliers_exact[segment];

		if (!multiplier.fits || product > PG_INT64_MAX || product < PG_INT64_MIN)
			return false;
		product *= multiplier.coefficient;
		scale += multiplier.scale;
	}
	if (product < 0)
		return false;

	/* half-up: floor(product / 10^scale + 1/2), with 10^scale even */
	if (scale == 0)
		rounded = product;
	else if (scale <= 18 && product <= PG_INT64_MAX / 2)
	{
		int64		divisor = (int64) power_of_ten_128(scale);

		rounded = ((int64) product + divisor / 2) / divisor;
	}
	else if (scale < 39)
	{
		int128		divisor = power_of_ten_128(scale);

		/* product < 2^126 and divisor / 2 < 2^126: the sum fits */
		rounded = (product + divisor / 2) / divisor;
	}
	else
		return false;

	*too_large = rounded > PG_INT64_MAX;
	if (!*too_large)
		*minor = (int64) rounded;
	return true;
}

#endif							/* HAVE_INT128 */

/*
 * compute_amount
 *		Fill decision->amount_minor and currency; on failure return the
 *		reason the amount cannot be computed.
 */
static const char *
compute_amount(StrategySpec *spec, Datum *values, bool *nulls, Decision *decision)
{
	AmountRule *rule = &spec->amount;
	int			exponent;
	int			segment = -1;
	int64		minor = 0;
	bool		too_large = false;
	bool		computed = false;

	/* the row's currency */
	if (spec->has_key_currency)
	{
		char	   *code;

		if (nulls[spec->key_currency.attindex])
			return psprintf("no amount: %s is null", quote_identifier(spec->key_currency.name));
		code = currency_code(spec, values[spec->key_currency.attindex]);
		if (code == spec->last_currency)
			exponent = spec->last_currency_exponent;
		else if ((exponent = lookup_currency_exponent(spec, code)) >= 0)
		{
			strlcpy(spec->last_currency, code, sizeof(spec->last_currency));
			spec->last_currency_exponent = exponent;
		}
		if (exponent < 0)
			return psprintf("no amount: unknown currency %s", quote_literal_cstr(code));
		strlcpy(decision->currency, code, sizeof(decision->currency));
	}
	else
	{
		exponent = spec->currency_exponent;
		strlcpy(decision->currency, spec->currency, sizeof(decision->currency));
	}
	decision->exponent = exponent;

	/* the common fixed amount: already in minor units, no numeric work */
	if (rule->kind == AMOUNT_FIXED && !rule->has_segment && rule->fixed_minor_units[exponent] >= 0)
	{
		minor = rule->fixed_minor_units[exponent];
		goto clamp;
	}

	if (rule->has_base && nulls[rule->base.attindex])
		return psprintf("no amount: %s is null", quote_identifier(rule->base.name));
	if (rule->has_segment)
		segment = segment_index(rule, values, nulls);

#ifdef HAVE_INT128
	if (rule->exact_path)
		computed = exact_amount(rule, exponent, values[rule->base.attindex], segment,
								&minor, &too_large);
#ifdef USE_ASSERT_CHECKING
	if (computed)
	{
		int64		numeric_minor = 0;
		bool		numeric_too_large;
		const char *failure = numeric_amount(rule, exponent, values, nulls, segment,
											 &numeric_minor, &numeric_too_large);

		if (failure != NULL || numeric_too_large != too_large ||
			(!too_large && numeric_minor != minor))
			elog(ERROR, "integer amount " INT64_FORMAT "%s differs from numeric " INT64_FORMAT "%s%s",
				 minor, too_large ? " (too large)" : "", numeric_minor,
				 numeric_too_large ? " (too large)" : "", failure ? failure : "");
	}
#endif
#endif
	if (!computed)
	{
		const char *failure = numeric_amount(rule, exponent, values, nulls, segment,
											 &minor, &too_large);

		if (failure)
			return failure;
	}
	if (too_large)
	{
		/* beyond 2^63-1 minor units: only a max can still say what to pay */
		if (rule->max_minor[exponent] < 0)
			return pstrdup("no amount: the computed amount is too large");
		minor = rule->max_minor[exponent];
	}
clamp:
	if (rule->min_minor[exponent] >= 0 && minor < rule->min_minor[exponent])
		minor = rule->min_minor[exponent];
	if (rule->max_minor[exponent] >= 0 && minor > rule->max_minor[exponent])
		minor = rule->max_minor[exponent];
	decision->amount_minor = minor;
	return NULL;
}

/*
 * evaluate_strategy
 *		Decide one row.  values/nulls are the row deformed with the spec's
 *		bound TupleDesc.
 */
void
evaluate_strategy(StrategySpec *spec, Datum *values, bool *nulls, bool want_reasons,
				  Decision *decision)
{
	List	   *reasons = NIL;
	TruthValue	held;

	memset(decision, 0, sizeof(Decision));
	if (want_reasons || spec->when_program == NULL)
		held = evaluate_condition(spec->when, values, nulls, want_reasons ? &reasons : NULL);
	else
		held = run_condition_program(spec->when_program, values, nulls);
	decision->conditions_held = held == TV_TRUE;
	if (decision->conditions_held)
	{
		const char *failure = compute_amount(spec, values, nulls, decision);

		decision->eligible = failure == NULL;
		if (failure && want_reasons)
			reasons = lappend(reasons, (char *) failure);
	}
	decision->reasons = reasons;
}
