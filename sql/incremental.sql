-- incremental: a scheduled run reads the window of candidates (at >=
-- as_of - max_age), not the whole history: an index on at or partitioning
-- by it restricts the scan, check_strategy says when nothing can, and a row
-- changed after a run is decided by the next run within the window.
SET TimeZone = 'UTC';
CREATE TABLE public.inc_src (order_id text, buyer_id text, at timestamptz, value numeric, late boolean);
-- 120,000 orders over two years, one late in ten
INSERT INTO public.inc_src
SELECT 'i' || i, 'ib' || (i % 5000), timestamptz '2025-01-01' + i * interval '526 seconds',
	   10 + i % 50, i % 10 = 0
  FROM generate_series(1, 120000) AS i;
ANALYZE public.inc_src;
CREATE FUNCTION pg_temp.spec(source text) RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'incremental', 'source', source, 'program', 'inc', 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'currency', 'EUR', 'max_age', '30 days',
	'when', jsonb_build_object('col', 'late', 'op', '=', 'value', true),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1)) $$;
CREATE FUNCTION pg_temp.plan_of(strategy text, as_of timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || compensation.candidate_query(strategy, as_of);
END $$;
SELECT compensation.set_budget('inc', '2026-Q4', 100000, 'EUR') > 0 AS budget;

-- without an index, definition says so (a NOTICE with the CREATE INDEX)
SELECT compensation.define_strategy('inc', pg_temp.spec('public.inc_src')), compensation.activate('inc');
SELECT * FROM compensation.check_strategy('inc');
CREATE TEMP TABLE no_index AS
SELECT candidates, granted FROM compensation.apply('inc', '2026-12-20', dry_run => true);
SELECT bool_or(line ~ 'Seq Scan on inc_src') AS scans_the_table
  FROM pg_temp.plan_of('inc', '2026-12-20') AS line;

-- with one, the run's scan uses it, and decides the same
CREATE INDEX ON public.inc_src (at);
SELECT count(*) AS advice FROM compensation.check_strategy('inc');
SELECT bool_or(line ~ '(Index Scan|Index Only Scan|Bitmap Heap Scan) .*on inc_src') AS uses_the_index,
	   NOT bool_or(line ~ 'Seq Scan on inc_src') AS no_seq_scan
  FROM pg_temp.plan_of('inc', '2026-12-20') AS line;
SELECT (SELECT row(candidates, granted) FROM compensation.apply('inc', '2026-12-20', dry_run => true))
	   = (SELECT row(candidates, granted) FROM no_index) AS same_with_index,
	   (SELECT candidates FROM no_index) AS candidates,
	   (SELECT count(*) FROM public.inc_src
		 WHERE late AND at >= timestamptz '2026-12-20' - interval '30 days' AND at <= '2026-12-20') AS plain_sql;

-- a table partitioned by month: partitions outside the window are pruned
CREATE TABLE public.inc_parts (LIKE public.inc_src) PARTITION BY RANGE (at);
DO $$
DECLARE
	m date;
BEGIN
	FOR m IN SELECT generate_series(date '2025-01-01', date '2026-12-01', interval '1 month')::date LOOP
		EXECUTE format('CREATE TABLE public.%I PARTITION OF public.inc_parts FOR VALUES FROM (%L) TO (%L)',
					   'inc_parts_' || to_char(m, 'YYYYMM'), m, m + interval '1 month');
	END LOOP;
END $$;
INSERT INTO public.inc_parts SELECT * FROM public.inc_src WHERE at < '2027-01-01';
ANALYZE public.inc_parts;
SELECT compensation.define_strategy('inc_parts', pg_temp.spec('public.inc_parts')), compensation.activate('inc_parts');
SELECT count(*) AS advice FROM compensation.check_strategy('inc_parts');
SELECT count(DISTINCT substring(line from 'inc_parts_[0-9]+')) AS partitions_read,
	   (SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.inc_parts'::regclass) AS partitions
  FROM pg_temp.plan_of('inc_parts', '2026-12-20') AS line;
SELECT (SELECT row(candidates, granted) FROM compensation.apply('inc_parts', '2026-12-20', dry_run => true))
	   = (SELECT row(candidates, granted) FROM no_index) AS same_when_partitioned;

-- a view that computes at cannot be served by an index: check_strategy says so
CREATE VIEW public.inc_view AS
	SELECT order_id, buyer_id, (at::timestamp)::timestamptz AS at, value, late FROM public.inc_src;
CREATE VIEW public.inc_view_plain AS SELECT order_id, buyer_id, at, value, late FROM public.inc_src;
SELECT compensation.define_strategy('inc_view', pg_temp.spec('public.inc_view')),
	   compensation.define_strategy('inc_view_plain', pg_temp.spec('public.inc_view_plain'));
SELECT count(*) AS advice_plain_view FROM compensation.check_strategy('inc_view_plain', 1);

-- a row changed after a run is decided by the next run within the window
SELECT candidates, granted FROM compensation.apply('inc', '2026-12-20');
UPDATE public.inc_src SET late = true WHERE order_id = 'i117117';	-- was not late
UPDATE public.inc_src SET at = '2026-12-19' WHERE order_id = 'i40000';	-- moved into the window
SELECT candidates, granted, skipped_duplicate FROM compensation.apply('inc', '2026-12-20');
SELECT order_key FROM compensation.grants WHERE strategy = 'inc' AND order_key IN ('i117117', 'i40000')
 ORDER BY 1;

-- the optional watermark: with "keys": {"changed": "updated_at"}, a real run
-- of a version that ran before reads only the rows of its window that are
-- new since the previous run's as_of, changed since its watermark (less
-- compensation.watermark_margin), or left open (budget, pace, cap,
-- currency).  A twin without "changed" (wmf, its own program and group)
-- reads the whole window every time: both must decide alike.
-- The margin (default 5 minutes) covers writers whose transactions commit
-- after a run began; here it is 0, so that what a run reads does not depend
-- on how fast the machine is (a row changed within the margin before a run
-- is read again by the next one).  Its arithmetic is checked at the end.
SHOW compensation.watermark_margin;
SET compensation.watermark_margin = 0;
CREATE TABLE public.inc_wm (order_id text PRIMARY KEY, buyer_id text, at timestamptz,
							value numeric, late boolean, rating integer, updated_at timestamptz);
-- 20,000 orders, one every 6 minutes from 2026-10-20, last changed a day ago
INSERT INTO public.inc_wm
SELECT 'w' || i, 'wb' || (i % 700), timestamptz '2026-10-20' + i * interval '6 minutes',
	   10 + i % 40, i % 10 = 0, 1 + (i / 3) % 5, now() - interval '1 day'
  FROM generate_series(1, 20000) AS i;
CREATE INDEX inc_wm_at ON public.inc_wm (at);
CREATE INDEX inc_wm_updated_at ON public.inc_wm (updated_at);
ANALYZE public.inc_wm;
CREATE FUNCTION pg_temp.wm_spec(program text, changed boolean) RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'incremental', 'source', 'public.inc_wm', 'program', program, 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at')
			|| CASE WHEN changed THEN '{"changed": "updated_at"}'::jsonb ELSE '{}' END,
	'currency', 'EUR', 'max_age', '30 days',
	'caps', jsonb_build_object('per_buyer_count', jsonb_build_object('max', 2, 'window', '30 days')),
	'when', jsonb_build_object('any', jsonb_build_array(
		jsonb_build_object('col', 'late', 'op', '=', 'value', true),
		jsonb_build_object('col', 'rating', 'op', '<=', 'value', 1))),
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.10, 'min', 2)) $$;
SELECT compensation.define_strategy('wm', pg_temp.wm_spec('wm', true)), compensation.activate('wm'),
	   compensation.define_strategy('wmf', pg_temp.wm_spec('wmf', false)), compensation.activate('wmf');
