/*-------------------------------------------------------------------------
 *
 * notify.h
 *	  What a grant tells its buyer: the notification part of a spec
 *	  (channels, templates, locale) in compiled form, and what apply()
 *	  makes of it for each grant (notify.c).
 *
 * spec_parse.c checks the JSON shape and calls compile_template() and
 * find_locale(); spec_bind.c resolves the source columns templates and the
 * channel choice read (StrategySpec.candidate_column_refs); the ledger
 * writer calls format_expiry() once a run and make_grant_notice() for each
 * grant, which takes its code from voucher_code.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COMPENSATION_NOTIFY_H
#define COMPENSATION_NOTIFY_H

#include "postgres.h"

#include "apply.h"
#include "strategy.h"

/* The channels a delivery worker knows (README, "Notifications"). */
#define NOTIFY_CHANNEL_NAMES "push, email, sms"
#define MAX_NOTIFY_CHANNELS 3

/* The placeholders of a template; one table drives parsing and rendering. */
typedef enum PlaceholderKind
{
	PIECE_TEXT,					/* literal text */
	PIECE_ORDER,
	PIECE_BUYER,
	PIECE_AMOUNT,				/* 5.00, or 5,00 with a locale */
	PIECE_MONEY,				/* R$ 5,00: amount with the currency's symbol */
	PIECE_CURRENCY,
	PIECE_INSTRUMENT,
	PIECE_EXPIRES_AT,			/* the grant's expiry date */
	PIECE_CODE,					/* the grant's voucher code */
	PIECE_COLUMN				/* {col:name}: a source column, as text */
} PlaceholderKind;

typedef struct TemplatePiece
{
	PlaceholderKind kind;
	const char *text;			/* PIECE_TEXT: not NUL-terminated */
	int			len;
	int			column;			/* PIECE_COLUMN: index in candidate_columns */
} TemplatePiece;

typedef struct Template
{
	int			npieces;
	TemplatePiece *pieces;
	bool		uses_code;
} Template;

/* How a locale writes amounts and dates (notify.c, locale_formats[]). */
typedef struct LocaleFormat
{
	const char *name;			/* pt_BR */
	const char *decimal;		/* decimal separator */
	const char *group;			/* thousands separator */
	bool		symbol_after;	/* 5,00 € rather than € 5,00 */
	bool		symbol_space;	/* R$ 5,00 rather than R$5,00 */
	const char *date_order;		/* "DMY", "MDY", "YMD" */
	const char *date_separator;
} LocaleFormat;

typedef struct NotifySpec
{
	int			nchannels;
	char	   *channels[MAX_NOTIFY_CHANNELS];	/* tried in this order */
	int			reachable_column[MAX_NOTIFY_CHANNELS];	/* -1: always reachable */
	int			preferred_column;	/* -1: none */
	Template   *message;
	Template   *void_message;	/* NULL: no correction message */
	const LocaleFormat *locale; /* NULL: none given */
	bool		uses_code;
} NotifySpec;

/* What one grant gets: its code and its message (NULL fields: none). */
typedef struct GrantNotice
{
	char	   *code;
	const char *channel;
	bool		reachable;		/* false: no listed channel could reach the buyer */
	char	   *message;
	char	   *void_message;
} GrantNotice;

/* parsing (called by spec_parse.c) */
extern const LocaleFormat *find_locale(const char *name);
extern bool known_channel(const char *name);
extern int	add_candidate_column(StrategySpec *spec, const char *name, const char *path);
extern Template *compile_template(StrategySpec *spec, const char *template_text,
								  const char *path);
extern const char *notify_locale_hint(void);

/* apply (called by ledger_writer.c) */
extern char *format_expiry(StrategySpec *spec, TimestampTz expires_at);
extern GrantNotice *make_grant_notice(StrategySpec *spec, Candidate *candidate,
									  int64 grant_id, const char *expiry);

/* voucher codes (voucher_code.c) */
extern char *voucher_code_for_grant(int64 grant_id);
extern bool voucher_code_grant_id(const char *code, int len, int64 *grant_id);

/* settings (for _PG_init) */
extern void notify_define_settings(void);

#endif							/* COMPENSATION_NOTIFY_H */
