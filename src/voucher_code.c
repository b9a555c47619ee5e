/*-------------------------------------------------------------------------
 *
 * voucher_code.c
 *	  Voucher codes: what a grant's {code} is, and the grant it names.
 *
 * A code is 20 symbols of a 32-symbol alphabet in groups of four,
 * "8CHJ-B6VB-RNVM-6TNR-K7ER" (a code of grant 1): the first two groups are
 * the grant's id, the last three 60 bits from pg_strong_random().  The
 * alphabet leaves out 0, 1, I and O, which buyers confuse.  A grant id
 * that does not fit in 40 bits (or is negative) takes four groups, the
 * code seven.
 *
 * The id part makes a code unique by construction, and the ledger's CHECK
 * (voucher_code_grant_id(voucher_code) = grant_id) lets the primary key
 * enforce it: two grants with one code would be two rows with one grant
 * id.  A unique index on the codes said the same for about 9% more work a
 * grant (an insert at a random place in an index, bench/NOTES.md), and
 * bought nothing the key does not.  Finding a grant by its code is a primary-key lookup:
 *		WHERE grant_id = voucher_code_grant_id($1) AND voucher_code = $1
 *
 * The random part is what makes a code unguessable: whatever codes one
 * knows, a guess at another has one chance in 2^60 for the grant it names.
 * The id goes through a fixed bijection first, so that consecutive grants'
 * codes do not look consecutive; that is a disguise, not a secret (the
 * bijection is here, and codes tell the order grants were made in to
 * whoever reads this file).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "port.h"
#include "utils/builtins.h"

#include "notify.h"

#define VOUCHER_ALPHABET "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#define VOUCHER_GROUP 4
#define VOUCHER_RANDOM_SYMBOLS 12	/* 60 bits */
#define VOUCHER_SHORT_ID_SYMBOLS 8	/* 40 bits */
#define VOUCHER_LONG_ID_SYMBOLS 16	/* 80 bits, the top 16 zero */
#define VOUCHER_SHORT_ID_BITS 40
#define VOUCHER_MAX_SYMBOLS (VOUCHER_LONG_ID_SYMBOLS + VOUCHER_RANDOM_SYMBOLS)
/* symbols and a dash between groups */
#define VOUCHER_TEXT_LENGTH(nsymbols) ((nsymbols) + (nsymbols) / VOUCHER_GROUP - 1)

/*
 * The bijection the id goes through, on 40 or 64 bits: multiply by an odd
 * constant, fold the high half into the low one, twice.  Each step is
 * invertible modulo 2^bits (odd multipliers have inverses; x ^ (x >> h) is
 * its own inverse on 2h bits).
 */
#define ID_MULTIPLIER_1 UINT64CONST(0x9E3779B97F4A7C15)
#define ID_MULTIPLIER_2 UINT64CONST(0xBF58476D1CE4E5B9)

static uint64
bits_mask(int bits)
{
	return bits == 64 ? PG_UINT64_MAX : (UINT64CONST(1) << bits) - 1;
}

/* the inverse of an odd number modulo 2^64 (Newton's iteration) */
static uint64
odd_inverse(uint64 odd)
{
	uint64		inverse = odd;	/* right to 3 bits: odd * odd = 1 mod 8 */

	for (int i = 0; i < 5; i++)
		inverse *= 2 - odd * inverse;
	return inverse;
}

static uint64
disguise_id(uint64 id, int bits)
{
	uint64		mask = bits_mask(bits);
	int			half = bits / 2;

	id = (id * ID_MULTIPLIER_1) & mask;
	id ^= id >> half;
	id = (id * ID_MULTIPLIER_2) & mask;
	id ^= id >> half;
	return id;
}

static uint64
reveal_id(uint64 disguised, int bits)
{
	uint64		mask = bits_mask(bits);
	int			half = bits / 2;

	disguised ^= disguised >> half;
	disguised = (disguised * odd_inverse(ID_MULTIPLIER_2)) & mask;
	disguised ^= disguised >> half;
	return (disguised * odd_inverse(ID_MULTIPLIER_1)) & mask;
}

/*
 * The random bytes of voucher codes, drawn from pg_strong_random() a block
 * at a time: one call (OpenSSL's RAND_bytes, which locks its generator)
 * cost about 3 us, as much as the rest of a grant's message, and apply
 * makes a code per grant.  Each byte still serves one code only, and is
 * wiped once taken.  Backend-local: backends are forked from the
 * postmaster, which never makes a code, so no two processes share a block.
 */
#define VOUCHER_RANDOM_BLOCK 1000	/* 125 codes of 8 bytes */
static uint8 voucher_random[VOUCHER_RANDOM_BLOCK];
static int	voucher_random_used = VOUCHER_RANDOM_BLOCK;

static uint64
take_voucher_random(void)
{
	uint64		value;

	if (voucher_random_used + sizeof(value) > VOUCHER_RANDOM_BLOCK)
	{
		if (!pg_strong_random(voucher_random, sizeof(voucher_random)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random voucher code"),
					 errhint("The server's source of cryptographic randomness (OpenSSL or /dev/urandom) failed.")));
		voucher_random_used = 0;
	}
	memcpy(&value, voucher_random + voucher_random_used, sizeof(value));
	explicit_bzero(voucher_random + voucher_random_used, sizeof(value));
	voucher_random_used += sizeof(value);
	return value;
}

