/* src/sql/40_strategy.sql — strategies, their versions, and evaluation. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- A strategy is a name; every change to it is a new row in
-- strategy_version, kept forever.  holdout_salt is fixed when the name is
-- first defined, so the holdout never moves between versions.
CREATE TABLE compensation.strategy (
	strategy_id	integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name		text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'),
	holdout_salt text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL DEFAULT session_user
);

COMMENT ON TABLE compensation.strategy IS
	'named compensation strategies; their versions are in strategy_version';

CREATE TABLE compensation.strategy_version (
	strategy_id	integer NOT NULL REFERENCES compensation.strategy,
	version		integer NOT NULL CHECK (version > 0),
	status		text NOT NULL DEFAULT 'draft'
				CHECK (status IN ('draft', 'active', 'paused', 'retired')),
	spec		jsonb NOT NULL,
	-- derived from spec by the validating trigger, for the views and apply
	scenario	text NOT NULL,
	source		text NOT NULL,
	program		text NOT NULL,
	instrument	text NOT NULL,
	priority	integer NOT NULL,
	exclusive_group text NOT NULL,
	valid		tstzrange NOT NULL,
	-- what the source was when the version was validated: apply refuses a
	-- source that has since become another kind of relation or changed
	-- owner (a table renamed and replaced by a view).  By name, not OID, so
	-- that a restored database keeps working.
	source_kind	"char" NOT NULL,
	source_owner name NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	-- the author: apply reads the source with this role's rights
	created_by	name NOT NULL DEFAULT session_user,
	status_changed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (strategy_id, version)
);

-- At most one version of a strategy is in force (active or paused).
CREATE UNIQUE INDEX strategy_version_one_in_force
	ON compensation.strategy_version (strategy_id)
	WHERE status IN ('active', 'paused');

COMMENT ON TABLE compensation.strategy_version IS
	'every version of every strategy, never deleted; spec is immutable, status moves draft -> active -> paused/retired';

SELECT pg_catalog.pg_extension_config_dump('compensation.strategy', '');
SELECT pg_catalog.pg_extension_config_dump('compensation.strategy_version', '');
SELECT pg_catalog.pg_extension_config_dump('compensation.strategy_strategy_id_seq', '');

CREATE FUNCTION compensation.validate_spec(spec jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'compensation_validate_spec'
LANGUAGE C STABLE STRICT
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.validate_spec(jsonb) IS
	'raise the first problem of a strategy spec (with its JSON path), or return if it can be stored';

/*
 * Every version row is validated as it is inserted, and nothing but its
 * status can change afterwards.  Only the extension's owner inserts: either
 * define_strategy, or a restore (pg_restore, psql -f of a plain dump) run
 * as the owner or a superuser.  Both supply the author, status and times,
 * which are kept as given.  They differ in the fields derived from the
 * spec (scenario ... source_owner):
 *
 *  - define_strategy leaves them NULL: they are derived here, now, in the
 *    defining session (valid in its TimeZone; source_kind/source_owner from
 *    the source as it is now).  Errors are validate_spec's own.
 *  - a restored row carries them: they are kept as dumped, never
 *    re-derived, so that valid does not move with the restoring session's
 *    TimeZone and apply still compares the source with what it was when
 *    the version was defined (a restore with --no-owner makes apply refuse
 *    such a source, as a swapped table would).  The spec is still
 *    validated, and the derived fields must agree with it; an error names
 *    the strategy and version (COPY loads a table all or nothing).
 *
 * The ACL check of validate_spec applies to the session and current user,
 * here the restoring owner or superuser: it proves nothing about the
 * author and gives nothing to anyone (the author is kept as dumped, and
 * apply checks the author's right at every run); the author's grants
 * cannot be checked here anyway, since pg_dump restores GRANTs after the
 * data.  An author or source owner missing or changed in the target
 * cluster does not stop the restore: a WARNING names the version, and
 * apply refuses it with an error until it is fixed.
 */
