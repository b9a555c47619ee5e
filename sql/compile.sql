-- compile: a strategy version is parsed once per backend and bound once per
-- row type it is evaluated on, whoever asks: apply, the planner, the
-- evaluation functions, dry runs and simulate (src/strategy_cache.c).
SET TimeZone = 'UTC';
CREATE TABLE public.compile_src (order_id text, buyer_id text, at timestamptz, value numeric);
INSERT INTO public.compile_src
SELECT 'o' || i, 'b' || (i % 7), timestamptz '2026-10-01' + i * interval '1 hour', i
  FROM generate_series(1, 200) AS i;
CREATE VIEW public.compile_view AS SELECT * FROM public.compile_src;
SELECT compensation.define_strategy('compile_s', jsonb_build_object(
	'scenario', 'compile', 'source', 'public.compile_src',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'currency', 'EUR',
	'when', jsonb_build_object('col', 'value', 'op', '>', 'value', 100),
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.1),
	'instrument', 'voucher', 'program', 'compile')) AS version;
SELECT compensation.activate('compile_s');
SELECT compensation.set_budget('compile', '2026-Q4', 100000, 'EUR') > 0 AS budget;

-- what this session compiled before: nothing of this version
CREATE TEMP TABLE before AS SELECT * FROM compensation.compile_stats();

-- one real apply: its candidate query (planned with the rewrite to the
-- table's columns), the run itself and the dry run after it
SELECT candidates, granted, amount FROM compensation.apply('compile_s', '2026-11-01');
SELECT candidates, granted, skipped_duplicate FROM compensation.apply('compile_s', '2026-11-01', dry_run => true);
SELECT s.parses - b.parses AS parses, s.binds - b.binds AS binds
  FROM compensation.compile_stats() AS s, before AS b;

-- the evaluation functions over the same row type reuse the binding; a
-- view's row is another row type: one more parse and bind
SELECT count(compensation.amount('compile_s', s)) AS eligible_rows FROM public.compile_src AS s;
SELECT count(compensation.amount('compile_s', s, 1)) AS eligible_rows FROM public.compile_src AS s;
SELECT sum(compensation.amount('compile_s', v)) AS amount_of_view FROM public.compile_view AS v;
SELECT count(*) AS simulated FROM compensation.simulate('compile_s', '2026-10-01', '2027-01-01');
SELECT s.parses - b.parses AS parses, s.binds - b.binds AS binds
  FROM compensation.compile_stats() AS s, before AS b;

-- a change to the strategy tables (here a new version) makes every version
-- compile again, once, at the next statement: v1 and v2 here, after the
-- parse of v2 that define_strategy makes to check its source
SELECT compensation.define_strategy('compile_s', (SELECT spec FROM compensation.strategies
	WHERE name = 'compile_s' AND version = 1) || '{"amount": {"type": "fixed", "value": 1}}') AS version;
SELECT sum(compensation.amount('compile_s', s, 2)) AS amount_v2,
	   sum(compensation.amount('compile_s', s, 1)) AS amount_v1
  FROM public.compile_src AS s;
SELECT s.parses - b.parses AS parses, s.binds - b.binds AS binds
  FROM compensation.compile_stats() AS s, before AS b;
