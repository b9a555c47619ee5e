/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  What a grant tells its buyer: templates (compiled once, rendered per
 *	  grant), the locales amounts and dates are written in, and the choice
 *	  of a channel (voucher codes: voucher_code.c).
 *
 * One table per vocabulary drives both the checks and the rendering:
 * placeholders[] (the names a template may use), locale_formats[] (how a
 * locale writes numbers and dates), currency_symbols[] (what a currency is
 * called in a message) and channel_names[].  Templates are compiled into
 * pieces when the spec is parsed, so a run never scans a template again,
 * and an unknown placeholder is an error at definition with its JSON path.
 * Columns a template reads ({col:x}) and the channel choice columns are
 * registered in spec->candidate_columns: the candidate query brings their
 * values as text, and spec_bind.c checks that they exist.
 *
 * Must not: read or write any table (the ledger writer writes what this
 * file makes), or depend on the server's OS locales: the formats are ours,
 * the same on every machine.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "port.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "notify.h"

#define template_error(path, hint, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid strategy spec at %s: %s", (path), psprintf(__VA_ARGS__)), \
			 errhint("%s", (hint))))

#define PLACEHOLDER_HINT "Placeholders are {order}, {buyer}, {amount}, {money}, {currency}, {instrument}, {expires_at}, {code} and {col:<source column>}."

static const struct
{
	const char *name;
	PlaceholderKind kind;
}			placeholders[] =
{
	{"order", PIECE_ORDER},
	{"buyer", PIECE_BUYER},
	{"amount", PIECE_AMOUNT},
	{"money", PIECE_MONEY},
	{"currency", PIECE_CURRENCY},
	{"instrument", PIECE_INSTRUMENT},
	{"expires_at", PIECE_EXPIRES_AT},
	{"code", PIECE_CODE},
	{NULL, PIECE_TEXT}
};

static const char *const channel_names[MAX_NOTIFY_CHANNELS + 1] = {"push", "email", "sms", NULL};

/*
 * How each locale writes an amount and a date (CLDR's conventions, as a
 * buyer reads them).  The currency's exponent comes from
 * compensation.currency, its symbol from currency_symbols[].
 */
static const LocaleFormat locale_formats[] = {
	/* name, decimal, group, symbol after, space, date order, date sep */
	{"en_US", ".", ",", false, false, "MDY", "/"},
	{"en_GB", ".", ",", false, false, "DMY", "/"},
	{"pt_BR", ",", ".", false, true, "DMY", "/"},
	{"pt_PT", ",", ".", true, true, "DMY", "/"},
	{"es_ES", ",", ".", true, true, "DMY", "/"},
	{"de_DE", ",", ".", true, true, "DMY", "."},
	{"fr_FR", ",", " ", true, true, "DMY", "/"},
	{"it_IT", ",", ".", true, true, "DMY", "/"},
	{"nl_NL", ",", ".", false, true, "DMY", "-"},
	{"ja_JP", ".", ",", false, false, "YMD", "/"},
	{NULL, NULL, NULL, false, false, NULL, NULL}
};

/* Currencies with a symbol; any other is written with its ISO code. */
static const struct
{
	const char *code;
	const char *symbol;
}			currency_symbols[] =
{
	{"USD", "$"},
	{"EUR", "€"},
	{"BRL", "R$"},
	{"GBP", "£"},
	{"JPY", "¥"},
	{"INR", "₹"},
	{"KRW", "₩"},
	{NULL, NULL}
};

/* ---- parsing ------------------------------------------------------------- */

