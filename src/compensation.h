/*-------------------------------------------------------------------------
 *
 * compensation.h
 *	  Declarations shared by the C files of the compensation extension.
 *
 * Each .c file owns one concern; this header only carries what crosses
 * file boundaries.
 *
 *-------------------------------------------------------------------------
 */
#ifndef COMPENSATION_H
#define COMPENSATION_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* quarter.c: a quarter of a (possibly fiscal) year. */
typedef struct FiscalQuarter
{
	int			fiscal_year;	/* calendar year in which the fiscal year starts */
	int			quarter;		/* 1..4 */
} FiscalQuarter;

#define QUARTER_TEXT_LEN 7		/* "YYYY-Qn" */

extern void check_fiscal_start_month(int fiscal_start_month);
extern bool parse_quarter(const char *text, FiscalQuarter *result);
extern FiscalQuarter parse_quarter_or_error(const char *text);
extern FiscalQuarter quarter_of_timestamp(TimestampTz ts, int fiscal_start_month);
extern TimestampTz quarter_start(FiscalQuarter q, int fiscal_start_month);
extern FiscalQuarter quarter_add(FiscalQuarter q, int quarters);
extern void format_quarter(FiscalQuarter q, char *buf);

/* compensation.c: the compensation.fiscal_start_month setting */
extern int	compensation_fiscal_start_month;

/* compensation.c: the compensation.progress_interval setting */
extern int	compensation_progress_interval;

/* compensation.c: the compensation.watermark_margin setting, in seconds */
extern int	compensation_watermark_margin;

/* compensation.c: the compensation.run_work_mem setting, in kB; -1: work_mem */
extern int	compensation_run_work_mem;

/* strategy_cache.c */
extern void strategy_cache_init(void);

#endif							/* COMPENSATION_H */
