-- notifications: channels, preferences, templates, locales, codes, the
-- outbox queue (claim, mark, retry, dead), void before and after sending.
SET TimeZone = 'UTC';
-- the queue holds only this test's messages
DELETE FROM compensation.outbox_message;
CREATE TABLE public.nt_src (order_id text, buyer_id text, at timestamptz, value numeric,
							currency text, market text, days_late integer,
							contact_channel text, push_token text);
INSERT INTO public.nt_src VALUES
	('n01', 'b1', '2026-10-01 10:00', 50.00, 'BRL', 'BR', 4, 'email', 'tok1'),	-- prefers email
	('n02', 'b2', '2026-10-02 10:00', 1234567.00, 'BRL', 'BR', 9, NULL, 'tok2'),	-- push, grouping
	('n03', 'b3', '2026-10-03 10:00', 30.00, 'BRL', 'BR', 3, 'push', NULL),		-- prefers push, no token
	('n04', 'b4', '2026-10-04 10:00', 40.00, 'BRL', 'BR', 5, 'fax', ''),		-- unknown preference, no token
	('n05', 'b5', '2026-10-05 10:00', 20.00, 'BRL', 'BR', NULL, 'push', 'tok5');	-- NULL column
SELECT compensation.set_budget('nt', '2026-Q4', 1000000, 'BRL', 'BR') > 0 AS budget;
CREATE FUNCTION pg_temp.spec(extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'scenario', 'late_delivery', 'source', 'public.nt_src', 'program', 'nt', 'instrument', 'voucher',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at',
							   'currency', 'currency', 'market', 'market'),
	'when', jsonb_build_object('col', 'value', 'op', '>', 'value', 0),
	'amount', jsonb_build_object('type', 'percent', 'of', 'value', 'rate', 0.1),
	'locale', 'pt_BR', 'expires', '30 days',
	'notify', jsonb_build_object(
		'channels', jsonb_build_array('push', 'email'),
		'preferred_channel', 'contact_channel',
		'reachable', jsonb_build_object('push', 'push_token'),
		'template', 'Pedido {order} atrasou {col:days_late} dias: {money} ({amount} {currency}), código {code}, válido até {expires_at}',
		'void_template', 'O cupom {code} do pedido {order} foi cancelado'),
	'valid', jsonb_build_object('from', '2026-10-01', 'to', '2027-01-01')) || extra $$;
SELECT compensation.define_strategy('nt', pg_temp.spec()), compensation.activate('nt');
SELECT granted FROM compensation.apply('nt', '2026-11-20 12:00');

-- one delivery message per grant, on the chosen channel: the preferred one
-- when listed and reachable, else the first reachable; none reachable: dead
SELECT l.order_key, o.kind, o.channel, o.status, o.last_error,
	   regexp_replace(o.message, '[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){4}', '<code>') AS message
  FROM compensation.outbox_message AS o JOIN compensation.ledger AS l USING (grant_id)
 ORDER BY l.order_key;
-- the code in the message is the grant's, and names it; expires_at = as_of + 30 days
SELECT l.order_key, l.voucher_code ~ '^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){4}$' AS code_ok,
	   position(l.voucher_code IN o.message) > 0 AS code_in_message,
	   compensation.voucher_code_grant_id(l.voucher_code) = l.grant_id AS names_grant,
	   l.expires_at, v.code = l.voucher_code AS in_vouchers
  FROM compensation.ledger AS l JOIN compensation.outbox_message AS o USING (grant_id)
  JOIN compensation.vouchers AS v USING (grant_id)
 ORDER BY l.order_key;

-- the queue: claim hands out each message once, message_id first
SELECT count(*) AS claimable_email FROM compensation.outbox
 WHERE channel = 'email' AND status IN ('pending', 'failed') AND available_at <= now();
SELECT kind, attempts, message LIKE 'Pedido n01 %' AS is_n01 FROM compensation.outbox_claim('email', 10);
SELECT count(*) AS claimed_twice FROM compensation.outbox_claim('email', 10);
SELECT compensation.outbox_mark_sent(message_id) AS first, compensation.outbox_mark_sent(message_id) AS again
  FROM compensation.outbox WHERE channel = 'email';
SELECT status, attempts, sent_at IS NOT NULL AS has_sent_at FROM compensation.outbox WHERE channel = 'email';

-- failures: retried after 30 s, 1, 2, 4 min, dead after the 5th attempt
SELECT count(*) AS claimed FROM compensation.outbox_claim('push', 1);
CREATE TEMP TABLE nt_trace (attempt int, status text, backoff interval);
DO $$
DECLARE
	m bigint;
	s text;
