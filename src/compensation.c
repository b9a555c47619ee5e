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

/*
 * How long, in seconds, a transaction that writes a source's change column
 * may run and still be seen by the next incremental run (watermark.c).
 */
int			compensation_watermark_margin = 300;

/*
 * work_mem of a run's candidate query, in kB; -1: the session's work_mem.
 * A scheduled run should not take a multiple of the session's work_mem
 * (its sort and its hash joins each may use it) for the whole window.
 */
int			compensation_run_work_mem = 16384;

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
	DefineCustomIntVariable("compensation.watermark_margin",
							"How far before the previous run's watermark an incremental apply() reads changed rows.",
							"It must exceed the longest transaction that writes a source's \"changed\" column (and any clock skew between the writers and the database). Superuser-only: too small a margin loses changes for good.",
							&compensation_watermark_margin,
							300, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("compensation.run_work_mem",
							"Memory for each sort and hash of a run's candidate query (work_mem while it runs).",
							"-1 uses work_mem. Past it the query spills to temporary files, as any query does past work_mem.",
							&compensation_run_work_mem,
							16384, -1, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
	notify_define_settings();
	MarkGUCPrefixReserved("compensation");
	strategy_cache_init();
}
