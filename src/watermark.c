/*-------------------------------------------------------------------------
 *
 * watermark.c
 *	  The optional watermark of a scheduled run.  With "keys": {"changed":
 *	  col} in its spec, a real run of a version that ran before reads only
 *	  the rows of its window that may decide differently from last time:
 *	  those whose at is after the previous run's as_of (new to the window),
 *	  those whose change column is at or after the previous run's watermark
 *	  minus compensation.watermark_margin (or NULL), and those the strategy
 *	  left open (its recorded outcome is budget, pace, cap or currency,
 *	  which a later run may decide otherwise without the row changing).
 *
 * Owns whether a run reads incrementally, the condition the candidate query
 * adds for it, and the watermark a run leaves.  It decides nothing: the
 * condition only narrows which rows the candidate query reads, and every
 * row it reads is decided as in a full read.  So it may let too many rows
 * through, never too few.
 *
 * Why a row it leaves out decides nothing new.  Such a row has at at or
 * before the previous run's as_of, a change time before that run's
 * watermark minus the margin, and no open outcome.  The watermark is the
 * clock read before that run took its snapshot (the transaction's start
 * under REPEATABLE READ, where the snapshot may be older than the
 * statement), so the row version the current run sees was committed before
 * that snapshot, unless its writer ran longer than the margin: the
 * previous run saw the same row version.  As the as_of of the chain of
 * incremental runs only grows, the window only moves forward, so that run
 * (or, by the same argument, the full run the chain started from) had the
 * row in its window and decided it: not eligible then and now (same row,
 * same version of the rule), or taken in the group (final), or open (read
 * again).  Hence: a first run, a run of another version than the last
 * run's, and a run whose as_of is before the last run's read their whole
 * window; dry runs of apply() and simulate() always do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "apply.h"

/*
 * An open skip is looked up with a recorded at this much before the
 * window: the recorded at of a timestamp (without time zone) column was
 * converted in the recording run's TimeZone, which may differ from this
 * run's by up to 26 hours.
 */
#define OPEN_SKIP_SLACK "2 days"

/*
 * watermark_before_snapshot
 *		The watermark a run leaves: a time no later than the snapshot its
 *		candidate query is about to take.  Under READ COMMITTED the query
 *		takes a new snapshot, after this clock reading; under REPEATABLE
 *		READ or SERIALIZABLE the transaction's snapshot may be older than
 *		the statement, but not older than the transaction's start.
 */
TimestampTz
watermark_before_snapshot(void)
{
	if (IsolationUsesXactSnapshot())
		return GetCurrentTransactionStartTimestamp();
	return GetCurrentTimestamp();
}

/*
 * plan_watermark
 *		Decide whether a real run of a spec with a change column reads
 *		incrementally: when the strategy's latest completed run was of the
 *		same version, left a watermark and had an as_of no later than this
 *		run's.  Reads the view compensation.runs, so that candidate_query()
 *		shows the same as a run to a reader.  SPI must be connected.
 */
void
plan_watermark(RunState *run)
{
	StrategySpec *spec = run->spec;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		version_null;
	bool		as_of_null;
	bool		watermark_null;
	int32		version;
	TimestampTz previous_as_of;
	TimestampTz previous_watermark;
	Interval	margin;
	MemoryContext caller_context = CurrentMemoryContext;

	run->incremental = false;
	if (!spec->has_key_changed)
		return;
	args[0] = CStringGetTextDatum(spec->strategy_name);
	if (SPI_execute_with_args("SELECT r.version, r.as_of, r.watermark"
							  "  FROM compensation.runs AS r"
							  " WHERE r.strategy OPERATOR(pg_catalog.=) $1"
							  "   AND r.status OPERATOR(pg_catalog.=) 'done'"
							  " ORDER BY r.run_id DESC LIMIT 1",
							  1, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "unexpected failure reading the previous run of strategy \"%s\"",
			 spec->strategy_name);
	/* SPI leaves its procedure context current; the caller's may outlive it */
	MemoryContextSwitchTo(caller_context);
	if (SPI_processed == 0)
		return;					/* a first run */
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										  &version_null));
	previous_as_of = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2, &as_of_null));
	previous_watermark = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 3,
														   &watermark_null));
	if (version_null || as_of_null || watermark_null || version != spec->version ||
		run->as_of < previous_as_of)
		return;

	memset(&margin, 0, sizeof(margin));
	margin.time = (int64) compensation_watermark_margin * USECS_PER_SEC;
	run->incremental = true;
	run->previous_as_of = previous_as_of;
	run->changed_since = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																 TimestampTzGetDatum(previous_watermark),
																 PointerGetDatum(&margin)));
}

