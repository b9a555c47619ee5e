/*-------------------------------------------------------------------------
 *
 * spec_parse.c
 *	  Parse and validate a strategy spec (jsonb) into a StrategySpec.
 *
 * Owns everything that can be checked without knowing a row type: the
 * allowed keys at every level, operators, the shape of values, numbers
 * (non-negative, finite, integral where they must be), tiers, caps windows,
 * notification templates.  Every problem is an ERROR whose message names
 * the JSON path ("$.when.all[1].any[0].op") and whose hint says what to
 * write instead.  Column names are only recorded here; spec_bind.c resolves
 * them.
 *
 * A new definition must also stay within bounds that keep one strategy
 * from poisoning every run (finite dates, windows of at most ten years,
 * short templates and "in" lists, rates that can pay something); versions
 * stored before a bound existed are parsed without them and keep working.
 *
 * Allocates in CurrentMemoryContext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "notify.h"
#include "strategy.h"

/* Conditions nest at most this deep; deeper specs are certainly mistakes. */
#define MAX_CONDITION_DEPTH 32

/* The bounds of a new definition (README, "The spec"). */
#define MAX_IN_VALUES 10000
#define MAX_TEMPLATE_BYTES 2000
#define MAX_WINDOW_YEARS 10
#define MIN_RATE "0.000001"
#define RENDERED_IN_VALUES 10	/* an "in" list in reasons shows this many */
#define DEFAULT_MAX_AGE_DAYS 90

/*
 * Whether the spec being parsed is a new definition, whose bounds are
 * checked (see the file header).  Set at the start of every
 * parse_strategy_spec() call.
 */
static bool checking_new_definition = false;

#define spec_error(code, path, hint, ...) \
	ereport(ERROR, \
			(errcode(code), \
			 errmsg("invalid strategy spec at %s: %s", (path), psprintf(__VA_ARGS__)), \
			 errhint("%s", (hint))))

static const char *const instruments[] = {
	"voucher", "coupon", "points", "free_shipping", "cash_back", NULL
};

static const char *const operator_names[] = {
	[OP_EQ] = "=",
	[OP_NE] = "!=",
	[OP_LT] = "<",
	[OP_LE] = "<=",
	[OP_GT] = ">",
	[OP_GE] = ">=",
	[OP_BETWEEN] = "between",
	[OP_IN] = "in",
	[OP_NOT_IN] = "not in",
	[OP_IS_NULL] = "is null",
	[OP_IS_NOT_NULL] = "is not null",
};

#define OPERATOR_HINT "Use one of =, !=, <, <=, >, >=, between, in, not in, is null, is not null."

/* ---- small jsonb helpers ------------------------------------------------ */

static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a JSON value";
	}
}

static char *
child_path(const char *path, const char *key)
{
	return psprintf("%s.%s", path, key);
}

static char *
element_path(const char *path, int index)
{
	return psprintf("%s[%d]", path, index);
}

static bool
is_object(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

static void
require_object(JsonbValue *v, const char *path, const char *hint)
{
	if (!is_object(v))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "expected an object, found %s", json_type_name(v));
}

/* Reject keys of an object that are not in allowed (NULL-terminated). */
static void
check_keys(JsonbValue *object, const char *path, const char *const *allowed)
{
	JsonbIterator *it = JsonbIteratorInit(object->val.binary.data);
	JsonbValue	v;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		StringInfoData known;
		char	   *key;
		bool		found = false;

		if (token != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(key, *a) == 0)
				found = true;
		if (found)
			continue;

		initStringInfo(&known);
		for (const char *const *a = allowed; *a; a++)
			appendStringInfo(&known, "%s%s", a == allowed ? "" : ", ", *a);
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(path, key),
				   psprintf("Known keys here: %s.", known.data),
				   "unknown key \"%s\"", key);
	}
}

static JsonbValue *
get_key(JsonbValue *object, const char *key)
{
	return getKeyJsonValueFromContainer(object->val.binary.data, key, strlen(key), NULL);
}

static JsonbValue *
require_key(JsonbValue *object, const char *path, const char *key, const char *hint)
{
	JsonbValue *v = get_key(object, key);

	if (v == NULL)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(path, key), hint,
				   "missing required key \"%s\"", key);
	return v;
}

static int
spec_array_length(JsonbValue *array)
{
	return JsonContainerSize(array->val.binary.data);
}

static JsonbValue *
spec_array_element(JsonbValue *array, int index)
{
	return getIthJsonbValueFromContainer(array->val.binary.data, index);
}

static char *
get_string(JsonbValue *v, const char *path, const char *hint)
{
	if (v->type != jbvString)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "expected a string, found %s", json_type_name(v));
	if (v->val.string.len == 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "must not be an empty string");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static char *
get_optional_string(JsonbValue *object, const char *path, const char *key, const char *hint)
{
	JsonbValue *v = get_key(object, key);

	return v ? get_string(v, child_path(path, key), hint) : NULL;
}

/* A finite number >= 0, copied out of the jsonb. */
static Numeric
get_amount_number(JsonbValue *v, const char *path, const char *hint)
{
	Numeric		n;

	if (v->type != jbvNumeric)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "expected a number, found %s", json_type_name(v));
	n = DatumGetNumericCopy(NumericGetDatum(v->val.numeric));
	if (numeric_is_nan(n) || numeric_is_inf(n))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint, "must be a finite number");
	if (numeric_compare(n, int64_to_numeric(0)) < 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "must not be negative, found %s", numeric_normalize(n));
	return n;
}

/*
 * A rate: a number >= 0; in a new definition at least MIN_RATE, so that the
 * amount it computes can be more than nothing (1e-1000 would grant 0.00).
 */
