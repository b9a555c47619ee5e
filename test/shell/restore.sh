#!/usr/bin/env bash
# test/shell/restore.sh — issue #18, "A restored backup runs as before".
#
# A database with strategies in every status (draft, active, paused,
# retired; several versions; one authored by another role), budgets in
# several currencies, an apply_all (grants, holdout records from a 30%
# holdout, outbox messages, budget spent), two voids and a sent message is
# dumped with pg_dump in custom and plain format, with its strategies
# defined in TimeZone America/Sao_Paulo, and restored in Asia/Tokyo:
#
#   custom     pg_restore -d into a fresh database
#   plain      psql -f into a fresh database
#   data-only  CREATE EXTENSION first, then pg_restore --schema-only (the
#              marketplace) and pg_restore --data-only
#
# Each restored database must equal the original row by row in every table
# of the extension and every sequence (found from the catalog: pg_depend on
# the extension; every table and sequence holding data must be registered
# with pg_extension_config_dump, only tables equal to a fresh install's
# may be left out), and the next apply_all must return and write exactly
# what it does in the original.  Then:
#
#   bad        a plain dump whose strategy_version COPY data was edited to an
#              invalid spec (operator "~") fails to restore with an error
#              naming the strategy and version, and loads no version
#   mismatch   a dump whose derived program no longer matches the spec fails
#              the same way
#   ghost      the author of an active strategy is dropped from the cluster:
#              the restore warns, and apply_all records that strategy as
#              failed ("its author, role ... does not exist") and applies
#              the others
#   upgrade    pg_upgrade (copy mode) of a second pair of clusters made with
#              initdb keeps every table, sequence and the next apply (only
#              when run as root or as the postgres user; ~15 s)
#
# Roles (cluster-wide, dropped at the end): restore_admin, restore_ghost
# (compensation_admin), restore_readers (reads the marketplace).
#
# Exit 0 pass, 77 skip (no server), 1 fail.
set -euo pipefail

# the server's tools (test/run puts them first on PATH)
command -v pg_ctl >/dev/null 2>&1 || export PATH=/usr/lib/postgresql/15/bin:$PATH
BINDIR=$(dirname "$(command -v pg_ctl)")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DB=compensation_restore
ROWS=3000
# strategies are defined in America/Sao_Paulo, applied first as of
# 2026-09-30 12:00 UTC (make_original); restored in:
RESTORE_TZ=Asia/Tokyo
NEXT_APPLY='2026-11-19 12:00:00+00'
started=$SECONDS
failures=0

