-- bench/incremental.sql — a scheduled apply costs what is new, not the
-- whole history (issue #17).  Two sources of the same rows in their last
-- 73 days: 10,000,000 orders spread evenly over two years, and the last
-- 1,000,000 of them; B-tree indexes on "at" (and on "updated_at" and the
-- order id, for the watermark) in both; max_age 30 days.  Each source is
-- applied by two strategies, in exclusive groups of their own: one that
-- reads its whole window at every run, one that declares the change column
-- ("keys": {"changed": "updated_at"}) and reads what is new or changed
-- since its previous run.  Each is applied once (the window's backlog, not
-- measured), then five times with 1,000 new eligible rows since the
-- previous run, then again with nothing new.  Baseline: a plain SELECT of
-- the rows in the 30-day window.  Run by bench/run after bench/bench.sql
-- (bench.median_ms, bench.record).
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET jit = off;
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;

-- 10M orders, one every 6.3 seconds for 730 days up to 2029-06-30 (a
-- quarter no other bench uses), about 19% of them late by a day or more.
CREATE TABLE bench.inc_10m AS
SELECT 'i' || i AS order_id, 'ib' || (i % 2000003) AS buyer_id, 'EUR'::text AS currency,
	   timestamptz '2029-06-30' - (10000000 - i) * interval '6.3072 seconds' AS at,
	   ((hashint4(i) & 15) - 12) AS late_days,
	   timestamptz '2026-01-01' AS updated_at	-- loaded long ago
  FROM generate_series(1, 10000000) AS i;
CREATE TABLE bench.inc_1m AS SELECT * FROM bench.inc_10m ORDER BY at DESC LIMIT 1000000;
CREATE INDEX ON bench.inc_10m (at);
CREATE INDEX ON bench.inc_10m (updated_at);
CREATE INDEX ON bench.inc_10m (order_id);
CREATE INDEX ON bench.inc_1m (at);
CREATE INDEX ON bench.inc_1m (updated_at);
CREATE INDEX ON bench.inc_1m (order_id);
VACUUM (ANALYZE) bench.inc_10m;
VACUUM (ANALYZE) bench.inc_1m;

SELECT compensation.set_budget('bench_inc' || n, '2029-Q2', 1e12, 'EUR') FROM unnest(ARRAY['10m', '1m']) AS n;
SELECT compensation.define_strategy('bench_inc' || n || w, jsonb_build_object(
	'scenario', 'late_delivery', 'source', 'bench.inc_' || n, 'instrument', 'voucher', 'program', 'bench_inc' || n,
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at', 'currency', 'currency')
			|| CASE WHEN w = '_wm' THEN '{"changed": "updated_at"}' ELSE '{}' END::jsonb,
	'when', jsonb_build_object('col', 'late_days', 'op', '>=', 'value', 1),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'max_age', '30 days'))
  FROM unnest(ARRAY['10m', '1m']) AS n, unnest(ARRAY['', '_wm']) AS w;
SELECT compensation.activate(name) FROM compensation.strategies WHERE name LIKE 'bench\_inc%';

-- the backlog: every eligible row of the window
SELECT granted AS backlog_10m FROM compensation.apply('bench_inc10m', '2029-06-30') \gset
SELECT (compensation.apply(s, '2029-06-30')).granted FROM unnest(ARRAY['bench_inc1m', 'bench_inc10m_wm', 'bench_inc1m_wm']) AS s;
VACUUM (ANALYZE) compensation.ledger;
VACUUM (ANALYZE) compensation.candidate_outcome;

-- 1,000 new eligible rows every 5 minutes, then one timed run; each
-- statement below is its own transaction, as a scheduled run is.
CREATE TABLE bench.inc_times (source text, k integer, ms numeric, granted bigint);
CREATE FUNCTION bench.inc_step(k integer) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
	INSERT INTO bench.inc_10m
	SELECT 'new' || k || '_' || j, 'nb' || j, 'EUR',
		   timestamptz '2029-06-30' + (k - 1) * interval '5 minutes' + j * interval '0.3 seconds', 1 + j % 5,
		   clock_timestamp()
	  FROM generate_series(1, 1000) AS j;
	INSERT INTO bench.inc_1m SELECT * FROM bench.inc_10m WHERE order_id LIKE 'new' || k || '\_%';
END
$fn$;
CREATE FUNCTION bench.inc_run(source text, k integer) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
	started timestamptz := clock_timestamp();
	n bigint;
BEGIN
	SELECT granted INTO n FROM compensation.apply('bench_inc' || source, timestamptz '2029-06-30' + k * interval '5 minutes');
	INSERT INTO bench.inc_times VALUES (source, k, extract(epoch FROM clock_timestamp() - started) * 1000, n);
END
$fn$;
SELECT bench.inc_step(1);
SELECT bench.inc_run('1m', 1); SELECT bench.inc_run('10m_wm', 1); SELECT bench.inc_run('1m_wm', 1); SELECT bench.inc_run('10m', 1);
SELECT bench.inc_step(2);
SELECT bench.inc_run('10m_wm', 2); SELECT bench.inc_run('1m_wm', 2); SELECT bench.inc_run('10m', 2); SELECT bench.inc_run('1m', 2);
SELECT bench.inc_step(3);
SELECT bench.inc_run('1m_wm', 3); SELECT bench.inc_run('10m', 3); SELECT bench.inc_run('1m', 3); SELECT bench.inc_run('10m_wm', 3);
SELECT bench.inc_step(4);
SELECT bench.inc_run('10m', 4); SELECT bench.inc_run('1m', 4); SELECT bench.inc_run('10m_wm', 4); SELECT bench.inc_run('1m_wm', 4);
SELECT bench.inc_step(5);
SELECT bench.inc_run('1m', 5); SELECT bench.inc_run('10m_wm', 5); SELECT bench.inc_run('1m_wm', 5); SELECT bench.inc_run('10m', 5);
SELECT bench.inc_step(6);
SELECT bench.inc_run('10m_wm', 6); SELECT bench.inc_run('1m_wm', 6); SELECT bench.inc_run('10m', 6); SELECT bench.inc_run('1m', 6);

-- Every run granted exactly the 1,000 new rows, on both sources, or the
-- comparison means nothing.
SELECT bool_and(granted = 1000) AND count(*) = 24 AS inc_all_granted FROM bench.inc_times \gset
\if :inc_all_granted
\else
DO $$ BEGIN RAISE EXCEPTION 'bench: an incremental run did not grant its 1,000 new rows'; END $$;
\endif

-- the first run of each is the warm-up
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric(12, 1) AS new_10m_ms FROM bench.inc_times WHERE source = '10m' AND k > 1 \gset
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric(12, 1) AS new_1m_ms FROM bench.inc_times WHERE source = '1m' AND k > 1 \gset
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric(12, 1) AS new_10m_wm_ms FROM bench.inc_times WHERE source = '10m_wm' AND k > 1 \gset
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric(12, 1) AS new_1m_wm_ms FROM bench.inc_times WHERE source = '1m_wm' AND k > 1 \gset
\set window_query 'SELECT * FROM bench.inc_10m WHERE at >= timestamptz ''2029-06-30 00:30'' - interval ''30 days'' AND at <= timestamptz ''2029-06-30 00:30'''
SELECT bench.median_ms(:'window_query') AS window_ms \gset
SELECT bench.median_ms('SELECT * FROM compensation.apply(''bench_inc10m'', ''2029-06-30 00:30'')') AS none_10m_ms \gset
SELECT bench.median_ms('SELECT * FROM compensation.apply(''bench_inc1m'', ''2029-06-30 00:30'')') AS none_1m_ms \gset
SELECT bench.median_ms('SELECT * FROM compensation.apply(''bench_inc10m_wm'', ''2029-06-30 00:30'')') AS none_10m_wm_ms \gset
SELECT bench.median_ms('SELECT * FROM compensation.apply(''bench_inc1m_wm'', ''2029-06-30 00:30'')') AS none_1m_wm_ms \gset
SELECT count(*) AS window_rows FROM (:window_query) AS w \gset
RESET max_parallel_workers_per_gather;

SELECT bench.record('apply(), 1,000 new eligible rows, 10M orders, watermark', 'reading the 30-day window (SELECT * ... WHERE at in the window)',
					:new_10m_wm_ms, :window_ms, '<= 3x', :new_10m_wm_ms <= 3 * :window_ms,
					format('keys.changed = updated_at (indexed), B-tree on at, max_age 30 days; %s rows in the window, %s granted by the first run (not measured); median of 5 runs, each its own transaction',
						   :window_rows, :backlog_10m));
SELECT bench.record('apply(), 1,000 new eligible rows, 10M orders, watermark ', 'the same over the last 1M of those orders (same window)',
					:new_10m_wm_ms, :new_1m_wm_ms, '<= 1.2x', :new_10m_wm_ms <= 1.2 * :new_1m_wm_ms,
					'cost independent of history');
SELECT bench.record('apply() again, nothing new, 10M orders, watermark', 'reading the 30-day window',
					:none_10m_wm_ms, :window_ms, '<= 1.5x', :none_10m_wm_ms <= 1.5 * :window_ms,
					format('the same over the 1M orders: %s ms', :none_1m_wm_ms));
SELECT bench.record('apply(), 1,000 new eligible rows, 10M orders, whole window', 'reading the 30-day window',
					:new_10m_ms, :window_ms, '<= 3x', :new_10m_ms <= 3 * :window_ms,
					'no change column: every run decides every eligible row of the window again');
SELECT bench.record('apply(), 1,000 new eligible rows, 10M orders, whole window ', 'the same over the last 1M of those orders (same window)',
					:new_10m_ms, :new_1m_ms, '<= 1.2x', :new_10m_ms <= 1.2 * :new_1m_ms,
					'cost independent of history');
SELECT bench.record('apply() again, nothing new, 10M orders, whole window', 'reading the 30-day window',
					:none_10m_ms, :window_ms, '<= 1.5x', :none_10m_ms <= 1.5 * :window_ms,
					format('the same over the 1M orders: %s ms', :none_1m_ms));
