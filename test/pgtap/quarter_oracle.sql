-- quarter() and quarter_range() against an independent SQL computation,
-- over every fiscal start month, three time zones (one with DST at
-- midnight in its history) and timestamps on and around every month
-- boundary of 2015..2030.
BEGIN;
SELECT plan(8);

CREATE TEMP TABLE instants AS
SELECT b + d AS ts
  FROM generate_series('2015-01-01 00:00+00'::timestamptz, '2030-12-01 00:00+00', '1 month') AS b,
	   unnest(ARRAY[interval '-1 microsecond', interval '0', interval '1 microsecond',
					interval '-14 hours', interval '14 hours', interval '15 days']) AS d;

CREATE FUNCTION pg_temp.sql_quarter(ts timestamptz, fsm integer) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT to_char(extract(year FROM local)::int - (extract(month FROM local)::int < fsm)::int, 'FM0000')
		   || '-Q' || ((extract(month FROM local)::int - fsm + 12) % 12 / 3 + 1)
	  FROM (SELECT ts AT TIME ZONE current_setting('TimeZone') AS local) AS l $$;

CREATE FUNCTION pg_temp.sql_quarter_start(label text, fsm integer) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT make_timestamptz(left(label, 4)::int + (fsm - 1 + 3 * (right(label, 1)::int - 1)) / 12,
							(fsm - 1 + 3 * (right(label, 1)::int - 1)) % 12 + 1, 1, 0, 0, 0) $$;

CREATE FUNCTION pg_temp.mismatches() RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM instants, generate_series(1, 12) AS fsm
	 WHERE compensation.quarter(ts, fsm) IS DISTINCT FROM pg_temp.sql_quarter(ts, fsm) $$;

CREATE FUNCTION pg_temp.range_mismatches() RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT count(*)
	  FROM generate_series(2015, 2030) AS y, generate_series(1, 4) AS q, generate_series(1, 12) AS fsm,
		   LATERAL (SELECT y || '-Q' || q AS label) AS l
	 WHERE compensation.quarter_range(label, fsm)
		   IS DISTINCT FROM tstzrange(pg_temp.sql_quarter_start(label, fsm),
									  pg_temp.sql_quarter_start(compensation.quarter_add(label, 1), fsm)) $$;

SET LOCAL TimeZone = 'UTC';
SELECT is(pg_temp.mismatches(), 0::bigint, 'quarter() = SQL, UTC, every fiscal start month');
SELECT is(pg_temp.range_mismatches(), 0::bigint, 'quarter_range() = SQL, UTC');
SET LOCAL TimeZone = 'America/Sao_Paulo';	-- DST started at midnight until 2019
SELECT is(pg_temp.mismatches(), 0::bigint, 'quarter() = SQL, America/Sao_Paulo');
SELECT is(pg_temp.range_mismatches(), 0::bigint, 'quarter_range() = SQL, America/Sao_Paulo');
SET LOCAL TimeZone = 'Pacific/Kiritimati';	-- UTC+14
SELECT is(pg_temp.mismatches(), 0::bigint, 'quarter() = SQL, Pacific/Kiritimati');
SELECT is(pg_temp.range_mismatches(), 0::bigint, 'quarter_range() = SQL, Pacific/Kiritimati');

-- the ranges of consecutive quarters tile time: no gap, no overlap
SELECT is((SELECT count(*) FROM generate_series(2015, 2030) AS y, generate_series(1, 4) AS q,
								generate_series(1, 12) AS fsm
			WHERE upper(compensation.quarter_range(y || '-Q' || q, fsm))
				  <> lower(compensation.quarter_range(compensation.quarter_add(y || '-Q' || q, 1), fsm))),
		  0::bigint, 'consecutive quarters meet exactly');
SELECT cmp_ok((SELECT count(*) FROM instants), '>', 1000::bigint, 'the oracle saw enough instants');

SELECT * FROM finish();
ROLLBACK;
