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
