/*-------------------------------------------------------------------------
 *
 * holdout.c
 *	  The holdout hash: which buyers a strategy deliberately leaves out.
 *
 * A buyer is in the holdout of a strategy when
 *
 *	   fmix32(FNV-1a-32(UTF-8 bytes of salt || ':' || buyer)) mod 10000
 *		   < holdout * 10000
 *
 * with the salt fixed when the strategy is first defined (its name).  Both
 * steps are specified over bytes, independently of PostgreSQL, of byte
 * order and of this extension's version, so the decision is stable across
 * sessions, machines and upgrades; comparing the bucket with a threshold
 * makes it monotone (raising 5% to 10% keeps the first 5% held out).
 *
 * fmix32 is MurmurHash3's 32-bit finalizer.  Plain FNV-1a spreads
 * sequential ids ("buyer-1", "buyer-2", ...) unevenly over the buckets (a
 * chi-square test rejects it); the finalizer's avalanche fixes that.  The
 * README lists test vectors, and the tests pin them.
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

static uint32
murmur3_fmix32(uint32 hash)
{
	hash ^= hash >> 16;
	hash *= 0x85ebca6bu;
	hash ^= hash >> 13;
	hash *= 0xc2b2ae35u;
	hash ^= hash >> 16;
	return hash;
}

uint32
holdout_hash(const char *salt, const char *buyer, size_t buyer_len)
{
	uint32		hash = FNV1A_32_OFFSET_BASIS;

	hash = fnv1a_32_update(hash, (const unsigned char *) salt, strlen(salt));
	hash = fnv1a_32_update(hash, (const unsigned char *) ":", 1);
	hash = fnv1a_32_update(hash, (const unsigned char *) buyer, buyer_len);
	return murmur3_fmix32(hash);
}

bool
buyer_in_holdout(const char *salt, int32 holdout_buckets, const char *buyer, size_t buyer_len)
{
	return holdout_hash(salt, buyer, buyer_len) % HOLDOUT_BUCKETS < (uint32) holdout_buckets;
}
