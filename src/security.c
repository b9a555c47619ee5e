/*-------------------------------------------------------------------------
 *
 * security.c
 *	  Whose rights read a strategy's source: resolving the source, checking
 *	  that it is still what its author validated, switching to the author
 *	  to read it, and the guard that keeps the author's code out of the
 *	  extension's SECURITY DEFINER functions.
 *
 * apply() is SECURITY DEFINER, so that only it writes the ledger.  A
 * strategy's source is a relation chosen by the admin who defined the
 * version, often a view calling functions; reading it with the owner's
 * rights would hand the owner's rights to that code.  So apply reads the
 * source as the version's author, the way REFRESH MATERIALIZED VIEW runs
 * a view's query as its owner: the user id is switched to the author
 * inside a security-restricted operation and a GUC nest level, for the
 * planning, the opening and every fetch of the candidate queries (the
 * author's code runs at each fetch), and switched back before the ledger
 * is written.  Nothing the author's code sets outlives its part of the
 * run, and inside the restricted operation it cannot call back into the
 * functions that write (compensation.refuse_in_restricted_operation).
 *
 * Before reading, apply checks that the source is still the relation the
 * author validated: resolved by name (so a restored database works), not
 * temporary, of the same kind and owner as when the version was defined
 * (a table renamed and replaced by a view is refused), and still readable
 * by the author.  Evaluation, validation, reports and simulate read as
 * their caller and need none of this.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "strategy.h"

/*
 * strategy_source_relid
 *		Resolve spec->source, a schema-qualified name, to a table, view,
 *		materialized view or foreign table that is not temporary, taking an
 *		AccessShareLock on it.  context starts every error message: "invalid
 *		strategy spec at $.source" at definition, the strategy at a run.
 */
Oid
strategy_source_relid(StrategySpec *spec, const char *context)
{
	List	   *names = NIL;
	RangeVar   *range_var;
	Oid			relid;
	char		relkind;
	MemoryContext oldcontext = CurrentMemoryContext;

	PG_TRY();
	{
		names = stringToQualifiedNameList(spec->source);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("%s: %s", context, edata->message),
				 errhint("Write the source as schema.relation, quoting names that need it.")));
	}
	PG_END_TRY();
	if (list_length(names) != 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("%s: \"%s\" is not schema-qualified", context, spec->source),
				 errhint("Write the source as schema.relation, such as \"public.order_experience\", so that it never depends on search_path.")));

	/*
	 * A temporary relation belongs to one session, and another session can
	 * create one of the same name: never a source.
	 */
	if (strncmp(strVal(linitial(names)), "pg_temp", 7) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s: a temporary relation cannot be a source", context),
				 errhint("Read from a table or view in a permanent schema.")));

	range_var = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(range_var, AccessShareLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s: relation \"%s\" does not exist", context, spec->source),
				 errhint("Create the table or view first, or fix the name.")));
	if (isAnyTempNamespace(get_rel_namespace(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s: a temporary relation cannot be a source", context),
				 errhint("Read from a table or view in a permanent schema.")));
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_FOREIGN_TABLE && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s: \"%s\" is not a table or view", context, spec->source),
				 errhint("The source is a table, view, materialized view or foreign table.")));
	return relid;
}

/* The name of a relation's owner. */
static char *
relation_owner_name(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return GetUserNameFromId(owner, false);
}

/*
 * check_strategy_source
 *		Resolve the source of a stored version for a run and check that it
 *		is the relation its author validated, and that the author may still
 *		read it.  Returns the author's role id, and the source in *relid.
 */
Oid
check_strategy_source(StrategySpec *spec, Oid *source_relid)
{
	char	   *context = psprintf("strategy \"%s\" version %d", spec->strategy_name, spec->version);
	Oid			author = get_role_oid(spec->created_by, true);
	Oid			relid;
	char		relkind;
	char	   *owner;

	if (!OidIsValid(author))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s: its author, role \"%s\", does not exist", context, spec->created_by),
				 errdetail("A strategy's source is read with the rights of the role that defined the version."),
				 errhint("Create the role, or define a new version of the strategy as an existing role.")));

	relid = strategy_source_relid(spec, context);
	relkind = get_rel_relkind(relid);
	owner = relation_owner_name(relid);
	if (relkind != spec->source_kind || strcmp(owner, spec->source_owner) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s: source %s has changed since the version was defined", context, spec->source),
				 errdetail("It was a %s owned by \"%s\"; it is now a %s owned by \"%s\".",
						   relkind_name(spec->source_kind), spec->source_owner,
						   relkind_name(relkind), owner),
				 errhint("Check the new relation, then define a new version of the strategy over it.")));
	if (pg_class_aclcheck(relid, author, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s: its author \"%s\" may no longer read source %s",
						context, spec->created_by, spec->source),
				 errdetail("A strategy's source is read with the rights of the role that defined the version."),
				 errhint("GRANT SELECT ON %s TO %s, or define a new version.",
						 spec->source, quote_identifier(spec->created_by))));
	*source_relid = relid;
	return author;
}

/* "table", "view", ...: for messages. */
const char *
relkind_name(char relkind)
{
	switch (relkind)
	{
		case RELKIND_RELATION:
			return "table";
		case RELKIND_PARTITIONED_TABLE:
			return "partitioned table";
		case RELKIND_VIEW:
			return "view";
		case RELKIND_MATVIEW:
			return "materialized view";
		case RELKIND_FOREIGN_TABLE:
			return "foreign table";
		default:
			return "relation of another kind";
	}
}

/*
 * become_author / stop_being_author
 *		Run what follows as the author, in a security-restricted operation,
 *		with its own GUC nest level; then undo all three.  An error in
 *		between needs no undo: (sub)transaction abort restores the user id,
 *		the security context and the settings.
 */
void
become_author(Oid author, AuthorSwitch *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(author, saved->sec_context | SECURITY_RESTRICTED_OPERATION);
	saved->nestlevel = NewGUCNestLevel();
}

void
stop_being_author(AuthorSwitch *saved)
{
	AtEOXact_GUC(false, saved->nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * pin_search_path / unpin_search_path
 *		Run the catalog queries of functions that pin no search_path (the
 *		per-row evaluation functions, whose SET clause would cost a save and
 *		restore on every row, and the planner support) under
 *		"pg_catalog, pg_temp", as a SET clause would: their query texts
 *		qualify every name too, this is the second lock.  Costs a setting
 *		change when a strategy is compiled, never per row.
 */
int
pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

void
unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/*
 * refuse_in_restricted_operation
 *		Error inside a security-restricted operation (see the file header):
 *		what is the name of the compensation function being called.
 */
void
refuse_in_restricted_operation(const char *what)
{
	if (InSecurityRestrictedOperation())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("compensation.%s() cannot run inside a security-restricted operation", what),
				 errdetail("apply() reads a strategy's source as its author inside one, so that the source's functions cannot act as whoever runs apply()."),
				 errhint("Call it directly, not from a function that a source, an index or a materialized view runs.")));
}

/*
 * compensation.refuse_in_restricted_operation(what text) -> void
 *		The same, for the functions written in SQL.
 */
PG_FUNCTION_INFO_V1(compensation_refuse_in_restricted_operation);
Datum
compensation_refuse_in_restricted_operation(PG_FUNCTION_ARGS)
{
	refuse_in_restricted_operation(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