static Numeric
get_rate(JsonbValue *v, const char *path, const char *hint)
{
	Numeric		rate = get_amount_number(v, path, hint);

	if (checking_new_definition &&
		numeric_compare(rate, DatumGetNumeric(DirectFunctionCall3(numeric_in,
																  CStringGetDatum(MIN_RATE),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)))) < 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path,
				   "A rate is at least " MIN_RATE " (0.0001%); for a constant amount use {\"type\": \"fixed\"}.",
				   "rate %s is too small to pay anything", numeric_out_sci(rate, 2));
	return rate;
}

/* An integral JSON number within [min, max]. */
static int64
get_integer(JsonbValue *v, const char *path, int64 min, int64 max, const char *hint)
{
	Numeric		n;
	Numeric		truncated;

	if (v->type != jbvNumeric)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "expected a whole number, found %s", json_type_name(v));
	n = v->val.numeric;
	truncated = DatumGetNumeric(DirectFunctionCall2(numeric_trunc, NumericGetDatum(n),
													Int32GetDatum(0)));
	if (numeric_compare(n, truncated) != 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "expected a whole number, found %s", numeric_normalize(n));
	if (numeric_compare(n, int64_to_numeric(min)) < 0 ||
		numeric_compare(n, int64_to_numeric(max)) > 0)
		spec_error(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, path, hint,
				   "%s is out of range: it must be between " INT64_FORMAT " and " INT64_FORMAT,
				   numeric_normalize(n), min, max);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(n)));
}

/* ---- conditions --------------------------------------------------------- */

static const char *const condition_keys[] = {
	"all", "any", "not", "col", "days", "op", "value", "name", NULL
};

#define CONDITION_HINT "A condition is {\"col\": c, \"op\": o, \"value\": v}, {\"days\": [from, to], \"op\": o, \"value\": n}, {\"all\": [...]}, {\"any\": [...]} or {\"not\": {...}}."

static SpecScalar
parse_scalar(JsonbValue *v, const char *path)
{
	SpecScalar	s;

	memset(&s, 0, sizeof(s));
	switch (v->type)
	{
		case jbvNumeric:
			s.kind = SCALAR_NUMBER;
			s.number = DatumGetNumericCopy(NumericGetDatum(v->val.numeric));
			break;
		case jbvString:
			s.kind = SCALAR_STRING;
			s.string = pnstrdup(v->val.string.val, v->val.string.len);
			break;
		case jbvBool:
			s.kind = SCALAR_BOOL;
			s.boolean = v->val.boolean;
			break;
		case jbvNull:
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path,
					   "A comparison with NULL is never true; use \"op\": \"is null\" or \"is not null\".",
					   "value must not be null");
			break;
		default:
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path,
					   "Use a number, a string or a boolean.",
					   "expected a number, a string or a boolean, found %s", json_type_name(v));
	}
	return s;
}

static void
render_scalar(StringInfo buf, SpecScalar *s)
{
	switch (s->kind)
	{
		case SCALAR_NUMBER:
			appendStringInfoString(buf, numeric_normalize(s->number));
			break;
		case SCALAR_STRING:
			appendStringInfoString(buf, quote_literal_cstr(s->string));
			break;
		case SCALAR_BOOL:
			appendStringInfoString(buf, s->boolean ? "true" : "false");
			break;
	}
}

static ConditionOp
parse_operator(JsonbValue *condition, const char *path)
{
	char	   *op_path = child_path(path, "op");
	JsonbValue *v = require_key(condition, path, "op", OPERATOR_HINT);
	char	   *op = get_string(v, op_path, OPERATOR_HINT);

	for (int i = 0; i <= OP_IS_NOT_NULL; i++)
		if (strcmp(op, operator_names[i]) == 0)
			return (ConditionOp) i;
	spec_error(ERRCODE_INVALID_PARAMETER_VALUE, op_path, OPERATOR_HINT,
			   "unknown operator \"%s\"", op);
	pg_unreachable();
}

/* The "value" of a comparison, shaped by its operator. */
static void
parse_operands(Condition *c, JsonbValue *condition, const char *path)
{
	char	   *value_path = child_path(path, "value");
	JsonbValue *value = get_key(condition, "value");

	switch (c->op)
	{
		case OP_IS_NULL:
		case OP_IS_NOT_NULL:
			if (value != NULL)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, value_path,
						   "Remove \"value\": this operator takes none.",
						   "operator \"%s\" takes no value", operator_names[c->op]);
			c->nvalues = 0;
			return;
		case OP_BETWEEN:
			if (value == NULL || !is_array(value) || spec_array_length(value) != 2)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, value_path,
						   "Write \"value\": [low, high]; both ends are included.",
						   "operator \"between\" takes an array of two values");
			c->nvalues = 2;
			break;
		case OP_IN:
		case OP_NOT_IN:
			if (value == NULL || !is_array(value) || spec_array_length(value) == 0)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, value_path,
						   "Write \"value\": [v1, v2, ...] with at least one value.",
						   "operator \"%s\" takes a non-empty array of values", operator_names[c->op]);
			c->nvalues = spec_array_length(value);
			if (checking_new_definition && c->nvalues > MAX_IN_VALUES)
				spec_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, value_path,
						   psprintf("Keep long lists in a table and join it in the source view; \"%s\" takes at most %d values.",
									operator_names[c->op], MAX_IN_VALUES),
						   "%d values are too many", c->nvalues);
			break;
		default:
			if (value == NULL)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, value_path,
						   "Add \"value\": the constant to compare with.",
						   "missing required key \"value\"");
			if (value->type == jbvBinary)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, value_path,
						   "Only \"between\", \"in\" and \"not in\" take arrays.",
						   "operator \"%s\" takes one value, found %s",
						   operator_names[c->op], json_type_name(value));
			c->nvalues = 1;
			c->values = palloc(sizeof(SpecScalar));
			c->values[0] = parse_scalar(value, value_path);
			return;
	}

	c->values = palloc(sizeof(SpecScalar) * c->nvalues);
	for (int i = 0; i < c->nvalues; i++)
	{
		JsonbValue *element = spec_array_element(value, i);

		c->values[i] = parse_scalar(element, element_path(value_path, i));
	}
}