BEGIN
	FOR i IN 1..6 LOOP
		SELECT message_id INTO m FROM compensation.outbox
		 WHERE channel = 'push' AND status = 'claimed' ORDER BY message_id LIMIT 1;
		s := compensation.outbox_mark_failed(m, 'push gateway said 503');
		INSERT INTO nt_trace
		SELECT o.attempts, s, date_trunc('second', o.available_at - now()) FROM compensation.outbox AS o WHERE o.message_id = m;
		EXIT WHEN s = 'dead';
		-- the backoff has passed (a year ago: older than every other message, so claimed first however slow the machine)
		UPDATE compensation.outbox_message SET available_at = now() - interval '1 year' WHERE message_id = m;
		PERFORM compensation.outbox_claim('push', 1);
	END LOOP;
END $$;
SELECT * FROM nt_trace ORDER BY attempt;
SELECT status, attempts, last_error FROM compensation.outbox WHERE status = 'dead' ORDER BY message_id;
-- a dead or sent message cannot be marked again
SELECT compensation.outbox_mark_failed(message_id, 'x') IS NULL AS refused,
	   compensation.outbox_mark_sent(message_id) AS marked
  FROM compensation.outbox WHERE status = 'dead' AND attempts = 5;

-- a lease: a claim not marked in time goes back to the queue
-- (the lease is long, then run out by hand: a slow machine must not let it
-- run out before the second claim)
SELECT count(*) AS claimed FROM compensation.outbox_claim('push', 10, lease => '1 hour');
SELECT count(*) AS during_lease FROM compensation.outbox_claim('push', 10);
SELECT DISTINCT available_at - claimed_at AS lease FROM compensation.outbox
 WHERE channel = 'push' AND status = 'claimed';
UPDATE compensation.outbox_message SET available_at = now() - interval '1 second'
 WHERE channel = 'push' AND status = 'claimed';
SELECT attempts FROM compensation.outbox_claim('push', 10);

-- void before sending: the claimed message is cancelled, marking it sent
-- is refused, and no correction is queued
SELECT compensation.void_grant(grant_id, 'order cancelled') FROM compensation.ledger WHERE order_key = 'n05';
SELECT o.kind, o.status FROM compensation.outbox AS o JOIN compensation.ledger AS l USING (grant_id)
 WHERE l.order_key = 'n05' ORDER BY o.message_id;
SELECT compensation.outbox_mark_sent(o.message_id) AS marked_cancelled
  FROM compensation.outbox AS o JOIN compensation.ledger AS l USING (grant_id) WHERE l.order_key = 'n05';
-- void after sending: a correction from void_template, on the same channel
SELECT compensation.void_grant(grant_id, 'order refunded') FROM compensation.ledger WHERE order_key = 'n01';
SELECT o.kind, o.channel, o.status,
	   regexp_replace(o.message, '[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){4}', '<code>') AS message
  FROM compensation.outbox_message AS o JOIN compensation.ledger AS l USING (grant_id)
 WHERE l.order_key = 'n01' ORDER BY o.message_id;
SELECT kind, message LIKE 'O cupom %' AS correction FROM compensation.outbox_claim('email', 10);

-- the old form stays valid: one channel, one template, no locale
SELECT compensation.define_strategy('nt_old', pg_temp.spec() - 'locale' - 'expires' ||
	jsonb_build_object('exclusive', 'nt_old', 'notify',
					   jsonb_build_object('channel', 'sms', 'template', '{order}: {amount} {currency} {money}'))),
	   compensation.activate('nt_old');
SELECT granted FROM compensation.apply('nt_old', '2026-11-20 12:00');
SELECT o.channel, o.message FROM compensation.outbox_message AS o JOIN compensation.ledger AS l USING (grant_id)
 WHERE l.exclusive_group = 'nt_old' ORDER BY l.order_key;

