-- The ISO 4217 table and exact conversion to and from minor units.
SELECT count(*) AS currencies,
	   count(*) FILTER (WHERE minor_unit = 0) AS exponent_0,
	   count(*) FILTER (WHERE minor_unit = 2) AS exponent_2,
	   count(*) FILTER (WHERE minor_unit = 3) AS exponent_3,
	   count(*) FILTER (WHERE minor_unit = 4) AS exponent_4
  FROM compensation.currency;
SELECT string_agg(code, ' ' ORDER BY code) AS zero_decimals
  FROM compensation.currency WHERE minor_unit = 0;
SELECT string_agg(code, ' ' ORDER BY code) AS three_or_four_decimals
  FROM compensation.currency WHERE minor_unit > 2;
SELECT code, minor_unit, name FROM compensation.currency
 WHERE code IN ('EUR', 'USD', 'BRL', 'JPY', 'BHD', 'KWD', 'CLF', 'GBP', 'CHF', 'KRW')
 ORDER BY code;

SELECT compensation.to_minor_units(12.34, 'EUR') AS eur,
	   compensation.to_minor_units(1234, 'JPY') AS jpy,
	   compensation.to_minor_units(1.234, 'BHD') AS bhd,
	   compensation.to_minor_units(0.0001, 'CLF') AS clf,
	   compensation.to_minor_units(12.3, 'USD') AS usd_one_decimal,
	   compensation.to_minor_units(12.000, 'USD') AS usd_trailing_zeros,
	   compensation.to_minor_units(0, 'USD') AS zero,
	   compensation.to_minor_units(92233720368547758.07, 'USD') AS largest;
SELECT compensation.to_major_units(1234, 'EUR') AS eur,
	   compensation.to_major_units(1234, 'JPY') AS jpy,
	   compensation.to_major_units(1234, 'BHD') AS bhd,
	   compensation.to_major_units(5, 'USD') AS five_cents,
	   compensation.to_major_units(NULL, 'USD') IS NULL AS null_in;
SELECT compensation.currency_exponent('JPY'), compensation.currency_exponent('BHD');

