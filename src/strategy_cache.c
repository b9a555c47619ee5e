/*-------------------------------------------------------------------------
 *
 * strategy_cache.c
 *	  The one home of compiled strategies: loading a version from the
 *	  catalog tables, compiling it once per backend (parse, currencies, and
 *	  a bind per row type), and dropping what is compiled when the catalog
 *	  changes.
 *
 * Every consumer asks here: the evaluation functions and their call sites
 * (evaluate.c), the planner support, apply, dry runs and simulate.  A
 * version is parsed once and bound once per row type it is evaluated on;
 * the parsed form is bound in place by the first row type that asks, and
 * parsed again only for a second row type.  compile_stats() counts both,
 * so that a test can hold the engine to it.
 *
 * A statement trigger on the strategy tables and on the currency table
 * (compensation_strategy_changed) sends a relcache invalidation for the
 * table at commit; the callback bumps a generation counter, the way
 * pg_cron notices changes to its job table.  The next lookup sees the new
 * generation and forgets every compiled form.  A compiled form already
 * handed out stays valid until the end of the transaction (its memory is
 * moved under TopTransactionContext), because a run in progress, or a call
 * site in the middle of a query, may still be reading it.  A bound form
 * also remembers the identifier of the row type's tuple descriptor, so
 * that a column added, dropped or retyped in a source rebinds it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "compensation.h"
#include "strategy.h"

/* Bumped whenever the strategy or currency tables change (any session). */
static uint64 strategy_generation = 1;

/* The catalog tables' OIDs, looked up once (InvalidOid: not yet). */
static Oid	strategy_relid = InvalidOid;
static Oid	strategy_version_relid = InvalidOid;
static Oid	currency_relid = InvalidOid;

/* What the compiler did in this backend: compile_stats(). */
static int64 compile_parses = 0;
static int64 compile_binds = 0;

/*
 * One compiled version: parsed, currencies loaded, and bound to one row
 * type or to none yet.
 */
typedef struct CompiledVersion
{
	MemoryContext context;		/* holds this struct's spec and jsonb */
	int32		strategy_id;
	int32		version;
	Jsonb	   *jsonb;			/* the stored spec, to parse for another row type */
	bool		bound;
	bool		binding;		/* a bind that failed halfway: never reuse */
	Oid			row_type;
	int32		row_typmod;
	uint64		row_identifier; /* the tuple descriptor bound to */
	StrategySpec *spec;
} CompiledVersion;

/* What a name (and a version, or "the active one") resolves to. */
typedef struct ResolvedName
{
	char	   *name;
	bool		has_version;
	int32		requested_version;
	int32		strategy_id;
	int32		version;
} ResolvedName;

static MemoryContext cache_context = NULL;
static uint64 cache_generation = 0;
static List *compiled_versions = NIL;	/* of CompiledVersion */
static List *resolved_names = NIL;	/* of ResolvedName */

static void
strategy_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == strategy_relid ||
		relid == strategy_version_relid || relid == currency_relid)
	{
		strategy_generation++;
		/* dropped and created again, the tables get new OIDs */
		strategy_relid = strategy_version_relid = currency_relid = InvalidOid;
	}
}

void
strategy_cache_init(void)
{
	CacheRegisterRelcacheCallback(strategy_relcache_callback, (Datum) 0);
}

uint64
current_strategy_generation(void)
{
	return strategy_generation;
}

/* The catalog tables' OIDs, cached until they change. */
static void
lookup_catalog_relids(void)
{
	Oid			namespace;

	if (OidIsValid(strategy_relid))
		return;
	namespace = get_namespace_oid("compensation", false);
	strategy_relid = get_relname_relid("strategy", namespace);
	strategy_version_relid = get_relname_relid("strategy_version", namespace);
	currency_relid = get_relname_relid("currency", namespace);
}

/* The strategy tables, for plans that depend on them (planner_support.c). */
void
strategy_catalog_relids(Oid *strategy, Oid *strategy_version)
{
	lookup_catalog_relids();
	*strategy = strategy_relid;
	*strategy_version = strategy_version_relid;
}

/*
 * Forget everything compiled when the catalog changed.  What was handed out
 * lives on under TopTransactionContext until the transaction ends.
 */