-- every locale against a table of expected strings: exponents 0, 2, 3,
-- small and large amounts with grouping
CREATE TEMP TABLE nt_expected (locale text, currency text, amount numeric, expected text);
INSERT INTO nt_expected VALUES
	('en_US', 'USD', 5, '$5.00'), ('en_US', 'USD', 1234567.89, '$1,234,567.89'),
	('en_US', 'JPY', 500, '¥500'), ('en_US', 'JPY', 1234567, '¥1,234,567'),
	('en_US', 'BHD', 1.5, 'BHD 1.500'), ('en_US', 'BHD', 1234567.891, 'BHD 1,234,567.891'),
	('en_US', 'EUR', 0, '€0.00'), ('en_US', 'USD', 0.004, '$0.00'), ('en_US', 'USD', 0.005, '$0.01'),
	('en_GB', 'GBP', 1234.5, '£1,234.50'), ('en_GB', 'EUR', 999.99, '€999.99'),
	('pt_BR', 'BRL', 5, 'R$ 5,00'), ('pt_BR', 'BRL', 1234567.89, 'R$ 1.234.567,89'),
	('pt_BR', 'JPY', 1000, '¥ 1.000'), ('pt_BR', 'BHD', 12345.678, 'BHD 12.345,678'),
	('pt_PT', 'EUR', 1234.5, '1.234,50 €'),
	('es_ES', 'EUR', 1234567.5, '1.234.567,50 €'), ('es_ES', 'USD', 5, '5,00 $'),
	('de_DE', 'EUR', 5, '5,00 €'), ('de_DE', 'EUR', 92233720368547758.07, '92.233.720.368.547.758,07 €'),
	('de_DE', 'JPY', 123456, '123.456 ¥'), ('de_DE', 'BHD', 1000.001, '1.000,001 BHD'),
	('fr_FR', 'EUR', 1234567.5, '1 234 567,50 €'), ('fr_FR', 'BHD', 0.001, '0,001 BHD'),
	('it_IT', 'EUR', 999999.99, '999.999,99 €'),
	('nl_NL', 'EUR', 1234.56, '€ 1.234,56'),
	('ja_JP', 'JPY', 500, '¥500'), ('ja_JP', 'JPY', 9223372036854775807, '¥9,223,372,036,854,775,807'),
	('ja_JP', 'USD', 12.3, '$12.30'), ('ja_JP', 'KWD', 123.4567, 'KWD 123.457');
SELECT e.locale, e.currency, e.amount, compensation.format_money(e.amount, e.currency, e.locale) AS formatted,
	   compensation.format_money(e.amount, e.currency, e.locale) = e.expected AS ok
  FROM nt_expected AS e ORDER BY e.locale, e.currency, e.amount;
SELECT count(DISTINCT locale) AS locales_tested FROM nt_expected;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.format_money(5, 'EUR', 'xx_XX')$$);
SELECT * FROM regress.error_of($$SELECT compensation.format_money(5, 'ZZZ', 'en_US')$$);
SELECT * FROM regress.error_of($$SELECT compensation.format_money(-5, 'EUR', 'en_US')$$);
\x off

-- codes: 100,000 unique, of the alphabet and length documented; each
-- names its grant, which the ledger's CHECK holds to (and with it the
-- primary key makes codes unique); the random part is each code's own
SELECT count(*) AS codes, count(DISTINCT c) AS distinct_codes,
	   bool_and(c ~ '^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){4}$') AS all_well_formed,
	   bool_and(length(c) = 24) AS length_24,
	   bool_and(compensation.voucher_code_grant_id(c) = g) AS all_name_their_grant,
	   count(DISTINCT substr(c, 11)) AS distinct_random_parts,
	   count(DISTINCT left(c, 4)) > 30000 AS ids_disguised
  FROM (SELECT g, compensation.new_voucher_code(g) AS c FROM generate_series(1, 100000) AS g) AS s;
SELECT count(DISTINCT ch) AS symbols_seen
  FROM (SELECT regexp_split_to_table(replace(compensation.new_voucher_code(g), '-', ''), '') AS ch
		  FROM generate_series(1, 2000) AS g) AS s;
-- two codes for one grant id share the id part only
SELECT left(a, 9) = left(b, 9) AS same_id_part, substr(a, 11) <> substr(b, 11) AS own_random_part
  FROM (SELECT compensation.new_voucher_code(42) AS a, compensation.new_voucher_code(42) AS b) AS s;
-- ids of 2^40 and more (and negative ones) take the 7-group form; each id
-- has one form
SELECT g, length(c) AS length, c ~ '^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){6}$' AS long_form,
	   compensation.voucher_code_grant_id(c) = g AS names_grant
  FROM (SELECT g, compensation.new_voucher_code(g) AS c
		  FROM unnest(ARRAY[0, 1, 1099511627775, 1099511627776, 9223372036854775807,
							-1, -9223372036854775808]::bigint[]) AS g) AS s;