say() { printf 'restore: %s\n' "$*"; }
fail() { say "FAILED: $*"; failures=$((failures + 1)); }
die() { say "FAILED: $*"; exit 1; }
# Comparisons and applies run in UTC with ISO dates: the text of a
# timestamptz depends on the session's TimeZone, a stored value does not.
q() { local db=$1; shift; PGTZ=UTC PGDATESTYLE=ISO psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi
work=""
targets="${DB}_custom ${DB}_plain ${DB}_data ${DB}_fresh ${DB}_bad ${DB}_mismatch ${DB}_ghost"

cleanup() {
	local db
	for db in $DB $targets; do
		psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	done
	psql -X -q -d postgres -c 'DROP ROLE IF EXISTS restore_admin, restore_ghost, restore_readers' \
		>/dev/null 2>&1 || true
	if [ -n "${upgrade_dir:-}" ]; then
		for d in old new; do
			[ -f "$upgrade_dir/$d/postmaster.pid" ] &&
				run_as_owner pg_ctl -D "$upgrade_dir/$d" -m immediate -w stop >/dev/null 2>&1
		done
	fi
	[ -z "$work" ] || rm -rf "$work"
}
run_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
trap cleanup EXIT
cleanup		# what an interrupted run left
work=$(mktemp -d /tmp/compensation-restore.XXXXXX)
chmod 755 "$work"

# --- the original database ----------------------------------------------------

# a fresh install, for what an extension holds before any use (and its roles)
createdb "${DB}_fresh"
psql -X -q -v ON_ERROR_STOP=1 -d "${DB}_fresh" -c 'SET client_min_messages = warning' \
	-c 'CREATE EXTENSION compensation'
psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
SET client_min_messages = warning;
CREATE ROLE restore_readers NOLOGIN;
CREATE ROLE restore_admin LOGIN IN ROLE compensation_admin, restore_readers;
CREATE ROLE restore_ghost LOGIN IN ROLE compensation_admin, restore_readers;
CREATE DATABASE $DB;
SQL

# The whole original is made by one function of the database name, so that
# the pg_upgrade clusters below get the same one.
make_original() {	# make_original DB [psql options...]
	local db=$1; shift
	psql -X -q -v ON_ERROR_STOP=1 "$@" -d "$db" -c 'SET client_min_messages = warning' \
		-c 'CREATE EXTENSION compensation' >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 "$@" -d "$db" -v rows=$ROWS -v seed=18 \
		-f "$ROOT/examples/marketplace.sql" >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 "$@" -d "$db" >/dev/null <<'SQL'
SET client_min_messages = warning;
-- the source's rights come with a group role: the dump grants to it, and
-- membership is the cluster's (restore_ghost can be dropped later)
GRANT USAGE ON SCHEMA marketplace TO restore_readers;
GRANT SELECT ON ALL TABLES IN SCHEMA marketplace TO restore_readers;

SELECT compensation.set_budget('delivery', '2026-Q3', 400, 'BRL', 'BR');
SELECT compensation.set_budget('delivery', '2026-Q3', 150, 'USD', 'US');
SELECT compensation.set_budget('delivery', '2026-Q3', 120, 'EUR');
SELECT compensation.set_budget('delivery', '2026-Q4', 300, 'BRL', 'BR');
SELECT compensation.set_budget('delivery', '2026-Q4', 100, 'USD', 'US');
SELECT compensation.set_budget('delivery', '2026-Q4', 90, 'EUR');
SELECT compensation.set_budget('delivery', '2026-Q4', 2000, 'JPY', 'JP');
SELECT compensation.set_budget('reviews', '2026-Q3', 150, 'BRL', 'BR');
SELECT compensation.set_budget('reviews', '2026-Q4', 120, 'BRL', 'BR');
SELECT compensation.set_budget('reviews', '2026-Q4', 40, 'EUR');

-- Defined in Sao Paulo: a window bound "2026-11-10" is 03:00 UTC there,
-- and would be 15:00 UTC the day before if re-derived in Tokyo.
SET TimeZone = 'America/Sao_Paulo';
SET SESSION AUTHORIZATION restore_admin;
CREATE TEMP TABLE spec AS SELECT $spec${
	"scenario": "late_delivery",
	"source": "marketplace.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "delivered_at",
			 "value": "order_value", "currency": "currency", "market": "market"},
	"when": {"all": [
		{"col": "status", "op": "=", "value": "delivered"},
		{"any": [
			{"name": "late", "days": ["promised_at", "delivered_at"], "op": ">=", "value": 2},
			{"name": "unhappy", "col": "rating", "op": "<=", "value": 2}]}]},
	"amount": {"type": "percent", "of": "order_value", "rate": 0.10, "min": 2, "max": 20,
			   "segment": {"col": "segment", "multipliers": {"vip": 1.5}}},
	"instrument": "voucher",
	"program": "delivery",
	"caps": {"per_buyer_count": {"max": 1, "window": "30 days"}},
	"holdout": 0.3,
	"priority": 10,
	"exclusive": "delivery",
	"notify": {"channel": "push", "template": "Sorry, order {order} was late: {amount} {currency}"},
	"valid": {"from": "2026-07-01", "to": "2026-11-10"}
}$spec$::jsonb AS spec;

-- late: v1 retired (superseded by v2), v2 active
SELECT compensation.define_strategy('late', (SELECT spec - 'holdout' - 'notify'
	|| '{"amount": {"type": "fixed", "value": 5}, "valid": {"from": "2026-01-01", "to": "2026-07-01"}}' FROM spec));
SELECT compensation.activate('late');
SELECT compensation.define_strategy('late', (SELECT spec FROM spec));
SELECT compensation.activate('late');
-- late_small: same exclusive group, lower priority, active
SELECT compensation.define_strategy('late_small', (SELECT spec - 'holdout' - 'notify' - 'caps'
	|| '{"priority": 5, "amount": {"type": "fixed", "value": 3}, "valid": {"from": "2026-08-15 12:00"}}' FROM spec));
SELECT compensation.activate('late_small');
-- paused_one: paused
SELECT compensation.define_strategy('paused_one', (SELECT spec - 'notify' - 'exclusive' FROM spec));
SELECT compensation.activate('paused_one');
SELECT compensation.pause('paused_one');
-- drafty: two drafts
SELECT compensation.define_strategy('drafty', (SELECT spec - 'valid' FROM spec));
SELECT compensation.define_strategy('drafty', (SELECT spec - 'valid' || '{"priority": 3.0}' FROM spec));
-- gone: every version retired
SELECT compensation.define_strategy('gone', (SELECT spec - 'exclusive' FROM spec));
SELECT compensation.activate('gone');
SELECT compensation.retire('gone');
RESET SESSION AUTHORIZATION;
-- lowrating: authored by restore_ghost, active, its own program and outbox channel
SET SESSION AUTHORIZATION restore_ghost;
SELECT compensation.define_strategy('lowrating', $spec${
	"scenario": "low_rating",
	"source": "marketplace.order_experience",
	"keys": {"order": "order_id", "buyer": "buyer_id", "at": "reviewed_at",
			 "currency": "currency", "market": "market"},
	"when": {"col": "rating", "op": "<=", "value": 1},
	"amount": {"type": "fixed", "value": 4},
	"instrument": "points",
	"program": "reviews",
	"holdout": 0.1,
	"notify": {"channel": "email", "template": "{buyer}: {amount} {currency} in points for order {order}"}
}$spec$);
SELECT compensation.activate('lowrating');
RESET SESSION AUTHORIZATION;
RESET TimeZone;

SET TimeZone = 'UTC';
SELECT count(*) FROM compensation.apply_all('2026-09-30 12:00:00+00');
SELECT compensation.void_grant(min(grant_id), 'order refunded') FROM compensation.ledger;
SELECT compensation.void_grant(max(grant_id), 'issued twice by hand') FROM compensation.ledger;
SELECT compensation.outbox_mark_sent(min(message_id)) FROM compensation.outbox WHERE status = 'pending';
SQL
}
make_original "$DB"