static char *
render_leaf(Condition *c)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (c->kind == COND_DAYS)
		appendStringInfo(&buf, "days(%s, %s)", quote_identifier(c->column.name),
						 quote_identifier(c->column_to.name));
	else
		appendStringInfoString(&buf, quote_identifier(c->column.name));
	appendStringInfo(&buf, " %s", operator_names[c->op]);
	switch (c->op)
	{
		case OP_IS_NULL:
		case OP_IS_NOT_NULL:
			break;
		case OP_BETWEEN:
			appendStringInfoChar(&buf, ' ');
			render_scalar(&buf, &c->values[0]);
			appendStringInfoString(&buf, " and ");
			render_scalar(&buf, &c->values[1]);
			break;
		case OP_IN:
		case OP_NOT_IN:
			/* reasons show the first values only: a list can be long */
			appendStringInfoString(&buf, " (");
			for (int i = 0; i < c->nvalues && i < RENDERED_IN_VALUES; i++)
			{
				if (i > 0)
					appendStringInfoString(&buf, ", ");
				render_scalar(&buf, &c->values[i]);
			}
			if (c->nvalues > RENDERED_IN_VALUES)
				appendStringInfo(&buf, ", ... %d more", c->nvalues - RENDERED_IN_VALUES);
			appendStringInfoChar(&buf, ')');
			break;
		default:
			appendStringInfoChar(&buf, ' ');
			render_scalar(&buf, &c->values[0]);
	}
	return buf.data;
}

static Condition *
parse_condition(JsonbValue *v, const char *path, int depth)
{
	Condition  *c;
	const char *forms[] = {"all", "any", "not", "col", "days"};
	int			nforms = 0;
	const char *form = NULL;
	JsonbValue *name;

	check_stack_depth();
	if (depth > MAX_CONDITION_DEPTH)
		spec_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, path,
				   "Flatten the rule: all/any take any number of conditions.",
				   "conditions nest more than %d deep", MAX_CONDITION_DEPTH);
	require_object(v, path, CONDITION_HINT);
	check_keys(v, path, condition_keys);

	for (int i = 0; i < lengthof(forms); i++)
		if (get_key(v, forms[i]) != NULL)
		{
			nforms++;
			form = forms[i];
		}
	if (nforms != 1)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, CONDITION_HINT,
				   nforms == 0 ? "a condition needs one of \"all\", \"any\", \"not\", \"col\" or \"days\""
				   : "a condition has exactly one of \"all\", \"any\", \"not\", \"col\" or \"days\"");

	c = palloc0(sizeof(Condition));
	c->path = path;
	name = get_key(v, "name");
	if (name)
		c->name = get_string(name, child_path(path, "name"),
							 "\"name\" is the text reported in reasons when the condition holds.");

	if (strcmp(form, "all") == 0 || strcmp(form, "any") == 0)
	{
		char	   *list_path = child_path(path, form);
		JsonbValue *list = get_key(v, form);

		c->kind = form[1] == 'l' ? COND_ALL : COND_ANY;
		if (get_key(v, "op") || get_key(v, "value"))
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, CONDITION_HINT,
					   "\"%s\" takes no \"op\" or \"value\"", form);
		if (!is_array(list))
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, list_path,
					   "Write \"all\": [condition, ...].",
					   "expected an array of conditions, found %s", json_type_name(list));
		c->nchildren = spec_array_length(list);
		if (c->nchildren == 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, list_path,
					   "Give at least one condition, or remove the combinator.",
					   "\"%s\" must not be empty", form);
		c->children = palloc(sizeof(Condition *) * c->nchildren);
		for (int i = 0; i < c->nchildren; i++)
			c->children[i] = parse_condition(spec_array_element(list, i),
											 element_path(list_path, i), depth + 1);
		c->rendering = c->name ? c->name : pstrdup(form);
		return c;
	}
	if (strcmp(form, "not") == 0)
	{
		c->kind = COND_NOT;
		if (get_key(v, "op") || get_key(v, "value"))
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, CONDITION_HINT,
					   "\"not\" takes no \"op\" or \"value\"");
		c->nchildren = 1;
		c->children = palloc(sizeof(Condition *));
		c->children[0] = parse_condition(get_key(v, "not"), child_path(path, "not"), depth + 1);
		c->rendering = c->name ? c->name : psprintf("not (%s)", c->children[0]->rendering);
		return c;
	}

	if (strcmp(form, "col") == 0)
	{
		char	   *col_path = child_path(path, "col");

		c->kind = COND_COLUMN;
		c->column.name = get_string(get_key(v, "col"), col_path,
									"\"col\" names a column of the source.");
		c->column.path = col_path;
	}
	else
	{
		char	   *days_path = child_path(path, "days");
		JsonbValue *days = get_key(v, "days");
		const char *hint = "Write \"days\": [\"from_column\", \"to_column\"]: whole days from the first to the second.";

		c->kind = COND_DAYS;
		if (!is_array(days) || spec_array_length(days) != 2)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, days_path, hint,
					   "expected an array of two column names");
		c->column.path = element_path(days_path, 0);
		c->column.name = get_string(spec_array_element(days, 0), c->column.path, hint);
		c->column_to.path = element_path(days_path, 1);
		c->column_to.name = get_string(spec_array_element(days, 1), c->column_to.path, hint);
	}
	c->op = parse_operator(v, path);
	if (c->kind == COND_DAYS && (c->op == OP_IS_NULL || c->op == OP_IS_NOT_NULL))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(path, "op"),
				   "Test the timestamp columns themselves with {\"col\": ..., \"op\": \"is null\"}.",
				   "\"days\" cannot be compared with \"%s\"", operator_names[c->op]);
	parse_operands(c, v, path);
	c->rendering = c->name ? c->name : render_leaf(c);
	return c;
}