static void
check_generation(void)
{
	ListCell   *lc;

	if (cache_context == NULL)
		cache_context = AllocSetContextCreate(CacheMemoryContext, "compensation compiled strategies",
											  ALLOCSET_SMALL_SIZES);
	if (cache_generation == strategy_generation)
		return;
	foreach(lc, compiled_versions)
		MemoryContextSetParent(((CompiledVersion *) lfirst(lc))->context, TopTransactionContext);
	compiled_versions = NIL;
	resolved_names = NIL;
	MemoryContextReset(cache_context);
	cache_generation = strategy_generation;
}

/* Parse a stored spec in the entry's context and give it its identity. */
static StrategySpec *
compile_version(CompiledVersion *entry, const char *name, const char *salt, const char *status,
				const char *exclusive_group, bool has_from, TimestampTz valid_from,
				bool has_to, TimestampTz valid_to, const char *created_by,
				char source_kind, const char *source_owner)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(entry->context);
	StrategySpec *spec;

	spec = parse_strategy_spec(entry->jsonb, false);
	compile_parses++;
	spec->strategy_name = pstrdup(name);
	spec->strategy_id = entry->strategy_id;
	spec->version = entry->version;
	spec->status = pstrdup(status);
	/* a program's holdout holds out the same buyers in all its strategies */
	spec->holdout_salt = pstrdup(spec->holdout_program_scope ? spec->program : salt);
	spec->exclusive_group = pstrdup(exclusive_group);
	spec->has_valid_from = has_from;
	spec->valid_from = valid_from;
	spec->has_valid_to = has_to;
	spec->valid_to = valid_to;
	spec->created_by = pstrdup(created_by);
	spec->source_kind = source_kind;
	spec->source_owner = pstrdup(source_owner);
	load_currencies(spec);
	MemoryContextSwitchTo(oldcontext);
	return spec;
}

/* A copy of a compiled version's identity onto a fresh parse of it. */
static CompiledVersion *
recompile_version(CompiledVersion *from)
{
	CompiledVersion *entry;
	MemoryContext context = AllocSetContextCreate(cache_context, "compensation compiled strategy",
												  ALLOCSET_SMALL_SIZES);
	StrategySpec *old = from->spec;
	MemoryContext oldcontext;

	entry = MemoryContextAllocZero(context, sizeof(CompiledVersion));
	entry->context = context;
	entry->strategy_id = from->strategy_id;
	entry->version = from->version;
	entry->jsonb = (Jsonb *) MemoryContextAlloc(context, VARSIZE(from->jsonb));
	memcpy(entry->jsonb, from->jsonb, VARSIZE(from->jsonb));
	entry->spec = compile_version(entry, old->strategy_name, old->holdout_salt, old->status,
								  old->exclusive_group, old->has_valid_from, old->valid_from,
								  old->has_valid_to, old->valid_to, old->created_by,
								  old->source_kind, old->source_owner);
	oldcontext = MemoryContextSwitchTo(cache_context);
	compiled_versions = lappend(compiled_versions, entry);
	MemoryContextSwitchTo(oldcontext);
	return entry;
}

static CompiledVersion *
find_compiled(int32 strategy_id, int32 version)
{
	ListCell   *lc;

	foreach(lc, compiled_versions)
	{
		CompiledVersion *entry = (CompiledVersion *) lfirst(lc);

		if (entry->strategy_id == strategy_id && entry->version == version && !entry->binding)
			return entry;
	}
	return NULL;
}

/*
 * resolve_name
 *		Resolve (name, version or the active one) to a compiled version,
 *		reading the catalog (and parsing the spec) only the first time in
 *		this generation.  NULL when missing_ok and there is no such version.
 */