# Sanity of the original: every status, grants, voids, holdout, outbox.
summary=$(q "$DB" -c "
	SELECT (SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM compensation.strategy_version),
		   (SELECT count(*) FROM compensation.ledger) > 10,
		   (SELECT count(*) FROM compensation.ledger WHERE voided_at IS NOT NULL),
		   (SELECT count(*) FROM compensation.holdout_decision) > 0,
		   (SELECT count(*) FROM compensation.outbox) > 0,
		   (SELECT count(*) FROM compensation.outbox WHERE sent_at IS NOT NULL),
		   (SELECT count(DISTINCT created_by) FROM compensation.strategy_version)")
[ "$summary" = "active,draft,paused,retired|t|2|t|t|1|2" ] ||
	die "the original is not what the test needs: $summary"

# --- what to compare: found from the catalog ---------------------------------

# every table and sequence of the extension, and whether pg_dump dumps it
members_sql="
	SELECT c.oid::regclass, c.relkind,
		   c.oid = ANY (coalesce(e.extconfig, '{}'))
	  FROM pg_extension AS e
	  JOIN pg_depend AS d ON d.refclassid = 'pg_extension'::regclass
						 AND d.refobjid = e.oid AND d.deptype = 'e'
						 AND d.classid = 'pg_class'::regclass
	  JOIN pg_class AS c ON c.oid = d.objid
	 WHERE e.extname = 'compensation' AND c.relkind IN ('r', 'p', 'S')
	 ORDER BY 1::text"
q "$DB" -F ' ' -c "$members_sql" >"$work/members"
tables=$(awk '$2 != "S" { print $1 }' "$work/members")
sequences=$(awk '$2 == "S" { print $1 }' "$work/members")
[ "$(echo "$tables" | wc -w)" -ge 7 ] && [ "$(echo "$sequences" | wc -w)" -ge 4 ] ||
	die "found too few tables or sequences of the extension: $(tr '\n' ' ' <"$work/members")"

# The rows of one table (or a sequence's state), one line each, sorted.
rows_of() {	# rows_of DB RELATION KIND [COLUMNS-TO-DROP-REGEX]
	local db=$1 rel=$2 kind=$3 drop=${4:-}
	if [ "$kind" = S ]; then
		q "$db" -c "SELECT last_value, is_called FROM $rel"
	elif [ -z "$drop" ]; then
		q "$db" -c "SELECT t::text FROM $rel AS t ORDER BY 1"
	else
		q "$db" -c "SELECT (to_jsonb(t) - ARRAY(SELECT a.attname::text FROM pg_attribute AS a
											  WHERE a.attrelid = '$rel'::regclass AND a.attname ~ '$drop'))::text
					  FROM $rel AS t ORDER BY 1"
	fi
}