SELECT compensation.set_budget(p, '2026-Q4', 2000, 'EUR') > 0 AS budget FROM unnest(ARRAY['wm', 'wmf']) AS p;
-- both strategies as of as_of, side by side
CREATE FUNCTION pg_temp.both(as_of timestamptz)
RETURNS TABLE (strategy text, candidates bigint, granted bigint, skipped_budget bigint,
			   skipped_cap bigint, skipped_duplicate bigint)
LANGUAGE sql AS $$
SELECT 'wm', r.candidates, r.granted, r.skipped_budget, r.skipped_cap, r.skipped_duplicate
  FROM compensation.apply('wm', as_of) AS r
UNION ALL
SELECT 'wmf', r.candidates, r.granted, r.skipped_budget, r.skipped_cap, r.skipped_duplicate
  FROM compensation.apply('wmf', as_of) AS r $$;
-- did the last run of each read its whole window?
CREATE VIEW pg_temp.last_runs AS
SELECT DISTINCT ON (strategy) strategy, as_of, changed_since IS NULL AS whole_window
  FROM compensation.runs WHERE strategy IN ('wm', 'wmf') ORDER BY strategy, run_id DESC;
-- what an incremental run as of as_of after a run as of previous reads, in
-- plain SQL: eligible rows of the window, new or open (nothing else changed)
CREATE FUNCTION pg_temp.reads(previous timestamptz, as_of timestamptz) RETURNS bigint
LANGUAGE sql AS $$
SELECT count(*) FROM public.inc_wm AS s
 WHERE (s.late OR s.rating <= 1) AND s.at >= as_of - interval '30 days' AND s.at <= as_of
   AND (s.at > previous
		OR s.updated_at >= (SELECT watermark FROM compensation.runs WHERE strategy = 'wm'
							 ORDER BY run_id DESC LIMIT 1)
		OR s.order_id IN (SELECT order_key FROM compensation.decisions
						   WHERE strategy = 'wm' AND outcome IN ('budget', 'pace', 'cap', 'currency'))) $$;
