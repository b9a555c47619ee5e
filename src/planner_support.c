/*-------------------------------------------------------------------------
 *
 * planner_support.c
 *	  Planner support for eligible(), amount() and evaluate(): pass a table
 *	  row's columns instead of the row.
 *
 * Called with a table row, eligible('s', t) makes the executor build a
 * whole-row datum for every row (deform, flatten, form a tuple) only for
 * the function to deform it again; that costs more than the rule itself.
 * When the row argument is the whole-row Var of a plain table, the
 * SupportRequestSimplify handler rewrites the call into its *_columns twin,
 * which takes the row type, the row's ctid and every column as separate
 * arguments.  Same row type, same names, same values: the strategy binds
 * and decides exactly as before.  The ctid keeps one difference away: a
 * row null-extended by an outer join passes a NULL ctid, and the twin then
 * returns NULL as the original does for a NULL row.
 *
 * Only rewrites what it can prove equivalent; anything else (records,
 * subqueries, views, outer references, very wide rows) is left alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

/* Leaves room under FUNC_MAX_ARGS for strategy, version, row type, ctid. */
#define MAX_REWRITTEN_COLUMNS (FUNC_MAX_ARGS - 4)

/*
 * compensation.evaluation_support(internal) -> internal
 *		SupportRequestSimplify: whole-row table Var -> the *_columns twin.
 */
PG_FUNCTION_INFO_V1(compensation_evaluation_support);
Datum
compensation_evaluation_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	FuncExpr   *call;
	Var		   *row;
	RangeTblEntry *rte;
	char		relkind;
	TupleDesc	tupdesc;
	List	   *args;
	int			ncolumns = 0;
	char	   *twin_name;
	Oid			twin_argtypes[4] = {TEXTOID, INT4OID, OIDOID, ANYOID};
	Oid			twin;
	FuncExpr   *rewritten;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	call = req->fcall;
	if (req->root == NULL || list_length(call->args) != 3)
		PG_RETURN_POINTER(NULL);

	row = (Var *) lsecond(call->args);
	if (!IsA(row, Var) || row->varattno != InvalidAttrNumber || row->varlevelsup != 0 ||
		row->varno <= 0 || row->varno > list_length(req->root->parse->rtable))
		PG_RETURN_POINTER(NULL);
	rte = rt_fetch(row->varno, req->root->parse->rtable);
	if (rte->rtekind != RTE_RELATION)
		PG_RETURN_POINTER(NULL);
	relkind = get_rel_relkind(rte->relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_MATVIEW)
		PG_RETURN_POINTER(NULL);	/* no ctid to tell a missing row by */
	if (row->vartype != get_rel_type_id(rte->relid))
		PG_RETURN_POINTER(NULL);

	args = list_make3(linitial(call->args), lthird(call->args),
					  makeConst(OIDOID, -1, InvalidOid, sizeof(Oid),
								ObjectIdGetDatum(row->vartype), false, true));
	args = lappend(args, makeVar(row->varno, SelfItemPointerAttributeNumber, TIDOID, -1,
								 InvalidOid, 0));
	tupdesc = lookup_rowtype_tupdesc(row->vartype, -1);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (attr->attisdropped)
			continue;
		args = lappend(args, makeVar(row->varno, attr->attnum, attr->atttypid,
									 attr->atttypmod, attr->attcollation, 0));
		ncolumns++;
	}
	ReleaseTupleDesc(tupdesc);
	if (ncolumns > MAX_REWRITTEN_COLUMNS)
		PG_RETURN_POINTER(NULL);

	twin_name = psprintf("%s_columns", get_func_name(call->funcid));
	twin = LookupFuncName(list_make2(makeString("compensation"), makeString(twin_name)),
						  4, twin_argtypes, true);
	if (!OidIsValid(twin))
		PG_RETURN_POINTER(NULL);

	rewritten = makeFuncExpr(twin, call->funcresulttype, args, call->funccollid,
							 call->inputcollid, COERCE_EXPLICIT_CALL);
	rewritten->location = call->location;
	PG_RETURN_POINTER(rewritten);
}