const LocaleFormat *
find_locale(const char *name)
{
	for (const LocaleFormat *l = locale_formats; l->name; l++)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

/* "en_US, en_GB, ...": for hints. */
static char *
locale_list(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (const LocaleFormat *l = locale_formats; l->name; l++)
		appendStringInfo(&buf, "%s%s", l == locale_formats ? "" : ", ", l->name);
	return buf.data;
}

bool
known_channel(const char *name)
{
	for (int i = 0; channel_names[i]; i++)
		if (strcmp(channel_names[i], name) == 0)
			return true;
	return false;
}

/*
 * add_candidate_column
 *		Ask the candidate query for a source column (as text) and return its
 *		index in Candidate.column_values; a column asked for twice comes
 *		once.  spec_bind.c checks that it exists, reporting path.
 */
int
add_candidate_column(StrategySpec *spec, const char *name, const char *path)
{
	ListCell   *lc;
	SpecColumn *ref;

	foreach(lc, spec->candidate_columns)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return foreach_current_index(lc);
	ref = palloc0(sizeof(SpecColumn));
	ref->name = pstrdup(name);
	ref->path = pstrdup(path);
	spec->candidate_columns = lappend(spec->candidate_columns, ref->name);
	spec->candidate_column_refs = lappend(spec->candidate_column_refs, ref);
	return list_length(spec->candidate_columns) - 1;
}

static void
add_piece(List **pieces, PlaceholderKind kind, const char *text, int len, int column)
{
	TemplatePiece *piece = palloc0(sizeof(TemplatePiece));

	piece->kind = kind;
	piece->text = text;
	piece->len = len;
	piece->column = column;
	*pieces = lappend(*pieces, piece);
}

/*
 * compile_template
 *		Split a template into literal text and placeholders; an unclosed or
 *		unknown placeholder is an error at path.  {col:x} registers column x
 *		(checked against the source by spec_bind.c).  {expires_at} needs the
 *		spec's "expires", so parse that first.
 */
Template *
compile_template(StrategySpec *spec, const char *template_text, const char *path)
{
	Template   *result = palloc0(sizeof(Template));
	List	   *pieces = NIL;
	const char *p = template_text;
	ListCell   *lc;

	while (*p)
	{
		const char *open = strchr(p, '{');
		const char *close;
		char	   *name;
		PlaceholderKind kind = PIECE_TEXT;
		int			column = -1;

		if (open == NULL)
		{
			add_piece(&pieces, PIECE_TEXT, p, strlen(p), -1);
			break;
		}
		if (open > p)
			add_piece(&pieces, PIECE_TEXT, p, open - p, -1);
		close = strchr(open, '}');
		if (close == NULL)
			template_error(path, PLACEHOLDER_HINT, "unclosed placeholder in template");
		name = pnstrdup(open + 1, close - open - 1);
		if (strncmp(name, "col:", 4) == 0)
		{
			if (name[4] == '\0')
				template_error(path, "Write {col:days_late} for the source column days_late.",
							   "placeholder \"{col:}\" names no column");
			kind = PIECE_COLUMN;
			column = add_candidate_column(spec, name + 4, path);
		}
		else
		{
			for (int i = 0; placeholders[i].name; i++)
				if (strcmp(name, placeholders[i].name) == 0)
					kind = placeholders[i].kind;
			if (kind == PIECE_TEXT)
				template_error(path, PLACEHOLDER_HINT,
							   "unknown placeholder \"{%s}\" in template", name);
		}
		if (kind == PIECE_EXPIRES_AT && !spec->has_expires)
			template_error(path, "Give the grant a validity period: a top-level \"expires\": \"30 days\".",
						   "placeholder \"{expires_at}\" needs \"expires\"");
		if (kind == PIECE_CODE)
			result->uses_code = true;
		add_piece(&pieces, kind, NULL, 0, column);
		p = close + 1;
	}
	result->npieces = list_length(pieces);
	result->pieces = palloc0(sizeof(TemplatePiece) * Max(result->npieces, 1));
	foreach(lc, pieces)
		result->pieces[foreach_current_index(lc)] = *(TemplatePiece *) lfirst(lc);
	return result;
}

/* ---- formatting ---------------------------------------------------------- */

static const char *
currency_symbol(const char *code)
{
	for (int i = 0; currency_symbols[i].code; i++)
		if (strcmp(currency_symbols[i].code, code) == 0)
			return currency_symbols[i].symbol;
	return NULL;
}

/* The digits of amount_minor with the locale's separators, no symbol. */
static void
append_amount(StringInfo buf, const LocaleFormat *locale, int64 amount_minor, int exponent)
{
	char		digits[MAXINT8LEN + MAX_CURRENCY_EXPONENT + 2];
	int			len;
	int			integer_len;
	const char *decimal = locale ? locale->decimal : ".";
	const char *group = locale ? locale->group : NULL;

	Assert(amount_minor >= 0 && exponent >= 0 && exponent <= MAX_CURRENCY_EXPONENT);
	/* zero-padded so that there is at least one integer digit */
	len = snprintf(digits, sizeof(digits), "%0*lld", exponent + 1, (long long) amount_minor);
	integer_len = len - exponent;
	for (int i = 0; i < integer_len; i++)
	{
		if (group && i > 0 && (integer_len - i) % 3 == 0)
			appendStringInfoString(buf, group);
		appendStringInfoChar(buf, digits[i]);
	}
	if (exponent > 0)
	{
		appendStringInfoString(buf, decimal);
		appendBinaryStringInfo(buf, digits + integer_len, exponent);
	}
}

/*
 * The amount as the locale writes money: R$ 5,00, $5.00, 5,00 €, ¥500,
 * BHD 1,234.567.  A currency without a symbol is written with its code,
 * always separated by a space.
 */
static void
append_money(StringInfo buf, const LocaleFormat *locale, int64 amount_minor, int exponent,
			 const char *currency)
{
	const char *symbol = currency_symbol(currency);
	bool		space = symbol == NULL || locale->symbol_space;

	if (symbol == NULL)
		symbol = currency;
	if (!locale->symbol_after)
	{
		appendStringInfoString(buf, symbol);
		if (space)
			appendStringInfoChar(buf, ' ');
	}
	append_amount(buf, locale, amount_minor, exponent);
	if (locale->symbol_after)
	{
		if (space)
			appendStringInfoChar(buf, ' ');
		appendStringInfoString(buf, symbol);
	}
}

/* A date in the session's time zone: 2026-12-31, or 31/12/2026 (pt_BR). */
static void
append_date(StringInfo buf, const LocaleFormat *locale, TimestampTz at)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (TIMESTAMP_NOT_FINITE(at) || timestamp2tm(at, &tz, &tm, &fsec, NULL, NULL) != 0)
	{
		appendStringInfoString(buf, TIMESTAMP_IS_NOBEGIN(at) ? "-infinity" : "infinity");
		return;
	}
	if (locale == NULL)
		appendStringInfo(buf, "%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
	else if (strcmp(locale->date_order, "DMY") == 0)
		appendStringInfo(buf, "%02d%s%02d%s%04d", tm.tm_mday, locale->date_separator,
						 tm.tm_mon, locale->date_separator, tm.tm_year);
	else if (strcmp(locale->date_order, "MDY") == 0)
		appendStringInfo(buf, "%02d%s%02d%s%04d", tm.tm_mon, locale->date_separator,
						 tm.tm_mday, locale->date_separator, tm.tm_year);
	else
		appendStringInfo(buf, "%04d%s%02d%s%02d", tm.tm_year, locale->date_separator,
						 tm.tm_mon, locale->date_separator, tm.tm_mday);
}

/*
 * format_expiry
 *		The {expires_at} of a run's grants, written once for the run: every
 *		grant of a run expires at its as_of plus the spec's "expires".
 */
char *
format_expiry(StrategySpec *spec, TimestampTz expires_at)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_date(&buf, spec->notify ? spec->notify->locale : NULL, expires_at);
	return buf.data;
}