# Every table and sequence holding data must be dumped: one that is not
# registered with pg_extension_config_dump must hold what a fresh install
# holds (extension data such as compensation.currency).
while read -r rel kind dumped; do
	[ "$dumped" = t ] && continue
	if [ "$kind" = S ]; then
		fail "sequence $rel is not registered with pg_extension_config_dump"
	elif ! cmp -s <(rows_of "$DB" "$rel" "$kind") <(rows_of "${DB}_fresh" "$rel" "$kind"); then
		fail "table $rel holds data but is not registered with pg_extension_config_dump"
	fi
done <"$work/members"

# --- dumps, then the original's state and its next apply ---------------------

PGTZ=UTC pg_dump -Fc -f "$work/dump.custom" "$DB"
PGTZ=UTC pg_dump -Fp -f "$work/dump.sql" "$DB"

snapshot() {	# snapshot DB PREFIX [COLUMNS-TO-DROP-REGEX]
	local rel kind dumped
	while read -r rel kind dumped; do
		rows_of "$1" "$rel" "$kind" "${3:-}" >"$work/$2.$rel"
	done <"$work/members"
}
snapshot "$DB" before
# who may do what in the schema: every relation's and function's ACL
acl_sql="SELECT c.oid::regclass::text, c.relacl FROM pg_class AS c
		  WHERE c.relnamespace = 'compensation'::regnamespace
		 UNION ALL
		 SELECT p.oid::regprocedure::text, p.proacl FROM pg_proc AS p
		  WHERE p.pronamespace = 'compensation'::regnamespace
		 ORDER BY 1"
q "$DB" -c "$acl_sql" >"$work/acl.original"

# The next apply_all: what it returns; and what it writes, seen in every
# table again without the columns the clock fills.
apply_next() {	# apply_next DB
	q "$1" -c "SET client_min_messages = error" \
		-c "SELECT strategy, version, run_id, candidates, granted, amount, skipped_holdout,
				   skipped_cap, skipped_budget, skipped_duplicate, skipped_currency,
				   amount_by_currency, error
			  FROM compensation.apply_all('$NEXT_APPLY')"
}
clock_columns='^(created_at|updated_at|started_at|finished_at|decided_at|status_changed_at|available_at|claimed_at|watermark|changed_since)$'
apply_next "$DB" >"$work/apply.original"
grep -q '^late|2|' "$work/apply.original" && grep -q '^lowrating|1|' "$work/apply.original" &&
	[ "$(awk -F'|' '{ g += $5 } END { print g + 0 }' "$work/apply.original")" -gt 0 ] ||
	die "the next apply in the original did not grant with late and lowrating: $(cat "$work/apply.original")"
snapshot "$DB" after "$clock_columns"

