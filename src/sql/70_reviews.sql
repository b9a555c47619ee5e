/* src/sql/70_reviews.sql — reviews governance and trust-recovery opportunities. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

/*
 * Compensating a low rating is service recovery; paying for a review to be
 * written, raised or removed is buying reviews.  review_integrity() measures
 * the second per strategy or seller, review_farming() finds buyers whose
 * low reviews are followed by grants unusually often, and uncovered() lists
 * the poor experiences nobody compensated.  Every report here is SECURITY
 * INVOKER: it reads the user's relations with the caller's rights, and the
 * ledger through the views readers see.  Only define_signal/drop_signal
 * (admins) write, as the owner, the signal table and nothing else.
 */

-- ---- the binomial tail (src/reviews.c) -----------------------------------

CREATE FUNCTION compensation.binomial_upper_tail(k bigint, n bigint, p double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'compensation_binomial_upper_tail'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION compensation.binomial_upper_tail(bigint, bigint, double precision) IS
	'P(X >= k) for X ~ Binomial(n, p), computed in log space (0 below the smallest double: see binomial_upper_tail_log)';

CREATE FUNCTION compensation.binomial_upper_tail_log(k bigint, n bigint, p double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'compensation_binomial_upper_tail_log'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION compensation.binomial_upper_tail_log(bigint, bigint, double precision) IS
	'the natural logarithm of P(X >= k) for X ~ Binomial(n, p); -Infinity for an empty tail';

-- ---- reviews relations -----------------------------------------------------

/*
 * reviews_query(reviews, keys) -> text
 *		Check a reviews relation and its keys and return a query over it with
 *		the columns order_key, buyer, rating (numeric), written_at
 *		(timestamptz), seller and review_id (text; NULL when not named; a
 *		row number when no "review" key is given, so each row is a review).
 *		Errors name the key, the column and the relation.
 */
CREATE FUNCTION compensation.reviews_query(reviews regclass, keys jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	hint constant text := 'Write keys => ''{"order": "order_id", "buyer": "buyer_id", "rating": "score", "written_at": "created_at"}'' plus optional "seller" and "review" columns.';
	key text;
	column_name text;
	attnum smallint;
	type_oid oid;
	category "char";
	expressions text[] := '{}';
	wanted constant text[] := ARRAY['order', 'buyer', 'rating', 'written_at', 'seller', 'review'];
	aliases constant text[] := ARRAY['order_key', 'buyer', 'rating', 'written_at', 'seller', 'review_id'];
BEGIN
	IF reviews IS NULL OR keys IS NULL THEN
		RAISE EXCEPTION 'a reviews relation and its keys are required'
			USING ERRCODE = 'null_value_not_allowed', HINT = hint;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
					WHERE c.oid OPERATOR(pg_catalog.=) reviews
					  AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,v,m,f,p}'::"char"[])) THEN
		RAISE EXCEPTION 'reviews relation % is not a table or view', reviews::oid
			USING ERRCODE = 'wrong_object_type', HINT = 'Give a table or view with one row per review.';
	END IF;
	IF pg_catalog.jsonb_typeof(keys) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'invalid reviews keys: expected an object, found %', pg_catalog.jsonb_typeof(keys)
			USING ERRCODE = 'invalid_parameter_value', HINT = hint;
	END IF;
	FOR key IN SELECT k FROM pg_catalog.jsonb_object_keys(keys) AS k LOOP
		IF NOT key OPERATOR(pg_catalog.=) ANY (wanted) THEN
			RAISE EXCEPTION 'invalid reviews keys: unknown key "%"', key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Known keys: order, buyer, rating, written_at, seller, review.';
		END IF;
	END LOOP;
	FOR i IN 1 .. pg_catalog.array_length(wanted, 1) LOOP
		key := wanted[i];
		IF NOT keys ? key THEN
			IF i OPERATOR(pg_catalog.<=) 4 THEN
				RAISE EXCEPTION 'invalid reviews keys: missing required key "%"', key
					USING ERRCODE = 'invalid_parameter_value', HINT = hint;
			END IF;
			expressions := expressions OPERATOR(pg_catalog.||)
				CASE WHEN key OPERATOR(pg_catalog.=) 'review'
					 THEN 'pg_catalog.row_number() OVER ()::pg_catalog.text AS review_id'
					 ELSE 'NULL::pg_catalog.text AS ' OPERATOR(pg_catalog.||) aliases[i] END;
			CONTINUE;
		END IF;
		IF pg_catalog.jsonb_typeof(keys -> key) OPERATOR(pg_catalog.<>) 'string' THEN
			RAISE EXCEPTION 'invalid reviews keys: "%" must name a column, found %', key, pg_catalog.jsonb_typeof(keys -> key)
				USING ERRCODE = 'invalid_parameter_value', HINT = hint;
		END IF;
		column_name := keys ->> key;
		SELECT a.attnum, CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype ELSE a.atttypid END
		  INTO attnum, type_oid
		  FROM pg_catalog.pg_attribute AS a JOIN pg_catalog.pg_type AS t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
		 WHERE a.attrelid OPERATOR(pg_catalog.=) reviews AND a.attname OPERATOR(pg_catalog.=) column_name
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
		IF attnum IS NULL THEN
			RAISE EXCEPTION 'invalid reviews keys: column "%" of key "%" does not exist in %', column_name, key, reviews
				USING ERRCODE = 'undefined_column',
					  HINT = 'Column names are matched exactly (case-sensitive); fix the name in keys or add the column.';
		END IF;
		IF NOT pg_catalog.has_column_privilege(reviews, attnum, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied for relation %', reviews
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('Role "%s" cannot read column "%s" (key "%s"); the reports read reviews with the caller''s rights.',
												 current_user, column_name, key),
					  HINT = pg_catalog.format('GRANT SELECT ON %s TO %I.', reviews, current_user);
		END IF;
		SELECT t.typcategory INTO category FROM pg_catalog.pg_type AS t WHERE t.oid OPERATOR(pg_catalog.=) type_oid;
		IF key OPERATOR(pg_catalog.=) 'rating' AND category OPERATOR(pg_catalog.<>) 'N' THEN
			RAISE EXCEPTION 'invalid reviews keys: column "%" of key "rating" is of type %, not a number', column_name, pg_catalog.format_type(type_oid, NULL)
				USING ERRCODE = 'datatype_mismatch', HINT = 'Name a numeric or integer column, or cast it in a view.';
		END IF;
		IF key OPERATOR(pg_catalog.=) 'written_at'
		   AND NOT type_oid OPERATOR(pg_catalog.=) ANY ('{timestamptz,timestamp,date}'::pg_catalog.regtype[]::oid[]) THEN
			RAISE EXCEPTION 'invalid reviews keys: column "%" of key "written_at" is of type %, not a timestamp', column_name, pg_catalog.format_type(type_oid, NULL)
				USING ERRCODE = 'datatype_mismatch', HINT = 'Name a timestamp, timestamptz or date column, or cast it in a view.';
		END IF;
		expressions := expressions OPERATOR(pg_catalog.||) pg_catalog.format('r.%I::%s AS %s', column_name,
			CASE key WHEN 'rating' THEN 'pg_catalog.numeric'
					 WHEN 'written_at' THEN 'pg_catalog.timestamptz'
					 ELSE 'pg_catalog.text' END, aliases[i]);
	END LOOP;
	RETURN pg_catalog.format('SELECT %s FROM %s AS r', pg_catalog.array_to_string(expressions, ', '), reviews);
END
$fn$;

COMMENT ON FUNCTION compensation.reviews_query(regclass, jsonb) IS
	'check a reviews relation and its keys (order, buyer, rating, written_at, optional seller, review) and return the query that reads them';

-- ---- review_farming --------------------------------------------------------

/*
 * review_farming(reviews, keys, low, within, from, to)
 *		Buyers whose low reviews (rating <= low, written in [from, to)) are
 *		followed by a grant to the same buyer (not voided, its as_of in
 *		(written_at, written_at + within]) more often than the population's
 *		rate p = followed / low reviews, over all buyers.  For each buyer
 *		with at least one followed low review: the counts, the expected count
 *		n p, the one-sided binomial tail P(X >= k | n, p), the tail times the
 *		number of buyers tested (Bonferroni, at most 1) and the flag.
 *		Tested: buyers with at least 3 low reviews.  Flagged: tested, at
 *		least 3 followed, and the corrected tail below 0.01.  A review with a
 *		"review" key counts once, at its first low version.
 */
CREATE FUNCTION compensation.review_farming(reviews regclass, keys jsonb, low integer DEFAULT 2,
	within interval DEFAULT '14 days', "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
RETURNS TABLE (buyer text, low_reviews bigint, followed_by_grant bigint, expected double precision,
	population_rate double precision, p_value double precision, p_adjusted double precision,
	buyers_tested bigint, flagged boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	IF low IS NULL OR within IS NULL OR within OPERATOR(pg_catalog.<) '0'::interval THEN
		RAISE EXCEPTION 'review_farming needs a low rating and a non-negative interval'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'For example: low => 2, within => ''14 days''.';
	END IF;
	RETURN QUERY EXECUTE pg_catalog.format($q$
	WITH r AS (%s),
	lows AS (
		SELECT r.buyer, r.order_key, r.review_id, pg_catalog.min(r.written_at) AS written_at
		  FROM r
		 WHERE r.rating OPERATOR(pg_catalog.<=) $1 AND r.buyer IS NOT NULL AND r.written_at IS NOT NULL
		 GROUP BY r.buyer, r.order_key, r.review_id),
	events AS (
		-- a hash join on the buyer, not a probe of the ledger per review
		SELECT l.buyer, pg_catalog.count(g.as_of) OPERATOR(pg_catalog.>) 0 AS followed
		  FROM lows AS l
		  LEFT JOIN compensation.grants AS g
			ON g.buyer OPERATOR(pg_catalog.=) l.buyer COLLATE "C" AND NOT g.voided
		   AND g.as_of OPERATOR(pg_catalog.>) l.written_at
		   AND g.as_of OPERATOR(pg_catalog.<=) (l.written_at OPERATOR(pg_catalog.+) $2)
		 WHERE ($3 IS NULL OR l.written_at OPERATOR(pg_catalog.>=) $3)
		   AND ($4 IS NULL OR l.written_at OPERATOR(pg_catalog.<) $4)
		 GROUP BY l.buyer, l.order_key, l.review_id),
	per_buyer AS (
		SELECT e.buyer, pg_catalog.count(*) AS n, pg_catalog.count(*) FILTER (WHERE e.followed) AS k
		  FROM events AS e GROUP BY e.buyer),
	population AS (
		SELECT pg_catalog.sum(b.k)::float8 OPERATOR(pg_catalog./) pg_catalog.sum(b.n)::float8 AS rate,
			   pg_catalog.count(*) FILTER (WHERE b.n OPERATOR(pg_catalog.>=) 3) AS tested
		  FROM per_buyer AS b)
	SELECT t.buyer, t.n, t.k, t.expected, t.rate, t.p_value, t.p_adjusted, t.tested,
		   coalesce(t.n OPERATOR(pg_catalog.>=) 3 AND t.k OPERATOR(pg_catalog.>=) 3
					AND t.p_adjusted OPERATOR(pg_catalog.<) 0.01, false)
	  FROM (SELECT b.buyer, b.n, b.k, b.n::float8 OPERATOR(pg_catalog.*) p.rate AS expected, p.rate,
				   compensation.binomial_upper_tail(b.k, b.n, p.rate) AS p_value,
				   CASE WHEN b.n OPERATOR(pg_catalog.>=) 3
						THEN LEAST(1::float8, compensation.binomial_upper_tail(b.k, b.n, p.rate)
											   OPERATOR(pg_catalog.*) p.tested::float8) END AS p_adjusted,
				   p.tested
			  FROM per_buyer AS b CROSS JOIN population AS p
			 WHERE b.k OPERATOR(pg_catalog.>) 0) AS t
	 ORDER BY t.p_value, t.buyer COLLATE "C"
	$q$, compensation.reviews_query(reviews, keys))
	USING low::numeric, within, "from", "to";
END
$fn$;

COMMENT ON FUNCTION compensation.review_farming(regclass, jsonb, integer, interval, timestamptz, timestamptz) IS
	'buyers whose low reviews are followed by a grant within an interval unusually often: counts, expected count, binomial tail, Bonferroni-corrected, flag (tested: >= 3 low reviews; flagged: >= 3 followed and corrected tail < 0.01)';

-- ---- review_integrity ------------------------------------------------------

/*
 * review_integrity(reviews, keys, by, from, to)
 *		Per strategy (or per seller: the order's seller in the reviews, the
 *		smallest when it has several), over the grants not voided whose
 *		as_of is in [from, to): the grants; those whose order has a review;
 *		those whose order's first review was written after the grant (as_of)
 *		and their share; for orders reviewed both at or before and after the
 *		grant, the mean of the latest rating before and of the latest after,
 *		and how many rose; the buyers of those grants that review_farming
 *		(defaults, same window) flags.
 */
CREATE FUNCTION compensation.review_integrity(reviews regclass, keys jsonb, "by" text DEFAULT 'strategy',
	"from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
RETURNS TABLE (strategy text, seller text, grants bigint, reviewed bigint, first_review_after bigint,
	share_after numeric, reviewed_both_sides bigint, rating_before numeric, rating_after numeric,
	ratings_raised bigint, farming_buyers bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	reviews_sql text := compensation.reviews_query(reviews, keys);
BEGIN
	IF "by" IS NULL OR "by" NOT IN ('strategy', 'seller') THEN
		RAISE EXCEPTION 'review_integrity: by must be ''strategy'' or ''seller'', not %', coalesce(pg_catalog.quote_literal("by"), 'NULL')
			USING ERRCODE = 'invalid_parameter_value', HINT = 'by => ''seller'' groups by the order''s seller (keys must name "seller").';
	END IF;
	IF "by" OPERATOR(pg_catalog.=) 'seller' AND NOT keys ? 'seller' THEN
		RAISE EXCEPTION 'review_integrity by seller needs a "seller" key'
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Add "seller": "seller_id" to keys.';
	END IF;
	RETURN QUERY EXECUTE pg_catalog.format($q$
	WITH r AS MATERIALIZED (%s),
	g AS (
		SELECT g.grant_id, g.strategy, g.order_key, g.buyer, g.as_of
		  FROM compensation.grants AS g
		 WHERE NOT g.voided
		   AND ($1 IS NULL OR g.as_of OPERATOR(pg_catalog.>=) $1)
		   AND ($2 IS NULL OR g.as_of OPERATOR(pg_catalog.<) $2)),
	per_grant AS (
		SELECT g.grant_id, g.strategy, g.buyer, g.as_of,
			   pg_catalog.min(r.seller) AS seller,
			   pg_catalog.count(r.order_key) AS nreviews,
			   pg_catalog.min(r.written_at) AS first_at,
			   (pg_catalog.array_agg(r.rating ORDER BY r.written_at DESC, r.review_id DESC)
					FILTER (WHERE r.written_at OPERATOR(pg_catalog.<=) g.as_of))[1] AS before,
			   (pg_catalog.array_agg(r.rating ORDER BY r.written_at DESC, r.review_id DESC)
					FILTER (WHERE r.written_at OPERATOR(pg_catalog.>) g.as_of))[1] AS after
		  FROM g LEFT JOIN r ON r.order_key OPERATOR(pg_catalog.=) g.order_key COLLATE "C"
		 GROUP BY g.grant_id, g.strategy, g.buyer, g.as_of),
	farmers AS (
		SELECT DISTINCT f.buyer
		  FROM compensation.review_farming($3, $4, 2, '14 days', $1, $2) AS f
		 WHERE f.flagged)
	SELECT * FROM (
	SELECT CASE WHEN $5 THEN NULL ELSE p.strategy END AS strategy,
		   CASE WHEN $5 THEN p.seller END AS seller,
		   pg_catalog.count(*),
		   pg_catalog.count(*) FILTER (WHERE p.nreviews OPERATOR(pg_catalog.>) 0),
		   pg_catalog.count(*) FILTER (WHERE p.first_at OPERATOR(pg_catalog.>) p.as_of),
		   pg_catalog.round(pg_catalog.count(*) FILTER (WHERE p.first_at OPERATOR(pg_catalog.>) p.as_of)::pg_catalog.numeric
				OPERATOR(pg_catalog./) NULLIF(pg_catalog.count(*) FILTER (WHERE p.nreviews OPERATOR(pg_catalog.>) 0), 0), 4),
		   pg_catalog.count(*) FILTER (WHERE p.before IS NOT NULL AND p.after IS NOT NULL),
		   pg_catalog.round(pg_catalog.avg(p.before) FILTER (WHERE p.before IS NOT NULL AND p.after IS NOT NULL), 4),
		   pg_catalog.round(pg_catalog.avg(p.after) FILTER (WHERE p.before IS NOT NULL AND p.after IS NOT NULL), 4),
		   pg_catalog.count(*) FILTER (WHERE p.after OPERATOR(pg_catalog.>) p.before),
		   pg_catalog.count(DISTINCT f.buyer)
	  FROM per_grant AS p
	  LEFT JOIN farmers AS f ON f.buyer OPERATOR(pg_catalog.=) p.buyer COLLATE "C"
	 GROUP BY 1, 2) AS t
	 ORDER BY t.strategy COLLATE "C" NULLS LAST, t.seller COLLATE "C" NULLS LAST
	$q$, reviews_sql)
	USING "from", "to", reviews, keys, "by" OPERATOR(pg_catalog.=) 'seller';
END
$fn$;

COMMENT ON FUNCTION compensation.review_integrity(regclass, jsonb, text, timestamptz, timestamptz) IS
	'per strategy or seller: grants, reviewed grants, reviews first written after the grant and their share, mean rating before and after, ratings raised, buyers flagged by review_farming';

-- ---- the registered reviews source and strategy_performance ---------------

/*
 * At most one registered reviews source (the relation's qualified name and
 * its keys, as review_integrity takes them), so that strategy_performance
 * can show each version's rate of reviews that follow the money.  Written
 * only by register_reviews/unregister_reviews; the name, not the OID, is
 * kept, as for signals: a source dropped and created again stays registered.
 */
CREATE TABLE compensation.reviews_source (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	relation	text NOT NULL,
	keys		jsonb NOT NULL,
	registered_by text NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE compensation.reviews_source IS
	'the one registered reviews source (relation and keys) whose bought-review rates strategy_performance shows';

SELECT pg_catalog.pg_extension_config_dump('compensation.reviews_source', '');

/*
 * register_reviews(relation, keys) -> relation
 *		Check the relation and keys as review_integrity does (the session
 *		user must be able to read every named column) and make it the
 *		registered source, replacing the one before: there is one reviews
 *		ecosystem to watch.  A temporary table would vanish with its
 *		session, so it is refused.  unregister_reviews() removes it.
 */
CREATE FUNCTION compensation.register_reviews(relation regclass, keys jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	key text;
	column_name text;
	attnum smallint;
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('register_reviews');
	IF relation IS NULL OR keys IS NULL THEN
		RAISE EXCEPTION 'register_reviews needs a relation and its keys'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'To stop showing review rates in strategy_performance, call compensation.unregister_reviews().';
	END IF;
	-- the columns and their types; run as the owner, who can read them all
	PERFORM compensation.reviews_query(relation, keys);
	IF EXISTS (SELECT FROM pg_catalog.pg_class AS c
				WHERE c.oid OPERATOR(pg_catalog.=) relation
				  AND c.relpersistence OPERATOR(pg_catalog.=) 't') THEN
		RAISE EXCEPTION 'reviews relation % is temporary', relation
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Register a permanent table or view: a temporary one vanishes with its session.';
	END IF;
	-- the rights of the role that registers, as define_signal checks them
	FOR key, column_name IN SELECT k.key, k.value FROM pg_catalog.jsonb_each_text(keys) AS k ORDER BY k.key LOOP
		SELECT a.attnum INTO attnum FROM pg_catalog.pg_attribute AS a
		 WHERE a.attrelid OPERATOR(pg_catalog.=) relation AND a.attname OPERATOR(pg_catalog.=) column_name
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
		IF NOT pg_catalog.has_column_privilege(session_user, relation, attnum, 'SELECT') THEN
			RAISE EXCEPTION 'permission denied for relation %', relation
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = pg_catalog.format('Role "%s" cannot read column "%s" (key "%s").', session_user, column_name, key),
					  HINT = pg_catalog.format('GRANT SELECT ON %s TO %I, then register it.', relation, session_user);
		END IF;
	END LOOP;
	INSERT INTO compensation.reviews_source AS r (relation, keys, registered_by)
	VALUES (relation::text, keys, session_user)
	ON CONFLICT ON CONSTRAINT reviews_source_pkey DO UPDATE
		SET relation = EXCLUDED.relation, keys = EXCLUDED.keys,
			registered_by = EXCLUDED.registered_by, registered_at = pg_catalog.now();
	RETURN relation::text;
END
$fn$;

COMMENT ON FUNCTION compensation.register_reviews(regclass, jsonb) IS
	'make a reviews relation (keys as for review_integrity) the one source whose bought-review rates strategy_performance shows; replaces the one before';

CREATE FUNCTION compensation.unregister_reviews()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('unregister_reviews');
	DELETE FROM compensation.reviews_source;
	RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION compensation.unregister_reviews() IS
	'remove the registered reviews source (strategy_performance''s review columns become NULL); false when there was none';

/*
 * strategy_review_rates() -> per strategy and version, over its grants not
 * voided whose order has a review in the registered source: how many were
 * first reviewed after the grant (as_of), and how many were reviewed at or
 * before it and again after it with a higher latest rating; their sum over
 * the reviewed grants is the bought-review rate.  review_integrity's
 * figures, per version and over all time.  Flagged: more than half
 * (compared in integers: 2 x signals > reviewed), over at least 20
 * reviewed grants.  Half, because a strategy that answers poor experiences
 * sees most reviews before its grants, or unchanged after them: when most
 * reviews appear or rise only once the money has, the review follows the
 * grant more often than not.  Twenty, because below it a rate above one
 * half is a handful of orders (its 95% interval at 20 is about +-0.22).
 *
 * No rows when no source is registered, or when the caller cannot read a
 * column it names (the view shows NULLs then: no figure is computed from
 * rows the caller cannot read).  A source that no longer exists, or whose
 * keys no longer match it, is an error naming it, with a hint.  Reads the
 * source with the caller's rights (its row-level security applies).
 */
CREATE FUNCTION compensation.strategy_review_rates()
RETURNS TABLE (strategy text, version integer, reviewed_grants bigint, first_review_after bigint,
	ratings_raised bigint, bought_review_rate numeric, bought_review_flag boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	source record;
	relid oid;
	column_name text;
	attnum smallint;
BEGIN
	SELECT r.relation, r.keys INTO source FROM compensation.reviews_source AS r;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	relid := pg_catalog.to_regclass(source.relation);
	IF relid IS NULL THEN
		RAISE EXCEPTION 'the registered reviews source % does not exist', source.relation
			USING ERRCODE = 'undefined_table',
				  HINT = 'Register an existing one with compensation.register_reviews(relation, keys), or call compensation.unregister_reviews().';
	END IF;
	IF NOT pg_catalog.has_schema_privilege((SELECT c.relnamespace FROM pg_catalog.pg_class AS c
											 WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE') THEN
		RETURN;
	END IF;
	FOR column_name IN SELECT k.value FROM pg_catalog.jsonb_each_text(source.keys) AS k LOOP
		SELECT a.attnum INTO attnum FROM pg_catalog.pg_attribute AS a
		 WHERE a.attrelid OPERATOR(pg_catalog.=) relid AND a.attname OPERATOR(pg_catalog.=) column_name
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
		-- a missing column is reviews_query's error, below
		IF FOUND AND NOT pg_catalog.has_column_privilege(relid, attnum, 'SELECT') THEN
			RETURN;
		END IF;
	END LOOP;
	RETURN QUERY EXECUTE pg_catalog.format($q$
	WITH r AS (%s),
	per_grant AS (
		-- only reviewed grants: the join is inner
		SELECT g.strategy, g.version,
			   pg_catalog.min(r.written_at) OPERATOR(pg_catalog.>) g.as_of AS first_after,
			   (pg_catalog.array_agg(r.rating ORDER BY r.written_at DESC, r.review_id DESC)
					FILTER (WHERE r.written_at OPERATOR(pg_catalog.<=) g.as_of))[1] AS before,
			   (pg_catalog.array_agg(r.rating ORDER BY r.written_at DESC, r.review_id DESC)
					FILTER (WHERE r.written_at OPERATOR(pg_catalog.>) g.as_of))[1] AS after
		  FROM compensation.grants AS g
		  JOIN r ON r.order_key OPERATOR(pg_catalog.=) g.order_key COLLATE "C"
		 WHERE NOT g.voided
		 GROUP BY g.grant_id, g.strategy, g.version, g.as_of),
	per_version AS (
		SELECT p.strategy, p.version, pg_catalog.count(*) AS reviewed,
			   pg_catalog.count(*) FILTER (WHERE p.first_after) AS first_after,
			   pg_catalog.count(*) FILTER (WHERE p.after OPERATOR(pg_catalog.>) p.before) AS raised
		  FROM per_grant AS p
		 GROUP BY p.strategy, p.version)
	SELECT v.name, v.version, coalesce(p.reviewed, 0), coalesce(p.first_after, 0), coalesce(p.raised, 0),
		   pg_catalog.round((p.first_after OPERATOR(pg_catalog.+) p.raised)::pg_catalog.numeric
				OPERATOR(pg_catalog./) p.reviewed, 4),
		   coalesce(p.reviewed OPERATOR(pg_catalog.>=) 20
					AND 2 OPERATOR(pg_catalog.*) (p.first_after OPERATOR(pg_catalog.+) p.raised)
						OPERATOR(pg_catalog.>) p.reviewed, false)
	  FROM compensation.strategies AS v
	  LEFT JOIN per_version AS p
		ON p.strategy OPERATOR(pg_catalog.=) v.name AND p.version OPERATOR(pg_catalog.=) v.version
	$q$, compensation.reviews_query(relid::regclass, source.keys));
END
$fn$;

COMMENT ON FUNCTION compensation.strategy_review_rates() IS
	'per strategy and version, from the registered reviews source read as the caller: reviewed grants, first reviews after the grant, ratings raised after it, their rate and the flag (rate > 0.5 over >= 20 reviewed grants); no rows when none is registered or the caller cannot read it';

-- ---- signals ---------------------------------------------------------------

/*
 * A named poor experience: a condition in the spec language of "when" over
 * a source with keys like a strategy's (order, buyer, at, optional market,
 * value, currency).  Written only by define_signal/drop_signal.
 */
CREATE TABLE compensation.signal (
	name		text COLLATE "C" PRIMARY KEY,
	source		text NOT NULL,
	condition	jsonb NOT NULL,
	keys		jsonb NOT NULL,
	scenario	text NOT NULL,
	created_by	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE compensation.signal IS
	'named poor experiences (a condition over a source) that uncovered() counts when no strategy granted them';

SELECT pg_catalog.pg_extension_config_dump('compensation.signal', '');

CREATE VIEW compensation.signals AS
SELECT s.name, s.scenario, s.source, s.condition, s.keys, s.created_by, s.created_at
  FROM compensation.signal AS s;

COMMENT ON VIEW compensation.signals IS 'every signal: a named condition over a source';

/*
 * signal_spec(source, condition, keys) -> jsonb: the strategy spec that pays
 * nothing and whose "when" is the signal's condition; the strategy machinery
 * checks, binds and evaluates it, so a condition means the same as in a
 * strategy.
 */
CREATE FUNCTION compensation.signal_spec(source text, condition jsonb, keys jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.jsonb_build_object('scenario', 'signal', 'source', source, 'keys', keys,
		'when', condition, 'amount', '{"type": "fixed", "value": 0}'::jsonb,
		'instrument', 'voucher', 'program', 'signal')
	OPERATOR(pg_catalog.||) CASE WHEN keys ? 'currency' THEN '{}'::jsonb ELSE '{"currency": "EUR"}'::jsonb END;

COMMENT ON FUNCTION compensation.signal_spec(text, jsonb, jsonb) IS
	'the zero-amount strategy spec whose rule is a signal''s condition (how signals are checked and evaluated)';

CREATE FUNCTION compensation.signal_holds(signal text, facts record)
RETURNS boolean
AS 'MODULE_PATHNAME', 'compensation_signal_holds'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION compensation.signal_holds(text, record) IS
	'whether a signal''s condition is true for the row (columns found by name, as eligible() does)';

/*
 * define_signal(name, source, condition, keys, scenario) -> name
 *		Check the condition and keys against the source as a strategy's
 *		would be (the session user must be able to read it) and store or
 *		replace the signal.  scenario defaults to the name.
 */
CREATE FUNCTION compensation.define_signal(name text, source text, condition jsonb, keys jsonb,
	scenario text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	message text;
	hint text;
	state text;
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('define_signal');
	IF name IS NULL OR source IS NULL OR condition IS NULL OR keys IS NULL THEN
		RAISE EXCEPTION 'define_signal needs a name, a source, a condition and keys'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'For example: SELECT compensation.define_signal(''late_1d'', ''public.order_experience'', ''{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1}'', ''{"order": "order_id", "buyer": "buyer_id", "at": "promised_at", "market": "market"}'');';
	END IF;
	IF name !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' THEN
		RAISE EXCEPTION 'invalid signal name "%"', name
			USING ERRCODE = 'invalid_name',
				  HINT = 'Use letters, digits, "_", "." and "-", starting with a letter, digit or "_".';
	END IF;
	BEGIN
		PERFORM compensation.validate_spec(compensation.signal_spec(source, condition, keys));
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT, state = RETURNED_SQLSTATE;
		message := pg_catalog.replace(message, 'invalid strategy spec at $.when',
									  pg_catalog.format('invalid signal "%s": condition at $', name));
		message := pg_catalog.replace(message, 'invalid strategy spec at $.',
									  pg_catalog.format('invalid signal "%s": ', name));
		RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message, HINT = coalesce(hint, '');
	END;
	INSERT INTO compensation.signal AS s (name, source, condition, keys, scenario, created_by)
	VALUES (name, source, condition, keys, coalesce(scenario, name), session_user)
	ON CONFLICT ON CONSTRAINT signal_pkey DO UPDATE
		SET source = EXCLUDED.source, condition = EXCLUDED.condition, keys = EXCLUDED.keys,
			scenario = EXCLUDED.scenario, created_by = EXCLUDED.created_by, created_at = pg_catalog.now();
	RETURN name;
END
$fn$;

COMMENT ON FUNCTION compensation.define_signal(text, text, jsonb, jsonb, text) IS
	'store or replace a signal: a named condition (spec language of "when") over a source, with keys order, buyer, at and optional market, value, currency';

CREATE FUNCTION compensation.drop_signal(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
	PERFORM compensation.refuse_in_restricted_operation('drop_signal');
	DELETE FROM compensation.signal AS s WHERE s.name OPERATOR(pg_catalog.=) drop_signal.name;
	RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION compensation.drop_signal(text) IS 'remove a signal; false when there was none';

-- ---- uncovered -------------------------------------------------------------

/*
 * uncovered(from, to, signals) -> poor experiences with at in [from, to)
 *		that received no grant, an order being covered when any strategy
 *		granted it (not voided) or held it out.  Two kinds of rows:
 *		- 'rule': orders that met the rule of an active or paused strategy
 *		  but were skipped (reason: budget, pace, cap, expired, currency),
 *		  with the amount they would have had, per currency;
 *		- 'signal': the source's rows meeting a signal (all of them, or those
 *		  named), reason 'no grant'; a signal has no amount (NULL).
 *		Grouped by kind, name, scenario, market and reason.  Reads the
 *		sources with the caller's rights.  A rule row's amount is its
 *		group's sum of minor units converted once: the decisions view's
 *		amount looks the currency up per candidate (half the time of the
 *		rule rows), and the sum of exact conversions is the conversion of
 *		the sum.
 */
CREATE FUNCTION compensation.uncovered("from" timestamptz, "to" timestamptz, signals text[] DEFAULT NULL)
RETURNS TABLE (kind text, name text, scenario text, market text, reason text, orders bigint,
	currency text, amount numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- The skipped decisions come out of the decisions view's own anti-join
-- (grants first) estimated at one row, and the planner then probes the
-- ledger by order key once per candidate, with no index on the order key
-- alone: minutes over a million grants.  Hash joins read each side once.
SET enable_nestloop = off
AS $fn$
DECLARE
	sig record;
	relid oid;
BEGIN
	IF "from" IS NULL OR "to" IS NULL OR "from" OPERATOR(pg_catalog.>=) "to" THEN
		RAISE EXCEPTION 'uncovered needs a window: from before to'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example: compensation.uncovered(''2026-10-01'', ''2027-01-01'').';
	END IF;
	-- Skipped candidates are counted first and joined to their strategy's
	-- version after: the anti-joins then see the real number of rows (a
	-- join to the strategy tables first makes the planner expect one and
	-- probe the ledger once per candidate).
	RETURN QUERY
	WITH skipped AS (
		SELECT d.strategy, d.version, d.market, d.outcome, d.currency,
			   pg_catalog.count(*) AS orders, pg_catalog.sum(d.amount_minor) AS amount_minor
		  FROM compensation.decisions AS d
		 WHERE d.outcome OPERATOR(pg_catalog.<>) ALL ('{granted,holdout,duplicate}'::text[])
		   AND d.at OPERATOR(pg_catalog.>=) "from" AND d.at OPERATOR(pg_catalog.<) "to"
		   AND NOT EXISTS (SELECT 1 FROM compensation.grants AS g
							WHERE g.order_key OPERATOR(pg_catalog.=) d.order_key AND NOT g.voided)
		   AND NOT EXISTS (SELECT 1 FROM compensation.holdout_decision AS h
							WHERE h.order_key OPERATOR(pg_catalog.=) d.order_key)
		 GROUP BY d.strategy, d.version, d.market, d.outcome, d.currency)
	SELECT 'rule'::text, k.strategy, v.scenario, k.market, k.outcome,
		   pg_catalog.sum(k.orders)::bigint, k.currency, compensation.to_major_units(pg_catalog.sum(k.amount_minor)::pg_catalog.int8, k.currency)
	  FROM skipped AS k
	  JOIN compensation.strategies AS v
		ON v.name OPERATOR(pg_catalog.=) k.strategy AND v.version OPERATOR(pg_catalog.=) k.version
	 WHERE EXISTS (SELECT 1 FROM compensation.strategies AS a
					WHERE a.name OPERATOR(pg_catalog.=) k.strategy
					  AND a.status OPERATOR(pg_catalog.=) ANY ('{active,paused}'::text[]))
	 GROUP BY k.strategy, v.scenario, k.market, k.outcome, k.currency
	 ORDER BY k.strategy COLLATE "C", k.market COLLATE "C" NULLS LAST, k.outcome COLLATE "C", k.currency COLLATE "C";

	FOR sig IN SELECT s.name, s.source, s.keys, s.scenario FROM compensation.signal AS s
				WHERE signals IS NULL OR s.name OPERATOR(pg_catalog.=) ANY (signals)
				ORDER BY s.name LOOP
		relid := pg_catalog.to_regclass(sig.source);
		IF relid IS NULL THEN
			RAISE EXCEPTION 'signal "%": source % does not exist', sig.name, sig.source
				USING ERRCODE = 'undefined_table', HINT = 'Define the signal again over an existing source, or drop it.';
		END IF;
		IF NOT pg_catalog.has_table_privilege(relid, 'SELECT') THEN
			RAISE EXCEPTION 'signal "%": permission denied for relation %', sig.name, sig.source
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'uncovered() reads each signal''s source with the caller''s rights.',
					  HINT = pg_catalog.format('GRANT SELECT ON %s TO %I, or pass signals => the ones you can read.', sig.source, current_user);
		END IF;
		RETURN QUERY EXECUTE pg_catalog.format($q$
		SELECT 'signal'::pg_catalog.text, $1, $2, t.market, 'no grant'::pg_catalog.text, pg_catalog.count(*),
			   NULL::pg_catalog.text, NULL::pg_catalog.numeric
		  FROM (SELECT %s AS market
		  FROM %s AS s
		 WHERE s.%I OPERATOR(pg_catalog.>=) $3 AND s.%I OPERATOR(pg_catalog.<) $4
		   AND compensation.signal_holds($1, s)
		   AND NOT EXISTS (SELECT 1 FROM compensation.grants AS g
							WHERE g.order_key OPERATOR(pg_catalog.=) s.%I::pg_catalog.text AND NOT g.voided)
		   AND NOT EXISTS (SELECT 1 FROM compensation.holdout_decision AS h
							WHERE h.order_key OPERATOR(pg_catalog.=) s.%I::pg_catalog.text)) AS t
		 GROUP BY t.market
		 ORDER BY t.market COLLATE "C" NULLS LAST
		$q$,
			CASE WHEN sig.keys ? 'market' THEN pg_catalog.format('s.%I::pg_catalog.text', sig.keys ->> 'market')
				 ELSE 'NULL::pg_catalog.text' END,
			relid::regclass, sig.keys ->> 'at', sig.keys ->> 'at', sig.keys ->> 'order', sig.keys ->> 'order')
		USING sig.name, sig.scenario, "from", "to";
	END LOOP;
END
$fn$;

COMMENT ON FUNCTION compensation.uncovered(timestamptz, timestamptz, text[]) IS
	'poor experiences with no grant: rows that met an active or paused strategy''s rule but were skipped (by reason, with the amount), and rows meeting a signal that no strategy granted';

-- ---- privileges --------------------------------------------------------------

GRANT SELECT ON compensation.signal, compensation.signals, compensation.reviews_source TO compensation_reader;
GRANT EXECUTE ON FUNCTION
	compensation.binomial_upper_tail(bigint, bigint, double precision),
	compensation.binomial_upper_tail_log(bigint, bigint, double precision),
	compensation.reviews_query(regclass, jsonb),
	compensation.review_farming(regclass, jsonb, integer, interval, timestamptz, timestamptz),
	compensation.review_integrity(regclass, jsonb, text, timestamptz, timestamptz),
	compensation.signal_spec(text, jsonb, jsonb),
	compensation.signal_holds(text, record),
	compensation.uncovered(timestamptz, timestamptz, text[]),
	compensation.strategy_review_rates()
	TO compensation_reader;
GRANT EXECUTE ON FUNCTION
	compensation.define_signal(text, text, jsonb, jsonb, text),
	compensation.drop_signal(text),
	compensation.register_reviews(regclass, jsonb),
	compensation.unregister_reviews()
	TO compensation_admin;