/* ---- per grant ----------------------------------------------------------- */

static char *
render(StrategySpec *spec, Template *template, Candidate *candidate, const char *code,
	   const char *expiry)
{
	const LocaleFormat *locale = spec->notify->locale;
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < template->npieces; i++)
	{
		TemplatePiece *piece = &template->pieces[i];

		switch (piece->kind)
		{
			case PIECE_TEXT:
				appendBinaryStringInfo(&buf, piece->text, piece->len);
				break;
			case PIECE_ORDER:
				appendStringInfoString(&buf, candidate->order_key);
				break;
			case PIECE_BUYER:
				appendStringInfoString(&buf, candidate->buyer);
				break;
			case PIECE_AMOUNT:
				append_amount(&buf, locale, candidate->amount_minor, candidate->exponent);
				break;
			case PIECE_MONEY:
				append_money(&buf, locale ? locale : &locale_formats[0],
							 candidate->amount_minor, candidate->exponent, candidate->currency);
				break;
			case PIECE_CURRENCY:
				appendStringInfoString(&buf, candidate->currency);
				break;
			case PIECE_INSTRUMENT:
				appendStringInfoString(&buf, spec->instrument);
				break;
			case PIECE_EXPIRES_AT:
				appendStringInfoString(&buf, expiry);
				break;
			case PIECE_CODE:
				appendStringInfoString(&buf, code);
				break;
			case PIECE_COLUMN:
				if (candidate->column_values[piece->column])
					appendStringInfoString(&buf, candidate->column_values[piece->column]);
				break;
		}
	}
	return buf.data;
}

