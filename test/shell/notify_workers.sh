#!/usr/bin/env bash
# test/shell/notify_workers.sh — the outbox as a work queue, with real
# concurrent sessions (issue #15).
#
# 1. 8 workers (psql sessions in parallel shell loops) claim and mark the
#    same queue of 12,000 messages on three channels until it is empty:
#    every message is claimed exactly once, marked sent exactly once, and
#    no outbox_mark_sent returns false.
# 2. A worker killed while it holds a claim (lease 2 s): nobody else gets
#    its messages during the lease; after it, they are claimed again, with
#    a second attempt counted.
# 3. The example worker (examples/notify_worker, when Debian's
#    python3-psycopg is there): three of them drain 3,000 messages while one
#    is killed with SIGKILL and restarted; every message ends up sent and
#    delivered at least once, and a message delivered twice is one the
#    killed worker had claimed.
#
# Exit 0 pass, 77 skip (no server), 1 fail.
set -euo pipefail

DB=compensation_notify_workers
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORKERS=8
ORDERS=12000

say() { printf 'notify_workers: %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
value() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" -c "$1"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
work=$(mktemp -d)
chmod 777 "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

psql -X -q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION compensation;
CREATE TABLE public.nw_orders (order_id text, buyer_id text, at timestamptz, contact text);
INSERT INTO public.nw_orders
SELECT 'o' || i, 'b' || i, timestamptz '2026-10-01' + i * interval '1 second',
	   (ARRAY['push', 'email', 'sms'])[1 + i % 3]
  FROM generate_series(1, $ORDERS) AS i;
SELECT compensation.set_budget('nw', '2026-Q4', 100000000, 'EUR');
SELECT compensation.define_strategy('nw', jsonb_build_object(
	'scenario', 'late', 'source', 'public.nw_orders', 'instrument', 'voucher', 'program', 'nw',
	'currency', 'EUR', 'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'when', jsonb_build_object('col', 'order_id', 'op', 'is not null'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 5), 'locale', 'de_DE', 'max_age', null,
	'notify', jsonb_build_object('channels', jsonb_build_array('push', 'email', 'sms'),
								 'preferred_channel', 'contact',
								 'template', 'Bestellung {order}: {money}, Code {code}')));
SELECT compensation.activate('nw');
SELECT granted FROM compensation.apply('nw', '2026-12-31');
SQL
total=$(value "SELECT count(*) FROM compensation.outbox_message")
[ "$total" = "$ORDERS" ] || fail "$total messages for $ORDERS grants"

# --- 1: 8 concurrent workers --------------------------------------------------
worker() {	# worker N: claim 50 of each channel in turn, then mark them, until empty
	local n=$1 empty ids channel
	while :; do
		empty=0
		for channel in push email sms; do
			ids=$(psql -X -q -At -d "$DB" -c "SELECT string_agg(message_id::text, ',') FROM compensation.outbox_claim('$channel', 50)")
			if [ -z "$ids" ]; then
				empty=$((empty + 1))
				continue
			fi
			tr ',' '\n' <<<"$ids" >>"$work/claimed.$n"
			psql -X -q -At -d "$DB" -c "SELECT compensation.outbox_mark_sent(m) FROM unnest('{$ids}'::bigint[]) AS m" \
				>>"$work/marked.$n"
		done
		[ $empty -lt 3 ] || break
	done
}
started=$SECONDS
for n in $(seq 1 $WORKERS); do worker "$n" & done
wait
cat "$work"/claimed.* | sort >"$work/claimed"
claimed=$(wc -l <"$work/claimed")
distinct=$(sort -u "$work/claimed" | wc -l)
refused=$(cat "$work"/marked.* | grep -c '^f$' || true)
busy=$(for n in $(seq 1 $WORKERS); do [ -s "$work/claimed.$n" ] && echo "$n"; done | wc -l)
[ "$claimed" = "$ORDERS" ] || fail "$claimed claims for $ORDERS messages"
[ "$distinct" = "$ORDERS" ] || fail "$distinct distinct messages claimed, $claimed claims: a message was handed out twice"
[ "$refused" = 0 ] || fail "$refused outbox_mark_sent calls returned false"
[ "$(value "SELECT count(*) FROM compensation.outbox WHERE status = 'sent' AND attempts = 1")" = "$ORDERS" ] ||
	fail "not every message is sent after exactly one claim: $(value "SELECT string_agg(status || ':' || attempts || ':' || n, ' ') FROM (SELECT status, attempts, count(*) AS n FROM compensation.outbox GROUP BY 1, 2) AS s")"
[ "$busy" -ge 4 ] || fail "only $busy of $WORKERS workers got messages: not concurrent"
say "ok: $WORKERS workers delivered $ORDERS messages exactly once in $((SECONDS - started)) s ($busy workers busy)"

# --- 2: a worker killed with a claim held -------------------------------------
value "INSERT INTO public.nw_orders SELECT 'k' || i, 'kb' || i, timestamptz '2026-11-01' + i * interval '1 second', 'email' FROM generate_series(1, 100) AS i" >/dev/null
value "SELECT granted FROM compensation.apply('nw', '2026-12-31')" >/dev/null
psql -X -q -At -d "$DB" -c "SELECT count(*) FROM compensation.outbox_claim('email', 1000, lease => '2 seconds')" \
	-c "SELECT pg_sleep(60)" >"$work/killed.out" 2>&1 &
killed=$!
for _ in $(seq 1 50); do [ -s "$work/killed.out" ] && break; sleep 0.1; done
[ "$(head -1 "$work/killed.out")" = 100 ] || fail "the worker to be killed claimed '$(cat "$work/killed.out")', expected 100"
kill -9 $killed 2>/dev/null || true
value "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
during=$(value "SELECT count(*) FROM compensation.outbox_claim('email', 1000)")
[ "$during" = 0 ] || fail "$during messages claimed again during the lease"
sleep 2.2
after=$(value "SELECT count(*) || ':' || min(attempts) || ':' || max(attempts) FROM compensation.outbox_claim('email', 1000)")
[ "$after" = "100:2:2" ] || fail "after the lease: claimed:min attempts:max attempts = $after, expected 100:2:2"
value "SELECT count(*) FROM compensation.outbox AS o WHERE o.status = 'claimed' AND compensation.outbox_mark_sent(o.message_id)" >/dev/null
say "ok: a killed worker's 100 claimed messages came back after its 2 s lease, not before"

# --- 3: the example worker, killed and restarted ------------------------------
if ! /usr/bin/python3 -c 'import psycopg' 2>/dev/null; then
	say "example worker skipped: python3-psycopg is not installed"
	psql -X -q -d postgres -c "DROP DATABASE $DB"
	exit 0
fi
value "INSERT INTO public.nw_orders SELECT 'w' || i, 'wb' || i, timestamptz '2026-11-15' + i * interval '1 second', (ARRAY['push', 'email', 'sms'])[1 + i % 3] FROM generate_series(1, 3000) AS i" >/dev/null
value "SELECT granted FROM compensation.apply('nw', '2026-12-31')" >/dev/null
pending=$(value "SELECT count(*) FROM compensation.outbox WHERE status = 'pending'")
[ "$pending" = 3000 ] || fail "$pending pending messages, expected 3000"
export PGDATABASE=$DB
for n in 1 2 3; do
	"$ROOT/examples/notify_worker" --outdir "$work/out" --batch 20 --lease 2 --seconds 20 --drain 2>>"$work/worker.log" &
	eval "w$n=\$!"
done
sleep 0.5
kill -9 "$w1" 2>/dev/null || true
# restarted once the killed worker's lease has run out (a lease's end sends
# no NOTIFY: a worker waiting for one would only see its claims at its next
# poll), it drains what is left, the killed worker's claims among them
sleep 3
"$ROOT/examples/notify_worker" --outdir "$work/out" --batch 20 --lease 2 --seconds 20 --drain 2>>"$work/worker.log" &
wait "$w2" "$w3" || true
wait
left=$(value "SELECT count(*) FROM compensation.outbox WHERE status <> 'sent'")
[ "$left" = 0 ] || fail "$left messages not sent after the workers: $(tail -5 "$work/worker.log")"
cut -f1 "$work"/out/*.log | sort >"$work/delivered"
sent_ids=$(value "SELECT count(*) FROM compensation.outbox WHERE status = 'sent' AND created_at >= (SELECT max(created_at) FROM compensation.outbox)")
missing=$(value "SELECT message_id FROM compensation.outbox WHERE status = 'sent' AND created_at >= (SELECT max(created_at) FROM compensation.outbox)" |
	sort | comm -23 - <(sort -u "$work/delivered") | wc -l)
twice=$(uniq -d "$work/delivered" | wc -l)
[ "$missing" = 0 ] || fail "$missing sent messages were never written by a worker"
[ "$twice" -le 60 ] || fail "$twice messages delivered twice: more than the killed worker's claims"
grep -q $'\tBestellung w1: 5,00 €, Code ' "$work/out/email.log" "$work/out/sms.log" "$work/out/push.log" ||
	fail "no delivered message reads 'Bestellung w1: 5,00 €, Code …'"
say "ok: 3 example workers (one killed with SIGKILL, one restarted) delivered $sent_ids messages, $twice of them twice (at least once)"
psql -X -q -d postgres -c "DROP DATABASE $DB"