# check COPY LABEL: the copy equals the dumped original row by row, then its
# next apply_all returns and writes what the original's did.
check() {
	local copy=$1 label=$2 rel kind dumped differ="" n=0 out
	while read -r rel kind dumped; do
		n=$((n + 1))
		rows_of "$copy" "$rel" "$kind" >"$work/copy.rows"
		if ! cmp -s "$work/before.$rel" "$work/copy.rows"; then
			differ="$differ $rel"
			say "$label: $rel differs (< original, > restored):"
			diff "$work/before.$rel" "$work/copy.rows" | head -8 | cut -c1-400 | sed "s/^/    /" || true
		fi
	done <"$work/members"
	if [ -n "$differ" ]; then
		fail "$label: differs from the original in$differ"
	else
		say "$label: all $n tables and sequences equal the original row by row"
	fi
	# the trust model holds: the same rights, and no direct write
	if ! cmp -s "$work/acl.original" <(q "$copy" -c "$acl_sql"); then
		diff "$work/acl.original" <(q "$copy" -c "$acl_sql") | head -8 | sed 's/^/    /' || true
		fail "$label: the rights on the schema's objects differ from the original's"
	fi
	out=$(q "$copy" -c 'SET SESSION AUTHORIZATION restore_admin' \
		-c "INSERT INTO compensation.strategy_version SELECT * FROM compensation.strategy_version LIMIT 1" 2>&1) || true
	[[ $out == *'permission denied for table strategy_version'* ]] ||
		fail "$label: an admin wrote compensation.strategy_version directly: $out"
	apply_next "$copy" >"$work/apply.copy"
	if ! cmp -s "$work/apply.original" "$work/apply.copy"; then
		say "$label: apply_all returned (< original, > restored):"
		diff "$work/apply.original" "$work/apply.copy" | head -12 | cut -c1-400 | sed "s/^/    /" || true
		fail "$label: the next apply_all does not return what it returns in the original"
	fi
	differ=""
	while read -r rel kind dumped; do
		cmp -s "$work/after.$rel" <(rows_of "$copy" "$rel" "$kind" "$clock_columns") ||
			differ="$differ $rel"
	done <"$work/members"
	if [ -n "$differ" ]; then
		fail "$label: after the next apply_all, differs from the original in$differ"
	else
		say "$label: the next apply_all returned and wrote what it did in the original ($(awk -F'|' '{ g += $5 } END { print g + 0 }' "$work/apply.copy") grants)"
	fi
}

# --- restores, in another TimeZone ---------------------------------------------

export PGTZ=$RESTORE_TZ
t0=$SECONDS
createdb "${DB}_custom"
pg_restore --exit-on-error -d "${DB}_custom" "$work/dump.custom" 2>"$work/custom.err" ||
	{ cat "$work/custom.err"; die "custom: pg_restore failed"; }
check "${DB}_custom" "custom (pg_restore)"

createdb "${DB}_plain"
psql -X -q -v ON_ERROR_STOP=1 -d "${DB}_plain" -f "$work/dump.sql" >/dev/null 2>"$work/plain.err" ||
	{ cat "$work/plain.err"; die "plain: psql -f failed"; }
check "${DB}_plain" "plain (psql -f)"

createdb "${DB}_data"
psql -X -q -v ON_ERROR_STOP=1 -d "${DB}_data" -c 'SET client_min_messages = warning' \
	-c 'CREATE EXTENSION compensation'
# the schema "compensation" exists already (CREATE EXTENSION made it): leave
# it out of the list, as a DBA would
pg_restore -l "$work/dump.custom" | grep -v ' SCHEMA - compensation ' >"$work/data.list"
pg_restore --exit-on-error --schema-only -L "$work/data.list" -d "${DB}_data" "$work/dump.custom" 2>"$work/data.err" ||
	{ cat "$work/data.err"; die "data-only: pg_restore --schema-only after CREATE EXTENSION failed"; }
pg_restore --exit-on-error --data-only -d "${DB}_data" "$work/dump.custom" 2>>"$work/data.err" ||
	{ cat "$work/data.err"; die "data-only: pg_restore --data-only failed"; }
check "${DB}_data" "data-only (CREATE EXTENSION, then pg_restore --data-only)"
say "three restores checked in $((SECONDS - t0)) s"
for f in custom plain data; do
	if grep -q . "$work/$f.err"; then
		say "$f: the restore said:"; sed 's/^/    /' "$work/$f.err"
		fail "$f: the restore printed messages"
	fi
done

# --- bad input: an edited dump -------------------------------------------------

