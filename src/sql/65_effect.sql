/* src/sql/65_effect.sql — effect(): treatment against holdout, per buyer, on
   an outcome source the caller names (issue #13, item 4).  Reads the
   decisions and grants views and the outcome relation with the caller's
   rights; the Welch parts are uplift() and roi() (src/uplift.c,
   src/student_t.c). */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

CREATE TYPE compensation.effect_result AS (
	by_value		text,		-- the group (NULL without "by")
	treated_n		bigint,		-- buyers in each arm
	control_n		bigint,
	treated_mean	numeric,	-- mean outcome per buyer in the window after assignment
	control_mean	numeric,
	difference		numeric,	-- treated_mean - control_mean
	std_error		float8,		-- Welch
	df				float8,		-- Welch-Satterthwaite
	ci_low			float8,		-- 95% interval of difference
	ci_high			float8,
	mde				float8,		-- minimum detectable effect, 80% power, 5% two-sided
	treated_pre_mean numeric,	-- mean outcome per buyer in the window before assignment
	control_pre_mean numeric,
	theta			numeric,	-- CUPED: cov(Y, X) / var(X), pooled over both arms; 0 without variance
	cuped_difference numeric,	-- difference - theta * (treated_pre_mean - control_pre_mean)
	cuped_std_error	float8,
	cuped_df		float8,
	cuped_ci_low	float8,
	cuped_ci_high	float8,
	cuped_mde		float8,
	currency		text,		-- of the cost; NULL when none or several
	cost			numeric,	-- granted to the treated buyers and not voided
	incremental		numeric,	-- difference * treated_n
	roi				float8,		-- (incremental - cost) / cost
	roi_low			float8,
	roi_high		float8
);

COMMENT ON TYPE compensation.effect_result IS
	'a row of effect(): per arm counts and means, Welch difference and interval, minimum detectable effect, CUPED estimate and interval, cost and ROI';

/*
 * effect(strategy, outcomes, keys, within, by, from, to, as_of)
 *		-> one row per group (one row without "by"; none when no buyer)
 *
 * The unit is the buyer, as the holdout is randomised by buyer.  A buyer's
 * arm and assignment time t0 are those of their first decision with an arm
 * (compensation.decisions: least assigned_at, then at, then order key)
 * among the strategy's decisions assigned in ["from", "to") (NULL: no
 * bound).  Their outcome Y is the sum of the value column (or the number of
 * rows, for a count outcome without "value") of the outcome rows of that
 * buyer with t0 < at <= t0 + within; the covariate X is the same over
 * t0 - within < at <= t0.  A buyer without outcome rows counts 0.  With
 * as_of, buyers whose window ends after as_of (t0 + within > as_of) are left
 * out: their outcome is not known yet.
 *
 *	keys	{"buyer": col, "at": col, "value": col}; buyer of any type (compared
 *			as text with the decisions' buyer), at timestamptz, value of a
 *			numeric type (optional).
 *	by		a column of the strategy's source (its latest version's, joined
 *			on the order key of the buyer's first decision), or one of the
 *			decisions' market, currency, program, version; compared as text.
 *
 * Statistics, per group (every Welch part is uplift()/roi()'s):
 *	difference, std_error, df, ci_*	uplift(treated, Y): exact means, Welch
 *			SE = sqrt(s1^2/n1 + s0^2/n0), Welch-Satterthwaite df,
 *			difference -/+ t(0.975, df) SE.
 *	mde		(z(0.975) + z(0.8)) SE = 2.8015852181129683 SE: the smallest
 *			true difference a two-sided 5% test detects with 80% power at
 *			these sample sizes and variances.
 *	theta	cov(Y, X) / var(X) over the group's buyers of both arms, computed
 *			exactly in numeric as (n Sxy - Sx Sy) / (n Sxx - Sx^2) (numeric
 *			division: at least 16 significant digits); 0 when X has no
 *			variance (first-time buyers).
 *	cuped_*	Welch (as uplift() does it, with student_t_quantile) on
 *			Z = Y - theta X: the CUPED difference, its SE, df, interval and
 *			mde.  Computed in the same pass as uplift()'s, from exact
 *			numeric sums per arm of Y, X, Y^2, X^2 and XY: Sz = Sy - theta Sx,
 *			Szz = Syy - 2 theta Sxy + theta^2 Sxx, mean Sz / n and variance
 *			(n Szz - Sz^2) / (n (n - 1)), each rounded once (the division).
 *			theta is estimated from the same data, which the interval
 *			ignores (negligible beyond a few dozen buyers; see the
 *			calibration test).
 *	cost	roi(treated, Y, cost of the buyer): the cost of a treated buyer is
 *			the sum of the grants of the strategy for their treatment
 *			decisions in the period that are not voided.  A voided grant
 *			keeps its buyer in treatment (intention to treat) and costs
 *			nothing.  roi = (difference * treated_n - cost) / cost, with the
 *			interval of the difference; cost, incremental and roi are NULL
 *			when the grants are in more than one currency (split with
 *			by => 'currency').
 */
