-- Every way a spec can be wrong: an ERROR with an errcode, a message that
-- names the JSON path, and a hint.  Nothing is stored.
SET TimeZone = 'UTC';
CREATE TYPE public.tier_level AS ENUM ('low', 'high');
CREATE TABLE public.order_experience (
	order_id text, buyer_id text, status text, promised_at timestamptz,
	delivered_at timestamptz, delivered_local timestamp, delivered_on date,
	order_value numeric, items integer, currency text, market text, rating integer,
	segment text, level public.tier_level, flagged boolean, location point, notes jsonb);
CREATE TABLE public.secret_source (order_id text, buyer_id text, delivered_at timestamptz);
REVOKE ALL ON public.secret_source FROM PUBLIC;
CREATE SEQUENCE public.some_sequence;
GRANT SELECT ON public.order_experience, public.some_sequence TO compensation_admin;

CREATE TABLE pg_temp.base AS SELECT $${
	"scenario": "late_delivery",
	"source": "public.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [
		{"col": "status", "op": "=", "value": "delivered"},
		{"any": [
			{"days": ["promised_at", "delivered_at"], "op": ">=", "value": 3},
			{"col": "rating", "op": "<=", "value": 2}]}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.10, "min": 2, "max": 20},
	"instrument": "voucher",
	"program": "delivery",
	"caps": {"per_buyer_count": {"max": 2, "window": "90 days"},
			 "per_buyer_amount": {"max": 50, "window": "quarter"}},
	"holdout": 0.05,
	"priority": 10,
	"exclusive": "delivery",
	"notify": {"channel": "push", "template": "Sorry order {order} was late: {amount} {currency}"},
	"valid": {"from": "2026-10-01", "to": "2027-01-01"}
}$$::jsonb AS spec;

-- the base spec is valid
SELECT code FROM regress.error_of($$SELECT compensation.validate_spec((SELECT spec FROM pg_temp.base))$$);