/* ---- amount ------------------------------------------------------------- */

#define AMOUNT_HINT "An amount is {\"type\": \"fixed\", \"value\": 5}, {\"type\": \"percent\", \"of\": column, \"rate\": 0.1, \"min\": 2, \"max\": 20} or {\"type\": \"tiered\", \"by\": column, \"tiers\": [...]}."
#define TIER_HINT "A tier is {\"from\": low, \"to\": high, \"amount\": a} or {..., \"rate\": r}; tiers are sorted, do not overlap, and only the first may omit \"from\" and only the last \"to\"."

static void
parse_segment(AmountRule *rule, JsonbValue *segment, const char *path)
{
	static const char *const segment_keys[] = {"col", "multipliers", "default", NULL};
	const char *hint = "Write \"segment\": {\"col\": \"segment\", \"multipliers\": {\"vip\": 1.5}, \"default\": 1}.";
	char	   *mult_path = child_path(path, "multipliers");
	JsonbValue *multipliers;
	JsonbValue *dflt;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	int			i = 0;

	require_object(segment, path, hint);
	check_keys(segment, path, segment_keys);
	rule->has_segment = true;
	rule->segment.path = child_path(path, "col");
	rule->segment.name = get_string(require_key(segment, path, "col", hint),
									rule->segment.path, hint);
	multipliers = require_key(segment, path, "multipliers", hint);
	require_object(multipliers, mult_path, hint);
	rule->nsegments = JsonContainerSize(multipliers->val.binary.data);
	if (rule->nsegments == 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, mult_path, hint,
				   "\"multipliers\" must not be empty");
	rule->segment_keys = palloc(sizeof(char *) * rule->nsegments);
	rule->segment_multipliers = palloc(sizeof(Numeric) * rule->nsegments);

	/* jsonb keeps object keys sorted (by length, then bytes): bind re-sorts. */
	it = JsonbIteratorInit(multipliers->val.binary.data);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
			rule->segment_keys[i] = pnstrdup(v.val.string.val, v.val.string.len);
		else if (token == WJB_VALUE)
		{
			rule->segment_multipliers[i] =
				get_amount_number(&v, child_path(mult_path, rule->segment_keys[i]),
								  "A multiplier is a number such as 1.5.");
			i++;
		}
	}

	dflt = get_key(segment, "default");
	rule->segment_default = dflt
		? get_amount_number(dflt, child_path(path, "default"), "The default multiplier is a number such as 1.")
		: int64_to_numeric(1);
}

static void
parse_min_max(AmountRule *rule, JsonbValue *amount, const char *path)
{
	JsonbValue *min = get_key(amount, "min");
	JsonbValue *max = get_key(amount, "max");

	rule->min = min ? get_amount_number(min, child_path(path, "min"),
										"\"min\" is the smallest amount, in the major unit of the currency.") : NULL;
	rule->max = max ? get_amount_number(max, child_path(path, "max"),
										"\"max\" is the largest amount, in the major unit of the currency.") : NULL;
	if (rule->min && rule->max && numeric_compare(rule->min, rule->max) > 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(path, "min"),
				   "Make \"min\" at most \"max\".",
				   "min %s is greater than max %s",
				   numeric_normalize(rule->min), numeric_normalize(rule->max));
}

static void
parse_tiers(AmountRule *rule, JsonbValue *tiers, const char *path)
{
	static const char *const tier_keys[] = {"from", "to", "amount", "rate", NULL};

	if (!is_array(tiers) || spec_array_length(tiers) == 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, TIER_HINT,
				   "expected a non-empty array of tiers");
	rule->ntiers = spec_array_length(tiers);
	rule->tiers = palloc0(sizeof(AmountTier) * rule->ntiers);
	for (int i = 0; i < rule->ntiers; i++)
	{
		char	   *tier_path = element_path(path, i);
		JsonbValue *tier = spec_array_element(tiers, i);
		AmountTier *t = &rule->tiers[i];
		JsonbValue *from,
				   *to,
				   *fixed,
				   *rate;

		require_object(tier, tier_path, TIER_HINT);
		check_keys(tier, tier_path, tier_keys);
		from = get_key(tier, "from");
		to = get_key(tier, "to");
		fixed = get_key(tier, "amount");
		rate = get_key(tier, "rate");
		if ((fixed == NULL) == (rate == NULL))
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, tier_path, TIER_HINT,
					   "a tier has exactly one of \"amount\" and \"rate\"");
		if (fixed)
			t->fixed = get_amount_number(fixed, child_path(tier_path, "amount"), TIER_HINT);
		else
			t->rate = get_rate(rate, child_path(tier_path, "rate"), TIER_HINT);

		if (from == NULL && i > 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(tier_path, "from"), TIER_HINT,
					   "only the first tier may omit \"from\"");
		if (to == NULL && i < rule->ntiers - 1)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(tier_path, "to"), TIER_HINT,
					   "only the last tier may omit \"to\"");
		if (from)
		{
			if (from->type != jbvNumeric)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(tier_path, "from"), TIER_HINT,
						   "expected a number, found %s", json_type_name(from));
			t->from = DatumGetNumericCopy(NumericGetDatum(from->val.numeric));
		}
		if (to)
		{
			if (to->type != jbvNumeric)
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(tier_path, "to"), TIER_HINT,
						   "expected a number, found %s", json_type_name(to));
			t->to = DatumGetNumericCopy(NumericGetDatum(to->val.numeric));
		}
		if (t->from && t->to && numeric_compare(t->from, t->to) >= 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, tier_path, TIER_HINT,
					   "tier is empty: \"from\" %s is not below \"to\" %s",
					   numeric_normalize(t->from), numeric_normalize(t->to));
		if (i > 0 && numeric_compare(rule->tiers[i - 1].to, t->from) > 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, tier_path, TIER_HINT,
					   "tiers are unsorted or overlap: this tier starts at %s, before the previous one ends at %s",
					   numeric_normalize(t->from), numeric_normalize(rule->tiers[i - 1].to));
	}
}

