/*-------------------------------------------------------------------------
 *
 * holdout.c
 *	  The holdout hash: which buyers a strategy deliberately leaves out.
 *
 * A buyer is in the holdout of a strategy when
 *
 *	   FNV-1a-32(UTF-8 bytes of salt || ':' || buyer) mod 10000 < holdout * 10000
 *
 * with the salt fixed when the strategy is first defined (its name).  FNV-1a
 * over bytes is specified independently of PostgreSQL, of byte order and of
 * this extension's version, so the decision is stable across sessions,
 * machines and upgrades; comparing the bucket with a threshold makes it
 * monotone (raising 5% to 10% keeps the first 5% held out).  The README
 * lists test vectors, and the tests pin them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "strategy.h"

#define FNV1A_32_OFFSET_BASIS 2166136261u
#define FNV1A_32_PRIME 16777619u
#define HOLDOUT_BUCKETS 10000

static uint32
fnv1a_32_update(uint32 hash, const unsigned char *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		hash ^= bytes[i];
		hash *= FNV1A_32_PRIME;
	}
	return hash;
}

uint32
holdout_hash(const char *salt, const char *buyer, size_t buyer_len)
{
	uint32		hash = FNV1A_32_OFFSET_BASIS;

	hash = fnv1a_32_update(hash, (const unsigned char *) salt, strlen(salt));
	hash = fnv1a_32_update(hash, (const unsigned char *) ":", 1);
	return fnv1a_32_update(hash, (const unsigned char *) buyer, buyer_len);
}

bool
buyer_in_holdout(const char *salt, int32 holdout_buckets, const char *buyer, size_t buyer_len)
{
	return holdout_hash(salt, buyer, buyer_len) % HOLDOUT_BUCKETS < (uint32) holdout_buckets;
}
