/*-------------------------------------------------------------------------
 *
 * reviews.c
 *	  The C side of reviews governance (src/sql/70_reviews.sql): the
 *	  binomial upper tail that review_farming() tests buyers with, and
 *	  signal_holds(), which decides a named signal's condition over a row.
 *
 * The binomial tail P(X >= k), X ~ Binomial(n, p), is summed from the
 * probability of its first term, computed in log space with Loader's
 * saddle-point form (Stirling corrections and the deviance bd0), so that
 * neither n! nor p^k is ever formed: counts up to 2^53 neither overflow nor
 * lose their digits to cancellation, and a tail far below the smallest
 * double is still returned as its logarithm.  When k lies at or below the
 * mean, the tail is 1 minus the lower sum, which is then at least about
 * one half.  The terms are chained by their ratio and re-anchored on the
 * exact probability every 1000 terms, so rounding does not build up.
 *
 * A signal is a condition in the spec language of "when" over a source.
 * It is checked and bound by the strategy machinery itself, as the "when"
 * of a spec that pays nothing (spec_parse.c, spec_bind.c, spec_eval.c), so
 * a condition means exactly what it means in a strategy.  signal_holds()
 * keeps the bound condition per call site in fn_extra, per signal name and
 * row type, for one statement; it reads compensation.signal with the
 * caller's rights and never reads a source itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "strategy.h"

/* Re-anchor the chained terms on the exact probability this often. */
#define TAIL_REANCHOR_TERMS 1000
#define LOG_SQRT_2PI 0.918938533204672741780329736406	/* log(sqrt(2 pi)) */

/* ---- the binomial tail --------------------------------------------------- */

/*
 * log(n!) - ((n + 1/2) log n - n + log sqrt(2 pi)): the error of Stirling's
 * formula.  Below 16 from lgamma (exact to a few ulps of lgamma, which is
 * far more than the correction's size needs); above, its series.
 */