\x on
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(12.345, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(0.5, 'JPY')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(-1, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units('NaN', 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units('Infinity', 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(92233720368547758.08, 'USD')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(NULL, 'USD')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(1, 'XXX')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(1, 'eur')$$);
SELECT * FROM regress.error_of($$SELECT compensation.currency_exponent('HRK')$$);
\x off

-- The conversions are C (src/money.c); every result below is checked
-- against the same number computed in plain SQL from the table.
-- currency_exponent of every listed code is its minor_unit.
SELECT count(*) AS codes,
	   count(*) FILTER (WHERE compensation.currency_exponent(code) = minor_unit) AS agree
  FROM compensation.currency;
-- to_major_units over every currency and the edges of bigint: the value
-- and its decimals are those of plain numeric division, rounded to the
-- currency's minor unit (the text forms compare both).
SELECT count(*) AS pairs,
	   count(*) FILTER (WHERE compensation.to_major_units(m, c.code)::text
						   = round(m::numeric / 10::numeric ^ c.minor_unit, c.minor_unit)::text) AS agree
  FROM compensation.currency AS c,
	   unnest(ARRAY[0, 1, 5, 99, 100, 101, 12345, -1, -12345,
					9223372036854775806, 9223372036854775807,
					-9223372036854775807, -9223372036854775808]::bigint[]) AS m;
SELECT compensation.to_major_units(9223372036854775807, 'JPY') AS max_jpy,
	   compensation.to_major_units(9223372036854775807, 'USD') AS max_usd,
	   compensation.to_major_units(9223372036854775807, 'BHD') AS max_bhd,
	   compensation.to_major_units(9223372036854775807, 'CLF') AS max_clf,
	   compensation.to_major_units(-9223372036854775808, 'USD') AS min_usd,
	   compensation.to_major_units(-150, 'EUR') AS minus_150_cents,
	   compensation.to_major_units(0, 'CLF') AS zero_clf;
-- an unknown code gives NULL, as the SQL function it replaces did
SELECT compensation.to_major_units(100, 'XXX') IS NULL AS unknown_is_null,
	   compensation.to_major_units(100, 'usd') IS NULL AS lower_case_is_null,
	   compensation.to_major_units(100, NULL) IS NULL AS null_currency_is_null;
-- to_minor_units is exact: back from to_major_units to the same integer
-- (up to 2^63-1), and equal to the plain-SQL product for every currency.
SELECT count(*) AS pairs,
	   count(*) FILTER (WHERE compensation.to_minor_units(compensation.to_major_units(m, c.code), c.code) = m
						  AND compensation.to_minor_units(m::numeric / 10::numeric ^ c.minor_unit, c.code)
							  = (m::numeric / 10::numeric ^ c.minor_unit * 10::numeric ^ c.minor_unit)::bigint) AS agree
  FROM compensation.currency AS c,
	   unnest(ARRAY[0, 1, 5, 99, 100, 101, 12345, 9223372036854775806, 9223372036854775807]::bigint[]) AS m;
-- exponents 0, 2, 3 and 4 at their largest amount, and trailing zeros
SELECT compensation.to_minor_units(9223372036854775807, 'JPY') AS max_jpy,
	   compensation.to_minor_units(92233720368547758.07, 'EUR') AS max_eur,
	   compensation.to_minor_units(9223372036854775.807, 'BHD') AS max_bhd,
	   compensation.to_minor_units(922337203685477.5807, 'CLF') AS max_clf,
	   compensation.to_minor_units(12.3400, 'EUR') AS eur_trailing_zeros,
	   compensation.to_minor_units(7.000000, 'JPY') AS jpy_trailing_zeros,
	   compensation.to_minor_units(1.2340, 'BHD') AS bhd,
	   compensation.to_minor_units(25, 'EUR', '$.budget') AS named;

-- every error path: NULL, not finite, negative, too many decimals (for
-- each exponent), too large (for each exponent), unknown or NULL code
\x on
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units('-Infinity', 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(-0.50, 'EUR', '$.amount.min')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(12.3450, 'EUR')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(1.2345, 'BHD')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(0.00001, 'CLF')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(9223372036854775808, 'JPY')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(9223372036854775.808, 'BHD')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(922337203685477.5808, 'CLF')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(1e40, 'USD', 'budget')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(1, NULL)$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(1, 'EURO')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(NULL, 'XXX', '$.value')$$);
SELECT * FROM regress.error_of($$SELECT compensation.to_minor_units(NULL, 'EUR', NULL)$$);
SELECT * FROM regress.error_of($$SELECT compensation.currency_exponent(NULL)$$);
SELECT * FROM regress.error_of($$SELECT compensation.currency_exponent('')$$);
\x off
-- an amount past numeric's range once scaled is too large, not an overflow
SELECT code, message FROM regress.error_of(
	format($$SELECT compensation.to_minor_units(%s, 'CLF')$$, '9' || repeat('0', 131071)));

-- The backend keeps a copy of the table: a change is seen by the next
-- statement of the transaction that makes it, and a rollback undoes it
-- (another session's change: test/isolation/specs/currency-cache.spec).
BEGIN;
SELECT compensation.currency_exponent('HUF') AS huf, compensation.to_major_units(1234, 'HUF') AS huf_1234;
UPDATE compensation.currency SET minor_unit = 0 WHERE code = 'HUF';
INSERT INTO compensation.currency VALUES ('ZZZ', 3, 'Test Dinar');
SELECT compensation.currency_exponent('HUF') AS huf, compensation.to_major_units(1234, 'HUF') AS huf_1234,
	   compensation.to_minor_units(1.234, 'ZZZ') AS zzz_1_234;
ROLLBACK;
SELECT compensation.currency_exponent('HUF') AS huf, compensation.to_major_units(1234, 'HUF') AS huf_1234,
	   compensation.to_major_units(1234, 'ZZZ') IS NULL AS zzz_gone;

-- A parallel worker reads its own copy of the table (force_parallel_mode
-- runs the query in one); the same figures as in the leader.
SET force_parallel_mode = on;
SELECT compensation.currency_exponent('CLF') AS clf, compensation.to_major_units(1234, 'BHD') AS bhd,
	   compensation.to_minor_units(0.5, 'EUR') AS eur;
RESET force_parallel_mode;