# The COPY data of compensation.strategy_version: the row of (strategy id,
# version) gets its first "op" replaced by $3.
edit_version_row() {	# edit_version_row STRATEGY VERSION SED-EXPRESSION < dump > dump
	awk -v id="$1" -v version="$2" -v expr="$3" '
		/^COPY compensation\.strategy_version / { inside = 1; print; next }
		inside && /^\\\.$/ { inside = 0 }
		inside { split($0, f, "\t"); if (f[1] == id && f[2] == version) { cmd = "sed -e \x27" expr "\x27"; print | cmd; close(cmd); next } }
		{ print }'
}
lowrating_id=$(q "$DB" -c "SELECT strategy_id FROM compensation.strategy WHERE name = 'lowrating'")

edit_version_row "$lowrating_id" 1 's/"op": "<="/"op": "~"/' <"$work/dump.sql" >"$work/bad.sql"
cmp -s "$work/dump.sql" "$work/bad.sql" && die "bad: the edit did not change the dump"
createdb "${DB}_bad"
if psql -X -q -v ON_ERROR_STOP=1 -d "${DB}_bad" -f "$work/bad.sql" >/dev/null 2>"$work/bad.err"; then
	fail "bad: a dump with an invalid spec was restored"
elif ! grep -q 'strategy "lowrating" version 1: invalid strategy spec at \$\.when\.op: unknown operator "~"' "$work/bad.err" ||
	 ! grep -q 'HINT: .*COPY loads the table all or nothing' "$work/bad.err"; then
	fail "bad: the error does not name the strategy and version, or has no hint: $(cat "$work/bad.err")"
elif [ "$(q "${DB}_bad" -c 'SELECT count(*) FROM compensation.strategy_version')" != 0 ]; then
	fail "bad: some versions were loaded"
else
	say "bad: the restore of an invalid spec fails: $(grep -m1 ERROR "$work/bad.err" | sed 's/.*ERROR: *//')"
fi

# a derived field edited away from its spec: field 7 is program
awk -v id="$lowrating_id" '
	/^COPY compensation\.strategy_version / { inside = 1; print; next }
	inside && /^\\\.$/ { inside = 0 }
	inside { n = split($0, f, "\t"); if (f[1] == id && f[2] == 1) { f[7] = "delivery"; line = f[1]; for (i = 2; i <= n; i++) line = line "\t" f[i]; print line; next } }
	{ print }' "$work/dump.sql" >"$work/mismatch.sql"
createdb "${DB}_mismatch"
if psql -X -q -v ON_ERROR_STOP=1 -d "${DB}_mismatch" -f "$work/mismatch.sql" >/dev/null 2>"$work/mismatch.err"; then
	fail "mismatch: a version whose program does not match its spec was restored"
elif ! grep -q 'strategy "lowrating" version 1: its program does not match its spec' "$work/mismatch.err"; then
	fail "mismatch: unexpected error: $(cat "$work/mismatch.err")"
else
	say "mismatch: refused: $(grep -m1 ERROR "$work/mismatch.err" | sed 's/.*ERROR: *//')"
fi

# --- an author missing in the target cluster -------------------------------------

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'DROP ROLE restore_ghost'
createdb "${DB}_ghost"
# (pg_restore prints the server's warnings only with --verbose)
pg_restore --verbose --exit-on-error -d "${DB}_ghost" "$work/dump.custom" 2>"$work/ghost.err" ||
	{ cat "$work/ghost.err"; die "ghost: pg_restore failed"; }
grep -q 'WARNING: *strategy "lowrating" version 1: its author, role "restore_ghost", does not exist' "$work/ghost.err" ||
	fail "ghost: the restore did not warn about the missing author: $(grep -v 'pg_restore: \(creating\|processing\|executing\|connecting\|setting\)' "$work/ghost.err" | head -20)"
apply_next "${DB}_ghost" >"$work/apply.ghost"
if grep -q '^lowrating|1|.*its author, role "restore_ghost", does not exist' "$work/apply.ghost" &&
   grep -q '^late|2|[0-9]' "$work/apply.ghost"; then
	say "ghost: apply_all fails lowrating (its author is missing) and applies the others"
else
	fail "ghost: apply_all did not fail lowrating alone: $(cat "$work/apply.ghost")"
fi
unset PGTZ

