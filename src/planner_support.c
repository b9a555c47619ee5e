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
 * which takes the row type, the row's ctid and the columns the strategy
 * reads as separate arguments.  Same row type, same names, same values:
 * the strategy binds and decides exactly as before.  The ctid keeps one
 * difference away: a row null-extended by an outer join passes a NULL
 * ctid, and the twin then returns NULL as the original does for a NULL row.
 *
 * When the strategy (and version) are constants, only the columns that
 * version reads are passed, so the scan deforms no more than it needs.  The
 * strategy tables then join the plan's dependencies: their statement
 * trigger sends a relcache invalidation, which also replans cached plans,
 * so a prepared statement never runs with the columns of a version that is
 * no longer in force (the twin checks it anyway).
 *
 * When the strategy and version are constants and the version exists, the
 * call becomes its *_spec twin instead, which carries what a node needs to
 * decide without the strategy catalog: the version's stored spec, the row
 * type's name (for errors) and the columns' names, with the columns as
 * arguments.  Nothing in it is an OID of this node, so the call means the
 * same on a Citus worker, which the query is shipped to as text.  A row
 * built by a ROW() expression (a view's or a subquery's row, once the
 * planner has pulled the subquery up) is passed the same way, every field
 * by name.  The planner loads the version anyway; an activation replans
 * (the dependencies above), so the next statement carries the new spec.
 *
 * Only rewrites what it can prove equivalent; anything else (records that
 * are not ROW() expressions, outer references, rows null-extended by an
 * outer join whose row is not a table's, very wide rows) is left alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "strategy.h"

/* Leaves room under FUNC_MAX_ARGS for strategy, version, row type, attnums, ctid. */
#define MAX_REWRITTEN_COLUMNS (FUNC_MAX_ARGS - 5)
/* ... and for strategy, version, spec, row type, names, row marker. */
#define MAX_SPEC_COLUMNS (FUNC_MAX_ARGS - 6)

/*
 * columns_read_by
 *		The names of the columns the strategy version reads, when the
 *		strategy and version are constants and the version exists; NIL
 *		otherwise (then every column is passed, and evaluation raises the
 *		errors).  Adds the strategy tables to the plan's dependencies.
 */
static List *
columns_read_by(PlannerInfo *root, Node *strategy_arg, Node *version_arg, StrategySpec **loaded)
{
	Const	   *strategy = (Const *) strategy_arg;
	Const	   *version = (Const *) version_arg;
	StrategySpec *spec;
	List	   *names = NIL;
	ListCell   *lc;
	Oid			strategy_relid;
	Oid			strategy_version_relid;

	*loaded = NULL;
	if (!IsA(strategy, Const) || strategy->constisnull || !IsA(version, Const))
		return NIL;

	spec = load_strategy(TextDatumGetCString(strategy->constvalue), !version->constisnull,
						 version->constisnull ? -1 : DatumGetInt32(version->constvalue), true);
	*loaded = spec;
	if (spec != NULL)
		foreach(lc, strategy_columns_read(spec))
			names = lappend(names, pstrdup(((SpecColumn *) lfirst(lc))->name));

	strategy_catalog_relids(&strategy_relid, &strategy_version_relid);
	root->glob->relationOids = lappend_oid(root->glob->relationOids, strategy_relid);
	root->glob->relationOids = lappend_oid(root->glob->relationOids, strategy_version_relid);
	return names;
}

static bool
name_in_list(const char *name, List *names)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(name, (char *) lfirst(lc)) == 0)
			return true;
	return false;
}

/*
 * spec_twin_call
 *		The *_spec twin of call: strategy, the version's number, its stored
 *		spec, the row type's qualified name (NULL for a record), the column
 *		names, the row marker, the columns.  NULL when the twin is missing.
 */
