-- examples/demo.sql — what examples/demo shows, on the generated marketplace
-- (examples/marketplace.sql), whose snapshot is taken on 2026-11-20.  Read
-- it as a tour of the extension.
\pset footer off
SET TimeZone = 'UTC';

\echo
\echo '== 1. Budgets: the delivery program, per market, for 2026-Q4 (set_budget)'
SELECT compensation.set_budget('delivery', '2026-Q4', 4000, 'BRL', 'BR'),
	   compensation.set_budget('delivery', '2026-Q4', 1500, 'USD', 'US'),
	   compensation.set_budget('delivery', '2026-Q4', 1200, 'EUR', 'DE'),
	   compensation.set_budget('delivery', '2026-Q4', 900, 'EUR', 'FR'),
	   compensation.set_budget('delivery', '2026-Q4', 150000, 'JPY', 'JP'),
	   compensation.set_budget('delivery', '2026-Q4', 250.5, 'BHD', 'BH'),
	   compensation.set_budget('reviews', '2026-Q4', 2000, 'EUR') \gset ignored_
-- and the next quarter, copied (carry_unspent => true would add what is left)
SELECT compensation.roll_quarter('2026-Q4', '2027-Q1') AS budgets_rolled_into_2027_q1;

\echo
\echo '== 2. A strategy: late deliveries (3+ days) or low ratings get 10% back, 2..20'
SELECT compensation.define_strategy('late_delivery_v1', $spec${
	"scenario": "late_delivery",
	"description": "Sorry-voucher for late deliveries and poor experiences",
	"source": "marketplace.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [
		{"col": "status", "op": "=", "value": "delivered"},
		{"any": [
			{"name": "late 3+ days", "days": ["promised_at", "delivered_at"], "op": ">=", "value": 3},
			{"name": "rated 1 or 2", "col": "rating", "op": "<=", "value": 2}]}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.10, "min": 2, "max": 20,
			   "segment": {"col": "segment", "multipliers": {"vip": 1.5, "new": 1.2}}},
	"instrument": "voucher",
	"program": "delivery",
	"caps": {"per_buyer_count": {"max": 2, "window": "90 days"}},
	"holdout": 0.05,
	"priority": 10,
	"exclusive": "delivery",
	"locale": "en_US",
	"expires": "60 days",
	"notify": {"channels": ["push", "email"],
			   "template": "Sorry order {order} was late: a {money} voucher, code {code}, valid until {expires_at}"},
	"valid": {"from": "2026-10-01", "to": "2027-01-01"}
}$spec$) AS defined_version;
SELECT compensation.activate('late_delivery_v1') AS active_version;
SELECT name, version, status, scenario, program, instrument, priority, exclusive, valid
  FROM compensation.strategies;

\echo
\echo '== 3. Who would qualify in 2026-Q4, and what it would cost, per market'
SELECT e.market,
	   e.currency,
	   count(*) AS delivered_orders,
	   count(*) FILTER (WHERE d.eligible) AS qualify,
	   count(*) FILTER (WHERE d.eligible AND compensation.in_holdout('late_delivery_v1', e.buyer_id)) AS in_holdout,
	   coalesce(sum(d.amount), 0) AS would_cost,
	   round(avg(d.amount), 2) AS average
  FROM marketplace.order_experience AS e
	   CROSS JOIN LATERAL compensation.evaluate('late_delivery_v1', e) AS d
 WHERE e.delivered_at <@ compensation.quarter_range('2026-Q4')
 GROUP BY e.market, e.currency
 ORDER BY e.market;

\echo
\echo '== 4. A few decisions, with the conditions that held'
SELECT e.order_id, e.market, e.segment, e.order_value, e.rating,
	   e.delivered_at::date - e.promised_at::date AS days_late,
	   d.amount, d.currency, d.reasons
  FROM marketplace.order_experience AS e
	   CROSS JOIN LATERAL compensation.evaluate('late_delivery_v1', e) AS d
 WHERE e.delivered_at <@ compensation.quarter_range('2026-Q4') AND d.eligible
 ORDER BY e.delivered_at, e.order_id
 LIMIT 8;