/* A reachability or preference value that says "yes". */
static bool
value_reaches(const char *value)
{
	return value != NULL && value[0] != '\0' &&
		strcmp(value, "f") != 0 && strcmp(value, "false") != 0;
}

/*
 * The buyer's channel: the preferred one when it is listed and reachable,
 * else the first reachable one in the listed order; when none is, the
 * first listed, marked unreachable (its message is written 'dead').
 */
static void
choose_channel(NotifySpec *notify, Candidate *candidate, GrantNotice *notice)
{
	int			preferred = -1;

	if (notify->preferred_column >= 0)
	{
		const char *value = candidate->column_values[notify->preferred_column];

		for (int i = 0; value && i < notify->nchannels; i++)
			if (pg_strcasecmp(value, notify->channels[i]) == 0)
				preferred = i;
	}
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < notify->nchannels; i++)
		{
			int			column = notify->reachable_column[i];

			if (pass == 0 && i != preferred)
				continue;
			if (column < 0 || value_reaches(candidate->column_values[column]))
			{
				notice->channel = notify->channels[i];
				notice->reachable = true;
				return;
			}
		}
	notice->channel = notify->channels[0];
	notice->reachable = false;
}

/*
 * make_grant_notice
 *		What grant grant_id gets: a voucher code when a template shows one,
 *		and its message (and correction message) on the chosen channel;
 *		expiry is format_expiry()'s for the run.  In CurrentMemoryContext.
 */
GrantNotice *
make_grant_notice(StrategySpec *spec, Candidate *candidate, int64 grant_id, const char *expiry)
{
	NotifySpec *notify = spec->notify;
	GrantNotice *notice = palloc0(sizeof(GrantNotice));

	if (notify == NULL)
		return notice;
	if (notify->uses_code)
		notice->code = voucher_code_for_grant(grant_id);
	choose_channel(notify, candidate, notice);
	notice->message = render(spec, notify->message, candidate, notice->code, expiry);
	if (notify->void_message)
		notice->void_message = render(spec, notify->void_message, candidate, notice->code,
									  expiry);
	return notice;
}

/* ---- SQL ----------------------------------------------------------------- */

/* format_money(amount, currency, locale): the amount as a message shows it */
PG_FUNCTION_INFO_V1(compensation_format_money);
Datum
compensation_format_money(PG_FUNCTION_ARGS)
{
	Numeric		amount;
	char	   *currency;
	char	   *locale_name;
	const LocaleFormat *locale;
	int			exponent;
	int64		amount_minor;
	StringInfoData buf;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	amount = PG_GETARG_NUMERIC(0);
	currency = text_to_cstring(PG_GETARG_TEXT_PP(1));
	locale_name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	locale = find_locale(locale_name);
	if (locale == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown locale \"%s\"", locale_name),
				 errhint("Use one of %s.", locale_list())));
	exponent = currency_exponent_of(currency, strlen(currency));
	if (exponent < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency \"%s\"", currency),
				 errhint("compensation.currency lists the ISO 4217 codes.")));
	if (numeric_is_nan(amount) || numeric_is_inf(amount) || numeric_is_negative(amount) ||
		!numeric_to_minor_units_half_up(numeric_times_power_of_ten(amount, exponent), &amount_minor))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cannot format amount %s", numeric_normalize(amount)),
				 errhint("Amounts are finite, not negative, and at most 2^63 - 1 minor units.")));
	initStringInfo(&buf);
	append_money(&buf, locale, amount_minor, exponent, currency);
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}

/* "Use one of en_US, ...": the hint of an unknown locale. */
const char *
notify_locale_hint(void)
{
	return psprintf("Use one of %s.", locale_list());
}

/* compensation.outbox_lease, in seconds (see notify_define_settings). */
static int	outbox_lease_seconds = 300;

/*
 * notify_define_settings
 *		Define compensation.outbox_lease: how long outbox_claim() holds a
 *		message before it is claimable again (default 5 minutes).  The
 *		prefix is reserved, so the setting exists only once this is called
 *		from _PG_init; outbox_lease() reads it with current_setting().
 */
void
notify_define_settings(void)
{
	DefineCustomIntVariable("compensation.outbox_lease",
							"How long a claim of outbox_claim() holds a message.",
							"A claimed message not marked within its lease is claimable again.",
							&outbox_lease_seconds,
							300, 1, 86400,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}