static void
parse_amount(AmountRule *rule, JsonbValue *amount, const char *path)
{
	static const char *const fixed_keys[] = {"type", "value", "segment", NULL};
	static const char *const percent_keys[] = {"type", "of", "rate", "min", "max", "segment", NULL};
	static const char *const tiered_keys[] = {"type", "by", "tiers", "min", "max", "segment", NULL};
	char	   *type_path = child_path(path, "type");
	char	   *type;
	JsonbValue *segment;

	rule->path = path;
	require_object(amount, path, AMOUNT_HINT);
	type = get_string(require_key(amount, path, "type", AMOUNT_HINT), type_path, AMOUNT_HINT);
	if (strcmp(type, "fixed") == 0)
	{
		rule->kind = AMOUNT_FIXED;
		check_keys(amount, path, fixed_keys);
		rule->fixed = get_amount_number(require_key(amount, path, "value", AMOUNT_HINT),
										child_path(path, "value"),
										"\"value\" is the amount in the major unit of the currency, such as 5.");
	}
	else if (strcmp(type, "percent") == 0)
	{
		rule->kind = AMOUNT_PERCENT;
		check_keys(amount, path, percent_keys);
		rule->has_base = true;
		rule->base.path = child_path(path, "of");
		rule->base.name = get_string(require_key(amount, path, "of", AMOUNT_HINT),
									 rule->base.path, "\"of\" names the column the rate applies to.");
		rule->rate = get_rate(require_key(amount, path, "rate", AMOUNT_HINT), child_path(path, "rate"),
							  "\"rate\" is a fraction: 0.10 for 10%.");
		parse_min_max(rule, amount, path);
	}
	else if (strcmp(type, "tiered") == 0)
	{
		rule->kind = AMOUNT_TIERED;
		check_keys(amount, path, tiered_keys);
		rule->has_base = true;
		rule->base.path = child_path(path, "by");
		rule->base.name = get_string(require_key(amount, path, "by", AMOUNT_HINT),
									 rule->base.path, "\"by\" names the column whose value picks the tier.");
		parse_tiers(rule, require_key(amount, path, "tiers", TIER_HINT), child_path(path, "tiers"));
		parse_min_max(rule, amount, path);
	}
	else
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, type_path, AMOUNT_HINT,
				   "unknown amount type \"%s\"", type);

	segment = get_key(amount, "segment");
	if (segment)
		parse_segment(rule, segment, child_path(path, "segment"));
}

/* ---- the rest of the spec ----------------------------------------------- */

/*
 * A window: "90 days", "2 weeks", "6 months", "1 year", or "quarter" where
 * allow_quarter (then *is_quarter is set and *window is zero).  At most ten
 * years in a new definition.
 */
static void
parse_window(JsonbValue *v, const char *path, bool allow_quarter, Interval *window,
			 bool *is_quarter)
{
	const char *hint = allow_quarter
		? "Write a window as \"quarter\" or \"<n> days\", \"<n> weeks\", \"<n> months\", \"<n> years\"."
		: "Write a window as \"<n> days\", \"<n> weeks\", \"<n> months\" or \"<n> years\".";
	char	   *text = get_string(v, path, hint);
	char	   *unit;
	long		n;

	memset(window, 0, sizeof(Interval));
	if (is_quarter)
		*is_quarter = false;
	if (allow_quarter && strcmp(text, "quarter") == 0)
	{
		*is_quarter = true;
		return;
	}
	errno = 0;
	n = strtol(text, &unit, 10);
	if (unit == text || errno != 0 || n <= 0 || n > 100000 || *unit != ' ')
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint, "malformed window \"%s\"", text);
	unit++;
	if (strcmp(unit, "day") == 0 || strcmp(unit, "days") == 0)
		window->day = (int32) n;
	else if (strcmp(unit, "week") == 0 || strcmp(unit, "weeks") == 0)
		window->day = (int32) n * 7;
	else if (strcmp(unit, "month") == 0 || strcmp(unit, "months") == 0)
		window->month = (int32) n;
	else if (strcmp(unit, "year") == 0 || strcmp(unit, "years") == 0)
		window->month = (int32) n * 12;
	else
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint, "malformed window \"%s\"", text);
	/* 10 years of days: 3652, plus leap days to spare */
	if (checking_new_definition &&
		(window->month > MAX_WINDOW_YEARS * 12 || window->day > MAX_WINDOW_YEARS * 366))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path,
				   psprintf("A window is at most %d years.", MAX_WINDOW_YEARS),
				   "window \"%s\" is too long", text);
}

/*
 * "max_age": how old a row's at may be, as of a run, to be a candidate; a
 * window, or null for no limit.  Absent: DEFAULT_MAX_AGE_DAYS.
 */
static void
parse_max_age(StrategySpec *spec, JsonbValue *v)
{
	if (v == NULL)
	{
		spec->has_max_age = true;
		memset(&spec->max_age, 0, sizeof(Interval));
		spec->max_age.day = DEFAULT_MAX_AGE_DAYS;
	}
	else if (v->type == jbvNull)
		spec->has_max_age = false;
	else
	{
		spec->has_max_age = true;
		parse_window(v, "$.max_age", false, &spec->max_age, NULL);
	}
}

/*
 * "holdout": a fraction of the strategy's buyers, or {"share": f, "scope":
 * "program"} for the same buyers held out by every strategy of the program
 * (the salt is then the program: holdout.c).
 */