CREATE TABLE pg_temp.cases (n serial, label text, spec jsonb);
INSERT INTO pg_temp.cases (label, spec)
SELECT label, (SELECT spec FROM pg_temp.base) || patch
  FROM (VALUES
	('not an object', NULL),
	('unknown top-level key', '{"colour": "red"}'),
	('missing source', NULL),
	('source not qualified', '{"source": "order_experience"}'),
	('source bad syntax', '{"source": "public.\"unterminated"}'),
	('source missing', '{"source": "public.nope"}'),
	('source not readable', '{"source": "public.secret_source", "keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}, "when": {"col": "order_id", "op": "is not null"}, "amount": {"type": "fixed", "value": 1}, "currency": "EUR"}'),
	('source is a sequence', '{"source": "public.some_sequence"}'),
	('scenario empty', '{"scenario": ""}'),
	('scenario a number', '{"scenario": 7}'),
	('keys missing buyer', '{"keys": {"order": "order_id", "at": "delivered_at", "currency": "currency"}}'),
	('keys unknown key', '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "currency": "currency", "seller": "x"}}'),
	('keys column missing', '{"keys": {"order": "order_id", "buyer": "buyer", "at": "delivered_at", "currency": "currency"}}'),
	('keys at not a timestamp', '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_on", "currency": "currency"}}'),
	('keys value not a number', '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "currency": "currency", "value": "status"}}'),
	('keys currency not text', '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at", "currency": "items"}}'),
	('no currency at all', '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}}'),
	('two currencies', '{"currency": "EUR"}'),
	('unknown constant currency', '{"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at"}, "currency": "EURO"}'),
	('when not an object', '{"when": [1, 2]}'),
	('when empty object', '{"when": {}}'),
	('when two forms', '{"when": {"col": "status", "all": [], "op": "=", "value": "x"}}'),
	('empty all', '{"when": {"all": []}}'),
	('empty any nested', '{"when": {"all": [{"any": []}]}}'),
	('all not an array', '{"when": {"all": {"col": "status"}}}'),
	('unknown operator', '{"when": {"all": [{"col": "status", "op": "=", "value": "delivered"}, {"any": [{"col": "rating", "op": "~", "value": 2}]}]}}'),
	('operator missing', '{"when": {"col": "status", "value": "x"}}'),
	('unknown key in condition', '{"when": {"col": "status", "op": "=", "value": "x", "weight": 2}}'),
	('column missing in condition', '{"when": {"any": [{"col": "status", "op": "=", "value": "x"}, {"col": "ratings", "op": "<", "value": 2}]}}'),
	('value missing', '{"when": {"col": "rating", "op": "<"}}'),
	('value null', '{"when": {"col": "rating", "op": "=", "value": null}}'),
	('value for is null', '{"when": {"col": "rating", "op": "is null", "value": 1}}'),
	('value array for =', '{"when": {"col": "rating", "op": "=", "value": [1]}}'),
	('between one value', '{"when": {"col": "rating", "op": "between", "value": [1]}}'),
	('in empty', '{"when": {"col": "rating", "op": "in", "value": []}}'),
	('in with null', '{"when": {"col": "rating", "op": "in", "value": [1, null]}}'),
	('string for integer', '{"when": {"col": "rating", "op": "=", "value": "2"}}'),
	('fraction for integer', '{"when": {"col": "rating", "op": "<=", "value": 2.5}}'),
	('number for text', '{"when": {"col": "status", "op": "=", "value": 3}}'),
	('bad date string', '{"when": {"col": "delivered_on", "op": "<", "value": "2026-13-45"}}'),
	('bad enum value', '{"when": {"col": "level", "op": "=", "value": "medium"}}'),
	('string for boolean', '{"when": {"col": "flagged", "op": "=", "value": "yes"}}'),
	('uncomparable type', '{"when": {"col": "location", "op": "=", "value": "(1,2)"}}'),
	('days on a date', '{"when": {"days": ["promised_at", "delivered_on"], "op": ">=", "value": 3}}'),
	('days mixed kinds', '{"when": {"days": ["promised_at", "delivered_local"], "op": ">=", "value": 3}}'),
	('days one column', '{"when": {"days": ["promised_at"], "op": ">=", "value": 3}}'),
	('days fraction', '{"when": {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 2.5}}'),
	('days string', '{"when": {"days": ["promised_at", "delivered_at"], "op": ">=", "value": "3"}}'),
	('days is null', '{"when": {"days": ["promised_at", "delivered_at"], "op": "is null"}}'),
	('too deep', jsonb_build_object('when', ((SELECT string_agg('{"not": ', '') FROM generate_series(1, 40))
				|| '{"col": "status", "op": "is null"}' || repeat('}', 40))::jsonb)),
	('amount not an object', '{"amount": 5}'),
	('amount unknown type', '{"amount": {"type": "bogus"}}'),
	('amount missing type', '{"amount": {"value": 5}}'),
	('fixed negative', '{"amount": {"type": "fixed", "value": -5}}'),
	('fixed string NaN', '{"amount": {"type": "fixed", "value": "NaN"}}'),
	('fixed with rate', '{"amount": {"type": "fixed", "value": 5, "rate": 0.1}}'),
	('percent no of', '{"amount": {"type": "percent", "rate": 0.1}}'),
	('percent negative rate', '{"amount": {"type": "percent", "of": "order_value", "rate": -0.1}}'),
	('percent rate string', '{"amount": {"type": "percent", "of": "order_value", "rate": "10%"}}'),
	('percent of text column', '{"amount": {"type": "percent", "of": "status", "rate": 0.1}}'),
	('min above max', '{"amount": {"type": "percent", "of": "order_value", "rate": 0.1, "min": 30, "max": 20}}'),
	('huge max', '{"amount": {"type": "percent", "of": "order_value", "rate": 0.1, "max": 1e300}}'),
	('tiers empty', '{"amount": {"type": "tiered", "by": "order_value", "tiers": []}}'),
	('tier without amount', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"to": 10}]}}'),
	('tier with both', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"to": 10, "amount": 1, "rate": 0.1}]}}'),
	('tier empty band', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"from": 10, "to": 10, "amount": 1}]}}'),
	('tiers overlap', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"to": 50, "amount": 1}, {"from": 40, "amount": 2}]}}'),
	('tiers unsorted', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"from": 100, "to": 200, "amount": 1}, {"from": 0, "to": 50, "amount": 2}]}}'),
	('middle tier open', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"to": 50, "amount": 1}, {"from": 50, "amount": 2}, {"from": 100, "amount": 3}]}}'),
	('segment empty multipliers', '{"amount": {"type": "fixed", "value": 5, "segment": {"col": "segment", "multipliers": {}}}}'),
	('segment negative multiplier', '{"amount": {"type": "fixed", "value": 5, "segment": {"col": "segment", "multipliers": {"vip": -1}}}}'),
	('segment on integer', '{"amount": {"type": "fixed", "value": 5, "segment": {"col": "items", "multipliers": {"1": 2}}}}'),
	('unknown instrument', '{"instrument": "gift_card"}'),
	('program missing', NULL),
	('holdout one', '{"holdout": 1}'),
	('holdout negative', '{"holdout": -0.1}'),
	('priority fraction', '{"priority": 1.5}'),
	('priority huge', '{"priority": 1e12}'),
	('caps unknown cap', '{"caps": {"per_order": {"max": 1}}}'),
	('caps count zero', '{"caps": {"per_buyer_count": {"max": 0, "window": "90 days"}}}'),
	('caps malformed window', '{"caps": {"per_buyer_count": {"max": 2, "window": "ninety days"}}}'),
	('caps unknown unit', '{"caps": {"per_buyer_count": {"max": 2, "window": "90 fortnights"}}}'),
	('caps bad scope', '{"caps": {"per_buyer_amount": {"max": 50, "window": "quarter", "scope": "world"}}}'),
	('notify unknown placeholder', '{"notify": {"channel": "push", "template": "Hi {name}"}}'),
	('notify unclosed placeholder', '{"notify": {"channel": "push", "template": "Hi {order"}}'),
	('notify no channel', '{"notify": {"template": "Hi"}}'),
	('valid empty window', '{"valid": {"from": "2027-01-01", "to": "2026-10-01"}}'),
	('valid bad timestamp', '{"valid": {"from": "soon"}}'),
	('valid infinite', '{"valid": {"to": "infinity"}}'),
	-- the bounds of a new definition: one strategy must not poison every run
	('valid before year 1', '{"valid": {"from": "4714-11-24 00:00:00+00 BC"}}'),
	('valid after 9999', '{"valid": {"to": "10000-01-01"}}'),
	('caps window 100000 years', '{"caps": {"per_buyer_count": {"max": 2, "window": "100000 years"}}}'),
	('caps window 3700 days', '{"caps": {"per_buyer_amount": {"max": 50, "window": "3700 days"}}}'),
	('notify template too long', NULL),
	('in list too long', NULL),
	('between reversed', '{"when": {"col": "rating", "op": "between", "value": [2, 1]}}'),
	('days between reversed', '{"when": {"days": ["promised_at", "delivered_at"], "op": "between", "value": [5, 3]}}'),
	('rate too small', '{"amount": {"type": "percent", "of": "order_value", "rate": 1e-1000}}'),
	('tier rate too small', '{"amount": {"type": "tiered", "by": "order_value", "tiers": [{"to": 10, "amount": 1}, {"from": 10, "rate": 0}]}}'),
	('temporary source', '{"source": "pg_temp.cases"}')
  ) AS t(label, patch);