static double
StirlingError(double n)
{
	const double S0 = 1.0 / 12.0,
				S1 = 1.0 / 360.0,
				S2 = 1.0 / 1260.0,
				S3 = 1.0 / 1680.0,
				S4 = 1.0 / 1188.0;
	double		nn;

	if (n <= 15.0)
		return lgamma(n + 1.0) - (n + 0.5) * log(n) + n - LOG_SQRT_2PI;
	nn = n * n;
	if (n > 500)
		return (S0 - S1 / nn) / n;
	if (n > 80)
		return (S0 - (S1 - S2 / nn) / nn) / n;
	if (n > 35)
		return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
	return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

/* The deviance x log(x / np) + np - x, without cancellation near x = np. */
static double
Deviance(double x, double np)
{
	if (fabs(x - np) < 0.1 * (x + np))
	{
		double		v = (x - np) / (x + np);
		double		s = (x - np) * v;
		double		ej = 2 * x * v;

		v = v * v;
		for (int j = 1; j < 1000; j++)
		{
			double		s1;

			ej *= v;
			s1 = s + ej / (2 * j + 1);
			if (s1 == s)
				return s1;
			s = s1;
		}
	}
	return x * log(x / np) + np - x;
}

/* log P(X = x), X ~ Binomial(n, p), q = 1 - p; 0 < p < 1, 0 <= x <= n. */
static double
LogBinomialProbability(double x, double n, double p, double q)
{
	double		lc;

	if (x == 0)
		return p < 0.1 ? -Deviance(n, n * q) - n * p : n * log(q);
	if (x == n)
		return q < 0.1 ? -Deviance(n, n * p) - n * q : n * log(p);
	lc = StirlingError(n) - StirlingError(x) - StirlingError(n - x)
		- Deviance(x, n * p) - Deviance(n - x, n * q);
	return lc - 0.5 * (2 * LOG_SQRT_2PI + log(x) + log1p(-x / n));
}

/*
 * Sum the terms P(X = x) / P(X = start) for x = start, start + step, ...
 * while they are in [0, n] and matter: the sum of a tail whose terms fall
 * geometrically from its first.
 */
static double
RelativeTailSum(double start, double n, double p, double q, int step)
{
	double		log_first = LogBinomialProbability(start, n, p, q);
	double		sum = 0.0;
	double		term = 1.0;
	double		x = start;
	long		count = 0;

	for (;;)
	{
		sum += term;
		if (step > 0)
		{
			if (x >= n)
				break;
			term *= (n - x) / (x + 1) * (p / q);
		}
		else
		{
			if (x <= 0)
				break;
			term *= x / (n - x + 1) * (q / p);
		}
		x += step;
		if (++count % TAIL_REANCHOR_TERMS == 0)
			term = exp(LogBinomialProbability(x, n, p, q) - log_first);
		if (term < sum * DBL_EPSILON * 0.25)
			break;
		if ((count & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	return sum;
}

/*
 * log P(X >= k), X ~ Binomial(n, p).  -infinity when the tail is empty.
 */
static double
LogBinomialUpperTail(int64 k, int64 n, double p)
{
	double		q = 1.0 - p;
	double		mean = (double) n * p;

	if (k <= 0)
		return 0.0;
	if (k > n || p == 0.0)
		return -INFINITY;
	if (p == 1.0)
		return 0.0;
	if ((double) k > mean)
		return LogBinomialProbability((double) k, (double) n, p, q)
			+ log(RelativeTailSum((double) k, (double) n, p, q, 1));

	/* 1 - P(X <= k - 1); the lower sum is at most about one half here */
	{
		double		lower = exp(LogBinomialProbability((double) (k - 1), (double) n, p, q))
			* RelativeTailSum((double) (k - 1), (double) n, p, q, -1);

		return log1p(-Min(lower, 1.0));
	}
}

static void
check_binomial_arguments(FunctionCallInfo fcinfo, int64 *k, int64 *n, double *p)
{
	*k = PG_GETARG_INT64(0);
	*n = PG_GETARG_INT64(1);
	*p = PG_GETARG_FLOAT8(2);
	if (*n < 0 || *n > ((int64) 1 << 53))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("binomial trials n = " INT64_FORMAT " is out of range", *n),
				 errhint("Give a count from 0 to 2^53.")));
	if (isnan(*p) || *p < 0.0 || *p > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("binomial probability %g is out of range", *p),
				 errhint("Give a probability from 0 to 1.")));
}

/*
 * compensation.binomial_upper_tail(k bigint, n bigint, p float8) -> float8:
 *		P(X >= k) for X ~ Binomial(n, p); 0 when it is below the smallest
 *		double (binomial_upper_tail_log has its logarithm).
 */
PG_FUNCTION_INFO_V1(compensation_binomial_upper_tail);
Datum
compensation_binomial_upper_tail(PG_FUNCTION_ARGS)
{
	int64		k,
				n;
	double		p;

	check_binomial_arguments(fcinfo, &k, &n, &p);
	PG_RETURN_FLOAT8(exp(LogBinomialUpperTail(k, n, p)));
}

/*
 * compensation.binomial_upper_tail_log(k bigint, n bigint, p float8) -> float8:
 *		the natural logarithm of P(X >= k), -Infinity for an empty tail.
 */
PG_FUNCTION_INFO_V1(compensation_binomial_upper_tail_log);
Datum
compensation_binomial_upper_tail_log(PG_FUNCTION_ARGS)
{
	int64		k,
				n;
	double		p;

	check_binomial_arguments(fcinfo, &k, &n, &p);
	PG_RETURN_FLOAT8(LogBinomialUpperTail(k, n, p));
}

/* ---- signals ------------------------------------------------------------- */

typedef struct SignalCache
{
	MemoryContext context;		/* holds the spec and row buffers */
	MemoryContext row_context;	/* reset at every call */
	char	   *signal_name;
	Oid			row_type;
	int32		row_typmod;
	TupleDesc	row_desc;
	StrategySpec *spec;			/* NULL while (re)building */
	Datum	   *values;
	bool	   *nulls;
} SignalCache;

/*
 * The spec of a strategy that pays nothing and whose "when" is the signal's
 * condition: what the strategy machinery checks, binds and evaluates.
 * define_signal() builds the same jsonb (compensation.signal_spec).
 */
static Jsonb *
load_signal_spec(const char *name)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			argtype = TEXTOID;
	Jsonb	   *spec = NULL;
	MemoryContext caller_context = CurrentMemoryContext;
	int			ret;
	int			search_path_level;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	search_path_level = pin_search_path();
	ret = SPI_execute_with_args("SELECT compensation.signal_spec(s.source, s.condition, s.keys) "
								"FROM compensation.signal AS s "
								"WHERE s.name OPERATOR(pg_catalog.=) $1",
								1, &argtype, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "unexpected SPI result %d reading compensation.signal", ret);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext spi_context = MemoryContextSwitchTo(caller_context);

			spec = DatumGetJsonbPCopy(d);
			MemoryContextSwitchTo(spi_context);
		}
	}
	unpin_search_path(search_path_level);
	SPI_finish();
	if (spec == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("signal \"%s\" does not exist", name),
				 errhint("SELECT name FROM compensation.signals lists them; compensation.define_signal() adds one.")));
	return spec;
}