static void
parse_holdout(StrategySpec *spec, JsonbValue *v)
{
	static const char *const holdout_keys[] = {"share", "scope", NULL};
	const char *hint = "\"holdout\" is the fraction of buyers never compensated, from 0 up to but excluding 1, such as 0.05, or {\"share\": 0.05, \"scope\": \"program\"}.";
	const char *path = "$.holdout";
	Numeric		fraction;

	if (is_object(v))
	{
		char	   *scope;

		check_keys(v, path, holdout_keys);
		scope = get_optional_string(v, path, "scope", hint);
		if (scope && strcmp(scope, "strategy") != 0 && strcmp(scope, "program") != 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, "$.holdout.scope",
					   "\"scope\" is \"strategy\" (this strategy's buyers, the default) or \"program\" (the same buyers for every strategy of the program).",
					   "unknown scope \"%s\"", scope);
		spec->holdout_program_scope = scope && strcmp(scope, "program") == 0;
		path = "$.holdout.share";
		v = require_key(v, "$.holdout", "share", hint);
	}
	fraction = get_amount_number(v, path, hint);
	if (numeric_compare(fraction, int64_to_numeric(1)) >= 0)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "must be below 1, found %s", numeric_normalize(fraction));
	/* buckets of 1/10000 (README); numeric all the way, so 1e-400 is 0 */
	spec->holdout_buckets = DatumGetInt32(DirectFunctionCall1(numeric_int4,
															  DirectFunctionCall2(numeric_round,
																				  NumericGetDatum(numeric_times_power_of_ten(fraction, 4)),
																				  Int32GetDatum(0))));
}

static void
parse_caps(StrategySpec *spec, JsonbValue *caps, const char *path)
{
	static const char *const caps_keys[] = {"per_buyer_count", "per_buyer_amount", NULL};
	static const char *const cap_keys[] = {"max", "window", "scope", NULL};
	const char *hint = "Write \"caps\": {\"per_buyer_count\": {\"max\": 2, \"window\": \"90 days\"}, \"per_buyer_amount\": {\"max\": 50, \"window\": \"quarter\"}}.";

	require_object(caps, path, hint);
	check_keys(caps, path, caps_keys);
	for (int i = 0; caps_keys[i]; i++)
	{
		JsonbValue *cap = get_key(caps, caps_keys[i]);
		char	   *cap_path = child_path(path, caps_keys[i]);
		CapRule    *rule = i == 0 ? &spec->cap_count : &spec->cap_amount;
		JsonbValue *max;
		char	   *scope;

		if (cap == NULL)
			continue;
		rule->present = true;
		require_object(cap, cap_path, hint);
		check_keys(cap, cap_path, cap_keys);
		max = require_key(cap, cap_path, "max", hint);
		if (i == 0)
			rule->max_count = get_integer(max, child_path(cap_path, "max"), 1, PG_INT32_MAX,
										  "\"max\" is how many grants a buyer may get in the window.");
		else
			rule->max_amount = get_amount_number(max, child_path(cap_path, "max"),
												 "\"max\" is the most a buyer may get in the window, in the major unit of the currency.");
		parse_window(require_key(cap, cap_path, "window", hint), child_path(cap_path, "window"),
					 true, &rule->window, &rule->window_is_quarter);
		scope = get_optional_string(cap, cap_path, "scope", "\"scope\" is \"strategy\" or \"program\".");
		if (scope && strcmp(scope, "strategy") != 0 && strcmp(scope, "program") != 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(cap_path, "scope"),
					   "\"scope\" is \"strategy\" (this strategy's grants, the default) or \"program\" (all strategies of the program).",
					   "unknown scope \"%s\"", scope);
		rule->program_scope = scope && strcmp(scope, "program") == 0;
	}
}

/* "expires": "30 days": how long a grant's voucher is valid (no "quarter"). */
static void
parse_expires(StrategySpec *spec, JsonbValue *v, const char *path)
{
	parse_window(v, path, false, &spec->expires, NULL);
	spec->has_expires = true;
}

/* A template of at most MAX_TEMPLATE_BYTES (new definitions), compiled. */
static Template *
parse_template(StrategySpec *spec, JsonbValue *v, const char *path, const char *hint)
{
	char	   *template = get_string(v, path, hint);

	if (checking_new_definition && strlen(template) > MAX_TEMPLATE_BYTES)
		spec_error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, path,
				   psprintf("A template is at most %d bytes: a message to a buyer, not a document.",
							MAX_TEMPLATE_BYTES),
				   "template is %zu bytes long", strlen(template));
	return compile_template(spec, template, path);
}

/*
 * "notify": {"channels": ["push", "email"] (or "channel": "push"),
 * "preferred_channel": column, "reachable": {channel: column},
 * "template": ..., "void_template": ...}.  Needs "expires" and "locale"
 * parsed first ({expires_at} checks for it).
 */
