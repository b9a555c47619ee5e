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
#include "utils/guc.h"

#include "compensation.h"
#include "notify.h"

PG_MODULE_MAGIC;

/* The first month of the fiscal year that apply() budgets by. */
int			compensation_fiscal_start_month = 1;

/* How often a long apply() reports its progress, in milliseconds; 0: never. */
int			compensation_progress_interval = 5000;

void		_PG_init(void);

/*
 * _PG_init
 *		Define the extension's settings and register the relcache callback
 *		that keeps compiled strategies fresh.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("compensation.fiscal_start_month",
							"First month (1-12) of the fiscal year whose quarters apply() spends budgets of.",
							"Set it per database (ALTER DATABASE ... SET) so that every session budgets alike.",
							&compensation_fiscal_start_month,
							1, 1, 12,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("compensation.progress_interval",
							"How often a long apply() reports its progress with a NOTICE.",
							"0 turns the reports off; the test harness does, so that a slow machine prints nothing more.",
							&compensation_progress_interval,
							5000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	notify_define_settings();
	MarkGUCPrefixReserved("compensation");
	strategy_cache_init();
}
