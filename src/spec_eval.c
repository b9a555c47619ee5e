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

typedef enum TruthValue
{
	TV_FALSE,
	TV_TRUE,
	TV_UNKNOWN
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
datum_as_int64(Oid typid, Datum value)
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
				int64		a = datum_as_int64(c->column.typid, value);
				int64		b = datum_as_int64(c->column.typid, constant);

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
 * compute_amount
 *		Fill decision->amount_minor and currency; on failure return the
 *		reason the amount cannot be computed.
 */
static const char *
compute_amount(StrategySpec *spec, Datum *values, bool *nulls, Decision *decision)
{
	AmountRule *rule = &spec->amount;
	int			exponent;
	Numeric		base = NULL;
	Numeric		raw = NULL;
	int64		minor;

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

	if (rule->has_base)
	{
		int			index = rule->base.attindex;

		if (nulls[index])
			return psprintf("no amount: %s is null", quote_identifier(rule->base.name));
		if (!base_value(rule, values[index], &base))
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
	{
		Numeric		multiplier = rule->segment_default;
		int			index = rule->segment.attindex;

		if (!nulls[index])
		{
			char	   *segment = OutputFunctionCall(&rule->segment.output, values[index]);
			char	  **found = bsearch(segment, rule->segment_keys, rule->nsegments,
										sizeof(char *), compare_segment_key);

			if (found)
				multiplier = rule->segment_multipliers[found - rule->segment_keys];
		}
		raw = numeric_multiply_or_null(raw, multiplier);
	}

	/* raw is NULL when a product overflowed numeric: too large, like below */
	if (raw != NULL && numeric_is_negative(raw))
		return pstrdup("no amount: the computed amount is negative");
	if (!numeric_to_minor_units_half_up(raw, &minor))
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
	held = evaluate_condition(spec->when, values, nulls, want_reasons ? &reasons : NULL);
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