/* the low 5 * nsymbols bits of value, most significant first */
static char *
put_symbols(char *out, uint64 value, int nsymbols)
{
	for (int i = nsymbols - 1; i >= 0; i--)
		*out++ = VOUCHER_ALPHABET[(i * 5 < 64 ? value >> (i * 5) : 0) & 31];
	return out;
}

/*
 * voucher_code_for_grant
 *		A new code naming grant_id, palloc'd.
 */
char *
voucher_code_for_grant(int64 grant_id)
{
	char		symbols[VOUCHER_MAX_SYMBOLS];
	char	   *end = symbols;
	char	   *code;
	char	   *out;
	uint64		random = take_voucher_random();

	StaticAssertStmt(sizeof(VOUCHER_ALPHABET) - 1 == 32, "32 symbols, 5 bits each");
	if (grant_id >= 0 && grant_id < (INT64CONST(1) << VOUCHER_SHORT_ID_BITS))
		end = put_symbols(end, disguise_id((uint64) grant_id, VOUCHER_SHORT_ID_BITS),
						  VOUCHER_SHORT_ID_SYMBOLS);
	else
		end = put_symbols(end, disguise_id((uint64) grant_id, 64), VOUCHER_LONG_ID_SYMBOLS);
	end = put_symbols(end, random, VOUCHER_RANDOM_SYMBOLS);
	explicit_bzero(&random, sizeof(random));

	code = palloc(VOUCHER_TEXT_LENGTH(end - symbols) + 1);
	out = code;
	for (int i = 0; i < end - symbols; i++)
	{
		if (i > 0 && i % VOUCHER_GROUP == 0)
			*out++ = '-';
		*out++ = symbols[i];
	}
	*out = '\0';
	explicit_bzero(symbols, sizeof(symbols));
	return code;
}

/* each symbol's value, -1 for other bytes (filled on first use) */
static int8 symbol_values[256];
static bool symbol_values_ready = false;

static void
fill_symbol_values(void)
{
	memset(symbol_values, -1, sizeof(symbol_values));
	for (int i = 0; i < 32; i++)
		symbol_values[(uint8) VOUCHER_ALPHABET[i]] = i;
	symbol_values_ready = true;
}

/*
 * voucher_code_grant_id
 *		The grant a code names, or false when it is not a code (wrong
 *		length, a dash or a symbol out of place, an id part out of range, or
 *		the long form of an id the short form holds: each grant id has one
 *		form).
 */
bool
voucher_code_grant_id(const char *code, int len, int64 *grant_id)
{
	int			id_symbols;
	uint64		value = 0;
	uint64		id;

	if (len == VOUCHER_TEXT_LENGTH(VOUCHER_SHORT_ID_SYMBOLS + VOUCHER_RANDOM_SYMBOLS))
		id_symbols = VOUCHER_SHORT_ID_SYMBOLS;
	else if (len == VOUCHER_TEXT_LENGTH(VOUCHER_LONG_ID_SYMBOLS + VOUCHER_RANDOM_SYMBOLS))
		id_symbols = VOUCHER_LONG_ID_SYMBOLS;
	else
		return false;
	if (!symbol_values_ready)
		fill_symbol_values();
	for (int i = 0, symbol = 0; i < len; i++)
	{
		int			symbol_value;

		if (i % (VOUCHER_GROUP + 1) == VOUCHER_GROUP)
		{
			if (code[i] != '-')
				return false;
			continue;
		}
		symbol_value = symbol_values[(uint8) code[i]];
		if (symbol_value < 0)
			return false;
		if (symbol < id_symbols)
		{
			/* the long form's top 16 bits are zero: 64 bits, no more */
			if (value >> 59 != 0)
				return false;
			value = (value << 5) | (uint64) symbol_value;
		}
		symbol++;
	}
	if (id_symbols == VOUCHER_SHORT_ID_SYMBOLS)
		id = reveal_id(value, VOUCHER_SHORT_ID_BITS);
	else
	{
		id = reveal_id(value, 64);
		if ((int64) id >= 0 && (int64) id < (INT64CONST(1) << VOUCHER_SHORT_ID_BITS))
			return false;
	}
	*grant_id = (int64) id;
	return true;
}

/* ---- SQL ----------------------------------------------------------------- */

/* new_voucher_code(grant_id): a code as apply() gives that grant */
PG_FUNCTION_INFO_V1(compensation_new_voucher_code);
Datum
compensation_new_voucher_code(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(voucher_code_for_grant(PG_GETARG_INT64(0))));
}

/* voucher_code_grant_id(code): the grant a code names, NULL if none */
PG_FUNCTION_INFO_V1(compensation_voucher_code_grant_id);
Datum
compensation_voucher_code_grant_id(PG_FUNCTION_ARGS)
{
	text	   *code = PG_GETARG_TEXT_PP(0);
	int64		grant_id;

	if (!voucher_code_grant_id(VARDATA_ANY(code), VARSIZE_ANY_EXHDR(code), &grant_id))
		PG_RETURN_NULL();
	PG_RETURN_INT64(grant_id);
}
