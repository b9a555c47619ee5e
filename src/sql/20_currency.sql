/* src/sql/20_currency.sql — ISO 4217 currencies and their minor units. */

\echo Use "CREATE EXTENSION compensation" to load this file. \quit

-- Every money computation in the extension works in integer minor units of
-- a currency; this table is the single source of the exponent (JPY 0,
-- USD 2, BHD 3, CLF 4).  It lists the ISO 4217 currencies in circulation in
-- 2026 that have a minor unit; codes whose minor unit is "N.A." (gold,
-- SDR, test codes) cannot be paid to a buyer and are left out, as are
-- withdrawn ones (HRK, SLL, ZWL, ANG, BGN, CUC, ...).  It is extension data:
-- upgrade scripts maintain it, and pg_dump does not dump it.
CREATE TABLE compensation.currency (
	code		char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
	minor_unit	smallint NOT NULL CHECK (minor_unit BETWEEN 0 AND 4),
	name		text NOT NULL
);

COMMENT ON TABLE compensation.currency IS
	'ISO 4217 currencies with their minor-unit exponent: amounts are stored as integers in 10^-minor_unit of the currency';

INSERT INTO compensation.currency (code, minor_unit, name) VALUES
	('AED', 2, 'UAE Dirham'),
	('AFN', 2, 'Afghani'),
	('ALL', 2, 'Lek'),
	('AMD', 2, 'Armenian Dram'),
	('AOA', 2, 'Kwanza'),
	('ARS', 2, 'Argentine Peso'),
	('AUD', 2, 'Australian Dollar'),
	('AWG', 2, 'Aruban Florin'),
	('AZN', 2, 'Azerbaijan Manat'),
	('BAM', 2, 'Convertible Mark'),
	('BBD', 2, 'Barbados Dollar'),
	('BDT', 2, 'Taka'),
	('BHD', 3, 'Bahraini Dinar'),
	('BIF', 0, 'Burundi Franc'),
	('BMD', 2, 'Bermudian Dollar'),
	('BND', 2, 'Brunei Dollar'),
	('BOB', 2, 'Boliviano'),
	('BOV', 2, 'Mvdol'),
	('BRL', 2, 'Brazilian Real'),
	('BSD', 2, 'Bahamian Dollar'),
	('BTN', 2, 'Ngultrum'),
	('BWP', 2, 'Pula'),
	('BYN', 2, 'Belarusian Ruble'),
	('BZD', 2, 'Belize Dollar'),
	('CAD', 2, 'Canadian Dollar'),
	('CDF', 2, 'Congolese Franc'),
	('CHE', 2, 'WIR Euro'),
	('CHF', 2, 'Swiss Franc'),
	('CHW', 2, 'WIR Franc'),
	('CLF', 4, 'Unidad de Fomento'),
	('CLP', 0, 'Chilean Peso'),
	('CNY', 2, 'Yuan Renminbi'),
	('COP', 2, 'Colombian Peso'),
	('COU', 2, 'Unidad de Valor Real'),
	('CRC', 2, 'Costa Rican Colon'),
	('CUP', 2, 'Cuban Peso'),
	('CVE', 2, 'Cabo Verde Escudo'),
	('CZK', 2, 'Czech Koruna'),
	('DJF', 0, 'Djibouti Franc'),
	('DKK', 2, 'Danish Krone'),
	('DOP', 2, 'Dominican Peso'),
	('DZD', 2, 'Algerian Dinar'),
	('EGP', 2, 'Egyptian Pound'),
	('ERN', 2, 'Nakfa'),
	('ETB', 2, 'Ethiopian Birr'),
	('EUR', 2, 'Euro'),
	('FJD', 2, 'Fiji Dollar'),
	('FKP', 2, 'Falkland Islands Pound'),
	('GBP', 2, 'Pound Sterling'),
	('GEL', 2, 'Lari'),
	('GHS', 2, 'Ghana Cedi'),
	('GIP', 2, 'Gibraltar Pound'),
	('GMD', 2, 'Dalasi'),
	('GNF', 0, 'Guinean Franc'),
	('GTQ', 2, 'Quetzal'),
	('GYD', 2, 'Guyana Dollar'),
	('HKD', 2, 'Hong Kong Dollar'),
	('HNL', 2, 'Lempira'),
	('HTG', 2, 'Gourde'),
	('HUF', 2, 'Forint'),
	('IDR', 2, 'Rupiah'),
	('ILS', 2, 'New Israeli Sheqel'),
	('INR', 2, 'Indian Rupee'),
	('IQD', 3, 'Iraqi Dinar'),
	('IRR', 2, 'Iranian Rial'),
	('ISK', 0, 'Iceland Krona'),
	('JMD', 2, 'Jamaican Dollar'),
	('JOD', 3, 'Jordanian Dinar'),
	('JPY', 0, 'Yen'),
	('KES', 2, 'Kenyan Shilling'),
	('KGS', 2, 'Som'),
	('KHR', 2, 'Riel'),
	('KMF', 0, 'Comorian Franc'),
	('KPW', 2, 'North Korean Won'),
	('KRW', 0, 'Won'),
	('KWD', 3, 'Kuwaiti Dinar'),
	('KYD', 2, 'Cayman Islands Dollar'),
	('KZT', 2, 'Tenge'),
	('LAK', 2, 'Lao Kip'),
	('LBP', 2, 'Lebanese Pound'),
	('LKR', 2, 'Sri Lanka Rupee'),
	('LRD', 2, 'Liberian Dollar'),
	('LSL', 2, 'Loti'),
	('LYD', 3, 'Libyan Dinar'),
	('MAD', 2, 'Moroccan Dirham'),
	('MDL', 2, 'Moldovan Leu'),
	('MGA', 2, 'Malagasy Ariary'),
	('MKD', 2, 'Denar'),
	('MMK', 2, 'Kyat'),
	('MNT', 2, 'Tugrik'),
	('MOP', 2, 'Pataca'),
	('MRU', 2, 'Ouguiya'),
	('MUR', 2, 'Mauritius Rupee'),
	('MVR', 2, 'Rufiyaa'),
	('MWK', 2, 'Malawi Kwacha'),
	('MXN', 2, 'Mexican Peso'),
	('MXV', 2, 'Mexican Unidad de Inversion (UDI)'),
	('MYR', 2, 'Malaysian Ringgit'),
	('MZN', 2, 'Mozambique Metical'),
	('NAD', 2, 'Namibia Dollar'),
	('NGN', 2, 'Naira'),
	('NIO', 2, 'Cordoba Oro'),
	('NOK', 2, 'Norwegian Krone'),
	('NPR', 2, 'Nepalese Rupee'),
	('NZD', 2, 'New Zealand Dollar'),
	('OMR', 3, 'Rial Omani'),
	('PAB', 2, 'Balboa'),
	('PEN', 2, 'Sol'),
	('PGK', 2, 'Kina'),
	('PHP', 2, 'Philippine Peso'),
	('PKR', 2, 'Pakistan Rupee'),
	('PLN', 2, 'Zloty'),
	('PYG', 0, 'Guarani'),
	('QAR', 2, 'Qatari Rial'),
	('RON', 2, 'Romanian Leu'),
	('RSD', 2, 'Serbian Dinar'),
	('RUB', 2, 'Russian Ruble'),
	('RWF', 0, 'Rwanda Franc'),
	('SAR', 2, 'Saudi Riyal'),
	('SBD', 2, 'Solomon Islands Dollar'),
	('SCR', 2, 'Seychelles Rupee'),
	('SDG', 2, 'Sudanese Pound'),
	('SEK', 2, 'Swedish Krona'),
	('SGD', 2, 'Singapore Dollar'),
	('SHP', 2, 'Saint Helena Pound'),
	('SLE', 2, 'Leone'),
	('SOS', 2, 'Somali Shilling'),
	('SRD', 2, 'Surinam Dollar'),
	('SSP', 2, 'South Sudanese Pound'),
	('STN', 2, 'Dobra'),
	('SVC', 2, 'El Salvador Colon'),
	('SYP', 2, 'Syrian Pound'),
	('SZL', 2, 'Lilangeni'),
	('THB', 2, 'Baht'),
	('TJS', 2, 'Somoni'),
	('TMT', 2, 'Turkmenistan New Manat'),
	('TND', 3, 'Tunisian Dinar'),
	('TOP', 2, 'Pa''anga'),
	('TRY', 2, 'Turkish Lira'),
	('TTD', 2, 'Trinidad and Tobago Dollar'),
	('TWD', 2, 'New Taiwan Dollar'),
	('TZS', 2, 'Tanzanian Shilling'),
	('UAH', 2, 'Hryvnia'),
	('UGX', 0, 'Uganda Shilling'),
	('USD', 2, 'US Dollar'),
	('USN', 2, 'US Dollar (Next day)'),
	('UYI', 0, 'Uruguay Peso en Unidades Indexadas (UI)'),
	('UYU', 2, 'Peso Uruguayo'),
	('UYW', 4, 'Unidad Previsional'),
	('UZS', 2, 'Uzbekistan Sum'),
	('VED', 2, 'Bolivar Soberano'),
	('VES', 2, 'Bolivar Soberano'),
	('VND', 0, 'Dong'),
	('VUV', 0, 'Vatu'),
	('WST', 2, 'Tala'),
	('XAF', 0, 'CFA Franc BEAC'),
	('XCD', 2, 'East Caribbean Dollar'),
	('XCG', 2, 'Caribbean Guilder'),
	('XOF', 0, 'CFA Franc BCEAO'),
	('XPF', 0, 'CFP Franc'),
	('YER', 2, 'Yemeni Rial'),
	('ZAR', 2, 'Rand'),
	('ZMW', 2, 'Zambian Kwacha'),
	('ZWG', 2, 'Zimbabwe Gold');

