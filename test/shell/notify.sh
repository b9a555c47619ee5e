#!/usr/bin/env bash
# test/shell/notify.sh — what a listener hears of a large run, and order
# lines far apart in one run.
#
# 3,000 orders of two lines each, the second line 30 days after the first,
# so that a run grants every first line (three write batches) before it
# meets the second lines: those must be skipped as duplicates, found in the
# ledger this run wrote (a real run remembers its orders in Bloom filters
# only).  Grant ids are made 16 digits long and two apart, so that a batch
# of 1,000 grant ids has no range and does not fit one NOTIFY payload: a
# listener must receive every grant id exactly once, in payloads of
# comma-separated ids under PostgreSQL's 8000 byte limit, and only after
# the commit.  Then the same orders in a group of their own with
# consecutive ids: a batch's ids come as ranges "first-last", and expanded
# they are again every grant id once.
#
# Exit 0 pass, 77 skip (no server), 1 fail.
set -euo pipefail

DB=compensation_notify
ORDERS=3000
started=$SECONDS

say() { printf 'notify: %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
value() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$DB" -c "$1"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -X -q -d postgres -c 'SET client_min_messages = warning' -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_db >/dev/null <<SQL
SET client_min_messages = warning;
CREATE EXTENSION compensation;
SELECT setval('compensation.ledger_grant_id_seq', 1000000000000000);
ALTER SEQUENCE compensation.ledger_grant_id_seq INCREMENT BY 2;
CREATE TABLE public.order_lines AS
SELECT 'o' || i AS order_id, 'b' || i AS buyer_id,
	   timestamptz '2026-10-01' + i * interval '1 minute' + line * interval '30 days' AS at
  FROM generate_series(1, $ORDERS) AS i, generate_series(0, 1) AS line;
SELECT compensation.set_budget('lines', '2026-Q4', 1000000, 'EUR');
SELECT compensation.define_strategy('lines', jsonb_build_object(
	'scenario', 'lines', 'source', 'public.order_lines', 'instrument', 'points', 'program', 'lines',
	'currency', 'EUR', 'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'max_age', NULL,	-- both lines of every order are candidates as of 2026-12-31
	'when', jsonb_build_object('col', 'order_id', 'op', 'is not null'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 1),
	'notify', jsonb_build_object('channel', 'push', 'template', 'order {order}: {amount} {currency}')));
SELECT compensation.activate('lines');
SQL

# The listener: LISTEN, then wait long enough for the run to commit; psql
# prints each notification it received after the command that received it.
psql -X -d "$DB" -c 'LISTEN compensation_grant' -c 'SELECT pg_sleep(8)' >"$work/listener.out" 2>&1 &
listener=$!
sleep 2
result=$(value "SELECT granted || ' ' || skipped_duplicate || ' ' || candidates
				  FROM compensation.apply('lines', '2026-12-31')")
wait "$listener"

read -r granted duplicates candidates <<<"$result"
[ "$granted" = "$ORDERS" ] || fail "granted $granted, expected $ORDERS"
[ "$duplicates" = "$ORDERS" ] || fail "skipped_duplicate $duplicates, expected $ORDERS (second lines)"
[ "$candidates" = $((2 * ORDERS)) ] || fail "candidates $candidates, expected $((2 * ORDERS))"
[ "$(value "SELECT count(DISTINCT order_key) FROM compensation.ledger")" = "$ORDERS" ] ||
	fail "the ledger does not hold one grant per order"

# payloads LISTENER_OUTPUT: the payloads heard, one a line
payloads() {
	sed -n 's/^Asynchronous notification "compensation_grant" with payload "\([0-9,-]*\)" received.*/\1/p' "$1"
}
# expand: a payload's ids one a line, ranges "first-last" expanded (awk
# prints integers up to 2^53 exactly; these are 16 digits)
expand() {
	tr ',' '\n' | awk -F- 'NF == 1 { print $1 } NF == 2 { for (i = $1; i <= $2; i++) printf "%.0f\n", i }'
}
payloads "$work/listener.out" >"$work/payloads"
notifications=$(wc -l <"$work/payloads")
longest=$(awk '{ if (length($0) > max) max = length($0) } END { print max + 0 }' "$work/payloads")
expand <"$work/payloads" | sort >"$work/heard"
value "SELECT grant_id FROM compensation.ledger" | sort >"$work/granted"
[ "$notifications" -gt 3 ] || fail "$notifications notifications: payloads were not split ($(head -c 300 "$work/listener.out"))"
[ "$longest" -lt 8000 ] || fail "a payload of $longest bytes"
! grep -q -- - "$work/payloads" || fail "a range of grant ids two apart: $(grep -m1 -- - "$work/payloads" | head -c 200)"
cmp -s "$work/heard" "$work/granted" ||
	fail "the grant ids heard ($(wc -l <"$work/heard")) are not the grant ids written ($(wc -l <"$work/granted"))"

# consecutive ids: ranges
psql_db >/dev/null <<SQL
ALTER SEQUENCE compensation.ledger_grant_id_seq INCREMENT BY 1;
SELECT compensation.define_strategy('ranges', spec || '{"exclusive": "ranges"}')
  FROM compensation.strategies WHERE name = 'lines';
SELECT compensation.activate('ranges');
SQL
psql -X -d "$DB" -c 'LISTEN compensation_grant' -c 'SELECT pg_sleep(8)' >"$work/listener2.out" 2>&1 &
listener=$!
sleep 2
ranged=$(value "SELECT granted FROM compensation.apply('ranges', '2026-12-31')")
wait "$listener"
[ "$ranged" = "$ORDERS" ] || fail "the second group granted $ranged, expected $ORDERS"
payloads "$work/listener2.out" >"$work/payloads2"
grep -q -E '^[0-9]+-[0-9]+(,|$)' "$work/payloads2" ||
	fail "consecutive grant ids did not come as ranges: $(head -c 300 "$work/payloads2")"
expand <"$work/payloads2" | sort >"$work/heard2"
value "SELECT l.grant_id FROM compensation.ledger AS l JOIN compensation.strategy AS s USING (strategy_id)
		WHERE s.name = 'ranges'" | sort >"$work/granted2"
cmp -s "$work/heard2" "$work/granted2" ||
	fail "the ranges heard ($(wc -l <"$work/heard2") ids) are not the grant ids written ($(wc -l <"$work/granted2"))"
ranged_bytes=$(wc -c <"$work/payloads2")

psql -X -q -d postgres -c "DROP DATABASE $DB"
say "ok: $granted grants, $duplicates order lines skipped as duplicates through the ledger," \
	"$notifications notifications (longest payload $longest bytes) carrying every grant id once;" \
	"the same grants with consecutive ids: $ranged_bytes bytes of ranges; $((SECONDS - started)) s"