CREATE FUNCTION compensation.effect(strategy text, outcomes regclass, keys jsonb,
									within interval DEFAULT '90 days', by text DEFAULT NULL,
									"from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL,
									as_of timestamptz DEFAULT NULL)
RETURNS SETOF compensation.effect_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
	keys_hint constant text :=
		'keys names the outcome source''s columns: {"buyer": ..., "at": ... (timestamptz), "value": ... (numeric; leave it out to count rows)}.';
	key text;
	key_value jsonb;
	column_name text;
	column_type regtype;
	relation_kind pg_catalog."char";
	outcome_relation text;
	buyer_column text;
	at_column text;
	value_expression text := '1';
	source_name text;
	source_relation regclass;
	order_column text;
	group_join text := '';
	group_expression text := 'NULL::pg_catalog.text';
	query text;
BEGIN
	IF strategy IS NULL OR outcomes IS NULL OR keys IS NULL OR within IS NULL THEN
		RAISE EXCEPTION 'effect(): strategy, outcomes, keys and within must not be null'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'For example: compensation.effect(''late_v3'', ''public.purchases'', ''{"buyer": "buyer_id", "at": "at", "value": "value"}'').';
	END IF;
	IF NOT EXISTS (SELECT FROM compensation.strategies AS s WHERE s.name OPERATOR(pg_catalog.=) strategy) THEN
		RAISE EXCEPTION 'strategy "%" does not exist', strategy
			USING ERRCODE = 'undefined_object',
				  HINT = 'compensation.strategies lists the strategies.';
	END IF;
	IF within OPERATOR(pg_catalog.<=) '0'::pg_catalog.interval
	   OR within OPERATOR(pg_catalog.>) '100 years'::pg_catalog.interval THEN
		RAISE EXCEPTION 'within must be a positive interval of at most 100 years'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('The value given was %s.', within),
				  HINT = 'The outcome window after (and before) assignment, such as ''30 days''.';
	END IF;
	IF "from" OPERATOR(pg_catalog.>=) "to" THEN
		RAISE EXCEPTION '"from" must be before "to"'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('The period given was [%s, %s).', "from", "to"),
				  HINT = 'The period is of assignment times, "from" included, "to" excluded; NULL leaves a bound open.';
	END IF;

	SELECT c.relkind, pg_catalog.format('%I.%I', n.nspname, c.relname)
	  INTO relation_kind, outcome_relation
	  FROM pg_catalog.pg_class AS c
	  JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.oid OPERATOR(pg_catalog.=) outcomes;
	IF NOT FOUND OR relation_kind OPERATOR(pg_catalog.<>) ALL ('{r,v,m,f,p}'::pg_catalog."char"[]) THEN
		RAISE EXCEPTION 'outcomes must be a table or a view'
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = COALESCE(outcome_relation OPERATOR(pg_catalog.||) ' is not one.',
									'No relation has OID ' OPERATOR(pg_catalog.||) outcomes::pg_catalog.oid::pg_catalog.text OPERATOR(pg_catalog.||) '.'),
				  HINT = 'Name the relation that holds one row per outcome event, such as ''public.purchases''.';
	END IF;

	-- keys: an object whose members name columns of the outcome relation
	IF pg_catalog.jsonb_typeof(keys) OPERATOR(pg_catalog.<>) 'object' THEN
		RAISE EXCEPTION 'invalid effect keys at $.keys: must be an object, not %', pg_catalog.jsonb_typeof(keys)
			USING ERRCODE = 'invalid_parameter_value', HINT = keys_hint;
	END IF;
	FOR key, key_value IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(keys) AS e ORDER BY e.key LOOP
		IF key OPERATOR(pg_catalog.<>) ALL ('{buyer,at,value}'::pg_catalog.text[]) THEN
			RAISE EXCEPTION 'invalid effect keys at $.keys.%: unknown key', key
				USING ERRCODE = 'invalid_parameter_value', HINT = keys_hint;
		END IF;
		IF pg_catalog.jsonb_typeof(key_value) OPERATOR(pg_catalog.<>) 'string' THEN
			RAISE EXCEPTION 'invalid effect keys at $.keys.%: must be a column name (a string), not %',
				key, pg_catalog.jsonb_typeof(key_value)
				USING ERRCODE = 'invalid_parameter_value', HINT = keys_hint;
		END IF;
		column_name := key_value OPERATOR(pg_catalog.#>>) '{}'::pg_catalog.text[];
		SELECT a.atttypid::pg_catalog.regtype INTO column_type
		  FROM pg_catalog.pg_attribute AS a
		 WHERE a.attrelid OPERATOR(pg_catalog.=) outcomes
		   AND a.attname OPERATOR(pg_catalog.=) column_name
		   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'invalid effect keys at $.keys.%: column "%" does not exist in %',
				key, column_name, outcome_relation
				USING ERRCODE = 'undefined_column', HINT = keys_hint;
		END IF;
		IF key OPERATOR(pg_catalog.=) 'at'
		   AND column_type OPERATOR(pg_catalog.<>) 'pg_catalog.timestamptz'::pg_catalog.regtype THEN
			RAISE EXCEPTION 'invalid effect keys at $.keys.at: column "%" of % is %, not timestamp with time zone',
				column_name, outcome_relation, column_type
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'Convert it in a view, such as "at AT TIME ZONE ''America/Sao_Paulo''" for a local time.';
		END IF;
		IF key OPERATOR(pg_catalog.=) 'value'
		   AND column_type OPERATOR(pg_catalog.<>) ALL ('{pg_catalog.numeric,pg_catalog.int2,pg_catalog.int4,pg_catalog.int8,pg_catalog.float4,pg_catalog.float8}'::pg_catalog.regtype[]) THEN
			RAISE EXCEPTION 'invalid effect keys at $.keys.value: column "%" of % is %, not a number',
				column_name, outcome_relation, column_type
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'A value is numeric, integer or double precision; a count outcome (one row per event) has no "value" key.';
		END IF;
		CASE key
			WHEN 'buyer' THEN buyer_column := pg_catalog.quote_ident(column_name);
			WHEN 'at' THEN at_column := pg_catalog.quote_ident(column_name);
			ELSE value_expression := pg_catalog.format('o.%I::pg_catalog.numeric', column_name);
		END CASE;
	END LOOP;
	IF buyer_column IS NULL OR at_column IS NULL THEN
		RAISE EXCEPTION 'invalid effect keys at $.keys.%: missing', CASE WHEN buyer_column IS NULL THEN 'buyer' ELSE 'at' END
			USING ERRCODE = 'invalid_parameter_value', HINT = keys_hint;
	END IF;

	-- by: a column of the decisions, or of the strategy's (latest) source
	IF by IN ('market', 'currency', 'program', 'version') THEN
		group_expression := pg_catalog.format('a.%I::pg_catalog.text', by);
	ELSIF by IS NOT NULL THEN
		SELECT s.source, s.spec OPERATOR(pg_catalog.#>>) '{keys,order}'::pg_catalog.text[]
		  INTO source_name, order_column
		  FROM compensation.strategies AS s
		 WHERE s.name OPERATOR(pg_catalog.=) strategy
		 ORDER BY s.version DESC LIMIT 1;
		source_relation := pg_catalog.to_regclass(source_name);
		IF source_relation IS NULL OR NOT EXISTS (
			SELECT FROM pg_catalog.pg_attribute AS a
			 WHERE a.attrelid OPERATOR(pg_catalog.=) source_relation
			   AND a.attname OPERATOR(pg_catalog.=) by
			   AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION 'invalid effect by: column "%" does not exist in the source of strategy "%" (%)',
				by, strategy, coalesce(source_name, 'none')
				USING ERRCODE = 'undefined_column',
					  HINT = 'by names a column of the strategy''s source, or market, currency, program or version.';
		END IF;
		group_join := pg_catalog.format(
			'LEFT JOIN (SELECT src.%1$I::pg_catalog.text AS order_key, pg_catalog.min(src.%2$I::pg_catalog.text) AS grp
						  FROM %3$s AS src GROUP BY 1) AS g
				   ON g.order_key OPERATOR(pg_catalog.=) a.order_key',
			order_column, by,
			(SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
			   FROM pg_catalog.pg_class AS c
			   JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
			  WHERE c.oid OPERATOR(pg_catalog.=) source_relation));
		group_expression := 'g.grp';
	END IF;

	query := pg_catalog.format($q$
WITH arms AS MATERIALIZED (
	SELECT DISTINCT ON (d.buyer) d.buyer, d.order_key, d.arm, d.assigned_at AS t0,
		   d.market, d.currency, d.program, d.version
	  FROM compensation.decisions AS d
	 WHERE d.strategy OPERATOR(pg_catalog.=) $1 AND d.arm IS NOT NULL
	   AND ($2 IS NULL OR d.assigned_at OPERATOR(pg_catalog.>=) $2)
	   AND ($3 IS NULL OR d.assigned_at OPERATOR(pg_catalog.<) $3)
	 ORDER BY d.buyer, d.assigned_at, d.at, d.order_key
), units AS (
	SELECT a.buyer, a.arm OPERATOR(pg_catalog.=) 'treatment' AS treated, a.t0,
		   %1$s AS grp
	  FROM arms AS a %2$s
	 WHERE $4 IS NULL OR (a.t0 OPERATOR(pg_catalog.+) $5) OPERATOR(pg_catalog.<=) $4
), costs AS (
	SELECT d.buyer, pg_catalog.sum(g.amount) AS cost,
		   pg_catalog.min(g.currency) AS currency_min, pg_catalog.max(g.currency) AS currency_max
	  FROM compensation.decisions AS d
	  JOIN compensation.grants AS g
		ON g.strategy OPERATOR(pg_catalog.=) d.strategy AND g.order_key OPERATOR(pg_catalog.=) d.order_key
	 WHERE d.strategy OPERATOR(pg_catalog.=) $1 AND d.arm OPERATOR(pg_catalog.=) 'treatment'
	   AND ($2 IS NULL OR d.assigned_at OPERATOR(pg_catalog.>=) $2)
	   AND ($3 IS NULL OR d.assigned_at OPERATOR(pg_catalog.<) $3)
	   AND NOT g.voided
	 GROUP BY d.buyer
), windows AS (
	SELECT u.buyer,
		   pg_catalog.sum(%3$s) FILTER (WHERE o.%4$s OPERATOR(pg_catalog.>) u.t0) AS y,
		   pg_catalog.sum(%3$s) FILTER (WHERE o.%4$s OPERATOR(pg_catalog.<=) u.t0) AS x
	  FROM units AS u
	  JOIN %5$s AS o ON o.%6$s::pg_catalog.text OPERATOR(pg_catalog.=) u.buyer
	 WHERE o.%4$s OPERATOR(pg_catalog.>) (u.t0 OPERATOR(pg_catalog.-) $5)
	   AND o.%4$s OPERATOR(pg_catalog.<=) (u.t0 OPERATOR(pg_catalog.+) $5)
	 GROUP BY u.buyer
), b AS (
	SELECT u.grp, u.treated,
		   COALESCE(w.y, 0::pg_catalog.numeric) AS y,
		   COALESCE(w.x, 0::pg_catalog.numeric) AS x,
		   CASE WHEN u.treated THEN COALESCE(c.cost, 0::pg_catalog.numeric) ELSE 0::pg_catalog.numeric END AS cost,
		   c.currency_min, c.currency_max
	  FROM units AS u
	  LEFT JOIN windows AS w ON w.buyer OPERATOR(pg_catalog.=) u.buyer
	  LEFT JOIN costs AS c ON c.buyer OPERATOR(pg_catalog.=) u.buyer
), r AS (
	-- one pass: roi() for the Welch parts and the cost, and the exact sums
	-- per arm (1 treated, 0 control) from which CUPED follows
	SELECT b.grp,
		   compensation.roi(b.treated, b.y, b.cost) AS welch,
		   pg_catalog.count(*) FILTER (WHERE b.treated)::pg_catalog.numeric AS n1,
		   pg_catalog.count(*) FILTER (WHERE NOT b.treated)::pg_catalog.numeric AS n0,
		   COALESCE(pg_catalog.sum(b.y) FILTER (WHERE b.treated), 0) AS sy1,
		   COALESCE(pg_catalog.sum(b.y) FILTER (WHERE NOT b.treated), 0) AS sy0,
		   COALESCE(pg_catalog.sum(b.x) FILTER (WHERE b.treated), 0) AS sx1,
		   COALESCE(pg_catalog.sum(b.x) FILTER (WHERE NOT b.treated), 0) AS sx0,
		   COALESCE(pg_catalog.sum(b.y OPERATOR(pg_catalog.*) b.y) FILTER (WHERE b.treated), 0) AS syy1,
		   COALESCE(pg_catalog.sum(b.y OPERATOR(pg_catalog.*) b.y) FILTER (WHERE NOT b.treated), 0) AS syy0,
		   COALESCE(pg_catalog.sum(b.x OPERATOR(pg_catalog.*) b.x) FILTER (WHERE b.treated), 0) AS sxx1,
		   COALESCE(pg_catalog.sum(b.x OPERATOR(pg_catalog.*) b.x) FILTER (WHERE NOT b.treated), 0) AS sxx0,
		   COALESCE(pg_catalog.sum(b.x OPERATOR(pg_catalog.*) b.y) FILTER (WHERE b.treated), 0) AS sxy1,
		   COALESCE(pg_catalog.sum(b.x OPERATOR(pg_catalog.*) b.y) FILTER (WHERE NOT b.treated), 0) AS sxy0,
		   pg_catalog.avg(b.x) FILTER (WHERE b.treated) AS treated_pre_mean,
		   pg_catalog.avg(b.x) FILTER (WHERE NOT b.treated) AS control_pre_mean,
		   pg_catalog.min(b.currency_min) AS currency_min, pg_catalog.max(b.currency_max) AS currency_max
	  FROM b
	 GROUP BY b.grp
), t AS (
	-- theta = (N Sxy - Sx Sy) / (N Sxx - Sx^2) over both arms, 0 without variance
	SELECT r.*,
		   CASE WHEN ((r.n1 OPERATOR(pg_catalog.+) r.n0) OPERATOR(pg_catalog.*) (r.sxx1 OPERATOR(pg_catalog.+) r.sxx0))
					 OPERATOR(pg_catalog.>) ((r.sx1 OPERATOR(pg_catalog.+) r.sx0) OPERATOR(pg_catalog.*) (r.sx1 OPERATOR(pg_catalog.+) r.sx0))
				THEN (((r.n1 OPERATOR(pg_catalog.+) r.n0) OPERATOR(pg_catalog.*) (r.sxy1 OPERATOR(pg_catalog.+) r.sxy0))
					  OPERATOR(pg_catalog.-) ((r.sx1 OPERATOR(pg_catalog.+) r.sx0) OPERATOR(pg_catalog.*) (r.sy1 OPERATOR(pg_catalog.+) r.sy0)))
					 OPERATOR(pg_catalog./)
					 (((r.n1 OPERATOR(pg_catalog.+) r.n0) OPERATOR(pg_catalog.*) (r.sxx1 OPERATOR(pg_catalog.+) r.sxx0))
					  OPERATOR(pg_catalog.-) ((r.sx1 OPERATOR(pg_catalog.+) r.sx0) OPERATOR(pg_catalog.*) (r.sx1 OPERATOR(pg_catalog.+) r.sx0)))
				ELSE 0::pg_catalog.numeric END AS theta
	  FROM r
), z AS (
	-- z = y - theta x per arm: sum exact, sum of squares exact, so the
	-- variance (n Szz - Sz^2) / (n (n - 1)) has one rounding, the division
	SELECT t.*,
		   t.sy1 OPERATOR(pg_catalog.-) (t.theta OPERATOR(pg_catalog.*) t.sx1) AS sz1,
		   t.sy0 OPERATOR(pg_catalog.-) (t.theta OPERATOR(pg_catalog.*) t.sx0) AS sz0,
		   (t.syy1 OPERATOR(pg_catalog.-) ((2 OPERATOR(pg_catalog.*) t.theta) OPERATOR(pg_catalog.*) t.sxy1))
			   OPERATOR(pg_catalog.+) ((t.theta OPERATOR(pg_catalog.*) t.theta) OPERATOR(pg_catalog.*) t.sxx1) AS szz1,
		   (t.syy0 OPERATOR(pg_catalog.-) ((2 OPERATOR(pg_catalog.*) t.theta) OPERATOR(pg_catalog.*) t.sxy0))
			   OPERATOR(pg_catalog.+) ((t.theta OPERATOR(pg_catalog.*) t.theta) OPERATOR(pg_catalog.*) t.sxx0) AS szz0
	  FROM t
), v AS (
	SELECT z.*,
		   CASE WHEN z.n1 OPERATOR(pg_catalog.>) 0 AND z.n0 OPERATOR(pg_catalog.>) 0
				THEN (z.sz1 OPERATOR(pg_catalog./) z.n1) OPERATOR(pg_catalog.-) (z.sz0 OPERATOR(pg_catalog./) z.n0) END
			   AS cuped_difference,
		   CASE WHEN z.n1 OPERATOR(pg_catalog.>) 1 AND z.n0 OPERATOR(pg_catalog.>) 1
				THEN (((z.n1 OPERATOR(pg_catalog.*) z.szz1) OPERATOR(pg_catalog.-) (z.sz1 OPERATOR(pg_catalog.*) z.sz1))
					  OPERATOR(pg_catalog./) ((z.n1 OPERATOR(pg_catalog.*) z.n1) OPERATOR(pg_catalog.*) (z.n1 OPERATOR(pg_catalog.-) 1)))::pg_catalog.float8
			   END AS se1_squared,	-- var(z | treated) / n1
		   CASE WHEN z.n1 OPERATOR(pg_catalog.>) 1 AND z.n0 OPERATOR(pg_catalog.>) 1
				THEN (((z.n0 OPERATOR(pg_catalog.*) z.szz0) OPERATOR(pg_catalog.-) (z.sz0 OPERATOR(pg_catalog.*) z.sz0))
					  OPERATOR(pg_catalog./) ((z.n0 OPERATOR(pg_catalog.*) z.n0) OPERATOR(pg_catalog.*) (z.n0 OPERATOR(pg_catalog.-) 1)))::pg_catalog.float8
			   END AS se0_squared
	  FROM z
), w2 AS (
	-- Welch, as uplift() does it: df from the treated share of the variance
	SELECT v.*,
		   pg_catalog.sqrt(v.se1_squared OPERATOR(pg_catalog.+) v.se0_squared) AS cuped_std_error,
		   CASE WHEN v.se1_squared OPERATOR(pg_catalog.+) v.se0_squared OPERATOR(pg_catalog.>) 0 THEN
				1.0::pg_catalog.float8 OPERATOR(pg_catalog./)
				((((v.se1_squared OPERATOR(pg_catalog./) (v.se1_squared OPERATOR(pg_catalog.+) v.se0_squared)) OPERATOR(pg_catalog.^) 2)
				  OPERATOR(pg_catalog./) (v.n1 OPERATOR(pg_catalog.-) 1)::pg_catalog.float8)
				 OPERATOR(pg_catalog.+)
				 (((v.se0_squared OPERATOR(pg_catalog./) (v.se1_squared OPERATOR(pg_catalog.+) v.se0_squared)) OPERATOR(pg_catalog.^) 2)
				  OPERATOR(pg_catalog./) (v.n0 OPERATOR(pg_catalog.-) 1)::pg_catalog.float8))
		   END AS cuped_df
	  FROM v
), f AS (
	SELECT w2.*,
		   CASE WHEN w2.cuped_df IS NOT NULL
				THEN compensation.student_t_quantile(0.975, w2.cuped_df) OPERATOR(pg_catalog.*) w2.cuped_std_error
				WHEN w2.cuped_std_error IS NOT NULL THEN 0::pg_catalog.float8 END AS cuped_half_width
	  FROM w2
)
SELECT f.grp, (f.welch).treated_n, (f.welch).control_n, (f.welch).treated_mean, (f.welch).control_mean,
	   (f.welch).difference, (f.welch).std_error, (f.welch).df, (f.welch).ci_low, (f.welch).ci_high,
	   2.8015852181129683::pg_catalog.float8 OPERATOR(pg_catalog.*) (f.welch).std_error,
	   f.treated_pre_mean, f.control_pre_mean, f.theta,
	   f.cuped_difference, f.cuped_std_error, f.cuped_df,
	   f.cuped_difference::pg_catalog.float8 OPERATOR(pg_catalog.-) f.cuped_half_width,
	   f.cuped_difference::pg_catalog.float8 OPERATOR(pg_catalog.+) f.cuped_half_width,
	   2.8015852181129683::pg_catalog.float8 OPERATOR(pg_catalog.*) f.cuped_std_error,
	   CASE WHEN f.currency_min OPERATOR(pg_catalog.=) f.currency_max THEN f.currency_min END,
	   CASE WHEN f.currency_min IS NULL OR f.currency_min OPERATOR(pg_catalog.=) f.currency_max
			THEN (f.welch).cost END,
	   (f.welch).incremental,
	   CASE WHEN f.currency_min OPERATOR(pg_catalog.=) f.currency_max THEN (f.welch).roi END,
	   CASE WHEN f.currency_min OPERATOR(pg_catalog.=) f.currency_max THEN (f.welch).roi_low END,
	   CASE WHEN f.currency_min OPERATOR(pg_catalog.=) f.currency_max THEN (f.welch).roi_high END
  FROM f
 ORDER BY f.grp NULLS FIRST
$q$, group_expression, group_join, value_expression, at_column, outcome_relation, buyer_column);

	RETURN QUERY EXECUTE query USING strategy, "from", "to", as_of, within;
END
$fn$;

COMMENT ON FUNCTION compensation.effect(text, regclass, jsonb, interval, text, timestamptz, timestamptz, timestamptz) IS
	'treatment against holdout per buyer on an outcome source read with the caller''s rights: means, Welch difference and interval, minimum detectable effect, CUPED estimate, cost and ROI, per group';

GRANT EXECUTE ON FUNCTION
	compensation.effect(text, regclass, jsonb, interval, text, timestamptz, timestamptz, timestamptz)
	TO compensation_reader;