UPDATE pg_temp.cases
   SET spec = (SELECT spec FROM pg_temp.base) || jsonb_build_object('notify', jsonb_build_object('channel', 'push',
			'template', repeat('Sorry for order {order}. ', 100)))
 WHERE label = 'notify template too long';
UPDATE pg_temp.cases
   SET spec = (SELECT spec FROM pg_temp.base) || jsonb_build_object('when', jsonb_build_object('col', 'rating', 'op', 'in',
			'value', (SELECT jsonb_agg(i) FROM generate_series(1, 10001) AS i)))
 WHERE label = 'in list too long';
UPDATE pg_temp.cases SET spec = '[1, 2]' WHERE label = 'not an object';
UPDATE pg_temp.cases SET spec = (SELECT spec FROM pg_temp.base) - 'source' WHERE label = 'missing source';
UPDATE pg_temp.cases SET spec = (SELECT spec FROM pg_temp.base) - 'program' WHERE label = 'program missing';
UPDATE pg_temp.cases SET spec = spec - 'currency' || '{"currency": "EUR"}'
 WHERE label IN ('two currencies');

GRANT SELECT ON pg_temp.cases TO compensation_admin;
-- the source-privilege case needs a non-superuser author: the session user
SET SESSION AUTHORIZATION compensation_admin;
SELECT c.n, c.label, e.code, e.message
  FROM pg_temp.cases AS c,
	   LATERAL regress.error_of(format('SELECT compensation.validate_spec(%L::jsonb)', c.spec)) AS e
 ORDER BY c.n;
-- every error has a hint and a path, none is internal, and none of these
-- attempts stored anything
SELECT count(*) AS cases,
	   count(*) FILTER (WHERE e.hint IS NULL OR e.hint = '') AS without_hint,
	   count(*) FILTER (WHERE e.message NOT LIKE '%$%') AS without_path,
	   count(*) FILTER (WHERE e.code = 'XX000' OR e.code = '(no error)') AS internal_or_accepted
  FROM pg_temp.cases AS c,
	   LATERAL regress.error_of(format('SELECT compensation.define_strategy(%L, %L::jsonb)',
									   'case_' || c.n, c.spec)) AS e;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS strategies_stored FROM compensation.strategies;

-- a stored version cannot be edited, only its status; and define_strategy
-- rejects bad names
SELECT compensation.define_strategy('late_v3', (SELECT spec FROM pg_temp.base));
\x on
SELECT * FROM regress.error_of($$UPDATE compensation.strategy_version SET spec = '{}'$$);
SELECT * FROM regress.error_of($$SELECT compensation.define_strategy('bad name!', (SELECT spec FROM pg_temp.base))$$);
SELECT * FROM regress.error_of($$SELECT compensation.define_strategy(NULL, '{}')$$);
SELECT * FROM regress.error_of($$SELECT compensation.activate('late_v3', 9)$$);
SELECT * FROM regress.error_of($$SELECT compensation.pause('late_v3')$$);
SELECT * FROM regress.error_of($$SELECT compensation.activate('nope')$$);
\x off