\echo
\echo '== 5. Apply it, as the scheduled job would (twice: the second run finds nothing new)'
SELECT strategy, candidates, granted, amount_by_currency, skipped_holdout, skipped_cap,
	   skipped_budget, skipped_duplicate, skipped_currency
  FROM compensation.apply('late_delivery_v1', as_of => '2026-11-20');
SELECT strategy, candidates, granted, skipped_duplicate
  FROM compensation.apply('late_delivery_v1', as_of => '2026-11-20');
SELECT run_id, strategy, version, quarter, status, candidates, granted, amount_by_currency
  FROM compensation.runs ORDER BY run_id;

\echo
\echo '== 6. A few grants and the notifications waiting in the outbox (bodies: compensation_sender and admins only)'
SELECT g.grant_id, g.order_key, g.market, g.amount, g.currency, o.channel, o.status, o.message
  FROM compensation.grants AS g JOIN compensation.outbox_message AS o USING (grant_id)
 ORDER BY g.grant_id LIMIT 6;

\echo
\echo '== 7. The budgets after the run'
SELECT program, quarter, market, currency, amount, spent, remaining
  FROM compensation.budgets
 ORDER BY quarter, program, market NULLS FIRST;

\echo
\echo '== 8. Budget status as a dashboard reads it, as of the run: burn, pace, and the demand it could not fund'
SELECT program, market, currency, budget, spent, round(share_spent::numeric, 3) AS share_spent,
	   round(share_elapsed::numeric, 3) AS share_elapsed, daily_rate, projected_spend,
	   projected_exhaustion, pace, grants, exhausted_at,
	   unfunded_candidates, unfunded_amount, expired_candidates
  FROM compensation.budget_status('2026-Q4', as_of => '2026-11-20 23:59')
 ORDER BY program, market NULLS FIRST;
\echo '-- per strategy and version: unique candidates and where they went'
SELECT strategy, version, candidates, grants, amount_by_currency, holdouts, skipped_cap,
	   skipped_budget, skipped_pace, expired, voids, share_of_budget
  FROM compensation.strategy_performance
 ORDER BY strategy, version;

\echo
\echo '== 9. A second strategy, for Brazil, whose messages are written the Brazilian way (locale pt_BR)'
SELECT compensation.set_budget('reviews', '2026-Q4', 3000, 'BRL', 'BR') > 0 AS budget_set;
-- the source adds how late the order was and the buyer's preferred channel
CREATE VIEW marketplace.br_experience AS
SELECT e.*, e.delivered_at::date - e.promised_at::date AS days_late,
	   CASE WHEN e.segment = 'vip' THEN 'sms' ELSE 'email' END AS contact_channel
  FROM marketplace.order_experience AS e WHERE e.market = 'BR';
SELECT compensation.define_strategy('low_rating_br', $spec${
	"scenario": "low_rating", "source": "marketplace.br_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [{"col": "rating", "op": "<=", "value": 2},
					 {"days": ["promised_at", "delivered_at"], "op": ">=", "value": 1}]},
	"amount": {"type": "fixed", "value": 5},
	"instrument": "coupon", "program": "reviews", "exclusive": "reviews",
	"locale": "pt_BR", "expires": "30 days",
	"notify": {"channels": ["email", "sms"], "preferred_channel": "contact_channel",
			   "template": "Pedido {order} ({col:days_late} dias de atraso): sentimos muito. Cupom de {money}, código {code}, válido até {expires_at}.",
			   "void_template": "O cupom {code} do pedido {order} foi cancelado."}
}$spec$) AS defined_version, compensation.activate('low_rating_br') AS active_version;
SELECT strategy, candidates, granted, amount_by_currency FROM compensation.apply('low_rating_br', as_of => '2026-11-20');
SELECT channel, status, count(*) AS messages FROM compensation.outbox GROUP BY channel, status ORDER BY channel, status;