-- not a code: NULL (wrong length, lower case, a symbol or a dash out of
-- place, the 7-group form of grant 1 (worked out apart from the C code),
-- an id part of more than 64 bits)
SELECT x, compensation.voucher_code_grant_id(x) AS grant_id
  FROM unnest(ARRAY['', '8CHJ-B6VB', lower('8CHJ-B6VB-RNVM-6TNR-K7ER'),
					'8CHJ-B6VB-RNVM-6TNR-K7E0', '8CHJ-B6VB-RNVM-6TNR-K7EI', '8CHJB6VB-RNVM-6TNR-K7ERR',
					'222C-N9QW-9J8A-CCDJ-2222-2222-2222', '3222-2222-2222-2222-2222-2222-2222']) AS x;
SELECT compensation.voucher_code_grant_id('8CHJ-B6VB-RNVM-6TNR-K7ER') AS grant_of_a_short_code;
-- the ledger holds codes to their grants: another grant's code, or a
-- made-up one, is refused
\x on
SELECT code, message FROM regress.error_of($$UPDATE compensation.ledger SET voucher_code = (SELECT voucher_code FROM compensation.ledger WHERE voucher_code IS NOT NULL ORDER BY grant_id DESC LIMIT 1) WHERE grant_id = (SELECT min(grant_id) FROM compensation.ledger WHERE voucher_code IS NOT NULL)$$);
SELECT code, message FROM regress.error_of($$UPDATE compensation.ledger SET voucher_code = 'NOT-A-CODE' WHERE grant_id = (SELECT min(grant_id) FROM compensation.ledger)$$);
\x off
-- finding a grant by its code is a primary-key lookup
SELECT l.order_key
  FROM compensation.ledger AS l,
	   (SELECT voucher_code AS c FROM compensation.ledger WHERE voucher_code IS NOT NULL
		 ORDER BY grant_id LIMIT 1) AS k
 WHERE l.grant_id = compensation.voucher_code_grant_id(k.c) AND l.voucher_code = k.c;
EXPLAIN (COSTS OFF)
SELECT grant_id FROM compensation.ledger
 WHERE grant_id = compensation.voucher_code_grant_id('8CHJ-B6VB-RNVM-6TNR-K7ER')
   AND voucher_code = '8CHJ-B6VB-RNVM-6TNR-K7ER';

-- bad input: a clear error naming the JSON path
\x on
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channels": ["push", "fax"], "template": "x"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "pigeon", "template": "x"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channels": [], "template": "x"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channels": "push", "template": "x"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channels": ["push", "push"], "template": "x"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "channels": ["push"], "template": "x"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"locale": "xx_XX"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"expires": "quarter"}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "template": "late by {col:nope} days"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "template": "x", "void_template": "{col:gone}"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "template": "x", "preferred_channel": "nope"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "template": "x", "reachable": {"email": "push_token"}}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "template": "{col:}"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() - 'expires' || '{"notify": {"channel": "push", "template": "until {expires_at}"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.validate_spec(pg_temp.spec() || '{"notify": {"channel": "push", "template": "{days_late}"}}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.outbox_claim('push', 0)$$);
SELECT * FROM regress.error_of($$SELECT compensation.outbox_claim(NULL, 5)$$);
SELECT * FROM regress.error_of($$SELECT compensation.outbox_claim('push', 5, '10 days')$$);
\x off

-- roles: readers see the queue, never bodies or codes; senders claim
GRANT SELECT ON public.nt_src TO compensation_reader;
SET ROLE compensation_reader;
SELECT count(*) > 0 AS reader_sees_queue FROM compensation.outbox;
\x on
SELECT * FROM regress.error_of($$SELECT message FROM compensation.outbox_message$$);
SELECT * FROM regress.error_of($$SELECT code FROM compensation.vouchers$$);
SELECT * FROM regress.error_of($$SELECT voucher_code FROM compensation.ledger$$);
SELECT * FROM regress.error_of($$SELECT compensation.outbox_claim('push', 1)$$);
SELECT * FROM regress.error_of($$SELECT compensation.outbox_mark_sent(1)$$);
\x off
RESET ROLE;
SET ROLE compensation_sender;
SELECT count(*) >= 0 AS sender_claims FROM compensation.outbox_claim('sms', 100);
SELECT count(*) > 0 AS sender_reads_codes FROM compensation.vouchers;
\x on
SELECT * FROM regress.error_of($$SELECT compensation.void_grant(1, 'x')$$);
SELECT * FROM regress.error_of($$UPDATE compensation.outbox_message SET status = 'sent'$$);
\x off
RESET ROLE;
SET ROLE compensation_admin;
SELECT count(*) > 0 AS admin_reads_bodies FROM compensation.outbox_message;
RESET ROLE;
