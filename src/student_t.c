/*-------------------------------------------------------------------------
 *
 * student_t.c
 *	  The quantile of Student's t distribution: StudentTQuantile(), which
 *	  uplift() multiplies its standard error by, and the SQL function
 *	  compensation.student_t_quantile().
 *
 * Plain double arithmetic (libm's lgamma, log1p, erfc); no state, no
 * allocation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "analysis.h"

/* ====================================================================
 * The Student t quantile
 * ==================================================================== */

/*
 * The t distribution's tail is a regularized incomplete beta function:
 *
 *	 P(|T| > t) = I_x(df/2, 1/2),  x = df / (df + t^2)
 *
 * I_x(a, b) is x^a (1-x)^b / (a B(a, b)) times a continued fraction
 * (Numerical Recipes' betacf, evaluated with the modified Lentz method), or
 * 1 - I_(1-x)(b, a) by symmetry.  The fraction for I_x(a, b) converges
 * quickly for x < (a+1)/(a+b+2); for large df (a >= BETA_LARGE_A), however,
 * x is so close to 1 that it loses accuracy there (about 1e-8 relative at
 * df = 1e9), while the one for I_(1-x)(1/2, a) converges in a few steps as
 * long as a (1-x), about t^2/2, is moderate.  So with large df the second
 * is used up to a (1-x) = BETA_LARGE_A_SWITCH (t about 4), the first beyond.
 *
 * Checked against 60-digit values (mpmath) over df from 0.01 to 1e15 and
 * p from 1e-300 to 1 - 1e-12: relative error below 1e-10 for df up to 1e9,
 * and for any df while 1e-4 < p < 1 - 1e-4; beyond df = 1e9, in the far
 * tails, about 1e-7.  The quantile is found by bisection on t to the last
 * bit of a double, so its error is the tail function's.  It is used below
 * STUDENT_T_EXPANSION_DF (1e6) degrees of freedom, where its quantiles are
 * within 2e-13 relative of mpmath's; from there on the expansion around the
 * normal quantile below is exact to a few units in the last place.
 */
#define BETA_CF_MAX_ITERATIONS 100000
#define BETA_CF_EPSILON 1e-16
#define BETA_CF_TINY 1e-300
#define BETA_LARGE_A 5e4
#define BETA_LARGE_A_SWITCH 8.0

/* The Stirling series of log Gamma(x) - ((x - 1/2) log x - x + log(2 pi) / 2), x >= 10. */
static double
LogGammaCorrection(double x)
{
	double		inverse_square = 1.0 / (x * x);

	return (1.0 / 12.0 - inverse_square * (1.0 / 360.0 - inverse_square *
										   (1.0 / 1260.0 - inverse_square *
											(1.0 / 1680.0 - inverse_square / 1188.0)))) / x;
}

/*
 * log B(a, b).  With a large argument, lgamma(q) - lgamma(p + q) would lose
 * everything to cancellation; it is written as its Stirling difference
 * instead, with log1p.
 */
static double
LogBeta(double a, double b)
{
	double		p = Min(a, b);
	double		q = Max(a, b);
	double		log_gamma_ratio;	/* log Gamma(q) - log Gamma(p + q) */

	if (q < 10.0)
		return lgamma(p) + lgamma(q) - lgamma(p + q);
	log_gamma_ratio = -p * log(q) - (p + q - 0.5) * log1p(p / q) + p
		+ LogGammaCorrection(q) - LogGammaCorrection(p + q);
	if (p < 10.0)
		return lgamma(p) + log_gamma_ratio;
	return (p - 0.5) * log(p) - p + 0.5 * log(2.0 * M_PI) + LogGammaCorrection(p) + log_gamma_ratio;
}

/* The continued fraction of I_x(a, b), modified Lentz. */
static double
BetaContinuedFraction(double a, double b, double x)
{
	double		c = 1.0;
	double		d = 1.0 - (a + b) * x / (a + 1.0);
	double		result;

	if (fabs(d) < BETA_CF_TINY)
		d = BETA_CF_TINY;
	d = 1.0 / d;
	result = d;
	for (int m = 1; m <= BETA_CF_MAX_ITERATIONS; m++)
	{
		double		term;
		double		step;

		/* even step */
		term = m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m));
		d = 1.0 + term * d;
		if (fabs(d) < BETA_CF_TINY)
			d = BETA_CF_TINY;
		c = 1.0 + term / c;
		if (fabs(c) < BETA_CF_TINY)
			c = BETA_CF_TINY;
		d = 1.0 / d;
		result *= d * c;
		/* odd step */
		term = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m));
		d = 1.0 + term * d;
		if (fabs(d) < BETA_CF_TINY)
			d = BETA_CF_TINY;
		c = 1.0 + term / c;
		if (fabs(c) < BETA_CF_TINY)
			c = BETA_CF_TINY;
		d = 1.0 / d;
		step = d * c;
		result *= step;
		if (fabs(step - 1.0) < BETA_CF_EPSILON)
			return result;
	}
	elog(ERROR, "unexpected: incomplete beta continued fraction did not converge (a=%g, b=%g, x=%g)",
		 a, b, x);
	return 0.0;					/* keep the compiler quiet */
}

/*
 * P(T > t) for t >= 0.  x = df/(df + t^2) and y = 1 - x are computed from
 * log(t^2/df) so that neither is rounded to 0 or 1 where the other is
 * tiny, and t^2 cannot overflow.
 */