static void
parse_notify(StrategySpec *spec, JsonbValue *notify, const char *path, const LocaleFormat *locale)
{
	static const char *const notify_keys[] = {"channel", "channels", "preferred_channel", "reachable",
	"template", "void_template", NULL};
	const char *hint = "Write \"notify\": {\"channels\": [\"push\", \"email\"], \"template\": \"Sorry: {money} for order {order}\"}.";
	const char *channel_hint = "Channels are " NOTIFY_CHANNEL_NAMES ", tried in the order listed.";
	NotifySpec *n = palloc0(sizeof(NotifySpec));
	JsonbValue *channel = NULL;
	JsonbValue *channels = NULL;
	JsonbValue *v;
	char	   *channels_path = child_path(path, "channels");

	require_object(notify, path, hint);
	check_keys(notify, path, notify_keys);
	channel = get_key(notify, "channel");
	channels = get_key(notify, "channels");
	if (channel && channels)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, channels_path, hint,
				   "both \"channel\" and \"channels\" are given");
	if (channel)
	{
		n->nchannels = 1;
		n->channels[0] = get_string(channel, child_path(path, "channel"), channel_hint);
		if (checking_new_definition && !known_channel(n->channels[0]))
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, child_path(path, "channel"), channel_hint,
					   "unknown channel \"%s\"", n->channels[0]);
	}
	else
	{
		int			count;

		if (channels == NULL)	/* named as before lists existed */
			(void) require_key(notify, path, "channel", hint);
		if (!is_array(channels))
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, channels_path, channel_hint,
					   "expected an array, found %s", json_type_name(channels));
		count = spec_array_length(channels);
		if (count == 0)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, channels_path, channel_hint,
					   "the channel list is empty");
		if (count > MAX_NOTIFY_CHANNELS)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, channels_path, channel_hint,
					   "%d channels listed, at most %d", count, MAX_NOTIFY_CHANNELS);
		for (int i = 0; i < count; i++)
		{
			char	   *element_path_i = element_path(channels_path, i);
			char	   *name = get_string(spec_array_element(channels, i), element_path_i, channel_hint);

			if (!known_channel(name))
				spec_error(ERRCODE_INVALID_PARAMETER_VALUE, element_path_i, channel_hint,
						   "unknown channel \"%s\"", name);
			for (int j = 0; j < i; j++)
				if (strcmp(n->channels[j], name) == 0)
					spec_error(ERRCODE_INVALID_PARAMETER_VALUE, element_path_i, channel_hint,
							   "channel \"%s\" is listed twice", name);
			n->channels[n->nchannels++] = name;
		}
	}
	for (int i = 0; i < MAX_NOTIFY_CHANNELS; i++)
		n->reachable_column[i] = -1;
	n->preferred_column = -1;
	if ((v = get_key(notify, "preferred_channel")) != NULL)
	{
		char	   *column_path = child_path(path, "preferred_channel");

		n->preferred_column = add_candidate_column(spec,
												   get_string(v, column_path,
															  "\"preferred_channel\" names the source column holding the buyer's preferred channel."),
												   column_path);
	}
	if ((v = get_key(notify, "reachable")) != NULL)
	{
		char	   *reachable_path = child_path(path, "reachable");
		const char *listed[MAX_NOTIFY_CHANNELS + 1];
		const char *reachable_hint = "Write \"reachable\": {\"push\": \"push_token\"}: a listed channel reaches a buyer whose column is not null, empty or false.";

		for (int i = 0; i < n->nchannels; i++)
			listed[i] = n->channels[i];
		listed[n->nchannels] = NULL;
		require_object(v, reachable_path, reachable_hint);
		check_keys(v, reachable_path, listed);
		for (int i = 0; i < n->nchannels; i++)
		{
			JsonbValue *column = get_key(v, n->channels[i]);
			char	   *column_path = child_path(reachable_path, n->channels[i]);

			if (column)
				n->reachable_column[i] = add_candidate_column(spec,
															  get_string(column, column_path, reachable_hint),
															  column_path);
		}
	}
	n->locale = locale;
	spec->notify = n;
	n->message = parse_template(spec, require_key(notify, path, "template", hint),
								child_path(path, "template"), hint);
	if ((v = get_key(notify, "void_template")) != NULL)
		n->void_message = parse_template(spec, v, child_path(path, "void_template"),
										 "\"void_template\" is the correction sent when a grant whose message was sent is voided.");
	n->uses_code = n->message->uses_code || (n->void_message && n->void_message->uses_code);
	spec->notify_channel = n->channels[0];
	spec->notify_template = get_string(get_key(notify, "template"), child_path(path, "template"), hint);
}

static TimestampTz
parse_timestamp(JsonbValue *v, const char *path)
{
	const char *hint = "Write a date or timestamp such as \"2026-10-01\" or \"2026-10-01 00:00:00+00\".";
	char	   *text = get_string(v, path, hint);
	TimestampTz result = 0;
	MemoryContext oldcontext = CurrentMemoryContext;

	/* Re-throw the input function's error with the JSON path in front. */
	PG_TRY();
	{
		result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		spec_error(edata->sqlerrcode, path, hint, "%s", edata->message);
	}
	PG_END_TRY();
	if (TIMESTAMP_NOT_FINITE(result))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, "Omit the bound for an open-ended window.",
				   "must be a finite timestamp");
	if (checking_new_definition)
	{
		/* quarters are labelled with four-digit years */
		TimestampTz earliest = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																		CStringGetDatum("0001-01-01 00:00:00+00"),
																		ObjectIdGetDatum(InvalidOid),
																		Int32GetDatum(-1)));
		TimestampTz latest = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																	  CStringGetDatum("9999-12-31 00:00:00+00"),
																	  ObjectIdGetDatum(InvalidOid),
																	  Int32GetDatum(-1)));

		if (result < earliest || result > latest)
			spec_error(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, path,
					   "Give a date between 0001-01-01 and 9999-12-31.",
					   "\"%s\" is out of range", text);
	}
	return result;
}

static void
parse_valid(StrategySpec *spec, JsonbValue *valid, const char *path)
{
	static const char *const valid_keys[] = {"from", "to", NULL};
	const char *hint = "Write \"valid\": {\"from\": \"2026-10-01\", \"to\": \"2027-01-01\"}; \"to\" is excluded.";
	JsonbValue *from;
	JsonbValue *to;

	require_object(valid, path, hint);
	check_keys(valid, path, valid_keys);
	from = get_key(valid, "from");
	to = get_key(valid, "to");
	if (from)
	{
		spec->has_valid_from = true;
		spec->valid_from = parse_timestamp(from, child_path(path, "from"));
	}
	if (to)
	{
		spec->has_valid_to = true;
		spec->valid_to = parse_timestamp(to, child_path(path, "to"));
	}
	if (from && to && spec->valid_from >= spec->valid_to)
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, path, hint,
				   "the window is empty: \"from\" is not before \"to\"");
}

