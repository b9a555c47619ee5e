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
