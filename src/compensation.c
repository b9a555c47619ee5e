/*-------------------------------------------------------------------------
 *
 * compensation.c
 *	  Module entry point of the compensation extension.
 *
 * Owns the module magic block and module load-time initialisation only;
 * every SQL-callable function lives in the file of its concern.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "compensation.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init
 *		Register the relcache callback that keeps compiled strategies fresh.
 */
void
_PG_init(void)
{
	strategy_cache_init();
}