static double
StudentTUpperTail(double t, double df)
{
	double		a = df / 2.0;
	double		b = 0.5;
	double		log_ratio;
	double		log_x;
	double		log_y;
	double		x;
	double		y;
	double		front;
	bool		direct;

	if (t == 0.0)
		return 0.5;
	if (isinf(t))
		return 0.0;
	log_ratio = 2.0 * log(t) - log(df);
	/* log x = -log(1 + e^s), log y = -log(1 + e^-s), s = log(t^2/df) */
	if (log_ratio > 0)
	{
		log_y = -log1p(exp(-log_ratio));
		log_x = log_y - log_ratio;
	}
	else
	{
		log_x = -log1p(exp(log_ratio));
		log_y = log_x + log_ratio;
	}
	x = exp(log_x);
	y = exp(log_y);
	front = exp(a * log_x + b * log_y - LogBeta(a, b));

	if (a < BETA_LARGE_A)
		direct = x < (a + 1.0) / (a + b + 2.0);
	else
		direct = a * y > BETA_LARGE_A_SWITCH;
	if (direct)
		return 0.5 * front * BetaContinuedFraction(a, b, x) / a;
	return 0.5 * (1.0 - front * BetaContinuedFraction(b, a, y) / b);
}

/*
 * The p-quantile of a symmetric distribution given its upper tail P(X > t)
 * (0 < p < 1): the t with P(X <= t) = p, by bisection on the tail to the
 * last bit of a double.  May be infinite when the true quantile is beyond
 * the range of float8.
 */
static double
QuantileByBisection(double p, double (*upper_tail) (double t, double df), double df)
{
	bool		lower = p < 0.5;
	double		tail = lower ? p : 1.0 - p;
	double		low = 0.0;
	double		high = 1.0;

	if (p == 0.5)
		return 0.0;
	while (upper_tail(high, df) > tail)
	{
		low = high;
		high *= 2.0;
		if (isinf(high))
			return lower ? -high : high;
	}
	/* halve [low, high] until no double lies strictly inside */
	for (;;)
	{
		double		middle = low + (high - low) / 2.0;

		if (middle <= low || middle >= high)
			break;
		if (upper_tail(middle, df) > tail)
			low = middle;
		else
			high = middle;
	}
	return lower ? -(low + (high - low) / 2.0) : low + (high - low) / 2.0;
}

/* P(Z > t) of the standard normal (the df argument is unused). */
static double
NormalUpperTail(double t, double df)
{
	return 0.5 * erfc(t * M_SQRT1_2);
}

/*
 * From STUDENT_T_EXPANSION_DF degrees of freedom on, the t quantile is the
 * normal quantile z plus its Cornish-Fisher expansion in 1/df (Abramowitz
 * and Stegun 26.7.5, the terms g1 to g4):
 *
 *	 t = z + g1(z)/df + g2(z)/df^2 + g3(z)/df^3 + g4(z)/df^4 + ...
 *
 * The first term left out is about 7e-5 z (z^2/df)^5 and z is at most 38.5
 * (the tail of a double cannot be smaller than 5e-324), so from df = 1e6 on
 * it is below 1e-18 relative: the expansion is exact to double precision,
 * where the continued fraction loses accuracy in the tails (x = df/(df+t^2)
 * is too close to 1) and, for df beyond about 1e17, stops converging.  Once
 * g1/df is below half a unit in the last place of z (df above 2^52 (z^2 + 1),
 * at most 7e18), the sum is z itself: the normal limit.
 */
#define STUDENT_T_EXPANSION_DF 1e6

static double
StudentTByExpansion(double z, double df)
{
	double		z2 = z * z;
	double		g1 = (z2 + 1.0) * z / 4.0;
	double		g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
	double		g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
	double		g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;

	return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df;
}

/*
 * The p-quantile of Student's t with df degrees of freedom (0 < p < 1,
 * df > 0 finite): bisection on the tail below STUDENT_T_EXPANSION_DF, the
 * expansion around the normal quantile from there on.  May be infinite
 * when the true quantile is beyond the range of float8 (tiny df).
 */
double
StudentTQuantile(double p, double df)
{
	if (df >= STUDENT_T_EXPANSION_DF)
		return StudentTByExpansion(QuantileByBisection(p, NormalUpperTail, 0.0), df);
	return QuantileByBisection(p, StudentTUpperTail, df);
}

/*
 * compensation.student_t_quantile(p float8, df float8) -> float8
 *		The p-quantile of Student's t distribution with df degrees of freedom
 *		(df need not be an integer): what uplift() multiplies the standard
 *		error by, with p = 0.975.
 */
PG_FUNCTION_INFO_V1(compensation_student_t_quantile);
Datum
compensation_student_t_quantile(PG_FUNCTION_ARGS)
{
	float8		p;
	float8		df;

	/* the SQL function is STRICT; this guards a direct call without it */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("p and df must not be null"),
				 errhint("For the two-sided 95%% interval use p = 0.975.")));
	p = PG_GETARG_FLOAT8(0);
	df = PG_GETARG_FLOAT8(1);
	if (!(p > 0.0 && p < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p must be between 0 and 1, both excluded"),
				 errdetail("The value given was %g.", p),
				 errhint("For the two-sided 95%% interval use p = 0.975.")));
	if (!(df > 0.0) || isinf(df))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("df must be a finite number of degrees of freedom above 0"),
				 errdetail("The value given was %g.", df),
				 errhint("For the normal distribution's quantile give a large df: from 1e19 on, the result is the normal quantile.")));
	PG_RETURN_FLOAT8(StudentTQuantile(p, df));
}
