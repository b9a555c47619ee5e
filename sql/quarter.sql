-- quarter(), quarter_range(), quarter_add(): labels, fiscal years, time zones.
SET TimeZone = 'UTC';

-- calendar quarters, first and last instant of each
SELECT ts, compensation.quarter(ts)
  FROM (VALUES ('2026-01-01 00:00:00+00'::timestamptz),
			   ('2026-03-31 23:59:59.999999+00'),
			   ('2026-04-01 00:00:00+00'),
			   ('2026-06-30 23:59:59.999999+00'),
			   ('2026-07-01 00:00:00+00'),
			   ('2026-09-30 23:59:59.999999+00'),
			   ('2026-10-01 00:00:00+00'),
			   ('2026-12-31 23:59:59.999999+00'),
			   ('2027-01-01 00:00:00+00')) AS t(ts);

-- the design's fiscal example: fiscal year starting in April
SELECT compensation.quarter('2026-04-01 00:00+00', 4) AS apr_1,
	   compensation.quarter('2026-03-31 23:59:59+00', 4) AS mar_31,
	   compensation.quarter('2027-03-31 23:59:59+00', 4) AS next_mar_31,
	   compensation.quarter('2027-01-15 12:00+00', 4) AS jan_15;

-- every fiscal start month: the quarter of the 1st of every month of 2026
SELECT fsm,
	   string_agg(right(compensation.quarter(make_timestamptz(2026, m, 1, 0, 0, 0), fsm), 7), ' ' ORDER BY m) AS quarters_of_jan_to_dec
  FROM generate_series(1, 12) AS fsm, generate_series(1, 12) AS m
 GROUP BY fsm ORDER BY fsm;

-- the label follows the session's TimeZone: the same instant in two zones
SET TimeZone = 'America/Sao_Paulo';
SELECT compensation.quarter('2026-10-01 02:00:00+00') AS sao_paulo;	-- 23:00 on Sep 30 there
SET TimeZone = 'Asia/Tokyo';
SELECT compensation.quarter('2026-09-30 16:00:00+00') AS tokyo;		-- 01:00 on Oct 1 there
SET TimeZone = 'UTC';

-- ranges: start at local midnight, end at the next quarter's start
SELECT compensation.quarter_range('2026-Q4');
SELECT compensation.quarter_range('2026-Q4', 4);
SELECT compensation.quarter_range('2026-Q1', 11);
SET TimeZone = 'Europe/Paris';
SELECT compensation.quarter_range('2026-Q1');	-- winter offset
SELECT compensation.quarter_range('2026-Q2');	-- summer offset at both ends
SET TimeZone = 'America/Santiago';
-- Chile's 2026 DST starts on Sep 6: midnights that exist, and the range
-- length differs from 92 days by the DST shift
SELECT compensation.quarter_range('2026-Q3'),
	   upper(compensation.quarter_range('2026-Q3')) - lower(compensation.quarter_range('2026-Q3')) AS length;
SET TimeZone = 'UTC';

-- round trip: every quarter's start belongs to it, the instant before to the previous one
SELECT count(*) FILTER (WHERE compensation.quarter(lower(r), fsm) = q
						  AND compensation.quarter(lower(r) - interval '1 microsecond', fsm)
							  = compensation.quarter_add(q, -1)) AS round_trips,
	   count(*) AS quarters
  FROM generate_series(1, 12) AS fsm,
	   generate_series(2020, 2030) AS y,
	   generate_series(1, 4) AS n,
	   LATERAL (SELECT y || '-Q' || n AS q) AS label,
	   LATERAL (SELECT compensation.quarter_range(q, fsm) AS r) AS rng;

-- quarter_add
SELECT compensation.quarter_add('2026-Q4', 1), compensation.quarter_add('2026-Q1', -1),
	   compensation.quarter_add('2026-Q2', 0), compensation.quarter_add('2026-Q3', 9);

-- NULL in, NULL out
SELECT compensation.quarter(NULL) IS NULL AS null_ts,
	   compensation.quarter(now(), NULL) IS NULL AS null_month,
	   compensation.quarter_range(NULL) IS NULL AS null_label,
	   compensation.quarter_add(NULL, 1) IS NULL AS null_add;

-- errors
\x on
SELECT * FROM regress.error_of($$SELECT compensation.quarter(now(), 0)$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter(now(), 13)$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('2026-Q4', -1)$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter('infinity')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter('10000-01-01 00:00+00')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter('0001-02-01 00:00+00', 4)$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('2026-Q5')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('2026-q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range(' 2026-Q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('26-Q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('0000-Q1')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('2026Q4')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_range('')$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_add('9999-Q4', 1)$$);
SELECT * FROM regress.error_of($$SELECT compensation.quarter_add('0001-Q1', -1)$$);
\x off