static void
parse_keys(StrategySpec *spec, JsonbValue *keys, const char *path)
{
	static const char *const key_names[] = {"order", "buyer", "at", "value", "currency", "market",
	"changed", NULL};
	const char *hint = "Write \"keys\": {\"order\": \"order_id\", \"buyer\": \"buyer_id\", \"at\": \"delivered_at\"}, plus optional \"value\", \"currency\", \"market\" and \"changed\" columns.";
	SpecColumn  *refs[] = {&spec->key_order, &spec->key_buyer, &spec->key_at,
		&spec->key_value, &spec->key_currency, &spec->key_market,
	&spec->key_changed};
	bool	   *present[] = {NULL, NULL, NULL,
		&spec->has_key_value, &spec->has_key_currency, &spec->has_key_market,
	&spec->has_key_changed};

	require_object(keys, path, hint);
	check_keys(keys, path, key_names);
	for (int i = 0; key_names[i]; i++)
	{
		JsonbValue *v = present[i] ? get_key(keys, key_names[i]) : require_key(keys, path, key_names[i], hint);

		if (v == NULL)
			continue;
		refs[i]->path = child_path(path, key_names[i]);
		refs[i]->name = get_string(v, refs[i]->path, hint);
		if (present[i])
			*present[i] = true;
	}
}

/*
 * parse_strategy_spec
 *		Validate the shape of a whole spec and return its parsed form;
 *		new_definition: also check the bounds of a new definition.
 */
StrategySpec *
parse_strategy_spec(Jsonb *jsonb, bool new_definition)
{
	static const char *const top_keys[] = {
		"scenario", "source", "keys", "when", "amount", "instrument", "program",
		"caps", "holdout", "priority", "exclusive", "notify", "valid", "currency",
		"description", "max_age", "rank", "expires", "locale", NULL
	};
	StrategySpec *spec = palloc0(sizeof(StrategySpec));
	const LocaleFormat *locale = NULL;
	JsonbValue	root;
	JsonbValue *v;
	char	   *instrument_hint;

	checking_new_definition = new_definition;
	spec->new_definition = new_definition;
	if (!JsonContainerIsObject(&jsonb->root))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, "$",
				   "A strategy spec is a JSON object; see the README for an example.",
				   "expected an object");
	root.type = jbvBinary;
	root.val.binary.data = &jsonb->root;
	root.val.binary.len = VARSIZE(jsonb) - VARHDRSZ;
	check_keys(&root, "$", top_keys);

	spec->scenario = get_string(require_key(&root, "$", "scenario",
											"Name the scenario, for example \"late_delivery\"."),
								"$.scenario", "Name the scenario, for example \"late_delivery\".");
	spec->source = get_string(require_key(&root, "$", "source",
										  "Name the schema-qualified table or view to read, such as \"public.order_experience\"."),
							  "$.source",
							  "Name the schema-qualified table or view to read, such as \"public.order_experience\".");
	parse_keys(spec, require_key(&root, "$", "keys", "Name the order, buyer and at columns."), "$.keys");
	spec->when = parse_condition(require_key(&root, "$", "when", CONDITION_HINT), "$.when", 1);
	parse_amount(&spec->amount, require_key(&root, "$", "amount", AMOUNT_HINT), "$.amount");

	instrument_hint = "Use one of voucher, coupon, points, free_shipping, cash_back.";
	spec->instrument = get_string(require_key(&root, "$", "instrument", instrument_hint),
								  "$.instrument", instrument_hint);
	{
		bool		known = false;

		for (int i = 0; instruments[i]; i++)
			if (strcmp(spec->instrument, instruments[i]) == 0)
				known = true;
		if (!known)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, "$.instrument", instrument_hint,
					   "unknown instrument \"%s\"", spec->instrument);
	}
	spec->program = get_string(require_key(&root, "$", "program",
										   "Name the budget program, such as \"delivery\"."),
							   "$.program", "Name the budget program, such as \"delivery\".");

	if ((v = get_key(&root, "caps")) != NULL)
		parse_caps(spec, v, "$.caps");
	if ((v = get_key(&root, "holdout")) != NULL)
		parse_holdout(spec, v);
	parse_max_age(spec, get_key(&root, "max_age"));
	if ((v = get_key(&root, "rank")) != NULL)
	{
		spec->has_rank = true;
		spec->key_rank.path = "$.rank";
		spec->key_rank.name = get_string(v, "$.rank",
										 "\"rank\" names a numeric column of the source: candidates are decided in its descending order.");
	}
	if ((v = get_key(&root, "priority")) != NULL)
		spec->priority = (int32) get_integer(v, "$.priority", PG_INT32_MIN, PG_INT32_MAX,
											 "\"priority\" is a whole number; higher runs first in apply_all.");
	spec->exclusive = get_optional_string(&root, "$", "exclusive",
										  "\"exclusive\" names a group: an order is compensated at most once per group.");
	if ((v = get_key(&root, "expires")) != NULL)
		parse_expires(spec, v, "$.expires");
	if ((v = get_key(&root, "locale")) != NULL)
	{
		char	   *name = get_string(v, "$.locale", notify_locale_hint());

		locale = find_locale(name);
		if (locale == NULL)
			spec_error(ERRCODE_INVALID_PARAMETER_VALUE, "$.locale", notify_locale_hint(),
					   "unknown locale \"%s\"", name);
	}
	if ((v = get_key(&root, "notify")) != NULL)
		parse_notify(spec, v, "$.notify", locale);
	if ((v = get_key(&root, "valid")) != NULL)
		parse_valid(spec, v, "$.valid");
	spec->currency = get_optional_string(&root, "$", "currency",
										 "\"currency\" is an ISO 4217 code such as \"EUR\", for sources without a currency column.");
	if ((v = get_key(&root, "description")) != NULL)
		(void) get_string(v, "$.description", "\"description\" is free text.");

	if (spec->has_key_currency == (spec->currency != NULL))
		spec_error(ERRCODE_INVALID_PARAMETER_VALUE, "$.keys.currency",
				   "Name the currency column in \"keys\", or give a constant \"currency\" for the whole source, not both.",
				   spec->currency ? "both a currency column and a constant currency are given"
				   : "no currency: neither \"keys.currency\" nor \"currency\" is given");
	return spec;
}