/*
 * The conversions are C (src/money.c), the code the strategy engine itself
 * converts with, so the views and the PL/pgSQL functions cannot drift from
 * it; they read compensation.currency through the backend's copy of it
 * (read once, dropped when the table changes), not once per row.  STABLE:
 * the table can change between statements.
 */

/*
 * to_minor_units(amount, currency, param_name) -> bigint
 *		amount in integer minor units of currency, exactly.  An amount with
 *		more decimals than the currency has (10.005 USD, 0.5 JPY), a NULL,
 *		negative, infinite or NaN amount, one too large for bigint, or an
 *		unknown currency is an error: budgets and fixed amounts are never
 *		rounded silently.  param_name names the argument or JSON path in the
 *		message.
 */
CREATE FUNCTION compensation.to_minor_units(amount numeric, currency text,
											param_name text DEFAULT 'amount')
RETURNS bigint
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'compensation_to_minor_units';

COMMENT ON FUNCTION compensation.to_minor_units(numeric, text, text) IS
	'exact conversion of an amount to integer minor units of an ISO 4217 currency; refuses to round';

/*
 * currency_exponent(currency) -> smallint
 *		The ISO 4217 minor unit of an upper-case currency code; an unknown
 *		code (or NULL) is an error that names it.
 */
CREATE FUNCTION compensation.currency_exponent(currency text)
RETURNS smallint
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'compensation_currency_exponent';

COMMENT ON FUNCTION compensation.currency_exponent(text) IS
	'ISO 4217 minor-unit exponent of a currency code (JPY 0, USD 2, BHD 3)';

/*
 * to_major_units(minor, currency) -> numeric
 *		Integer minor units back to an amount with exactly the currency's
 *		number of decimals: the last step before money is shown.  NULL for a
 *		code compensation.currency does not list.  Called for every row of
 *		the grants and decisions views, so like the per-row evaluation
 *		functions it has no SET clause (which would save and restore a GUC
 *		on every call, most of its cost): it runs no SQL and resolves
 *		nothing through search_path (the currency table is read by OID,
 *		src/money.c).
 */
CREATE FUNCTION compensation.to_major_units(minor bigint, currency text)
RETURNS numeric
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'compensation_to_major_units';

COMMENT ON FUNCTION compensation.to_major_units(bigint, text) IS
	'integer minor units back to a numeric amount with the currency''s decimals';