CREATE FUNCTION pg_temp.window_candidates(as_of timestamptz) RETURNS bigint LANGUAGE sql AS $$
SELECT count(*) FROM public.inc_wm AS s
 WHERE (s.late OR s.rating <= 1) AND s.at >= as_of - interval '30 days' AND s.at <= as_of $$;

-- the grants of the runs as of as_of whose rows are as inserted (updated_at
-- unchanged: not new, not changed)
CREATE FUNCTION pg_temp.granted_untouched(as_of timestamptz)
RETURNS TABLE (strategy text, granted_untouched bigint) LANGUAGE sql AS $$
SELECT g.strategy, count(*)
  FROM compensation.grants AS g JOIN public.inc_wm AS s ON s.order_id = g.order_key
 WHERE g.strategy IN ('wm', 'wmf') AND g.as_of = granted_untouched.as_of
   AND s.updated_at = (SELECT min(updated_at) FROM public.inc_wm)
 GROUP BY 1 ORDER BY 1 $$;

-- a first run reads its whole window
SELECT * FROM pg_temp.both('2026-12-01');
SELECT * FROM pg_temp.last_runs;
SELECT pg_temp.window_candidates('2026-12-01') AS plain_sql;
-- nothing changed: wm reads the new rows and the open skips only, wmf everything
SELECT pg_temp.reads('2026-12-01', '2026-12-02') AS wm_reads_plain_sql,
	   pg_temp.window_candidates('2026-12-02') AS wmf_reads_plain_sql;
SELECT * FROM pg_temp.both('2026-12-02');
SELECT * FROM pg_temp.last_runs;
-- the plan: the change column's index serves the scan
SELECT bool_or(line ~ 'inc_wm_updated_at') AS uses_the_change_index
  FROM pg_temp.plan_of('wm', '2026-12-03') AS line;

-- rows changed after a run, with updated_at bumped as every writer must:
-- w7444's rating lowered to 1 (it was 2, not eligible), w100's delivery
-- moved from 2026-10-20 into the window (at <= the previous as_of, so only
-- its change brings it back)
SELECT order_id, at, late, rating FROM public.inc_wm WHERE order_id IN ('w7444', 'w100') ORDER BY 1;
UPDATE public.inc_wm SET rating = 1, updated_at = now() WHERE order_id = 'w7444';
UPDATE public.inc_wm SET at = '2026-12-01 12:00', updated_at = now() WHERE order_id = 'w100';
SELECT pg_temp.reads('2026-12-02', '2026-12-02 12:00') AS wm_reads_plain_sql,
	   pg_temp.window_candidates('2026-12-02 12:00') AS wmf_reads_plain_sql;
SELECT * FROM pg_temp.both('2026-12-02 12:00');
-- the budget is spent: both decided them (skipped for budget), as the twin did
SELECT strategy, order_key, outcome FROM compensation.decisions
 WHERE strategy IN ('wm', 'wmf') AND order_key IN ('w7444', 'w100') ORDER BY 1, 2;

-- budget added: the rows left open for budget are granted, untouched
SELECT compensation.set_budget(p, '2026-Q4', 20000, 'EUR') > 0 AS budget FROM unnest(ARRAY['wm', 'wmf']) AS p;
SELECT pg_temp.reads('2026-12-02 12:00', '2026-12-03') AS wm_reads_plain_sql;
SELECT * FROM pg_temp.both('2026-12-03');
SELECT * FROM pg_temp.last_runs;
SELECT * FROM pg_temp.granted_untouched('2026-12-03');
SELECT strategy, order_key, outcome FROM compensation.decisions
 WHERE strategy IN ('wm', 'wmf') AND order_key IN ('w7444', 'w100') ORDER BY 1, 2;

-- a grant voided frees its buyer's cap: each strategy's next run grants
-- orders it had skipped for cap, untouched since (a cap skip is left open)
CREATE TEMP TABLE capped AS
SELECT d.buyer FROM compensation.decisions AS d
 WHERE d.strategy = 'wm' AND d.outcome = 'cap' ORDER BY d.at DESC, d.order_key LIMIT 1;
SELECT count(*) AS voided
  FROM (SELECT compensation.void_grant(g.grant_id, 'refunded')
		  FROM compensation.grants AS g JOIN capped AS c USING (buyer)
		 WHERE g.strategy IN ('wm', 'wmf')) AS v;