static Node *
spec_twin_call(FuncExpr *call, StrategySpec *spec, Oid row_type, List *names,
			   Node *row_marker, List *columns)
{
	Jsonb	   *stored = load_strategy_jsonb(spec->strategy_name, true, spec->version);
	Jsonb	   *copy;
	Datum	   *name_datums = palloc(sizeof(Datum) * Max(list_length(names), 1));
	Oid			twin_argtypes[6] = {TEXTOID, INT4OID, JSONBOID, TEXTOID, TEXTARRAYOID, ANYOID};
	Oid			twin;
	List	   *args;
	ListCell   *lc;
	FuncExpr   *rewritten;

	if (stored == NULL)
		return NULL;
	copy = palloc(VARSIZE(stored));
	memcpy(copy, stored, VARSIZE(stored));
	twin = LookupFuncName(list_make2(makeString("compensation"),
									 makeString(psprintf("%s_spec", get_func_name(call->funcid)))),
						  6, twin_argtypes, true);
	if (!OidIsValid(twin))
		return NULL;
	foreach(lc, names)
		name_datums[foreach_current_index(lc)] = CStringGetTextDatum((char *) lfirst(lc));
	args = list_make2(linitial(call->args),
					  makeConst(INT4OID, -1, InvalidOid, sizeof(int32),
								Int32GetDatum(spec->version), false, true));
	args = lappend(args, makeConst(JSONBOID, -1, InvalidOid, -1,
								   PointerGetDatum(copy),
								   false, false));
	args = lappend(args, row_type == RECORDOID
				   ? makeNullConst(TEXTOID, -1, DEFAULT_COLLATION_OID)
				   : makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
							   CStringGetTextDatum(format_type_be_qualified(row_type)), false, false));
	args = lappend(args, makeConst(TEXTARRAYOID, -1, InvalidOid, -1,
								   PointerGetDatum(construct_array(name_datums, list_length(names),
																   TEXTOID, -1, false, TYPALIGN_INT)),
								   false, false));
	args = lappend(args, row_marker);
	args = list_concat(args, columns);

	rewritten = makeFuncExpr(twin, call->funcresulttype, args, call->funccollid,
							 call->inputcollid, COERCE_EXPLICIT_CALL);
	rewritten->location = call->location;
	return (Node *) rewritten;
}

/*
 * row_expression_call
 *		A call on a ROW() expression (a view's or a subquery's row pulled up
 *		into the query) as its *_spec twin, every field passed by name: a
 *		ROW() is never NULL, so the marker is true.  NULL when the names
 *		are not distinct (the row would bind the first) or anything else
 *		keeps it from being proved the same.
 */