/*
 * compensation.signal_holds(signal text, facts record) -> boolean:
 *		whether the signal's condition is true for the row (SQL three-valued
 *		logic: unknown is not true).  NULL when either argument is NULL.
 */
PG_FUNCTION_INFO_V1(compensation_signal_holds);
Datum
compensation_signal_holds(PG_FUNCTION_ARGS)
{
	SignalCache *cache = (SignalCache *) fcinfo->flinfo->fn_extra;
	HeapTupleHeader facts;
	Oid			row_type;
	int32		row_typmod;
	text	   *name;
	HeapTupleData tuple;
	Decision	decision;
	MemoryContext oldcontext;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	name = PG_GETARG_TEXT_PP(0);
	facts = PG_GETARG_HEAPTUPLEHEADER(1);
	row_type = HeapTupleHeaderGetTypeId(facts);
	row_typmod = HeapTupleHeaderGetTypMod(facts);

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SignalCache));
		cache->context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "compensation signal",
											   ALLOCSET_SMALL_SIZES);
		cache->row_context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "compensation signal row",
												   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->spec == NULL || cache->row_type != row_type || cache->row_typmod != row_typmod ||
		strlen(cache->signal_name) != VARSIZE_ANY_EXHDR(name) ||
		memcmp(cache->signal_name, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) != 0)
	{
		StrategySpec *spec;
		TupleDesc	desc;

		cache->spec = NULL;
		MemoryContextReset(cache->context);
		oldcontext = MemoryContextSwitchTo(cache->context);
		cache->signal_name = text_to_cstring(name);
		cache->row_type = row_type;
		cache->row_typmod = row_typmod;
		desc = lookup_rowtype_tupdesc(row_type, row_typmod);
		cache->row_desc = CreateTupleDescCopy(desc);
		ReleaseTupleDesc(desc);
		cache->values = palloc(sizeof(Datum) * Max(cache->row_desc->natts, 1));
		cache->nulls = palloc(sizeof(bool) * Max(cache->row_desc->natts, 1));

		spec = parse_strategy_spec(load_signal_spec(cache->signal_name), false);
		spec->strategy_name = psprintf("signal %s", cache->signal_name);
		spec->version = 1;
		load_currencies(spec);
		bind_strategy_spec(spec, cache->row_desc,
						   row_type == RECORDOID ? "the facts row"
						   : psprintf("the facts row of type %s", format_type_be(row_type)),
						   false);
		MemoryContextSwitchTo(oldcontext);
		cache->spec = spec;
	}

	MemoryContextReset(cache->row_context);
	oldcontext = MemoryContextSwitchTo(cache->row_context);
	tuple.t_len = HeapTupleHeaderGetDatumLength(facts);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = facts;
	heap_deform_tuple(&tuple, cache->row_desc, cache->values, cache->nulls);
	evaluate_strategy(cache->spec, cache->values, cache->nulls, false, &decision);
	MemoryContextSwitchTo(oldcontext);
	PG_RETURN_BOOL(decision.conditions_held);
}
