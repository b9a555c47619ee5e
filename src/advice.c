/*-------------------------------------------------------------------------
 *
 * advice.c
 *	  What makes a scheduled run cost what is new rather than the whole
 *	  history: compensation.check_strategy() looks at a strategy's source
 *	  and says, as NOTICEs with a hint, when nothing can restrict a run's
 *	  scan to its window of candidates (at >= as_of - max_age).
 *
 * A run's candidate query carries that window as plain range conditions on
 * the source's at column, so a B-tree or BRIN index on it, or partitioning
 * by it, restricts the scan.  Here: the column of a table or materialized
 * view must lead some index (or the partition key); a view's column is
 * followed to the base table's column when the view passes it through
 * unchanged, and is reported when the view computes it (a cast such as
 * ts::timestamptz of a timestamp column is not immutable, so no index can
 * serve it).  Small tables are not worth an index: they are not reported.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_partitioned_table.h"
#include "funcapi.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "strategy.h"

/* Below this many rows (as the planner estimates them) a scan is cheap. */
#define ADVICE_MIN_ROWS 100000
/* Views within views are followed this deep. */
#define ADVICE_MAX_DEPTH 16

typedef struct Advice
{
	List	   *messages;		/* of char *: what is wrong */
	List	   *hints;			/* of char *: what to do */
} Advice;

static void
add_advice(Advice *advice, char *message, char *hint)
{
	advice->messages = lappend(advice->messages, message);
	advice->hints = lappend(advice->hints, hint);
}

/* Does some index of rel, or its partition key, lead with attnum? */
static bool
column_is_served(Relation rel, AttrNumber attnum)
{
	List	   *indexes;
	ListCell   *lc;
	bool		served = false;

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		PartitionKey key = RelationGetPartitionKey(rel);

		if (key != NULL && key->partnatts > 0 && key->partattrs[0] == attnum)
			return true;
	}
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		if (index->indnatts > 0 && index->indkey.values[0] == attnum && index->indisvalid &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL))
			served = true;
		ReleaseSysCache(tuple);
	}
	list_free(indexes);
	return served;
}

/* Check the column attnum of relation relid (named for messages). */
static void
check_column(Oid relid, AttrNumber attnum, int depth, Advice *advice)
{
	Relation	rel;
	char	   *relname;
	const char *column;

	if (depth > ADVICE_MAX_DEPTH || attnum <= 0)
		return;
	rel = relation_open(relid, AccessShareLock);
	relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										 RelationGetRelationName(rel));
	column = quote_identifier(get_attname(relid, attnum, false));

	if (rel->rd_rel->relkind == RELKIND_VIEW)
	{
		Query	   *query = get_view_query(rel);
		TargetEntry *target = list_length(query->targetList) >= attnum
			? (TargetEntry *) list_nth(query->targetList, attnum - 1) : NULL;
		Node	   *expr = target ? (Node *) target->expr : NULL;

		/* a relabelling (varchar to text, a domain) changes nothing */
		while (expr && IsA(expr, RelabelType))
			expr = (Node *) ((RelabelType *) expr)->arg;
		if (expr && IsA(expr, Var) && ((Var *) expr)->varlevelsup == 0)
		{
			Var		   *var = (Var *) expr;
			RangeTblEntry *rte = rt_fetch(var->varno, query->rtable);

			if (rte->rtekind == RTE_RELATION)
				check_column(rte->relid, var->varattno, depth + 1, advice);
			/* joins and subqueries: the planner may still push it down */
		}
		else if (expr)
			add_advice(advice,
					   psprintf("column %s of view %s is computed, so no index can serve a run's window on it",
								column, relname),
					   psprintf("Expose the base table's column unchanged in the view (a cast such as ts::timestamptz of a timestamp column is not immutable), and index that column."));
	}
	else if ((rel->rd_rel->relkind == RELKIND_RELATION ||
			  rel->rd_rel->relkind == RELKIND_MATVIEW ||
			  rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE) &&
			 !column_is_served(rel, attnum) &&
			 (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ||
			  rel->rd_rel->reltuples >= ADVICE_MIN_ROWS))
		add_advice(advice,
				   psprintf("no index on %s (%s): every scheduled run reads the whole table",
							relname, column),
				   psprintf("CREATE INDEX ON %s (%s);  (or USING brin (%s) for an append-only table)",
							relname, column, column));
	relation_close(rel, AccessShareLock);
}

/*
 * compensation.check_strategy(strategy text, version integer) -> SETOF text
 *		The advice on the version's source (the active one when version is
 *		NULL), as rows and as NOTICEs with their hints.  Nothing: the source
 *		serves a run's window.
 */
PG_FUNCTION_INFO_V1(compensation_check_strategy);
Datum
compensation_check_strategy(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	StrategySpec *spec;
	Oid			relid;
	Advice		advice = {NIL, NIL};
	ListCell   *message;
	ListCell   *hint;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("check_strategy needs a strategy"),
				 errhint("For example: SELECT * FROM compensation.check_strategy('late_v3');")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	spec = load_strategy(text_to_cstring(PG_GETARG_TEXT_PP(0)), !PG_ARGISNULL(1),
						 PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1), false);
	relid = strategy_source_relid(spec, psprintf("strategy \"%s\" version %d",
												 spec->strategy_name, spec->version));
	check_column(relid, get_attnum(relid, spec->key_at.name), 0, &advice);

	forboth(message, advice.messages, hint, advice.hints)
	{
		Datum		value = CStringGetTextDatum((char *) lfirst(message));
		bool		isnull = false;

		ereport(NOTICE,
				(errmsg("strategy \"%s\": %s", spec->strategy_name, (char *) lfirst(message)),
				 errhint("%s", (char *) lfirst(hint))));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