static CompiledVersion *
resolve_name(const char *name, bool has_version, int32 version, bool missing_ok)
{
	ListCell   *lc;
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	char		argnulls[2] = {' ', has_version ? ' ' : 'n'};
	int			ret;
	int			search_path_level;
	ResolvedName *resolved;
	CompiledVersion *entry = NULL;
	MemoryContext oldcontext;

	foreach(lc, resolved_names)
	{
		resolved = (ResolvedName *) lfirst(lc);
		if (resolved->has_version == has_version &&
			(!has_version || resolved->requested_version == version) &&
			strcmp(resolved->name, name) == 0)
		{
			entry = find_compiled(resolved->strategy_id, resolved->version);
			if (entry != NULL)
				return entry;
			break;
		}
	}

	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(version);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "unexpected SPI_connect failure");
	search_path_level = pin_search_path();
	ret = SPI_execute_with_args("SELECT v.version, v.spec, s.holdout_salt, v.strategy_id, v.status,"
								"       v.exclusive_group, pg_catalog.lower(v.valid), pg_catalog.upper(v.valid),"
								"       v.created_by, v.source_kind, v.source_owner"
								"  FROM compensation.strategy AS s"
								"  JOIN compensation.strategy_version AS v"
								"    ON v.strategy_id OPERATOR(pg_catalog.=) s.strategy_id"
								" WHERE s.name OPERATOR(pg_catalog.=) $1"
								"   AND CASE WHEN $2 IS NULL"
								"            THEN v.status OPERATOR(pg_catalog.=) 'active'"
								"            ELSE v.version OPERATOR(pg_catalog.=) $2 END",
								2, argtypes, args, argnulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "unexpected SPI result %d loading strategy", ret);
	if (SPI_processed == 1)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int32		found_version = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
		int32		strategy_id = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));

		entry = find_compiled(strategy_id, found_version);
		if (entry == NULL)
		{
			MemoryContext context = AllocSetContextCreate(cache_context,
														  "compensation compiled strategy",
														  ALLOCSET_SMALL_SIZES);
			Jsonb	   *jsonb = DatumGetJsonbP(SPI_getbinval(tuple, desc, 2, &isnull));
			Datum		bound;
			bool		has_from;
			bool		has_to;
			TimestampTz valid_from = 0;
			TimestampTz valid_to = 0;

			entry = MemoryContextAllocZero(context, sizeof(CompiledVersion));
			entry->context = context;
			entry->strategy_id = strategy_id;
			entry->version = found_version;
			entry->jsonb = (Jsonb *) MemoryContextAlloc(context, VARSIZE(jsonb));
			memcpy(entry->jsonb, jsonb, VARSIZE(jsonb));
			bound = SPI_getbinval(tuple, desc, 7, &isnull);
			if ((has_from = !isnull))
				valid_from = DatumGetTimestampTz(bound);
			bound = SPI_getbinval(tuple, desc, 8, &isnull);
			if ((has_to = !isnull))
				valid_to = DatumGetTimestampTz(bound);
			entry->spec = compile_version(entry, name,
										  TextDatumGetCString(SPI_getbinval(tuple, desc, 3, &isnull)),
										  TextDatumGetCString(SPI_getbinval(tuple, desc, 5, &isnull)),
										  TextDatumGetCString(SPI_getbinval(tuple, desc, 6, &isnull)),
										  has_from, valid_from, has_to, valid_to,
										  NameStr(*DatumGetName(SPI_getbinval(tuple, desc, 9, &isnull))),
										  DatumGetChar(SPI_getbinval(tuple, desc, 10, &isnull)),
										  NameStr(*DatumGetName(SPI_getbinval(tuple, desc, 11, &isnull))));
			oldcontext = MemoryContextSwitchTo(cache_context);
			compiled_versions = lappend(compiled_versions, entry);
			MemoryContextSwitchTo(oldcontext);
		}
		oldcontext = MemoryContextSwitchTo(cache_context);
		resolved = palloc(sizeof(ResolvedName));
		resolved->name = pstrdup(name);
		resolved->has_version = has_version;
		resolved->requested_version = version;
		resolved->strategy_id = strategy_id;
		resolved->version = found_version;
		resolved_names = lappend(resolved_names, resolved);
		MemoryContextSwitchTo(oldcontext);
	}
	else if (!missing_ok)
	{
		bool		exists;

		ret = SPI_execute_with_args("SELECT FROM compensation.strategy"
									" WHERE name OPERATOR(pg_catalog.=) $1",
									1, argtypes, args, argnulls, true, 1);
		exists = ret == SPI_OK_SELECT && SPI_processed == 1;
		if (!exists)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("strategy \"%s\" does not exist", name),
					 errhint("compensation.strategies lists the strategies; compensation.define_strategy() creates one.")));
		if (has_version)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("strategy \"%s\" has no version %d", name, version),
					 errhint("compensation.strategies lists its versions.")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("strategy \"%s\" has no active version", name),
				 errhint("Activate one with compensation.activate('%s'), or pass a version to evaluate a draft.", name)));
	}
	unpin_search_path(search_path_level);
	SPI_finish();
	return entry;
}