/*
 * The source rows whose order key is among the strategy's open skips.
 * Written so that an index on the order column serves it where it can: a
 * text or varchar column of the default or "C" collation is compared in its
 * own collation, an integer or uuid column with the keys cast back (each
 * key is its type's output); any other column is compared as the text the
 * ledger stores, which is always right but filters the window's rows.
 */
static char *
open_orders_condition(RunState *run)
{
	StrategySpec *spec = run->spec;
	const char *order = quote_identifier(spec->key_order.name);
	AttrNumber	attnum = get_attnum(run->source_relid, spec->key_order.name);
	Oid			typid = InvalidOid;
	int32		typmod;
	Oid			collation = InvalidOid;
	const char *left;
	const char *key;

	if (attnum != InvalidAttrNumber)
	{
		get_atttypetypmodcoll(run->source_relid, attnum, &typid, &typmod, &collation);
		typid = getBaseType(typid);
	}
	left = psprintf("s.%s", order);
	switch (typid)
	{
		case TEXTOID:
		case VARCHAROID:
			if (collation == DEFAULT_COLLATION_OID)
				key = "k.order_key COLLATE pg_catalog.\"default\"";
			else if (collation == C_COLLATION_OID)
				key = "k.order_key";
			else
			{
				left = column_as_text(run, spec->key_order.name);
				key = "k.order_key";
			}
			break;
		case INT2OID:
			key = "(k.order_key)::pg_catalog.int2";
			break;
		case INT4OID:
			key = "(k.order_key)::pg_catalog.int4";
			break;
		case INT8OID:
			key = "(k.order_key)::pg_catalog.int8";
			break;
		case UUIDOID:
			key = "(k.order_key)::pg_catalog.uuid";
			break;
		default:
			left = column_as_text(run, spec->key_order.name);
			key = "k.order_key";
			break;
	}
	return psprintf("%s OPERATOR(pg_catalog.=) ANY (ARRAY("
					"SELECT %s FROM compensation.open_decisions AS k"
					" WHERE k.strategy_id OPERATOR(pg_catalog.=) $5"
					"   AND k.at OPERATOR(pg_catalog.>=) ($2 OPERATOR(pg_catalog.-) '%s'::pg_catalog.interval)))",
					left, key, OPEN_SKIP_SLACK);
}

/*
 * watermark_condition
 *		What an incremental run's candidate query adds to its window: $6 is
 *		the previous run's as_of, $7 the changed_since bound, $5 the
 *		strategy id and $2 the window's start.  The four arms are plain
 *		conditions on the at, change and order columns, so that indexes on
 *		them (a bitmap OR) restrict the scan to what changed.
 */
char *
watermark_condition(RunState *run)
{
	StrategySpec *spec = run->spec;
	const char *at = quote_identifier(spec->key_at.name);
	const char *changed = quote_identifier(spec->key_changed.name);

	Assert(run->incremental);
	return psprintf("(s.%s OPERATOR(pg_catalog.>) $6"
					" OR s.%s OPERATOR(pg_catalog.>=) $7"
					" OR s.%s IS NULL"
					" OR %s)",
					at, changed, changed, open_orders_condition(run));
}