CREATE FUNCTION compensation.strategy_version_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	strategy_name text;
	what text;
	expected_exclusive text;
	expected_from timestamptz;
	expected_to timestamptz;
	mismatch text;
	current_kind "char";
	current_owner name;
	failure text;
	failure_state text;
	failure_detail text;
	failure_hint text;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		IF ROW(NEW.strategy_id, NEW.version, NEW.spec, NEW.created_at, NEW.created_by,
			   NEW.scenario, NEW.source, NEW.program, NEW.instrument, NEW.priority,
			   NEW.exclusive_group, NEW.valid, NEW.source_kind, NEW.source_owner)
		   IS DISTINCT FROM
		   ROW(OLD.strategy_id, OLD.version, OLD.spec, OLD.created_at, OLD.created_by,
			   OLD.scenario, OLD.source, OLD.program, OLD.instrument, OLD.priority,
			   OLD.exclusive_group, OLD.valid, OLD.source_kind, OLD.source_owner) THEN
			RAISE EXCEPTION 'a strategy version cannot be changed, only its status'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Define a new version with compensation.define_strategy().';
		END IF;
		RETURN NEW;
	END IF;

	SELECT s.name INTO strategy_name
	  FROM compensation.strategy AS s
	 WHERE s.strategy_id OPERATOR(pg_catalog.=) NEW.strategy_id;
	expected_exclusive := coalesce(NEW.spec ->> 'exclusive',
								   'strategy:' OPERATOR(pg_catalog.||) strategy_name);

	IF NEW.scenario IS NULL AND NEW.source IS NULL AND NEW.program IS NULL
	   AND NEW.instrument IS NULL AND NEW.priority IS NULL
	   AND NEW.exclusive_group IS NULL AND NEW.valid IS NULL
	   AND NEW.source_kind IS NULL AND NEW.source_owner IS NULL THEN
		-- a new definition (define_strategy): derive, now
		PERFORM compensation.validate_spec(NEW.spec);
		NEW.scenario := NEW.spec ->> 'scenario';
		NEW.source := NEW.spec ->> 'source';
		NEW.program := NEW.spec ->> 'program';
		NEW.instrument := NEW.spec ->> 'instrument';
		-- via numeric: validate_spec accepts a whole number written 5.0
		NEW.priority := coalesce((NEW.spec ->> 'priority')::numeric::integer, 0);
		NEW.exclusive_group := expected_exclusive;
		NEW.valid := tstzrange((NEW.spec #>> '{valid,from}')::timestamptz,
							   (NEW.spec #>> '{valid,to}')::timestamptz);
		-- validate_spec resolved the (schema-qualified, not temporary) source
		SELECT c.relkind, pg_catalog.pg_get_userbyid(c.relowner)
		  INTO STRICT NEW.source_kind, NEW.source_owner
		  FROM pg_catalog.pg_class AS c
		 WHERE c.oid OPERATOR(pg_catalog.=) (NEW.spec ->> 'source')::regclass;
		RETURN NEW;
	END IF;

	-- A row that carries its derived fields: a restore.  Validate the spec,
	-- naming the version, and keep every field as given.
	what := pg_catalog.format('strategy "%s" version %s', strategy_name, NEW.version);
	BEGIN
		PERFORM compensation.validate_spec(NEW.spec);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, failure_state = RETURNED_SQLSTATE,
								failure_detail = PG_EXCEPTION_DETAIL, failure_hint = PG_EXCEPTION_HINT;
		RAISE EXCEPTION '%: %', what, failure
			USING ERRCODE = failure_state,
				  DETAIL = pg_catalog.concat_ws(' ', nullif(failure_detail, ''),
						'Restoring strategy_id ' OPERATOR(pg_catalog.||) NEW.strategy_id
						OPERATOR(pg_catalog.||) ', version ' OPERATOR(pg_catalog.||) NEW.version
						OPERATOR(pg_catalog.||) ' of compensation.strategy_version: every version is validated as it is loaded.'),
				  HINT = pg_catalog.concat_ws(' ', nullif(failure_hint, ''),
						'COPY loads the table all or nothing: fix or remove this row in the dump (or create what its source needs), then restore compensation.strategy_version and the tables after it again; see "Backup and restore" in the README.');
	END;

	-- the derived fields must be those of the spec (valid up to the
	-- defining session's TimeZone: the dumped bounds are kept)
	expected_from := (NEW.spec #>> '{valid,from}')::timestamptz;
	expected_to := (NEW.spec #>> '{valid,to}')::timestamptz;
	mismatch := CASE
		WHEN NEW.scenario IS DISTINCT FROM NEW.spec ->> 'scenario' THEN 'scenario'
		WHEN NEW.source IS DISTINCT FROM NEW.spec ->> 'source' THEN 'source'
		WHEN NEW.program IS DISTINCT FROM NEW.spec ->> 'program' THEN 'program'
		WHEN NEW.instrument IS DISTINCT FROM NEW.spec ->> 'instrument' THEN 'instrument'
		WHEN NEW.priority IS DISTINCT FROM coalesce((NEW.spec ->> 'priority')::numeric::integer, 0) THEN 'priority'
		WHEN NEW.exclusive_group IS DISTINCT FROM expected_exclusive THEN 'exclusive_group'
		WHEN NEW.valid IS NULL
			 OR NEW.valid IS DISTINCT FROM tstzrange(lower(NEW.valid), upper(NEW.valid))
			 OR (lower(NEW.valid) IS NULL) IS DISTINCT FROM (expected_from IS NULL)
			 OR (upper(NEW.valid) IS NULL) IS DISTINCT FROM (expected_to IS NULL)
			 -- UTC offsets lie within -12 .. +14 hours
			 OR pg_catalog.abs(EXTRACT(epoch FROM lower(NEW.valid) OPERATOR(pg_catalog.-) expected_from)) > 26 * 3600
			 OR pg_catalog.abs(EXTRACT(epoch FROM upper(NEW.valid) OPERATOR(pg_catalog.-) expected_to)) > 26 * 3600
			 THEN 'valid'
		WHEN NEW.source_kind IS NULL OR NEW.source_kind NOT IN ('r', 'v', 'm', 'f', 'p') THEN 'source_kind'
		WHEN NEW.source_owner IS NULL THEN 'source_owner'
	END;
	IF mismatch IS NOT NULL THEN
		RAISE EXCEPTION '%: its % does not match its spec', what, mismatch
			USING ERRCODE = 'data_corrupted',
				  DETAIL = 'The fields derived from the spec are kept as stored when a version is restored; they must agree with the spec.',
				  HINT = 'COPY loads the table all or nothing: fix or remove this row in the dump, then restore compensation.strategy_version and the tables after it again; see "Backup and restore" in the README.';
	END IF;

	-- What apply will refuse, said now (a retired version never runs again)
	IF NEW.status OPERATOR(pg_catalog.<>) 'retired' THEN
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r
						WHERE r.rolname OPERATOR(pg_catalog.=) NEW.created_by) THEN
			RAISE WARNING '%: its author, role "%", does not exist', what, NEW.created_by
				USING DETAIL = 'The version is restored as it was; apply refuses it until the role exists.',
					  HINT = 'Create the role (pg_dumpall --roles-only dumps the roles), or define a new version of the strategy.';
		END IF;
		SELECT c.relkind, pg_catalog.pg_get_userbyid(c.relowner)
		  INTO current_kind, current_owner
		  FROM pg_catalog.pg_class AS c
		 WHERE c.oid OPERATOR(pg_catalog.=) (NEW.spec ->> 'source')::regclass;
		IF current_kind OPERATOR(pg_catalog.<>) NEW.source_kind
		   OR current_owner OPERATOR(pg_catalog.<>) NEW.source_owner THEN
			RAISE WARNING '%: source % is not what it was when the version was defined', what, NEW.source
				USING DETAIL = pg_catalog.format('It was a relation of kind %s owned by "%s"; it is now of kind %s owned by "%s".',
												 NEW.source_kind, NEW.source_owner, current_kind, current_owner),
					  HINT = 'apply refuses it: restore with the owners (no --no-owner), or define a new version over the source.';
		END IF;
	END IF;
	RETURN NEW;
END
$fn$;

CREATE TRIGGER strategy_version_check
	BEFORE INSERT OR UPDATE ON compensation.strategy_version
	FOR EACH ROW EXECUTE FUNCTION compensation.strategy_version_check();

CREATE FUNCTION compensation.strategy_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'compensation_strategy_changed'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;

CREATE TRIGGER strategy_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON compensation.strategy
	FOR EACH STATEMENT EXECUTE FUNCTION compensation.strategy_changed();
CREATE TRIGGER strategy_version_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON compensation.strategy_version
	FOR EACH STATEMENT EXECUTE FUNCTION compensation.strategy_changed();

/*
 * define_strategy(name, spec) -> version
 *		Validate the spec and store it as a new draft version, authored by the
 *		session user: apply reads the source with that role's rights.
 *		SECURITY DEFINER: nobody else writes the strategy tables, so the
 *		author, salt and status cannot be forged.
 */
CREATE FUNCTION compensation.define_strategy(name text, spec jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	id integer;
	new_version integer;
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('define_strategy');
	IF name IS NULL OR spec IS NULL THEN
		RAISE EXCEPTION 'define_strategy needs a name and a spec'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'For example: SELECT compensation.define_strategy(''late_v3'', ''{...}''::jsonb);';
	END IF;
	IF name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' THEN
		RAISE EXCEPTION 'invalid strategy name "%"', name
			USING ERRCODE = 'invalid_name',
				  HINT = 'Use letters, digits, "_", "." and "-", starting with a letter, digit or "_".';
	END IF;
	-- The version row's trigger validates the spec; an invalid one rolls
	-- back the whole call, the new strategy name included.
	INSERT INTO compensation.strategy (name, holdout_salt, created_by)
	VALUES (define_strategy.name, define_strategy.name, session_user)
	ON CONFLICT ON CONSTRAINT strategy_name_key DO NOTHING;
	id := compensation.lock_strategy(name, 'define_strategy');
	SELECT coalesce(max(v.version), 0) + 1 INTO new_version
	  FROM compensation.strategy_version AS v
	 WHERE v.strategy_id OPERATOR(pg_catalog.=) id;
	-- The fields derived from the spec are left NULL: the trigger derives
	-- them (a restored row carries them, and keeps them).
	INSERT INTO compensation.strategy_version (strategy_id, version, spec,
		scenario, source, program, instrument, priority, exclusive_group, valid,
		source_kind, source_owner, status, created_at, created_by, status_changed_at)
	VALUES (id, new_version, spec, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		NULL, NULL, 'draft', now(), session_user, now());
	-- say now when a scheduled run would read the whole source
	PERFORM compensation.check_strategy(name, new_version);
	RETURN new_version;
END
$fn$;

COMMENT ON FUNCTION compensation.define_strategy(text, jsonb) IS
	'validate a strategy spec and store it as a new draft version; returns the version number';

/*
 * lock_strategy(name) -> strategy_id: the lock every lifecycle change takes
 * (called by the functions here, as the owner; granted to nobody).
 */
CREATE FUNCTION compensation.lock_strategy(name text, caller text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	id integer;
BEGIN
	PERFORM compensation.refuse_in_restricted_operation(caller);
	SELECT s.strategy_id INTO id
	  FROM compensation.strategy AS s
	 WHERE s.name OPERATOR(pg_catalog.=) lock_strategy.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy "%" does not exist', name
			USING ERRCODE = 'undefined_object',
				  HINT = 'compensation.strategies lists the strategies; compensation.define_strategy() creates one.';
	END IF;
	-- Serialises everything that changes one strategy's versions.
	PERFORM pg_catalog.pg_advisory_xact_lock(
		pg_catalog.hashtext('compensation.strategy'), id);
	RETURN id;
END
$fn$;

/*
 * activate(name, version) -> version
 *		Put a version in force (the latest when version is NULL).  The
 *		version previously in force, if any, is retired.
 */
CREATE FUNCTION compensation.activate(name text, version integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	id integer := compensation.lock_strategy(name, 'activate');
	chosen integer := version;
BEGIN
	IF chosen IS NULL THEN
		SELECT max(v.version) INTO chosen
		  FROM compensation.strategy_version AS v
		 WHERE v.strategy_id OPERATOR(pg_catalog.=) id;
	ELSIF NOT EXISTS (SELECT FROM compensation.strategy_version AS v
					   WHERE v.strategy_id OPERATOR(pg_catalog.=) id
						 AND v.version OPERATOR(pg_catalog.=) chosen) THEN
		RAISE EXCEPTION 'strategy "%" has no version %', name, chosen
			USING ERRCODE = 'undefined_object',
				  HINT = 'compensation.strategies lists its versions.';
	END IF;
	UPDATE compensation.strategy_version AS v
	   SET status = 'retired', status_changed_at = now()
	 WHERE v.strategy_id OPERATOR(pg_catalog.=) id
	   AND v.status IN ('active', 'paused')
	   AND v.version OPERATOR(pg_catalog.<>) chosen;
	UPDATE compensation.strategy_version AS v
	   SET status = 'active', status_changed_at = now()
	 WHERE v.strategy_id OPERATOR(pg_catalog.=) id
	   AND v.version OPERATOR(pg_catalog.=) chosen
	   AND v.status OPERATOR(pg_catalog.<>) 'active';
	RETURN chosen;
END
$fn$;

COMMENT ON FUNCTION compensation.activate(text, integer) IS
	'put a version of a strategy in force (latest when NULL), retiring the one in force before';

CREATE FUNCTION compensation.pause(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	id integer := compensation.lock_strategy(name, 'pause');
	paused integer;
BEGIN
	UPDATE compensation.strategy_version AS v
	   SET status = 'paused', status_changed_at = now()
	 WHERE v.strategy_id OPERATOR(pg_catalog.=) id AND v.status = 'active'
	RETURNING v.version INTO paused;
	IF paused IS NULL THEN
		RAISE EXCEPTION 'strategy "%" has no active version to pause', name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'compensation.strategies shows the status of each version.';
	END IF;
	RETURN paused;
END
$fn$;

COMMENT ON FUNCTION compensation.pause(text) IS
	'stop applying a strategy for now; compensation.activate() resumes it';

CREATE FUNCTION compensation.retire(name text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	id integer := compensation.lock_strategy(name, 'retire');
	retired integer;
BEGIN
	UPDATE compensation.strategy_version AS v
	   SET status = 'retired', status_changed_at = now()
	 WHERE v.strategy_id OPERATOR(pg_catalog.=) id AND v.status <> 'retired';
	GET DIAGNOSTICS retired = ROW_COUNT;
	RETURN retired;
END
$fn$;

COMMENT ON FUNCTION compensation.retire(text) IS
	'retire every version of a strategy (its grants stay); returns how many versions changed';

CREATE VIEW compensation.strategies AS
SELECT s.name,
	   v.version,
	   v.status,
	   v.scenario,
	   v.source,
	   v.program,
	   v.instrument,
	   v.priority,
	   v.exclusive_group AS exclusive,
	   v.valid,
	   v.created_at,
	   v.created_by,
	   v.status_changed_at,
	   v.spec
  FROM compensation.strategy AS s
  JOIN compensation.strategy_version AS v USING (strategy_id);

COMMENT ON VIEW compensation.strategies IS
	'every version of every strategy with its status and spec';

CREATE TYPE compensation.decision AS (
	eligible	boolean,
	amount		numeric,
	currency	text,
	instrument	text,
	reasons		text[],
	version		integer
);

COMMENT ON TYPE compensation.decision IS
	'what a strategy decides for one row: eligibility, amount and currency, instrument, the conditions that held, the version used';

-- Evaluation: per row, so no SET search_path clause (it would save and
-- restore a GUC on every row).  They resolve no name through search_path:
-- every catalog query in the C code is schema-qualified with
-- OPERATOR(pg_catalog.=), and the row's columns are found by name in its
-- own row type.
--
-- Called with a table row, the planner support function rewrites them into
-- their *_columns twins, which take the row's columns instead of a
-- whole-row datum (src/planner_support.c): same decisions, without forming
-- a tuple per row.
CREATE FUNCTION compensation.evaluation_support(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'compensation_evaluation_support'
LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION compensation.eligible_columns(strategy text, version integer, row_type oid, attnums int2[], VARIADIC "any")
RETURNS boolean
AS 'MODULE_PATHNAME', 'compensation_eligible_columns'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.amount_columns(strategy text, version integer, row_type oid, attnums int2[], VARIADIC "any")
RETURNS numeric
AS 'MODULE_PATHNAME', 'compensation_amount_columns'
LANGUAGE C STABLE PARALLEL SAFE;

-- With the strategy and version constants, the *_spec twins instead: they
-- carry the version's spec and the columns' names, so that a node without
-- the strategy catalog (a Citus worker) decides the rows it is sent.
CREATE FUNCTION compensation.eligible_spec(strategy text, version integer, spec jsonb, row_type text, columns text[], VARIADIC "any")
RETURNS boolean
AS 'MODULE_PATHNAME', 'compensation_eligible_spec'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.amount_spec(strategy text, version integer, spec jsonb, row_type text, columns text[], VARIADIC "any")
RETURNS numeric
AS 'MODULE_PATHNAME', 'compensation_amount_spec'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.eligible(strategy text, facts record, version integer DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'compensation_eligible'
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT compensation.evaluation_support;

COMMENT ON FUNCTION compensation.eligible(text, record, integer) IS
	'does the strategy (active version, or the one given) compensate this row?';

CREATE FUNCTION compensation.amount(strategy text, facts record, version integer DEFAULT NULL)
RETURNS numeric
AS 'MODULE_PATHNAME', 'compensation_amount'
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT compensation.evaluation_support;

COMMENT ON FUNCTION compensation.amount(text, record, integer) IS
	'the compensation for this row in its currency, NULL when not eligible';

CREATE FUNCTION compensation.evaluate_columns(strategy text, version integer, row_type oid, attnums int2[], VARIADIC "any")
RETURNS compensation.decision
AS 'MODULE_PATHNAME', 'compensation_evaluate_columns'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.evaluate_spec(strategy text, version integer, spec jsonb, row_type text, columns text[], VARIADIC "any")
RETURNS compensation.decision
AS 'MODULE_PATHNAME', 'compensation_evaluate_spec'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION compensation.evaluate(strategy text, facts record, version integer DEFAULT NULL)
RETURNS compensation.decision
AS 'MODULE_PATHNAME', 'compensation_evaluate'
LANGUAGE C STABLE PARALLEL SAFE
SUPPORT compensation.evaluation_support;

COMMENT ON FUNCTION compensation.evaluate(text, record, integer) IS
	'the full decision for this row: eligible, amount, currency, instrument, reasons, version';
COMMENT ON FUNCTION compensation.eligible_columns(text, integer, oid, int2[], "any") IS
	'eligible() of a table row, as the planner rewrites it: the row''s ctid and the columns the strategy reads (attnums) instead of the row';
COMMENT ON FUNCTION compensation.amount_columns(text, integer, oid, int2[], "any") IS
	'amount() of a table row, as the planner rewrites it: the row''s ctid and the columns the strategy reads (attnums) instead of the row';
COMMENT ON FUNCTION compensation.evaluate_columns(text, integer, oid, int2[], "any") IS
	'evaluate() of a table row, as the planner rewrites it: the row''s ctid and the columns the strategy reads (attnums) instead of the row';
COMMENT ON FUNCTION compensation.eligible_spec(text, integer, jsonb, text, text[], "any") IS
	'eligible() of a row, as the planner rewrites it when the version is known: the version''s spec and the row''s columns by name, decidable on any node';
COMMENT ON FUNCTION compensation.amount_spec(text, integer, jsonb, text, text[], "any") IS
	'amount() of a row, as the planner rewrites it when the version is known: the version''s spec and the row''s columns by name, decidable on any node';
COMMENT ON FUNCTION compensation.evaluate_spec(text, integer, jsonb, text, text[], "any") IS
	'evaluate() of a row, as the planner rewrites it when the version is known: the version''s spec and the row''s columns by name, decidable on any node';
COMMENT ON FUNCTION compensation.evaluation_support(internal) IS
	'planner support of eligible/amount/evaluate: passes a table row''s columns instead of the row';

CREATE FUNCTION compensation.in_holdout(strategy text, buyer text, version integer DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'compensation_in_holdout'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION compensation.in_holdout(text, text, integer) IS
	'is the buyer in the strategy''s holdout: fmix32(FNV-1a-32(salt:buyer)) mod 10000 < holdout * 10000';

CREATE FUNCTION compensation.holdout_hash(salt text, buyer text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'compensation_holdout_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION compensation.holdout_hash(text, text) IS
	'the documented holdout hash: MurmurHash3 fmix32 of the FNV-1a 32-bit hash of the UTF-8 bytes of salt || '':'' || buyer';