# --- pg_upgrade -------------------------------------------------------------------
# A second pair of clusters (pg_upgrade needs the old one stopped, and the
# shared test cluster cannot be): the same original made in "old", upgraded
# into "new" by pg_upgrade in copy mode, which leaves "old" usable, so that
# the next apply_all runs in both.
upgrade() {
	upgrade_dir=$work/upgrade
	mkdir "$upgrade_dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$upgrade_dir"
	local cluster rel kind dumped differ="" up=compensation_upgrade
	for cluster in old new; do
		run_as_owner initdb -D "$upgrade_dir/$cluster" -U postgres --auth=trust --no-sync \
			-E UTF8 --locale=C.UTF-8 >/dev/null
	done
	start() { run_as_owner pg_ctl -D "$upgrade_dir/$1" -l "$upgrade_dir/$1.log" -w \
		-o "-k $upgrade_dir -c listen_addresses= -p $2 -c fsync=off" start >/dev/null; }
	stop() { run_as_owner pg_ctl -D "$upgrade_dir/$1" -m fast -w stop >/dev/null; }
	start old 5433
	(
		export PGHOST=$upgrade_dir PGPORT=5433
		psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
SET client_min_messages = warning;
CREATE ROLE restore_readers NOLOGIN;
CREATE ROLE restore_admin LOGIN IN ROLE restore_readers;
CREATE ROLE restore_ghost LOGIN IN ROLE restore_readers;
CREATE DATABASE $up;
SQL
		psql -X -q -v ON_ERROR_STOP=1 -d $up -c 'SET client_min_messages = warning' \
			-c 'CREATE EXTENSION compensation' \
			-c 'GRANT compensation_admin TO restore_admin, restore_ghost' >/dev/null
		psql -X -q -d $up -c 'DROP EXTENSION compensation' >/dev/null
		make_original $up
		snapshot $up upgrade.before
	) || return 1
	stop old
	( cd "$upgrade_dir" && run_as_owner "$BINDIR/pg_upgrade" -b "$BINDIR" \
		-B "$BINDIR" -d "$upgrade_dir/old" -D "$upgrade_dir/new" \
		-U postgres -p 5433 -P 5434 --socketdir="$upgrade_dir" >"$upgrade_dir/pg_upgrade.out" 2>&1 ) ||
		{ cat "$upgrade_dir/pg_upgrade.out"; fail "upgrade: pg_upgrade failed"; return 1; }
	start old 5433
	start new 5434
	while read -r rel kind dumped; do
		cmp -s "$work/upgrade.before.$rel" <(PGHOST=$upgrade_dir PGPORT=5434 rows_of $up "$rel" "$kind") ||
			differ="$differ $rel"
	done <"$work/members"
	PGHOST=$upgrade_dir PGPORT=5433 apply_next $up >"$work/apply.upgrade.old"
	PGHOST=$upgrade_dir PGPORT=5434 apply_next $up >"$work/apply.upgrade.new"
	PGHOST=$upgrade_dir PGPORT=5433 snapshot $up upgrade.old "$clock_columns"
	PGHOST=$upgrade_dir PGPORT=5434 snapshot $up upgrade.new "$clock_columns"
	while read -r rel kind dumped; do
		cmp -s "$work/upgrade.old.$rel" "$work/upgrade.new.$rel" || differ="$differ $rel(after apply)"
	done <"$work/members"
	cmp -s "$work/apply.upgrade.old" "$work/apply.upgrade.new" || differ="$differ apply_all"
	stop old
	stop new
	if [ -n "$differ" ]; then
		fail "upgrade: the upgraded cluster differs from the old one in$differ"
	elif ! cmp -s "$work/apply.original" "$work/apply.upgrade.new"; then
		fail "upgrade: the next apply_all differs from the first original's: $(diff "$work/apply.original" "$work/apply.upgrade.new" | head -5)"
	else
		say "upgrade: pg_upgrade kept every table and sequence, and the next apply_all granted the same"
	fi
}
if [ "$(id -u)" -eq 0 ] || [ "$(id -un)" = postgres ]; then
	t0=$SECONDS
	upgrade || fail "upgrade: could not run"
	say "upgrade checked in $((SECONDS - t0)) s"
else
	say "upgrade: not run (initdb and pg_upgrade need root or the postgres user)"
fi

[ $failures -eq 0 ] || { say "$failures failures"; exit 1; }
say "ok in $((SECONDS - started)) s"
