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

PG_MODULE_MAGIC;