/*
 * load_strategy
 *		The compiled form of (name, version), or of the active version when
 *		has_version is false: its identity, rules and currencies, maybe
 *		bound to some row type.  For what does not evaluate rows (apply's
 *		run, the planner, in_holdout).  Read-only; valid at least until the
 *		end of the transaction.
 *
 *		missing_ok: return NULL instead of raising an error when there is no
 *		such strategy or version (the planner asks before anything runs).
 */
StrategySpec *
load_strategy(const char *name, bool has_version, int32 version, bool missing_ok)
{
	CompiledVersion *entry;

	lookup_catalog_relids();
	check_generation();
	entry = resolve_name(name, has_version, version, missing_ok);
	return entry ? entry->spec : NULL;
}

/*
 * load_strategy_jsonb
 *		The stored spec of (name, version), as load_strategy finds it: what
 *		the planner embeds in the *_spec twins, and what a twin compares the
 *		spec it is given with to use this backend's compiled form.  NULL when
 *		there is no such version.  Valid until the end of the transaction.
 */
Jsonb *
load_strategy_jsonb(const char *name, bool has_version, int32 version)
{
	CompiledVersion *entry;

	lookup_catalog_relids();
	check_generation();
	entry = resolve_name(name, has_version, version, true);
	return entry ? entry->jsonb : NULL;
}

/*
 * load_bound_strategy
 *		The compiled form of (name, version) bound to row_desc, the tuple
 *		descriptor of row type (row_type, row_typmod).  Binds the parsed form
 *		in place the first time; parses again only for a second row type.
 *		described_as names the row type in errors.
 */
StrategySpec *
load_bound_strategy(const char *name, bool has_version, int32 version,
					Oid row_type, int32 row_typmod, TupleDesc row_desc,
					const char *described_as)
{
	CompiledVersion *first;
	CompiledVersion *entry = NULL;
	uint64		identifier = assign_record_type_identifier(row_type, row_typmod);
	ListCell   *lc;
	MemoryContext oldcontext;

	lookup_catalog_relids();
	check_generation();
	first = resolve_name(name, has_version, version, false);

	foreach(lc, compiled_versions)
	{
		CompiledVersion *candidate = (CompiledVersion *) lfirst(lc);

		if (candidate->strategy_id != first->strategy_id || candidate->version != first->version ||
			candidate->binding)
			continue;
		if (candidate->bound && candidate->row_type == row_type &&
			candidate->row_typmod == row_typmod && candidate->row_identifier == identifier)
			return candidate->spec;
		if (!candidate->bound && entry == NULL)
			entry = candidate;
	}
	if (entry == NULL)
		entry = recompile_version(first);

	/* a bind that fails halfway leaves entry->binding set: never used again */
	entry->binding = true;
	oldcontext = MemoryContextSwitchTo(entry->context);
	bind_strategy_spec(entry->spec, CreateTupleDescCopy(row_desc), described_as, false);
	MemoryContextSwitchTo(oldcontext);
	compile_binds++;
	entry->binding = false;
	entry->bound = true;
	entry->row_type = row_type;
	entry->row_typmod = row_typmod;
	entry->row_identifier = identifier;
	return entry->spec;
}

/*
 * compensation.compile_stats() -> (parses bigint, binds bigint)
 *		How many times this backend parsed and bound a stored strategy.
 */
PG_FUNCTION_INFO_V1(compensation_compile_stats);
Datum
compensation_compile_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "unexpected return type: not a row type");
	values[0] = Int64GetDatum(compile_parses);
	values[1] = Int64GetDatum(compile_binds);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * compensation_strategy_changed() — statement trigger on the strategy and
 * currency tables: tell every backend (at commit) that compiled strategies
 * are stale.
 */
PG_FUNCTION_INFO_V1(compensation_strategy_changed);
Datum
compensation_strategy_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("compensation_strategy_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