SELECT pg_temp.reads('2026-12-03', '2026-12-03 06:00') AS wm_reads_plain_sql;
SELECT * FROM pg_temp.both('2026-12-03 06:00');
SELECT * FROM pg_temp.granted_untouched('2026-12-03 06:00');

-- each incremental run read from its previous run's watermark less the
-- margin: 0 so far, 7 minutes for one more run
SET compensation.watermark_margin = '7min';
SELECT strategy, granted FROM pg_temp.both('2026-12-03 07:00');
RESET compensation.watermark_margin;
SELECT count(*) AS incremental_runs,
	   count(*) FILTER (WHERE changed_since = previous_watermark
							   - CASE WHEN as_of = '2026-12-03 07:00' THEN interval '7 minutes'
									  ELSE interval '0' END) AS from_the_watermark
  FROM (SELECT as_of, changed_since, lag(watermark) OVER (ORDER BY run_id) AS previous_watermark
		  FROM compensation.runs WHERE strategy = 'wm') AS r
 WHERE changed_since IS NOT NULL;
SET compensation.watermark_margin = 0;

-- over the same history, the ledgers and the decisions are the same with
-- and without the watermark, and every grant is right by plain SQL
SELECT (SELECT array_agg((order_key, amount_minor, as_of, voided) ORDER BY order_key)
		  FROM compensation.grants WHERE strategy = 'wm')
	   = (SELECT array_agg((order_key, amount_minor, as_of, voided) ORDER BY order_key)
			FROM compensation.grants WHERE strategy = 'wmf') AS same_ledger,
	   (SELECT array_agg((order_key, outcome, arm, amount_minor) ORDER BY order_key)
		  FROM compensation.decisions WHERE strategy = 'wm')
	   = (SELECT array_agg((order_key, outcome, arm, amount_minor) ORDER BY order_key)
			FROM compensation.decisions WHERE strategy = 'wmf') AS same_decisions,
	   (SELECT count(*) FROM compensation.grants WHERE strategy = 'wm') AS grants;
SELECT count(*) FILTER (WHERE g.amount_minor <> (greatest(s.value * 0.10, 2) * 100)::bigint
						   OR NOT (s.late OR s.rating <= 1)) AS wrong,
	   count(*) AS checked
  FROM compensation.grants AS g JOIN public.inc_wm AS s ON s.order_id = g.order_key
 WHERE g.strategy = 'wm';
-- an as_of before the previous run's, and a dry run, read the whole window
SELECT candidates = pg_temp.window_candidates('2026-12-02') AS whole_window_read
  FROM compensation.apply('wm', '2026-12-02');
SELECT * FROM pg_temp.last_runs WHERE strategy = 'wm';
SELECT (SELECT candidates FROM compensation.apply('wm', '2026-12-04', dry_run => true))
	   = pg_temp.window_candidates('2026-12-04') AS dry_run_reads_the_window;

-- when it is not safe: a writer that changes a row without bumping
-- updated_at is not seen by wm (the twin, which reads its window, sees it)
UPDATE public.inc_wm SET rating = 1, buyer_id = 'wb-new' WHERE order_id = 'w7446';
SELECT * FROM pg_temp.both('2026-12-04');
SELECT strategy, outcome FROM compensation.decisions
 WHERE strategy IN ('wm', 'wmf') AND order_key = 'w7446' ORDER BY 1;
-- a new version's first run reads its whole window, and decides it
SELECT compensation.define_strategy('wm', pg_temp.wm_spec('wm', true)), compensation.activate('wm');
SELECT granted FROM compensation.apply('wm', '2026-12-04');
SELECT * FROM pg_temp.last_runs WHERE strategy = 'wm';
SELECT strategy, outcome FROM compensation.decisions
 WHERE strategy IN ('wm', 'wmf') AND order_key = 'w7446' ORDER BY 1;

-- a bad change column: a clear error naming the JSON path, with a hint
SELECT * FROM regress.error_of(format('SELECT compensation.define_strategy(%L, %L)', 'wm_bad',
	jsonb_set(pg_temp.wm_spec('wm', true), '{keys,changed}', '"updated"')));
SELECT * FROM regress.error_of(format('SELECT compensation.define_strategy(%L, %L)', 'wm_bad',
	jsonb_set(pg_temp.wm_spec('wm', true), '{keys,changed}', '"value"')));
SELECT * FROM regress.error_of(format('SELECT compensation.define_strategy(%L, %L)', 'wm_bad',
	jsonb_set(pg_temp.wm_spec('wm', true), '{keys,changed}', '5')));
RESET compensation.watermark_margin;