static Node *
row_expression_call(PlannerInfo *root, FuncExpr *call, RowExpr *row)
{
	StrategySpec *spec;
	List	   *names = NIL;
	List	   *columns = NIL;
	ListCell   *lc;

	columns_read_by(root, linitial(call->args), lthird(call->args), &spec);
	if (spec == NULL || list_length(row->args) > MAX_SPEC_COLUMNS)
		return NULL;
	if (row->row_typeid == RECORDOID)
	{
		if (list_length(row->colnames) != list_length(row->args))
			return NULL;
		foreach(lc, row->colnames)
			names = lappend(names, strVal(lfirst(lc)));
		columns = list_copy(row->args);
	}
	else
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(row->row_typeid, -1);

		if (desc->natts != list_length(row->args))
		{
			ReleaseTupleDesc(desc);
			return NULL;
		}
		for (int i = 0; i < desc->natts; i++)
		{
			if (TupleDescAttr(desc, i)->attisdropped)
				continue;
			names = lappend(names, pstrdup(NameStr(TupleDescAttr(desc, i)->attname)));
			columns = lappend(columns, list_nth(row->args, i));
		}
		ReleaseTupleDesc(desc);
	}
	foreach(lc, names)
	{
		if (((char *) lfirst(lc))[0] == '\0')
			return NULL;
		for (ListCell *other = list_head(names); other != lc; other = lnext(names, other))
			if (strcmp((char *) lfirst(other), (char *) lfirst(lc)) == 0)
				return NULL;
	}
	return spec_twin_call(call, spec, row->row_typeid, names,
						  (Node *) makeBoolConst(true, false), columns);
}

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
	List	   *names;
	StrategySpec *spec;
	List	   *column_names = NIL;
	bool		prune;
	List	   *columns = NIL;
	List	   *attnums = NIL;
	Datum	   *attnum_datums;
	ListCell   *lc;
	List	   *args;
	char	   *twin_name;
	Oid			twin_argtypes[5] = {TEXTOID, INT4OID, OIDOID, INT2ARRAYOID, ANYOID};
	Oid			twin;
	FuncExpr   *rewritten;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	call = req->fcall;
	if (req->root == NULL || list_length(call->args) != 3)
		PG_RETURN_POINTER(NULL);

	if (IsA(lsecond(call->args), RowExpr))
		PG_RETURN_POINTER(row_expression_call(req->root, call, (RowExpr *) lsecond(call->args)));
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

	/*
	 * Pass the columns the strategy reads if they are all there; otherwise
	 * every column, and evaluation reports what is missing as it always did.
	 */
	tupdesc = lookup_rowtype_tupdesc(row->vartype, -1);
	names = columns_read_by(req->root, linitial(call->args), lthird(call->args), &spec);
	prune = names != NIL;
	foreach(lc, names)
	{
		bool		found = false;

		for (int i = 0; i < tupdesc->natts && !found; i++)
			found = !TupleDescAttr(tupdesc, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname), (char *) lfirst(lc)) == 0;
		prune &= found;
	}
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (attr->attisdropped || (prune && !name_in_list(NameStr(attr->attname), names)))
			continue;
		columns = lappend(columns, makeVar(row->varno, attr->attnum, attr->atttypid,
										   attr->atttypmod, attr->attcollation, 0));
		attnums = lappend_int(attnums, attr->attnum);
		column_names = lappend(column_names, pstrdup(NameStr(attr->attname)));
	}
	ReleaseTupleDesc(tupdesc);

	/*
	 * The version is known and every column it reads is there: the twin
	 * that carries its spec, valid on any node.  Otherwise the twin that
	 * reads the catalog, which reports what is missing as it always did.
	 */
	if (prune && list_length(columns) <= MAX_SPEC_COLUMNS)
	{
		Node	   *rewritten = spec_twin_call(call, spec, row->vartype, column_names,
											   (Node *) makeVar(row->varno, SelfItemPointerAttributeNumber,
																TIDOID, -1, InvalidOid, 0),
											   columns);

		if (rewritten != NULL)
			PG_RETURN_POINTER(rewritten);
	}
	if (list_length(columns) > MAX_REWRITTEN_COLUMNS)
		PG_RETURN_POINTER(NULL);

	attnum_datums = palloc(sizeof(Datum) * Max(list_length(attnums), 1));
	foreach(lc, attnums)
		attnum_datums[foreach_current_index(lc)] = Int16GetDatum((int16) lfirst_int(lc));
	args = list_make3(linitial(call->args), lthird(call->args),
					  makeConst(OIDOID, -1, InvalidOid, sizeof(Oid),
								ObjectIdGetDatum(row->vartype), false, true));
	args = lappend(args, makeConst(INT2ARRAYOID, -1, InvalidOid, -1,
								   PointerGetDatum(construct_array(attnum_datums, list_length(attnums),
																   INT2OID, sizeof(int16), true,
																   TYPALIGN_SHORT)),
								   false, false));
	args = lappend(args, makeVar(row->varno, SelfItemPointerAttributeNumber, TIDOID, -1,
								 InvalidOid, 0));
	args = list_concat(args, columns);

	twin_name = psprintf("%s_columns", get_func_name(call->funcid));
	twin = LookupFuncName(list_make2(makeString("compensation"), makeString(twin_name)),
						  5, twin_argtypes, true);
	if (!OidIsValid(twin))
		PG_RETURN_POINTER(NULL);

	rewritten = makeFuncExpr(twin, call->funcresulttype, args, call->funccollid,
							 call->inputcollid, COERCE_EXPLICIT_CALL);
	rewritten->location = call->location;
	PG_RETURN_POINTER(rewritten);
}
