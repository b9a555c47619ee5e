#!/usr/bin/env bash
# test/shell/security.sh — issue #10, "Security first: no road to superuser".
#
# An admin of the extension (compensation_admin) must not be able to make a
# superuser run her code: the strategy source, a cast on its order key, a
# relation swapped under a defined strategy, a nested call back into the
# extension.  Nor may she bypass the functions by writing the catalog tables,
# nor any reader crash the server.  Every check below is one attack of the
# issue, written against the required behaviour:
#
#   1  apply reads the source as the version's author: a view calling
#      ALTER ROLE mallory SUPERUSER (also WITH (security_barrier)) fails with
#      42501 when postgres (or the applier "job") applies it
#   2  one bad strategy does not stop apply_all: the others are granted, the
#      bad one gets a run row with status 'failed' and its error, a WARNING
#      is raised; a dry run returns normally and writes nothing
#   3  a security_invoker view over a table its author cannot read: 42501,
#      and no secret reaches the ledger
#   4  a user-defined cast on a composite order key never runs as postgres
#      (seen in mal.seen, or in the cast's WARNING when its row is rolled back)
#      and an order already granted stays a duplicate whatever the cast says
#   5  a source renamed and replaced (or given to another owner) after
#      definition: 55000, "changed", and the replacement's code never runs
#   6  pg_temp sources are refused: 42809, "temporary"
#   7  a revoked right stops the strategy: 42501 naming it
#   8  the catalog tables are written only through the functions; created_by
#      is the session user even after SET ROLE compensation_admin
#   9  calls back into the extension from the author's code are refused
#  10  *_columns twins called by a reader with a bogus row type: an ERROR,
#      never a crash
#  11  out-of-range specs are refused at definition, naming the JSON path
#  12  an order key too long for the ledger: an error naming the order, and
#      apply_all still runs the other strategies
#  13  reasons stay short for a rule with a long "in" list
# and at the end: nobody but postgres became superuser, the server is up and
# no backend died of a signal.
#
# Roles (cluster-wide, dropped at the end): mallory (compensation_admin,
# owns schema mal), bob (owns tables, no compensation role), carol (a new
# owner), job (compensation_applier), reader1 (compensation_reader).
#
# Exit 0 pass, 77 skip (no server), 1 fail.
set -euo pipefail

DB=compensation_security
ROLES="mallory bob carol job reader1"
AS_OF=2026-11-01
started=$SECONDS

say() { printf 'security: %s\n' "$*"; }

if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	say "skipped: no server reachable (PGHOST=${PGHOST:-unset} PGPORT=${PGPORT:-unset})"
	exit 77
fi

# A runaway statement fails its check instead of hanging the suite.
export PGOPTIONS="${PGOPTIONS:-} -c statement_timeout=120s"

work=$(mktemp -d /tmp/compensation-security.XXXXXX)
chmod 755 "$work"
log_offset=0
if [ -n "${COMP_PGLOG:-}" ] && [ -r "$COMP_PGLOG" ]; then
	log_offset=$(stat -c %s "$COMP_PGLOG")
fi

drop_everything() {
	psql -X -q -d postgres -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<SQL || true
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB WITH (FORCE);
$(for r in $ROLES; do echo "DROP ROLE IF EXISTS $r;"; done)
SQL
}
cleanup() {
	if [ -z "${COMP_KEEP_SECURITY_DB:-}" ]; then
		drop_everything
	fi
	rm -rf "$work"
}
trap cleanup EXIT

# --- running SQL as a role ----------------------------------------------------
# q ROLE SQL: runs SQL (from stdin, so that large statements are fine) in a
# new session of ROLE; sets RC, OUT, ERR, STATE (SQLSTATE of the first
# error), MSG (its message).
RC=0 OUT="" ERR="" STATE="" MSG=""
q() {
	local role=$1 sql=$2
	set +e
	printf '%s\n' "$sql" | psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
		-U "$role" -d "$DB" >"$work/out" 2>"$work/err"
	RC=$?
	set -e
	OUT=$(cat "$work/out")
	ERR=$(head -c 20000 "$work/err")
	STATE=$(sed -nE 's/^(psql:[^ ]* )?ERROR:  ([0-9A-Z]{5}): .*/\2/p' "$work/err" | head -n 1)
	MSG=$(sed -nE 's/^(psql:[^ ]* )?ERROR:  [0-9A-Z]{5}: (.*)/\2/p' "$work/err" | head -n 1 | head -c 400)
	if [ $RC -ne 0 ] && [ -z "$STATE" ]; then
		MSG=$(grep -v '^LOCATION' "$work/err" | head -n 3 | tr '\n' ' ' | head -c 400)
	fi
	return 0
}
# q_ok ROLE SQL: the same, and the SQL must succeed (setup steps)
setup_failures=0
q_ok() {
	q "$@"
	if [ $RC -ne 0 ]; then
		say "setup step as $1 failed: ${STATE:-?} $MSG"
		setup_failures=$((setup_failures + 1))
	fi
}
val() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1" 2>/dev/null || echo "?"; }
outcome() {	# what the last q did, for a failure detail
	if [ $RC -eq 0 ]; then
		printf 'succeeded (output: %s)' "$(printf '%s' "$OUT" | head -c 200 | tr '\n' ' ')"
	else
		printf 'failed with %s: %s' "${STATE:-no SQLSTATE}" "$MSG"
	fi
}

# --- results ------------------------------------------------------------------
n_ok=0 n_fail=0
ok() { n_ok=$((n_ok + 1)); printf 'ok %s\n' "$*"; }
not_ok() { n_fail=$((n_fail + 1)); printf 'not ok %s\n' "$*"; }
# expect_error ID DESCRIPTION SQLSTATE [MESSAGE-SUBSTRING]: judge the last q
expect_error() {
	local id=$1 what=$2 want=$3 words=${4:-}
	if [ $RC -ne 0 ] && [ "$STATE" = "$want" ] &&
		{ [ -z "$words" ] || [[ "$MSG" == *"$words"* ]]; }; then
		ok "$id - $what: $STATE $MSG"
	else
		not_ok "$id - $what: expected SQLSTATE $want${words:+ with \"$words\" in the message}, $(outcome)"
	fi
}

# Nobody but postgres may be superuser; when someone became one, say so in
# the check that did it, and take it back so that the next checks mean
# something.
escalations=""
superusers() { val "SELECT coalesce(string_agg(rolname, ',' ORDER BY rolname), '') FROM pg_roles WHERE rolsuper AND rolname <> 'postgres'"; }
not_superuser() {	# ID DESCRIPTION
	local supers
	supers=$(superusers)
	if [ -z "$supers" ]; then
		ok "$1 - $2: no role but postgres is superuser"
	else
		not_ok "$1 - $2: $supers became superuser"
		escalations="$escalations $1($supers)"
		for r in ${supers//,/ }; do
			psql -X -q -d "$DB" -c "ALTER ROLE \"$r\" NOSUPERUSER" >/dev/null
		done
	fi
}
retire_all() {
	psql -X -q -At -d "$DB" -c "SELECT count(compensation.retire(name)) FROM compensation.strategy" >/dev/null 2>&1 || true
}

wait_for_server() {
	for _ in $(seq 1 120); do
		psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

# --- setup --------------------------------------------------------------------
drop_everything
psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null
psql -X -q -d "$DB" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION compensation;
CREATE ROLE mallory LOGIN IN ROLE compensation_admin;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
CREATE ROLE job LOGIN IN ROLE compensation_applier;
CREATE ROLE reader1 LOGIN IN ROLE compensation_reader;
CREATE SCHEMA mal AUTHORIZATION mallory;
GRANT CREATE ON SCHEMA public TO bob;
ALTER DATABASE compensation_security SET TimeZone = 'UTC';

-- spec(source, program, extra): a minimal valid spec
CREATE FUNCTION public.spec(src text, program text, extra jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
SELECT jsonb_build_object(
	'scenario', 'security', 'source', src, 'program', program, 'instrument', 'voucher',
	'currency', 'EUR',
	'keys', jsonb_build_object('order', 'order_id', 'buyer', 'buyer_id', 'at', 'at'),
	'when', jsonb_build_object('col', 'buyer_id', 'op', 'is not null'),
	'amount', jsonb_build_object('type', 'fixed', 'value', 5)) || extra $$;

-- a plain source anyone may read
CREATE TABLE public.good_src (order_id text, buyer_id text, at timestamptz, value numeric);
INSERT INTO public.good_src
SELECT 'g' || i, 'gb' || i, timestamptz '2026-10-05' + i * interval '1 hour', 10 * i
  FROM generate_series(1, 3) AS i;
GRANT SELECT ON public.good_src TO PUBLIC;

SELECT compensation.set_budget(p, '2026-Q4', 1000, 'EUR')
  FROM unnest(ARRAY['evil', 'good2', 'peek3', 'okey4', 'swap5', 'owner5', 'revoked7',
					'nest9', 'nested9_target', 'live10', 'long12', 'good12']) AS p;
SQL

# --- 1. apply reads the source as the version's author -------------------------
q_ok mallory "
CREATE FUNCTION mal.evil() RETURNS boolean LANGUAGE plpgsql AS \$\$BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; RETURN true; END\$\$;
CREATE VIEW mal.src AS SELECT 'o1'::text order_id, 'b1'::text buyer_id, timestamptz '2026-10-05' at, 50::numeric value, 'EUR'::text currency WHERE mal.evil();
CREATE VIEW mal.src_sb WITH (security_barrier) AS SELECT 'o2'::text order_id, 'b2'::text buyer_id, timestamptz '2026-10-05' at, 50::numeric value, 'EUR'::text currency WHERE mal.evil();"
for s in src src_sb; do
	q mallory "SELECT compensation.define_strategy('evil_$s', public.spec('mal.$s', 'evil', '{\"exclusive\": \"evil_$s\"}'));
			   SELECT compensation.activate('evil_$s');"
	if [ $RC -ne 0 ]; then
		# Defining read the view as mallory: define over a harmless view and
		# put the evil WHERE back afterwards (CREATE OR REPLACE keeps the oid).
		say "note: define over mal.$s $(outcome); defining over a harmless view, then replacing it"
		q_ok mallory "
CREATE OR REPLACE VIEW mal.$s AS SELECT 'o-$s'::text order_id, 'b1'::text buyer_id, timestamptz '2026-10-05' at, 50::numeric value, 'EUR'::text currency;
SELECT compensation.define_strategy('evil_$s', public.spec('mal.$s', 'evil', '{\"exclusive\": \"evil_$s\"}'));
SELECT compensation.activate('evil_$s');
CREATE OR REPLACE VIEW mal.$s AS SELECT 'o-$s'::text order_id, 'b1'::text buyer_id, timestamptz '2026-10-05' at, 50::numeric value, 'EUR'::text currency WHERE mal.evil();"
	fi
done
q postgres "SELECT run_id, granted FROM compensation.apply('evil_src', '$AS_OF')"
expect_error 1a "postgres applies mallory's strategy whose view runs ALTER ROLE" 42501
not_superuser 1b "after postgres's apply"
q postgres "SELECT run_id, granted FROM compensation.apply('evil_src_sb', '$AS_OF')"
expect_error 1c "the same over a security_barrier view" 42501
not_superuser 1d "after postgres's apply (security_barrier)"
q postgres "SELECT strategy, granted FROM compensation.apply_all('$AS_OF')"
not_superuser 1e "after postgres's apply_all"
q job "SELECT run_id, granted FROM compensation.apply('evil_src', '$AS_OF')"
expect_error 1f "the applier job applies mallory's strategy" 42501
not_superuser 1g "after job's apply"
q postgres "SELECT compensation.retire('evil_src_sb')"

# --- 2. one bad strategy does not stop the others --------------------------------
q_ok mallory "SELECT compensation.define_strategy('good2', public.spec('public.good_src', 'good2'));
			  SELECT compensation.activate('good2');"
counts="SELECT (SELECT count(*) FROM compensation.ledger) || '/' || (SELECT count(*) FROM compensation.run) || '/' || (SELECT sum(spent_minor) FROM compensation.budget)"
before=$(val "$counts")
q postgres "SELECT strategy, granted FROM compensation.apply_all('$AS_OF', dry_run => true)"
after=$(val "$counts")
if [ $RC -eq 0 ] && [ "$before" = "$after" ]; then
	ok "2a - apply_all(dry_run) with a bad strategy returns normally and writes nothing"
else
	not_ok "2a - apply_all(dry_run) with a bad strategy: $(outcome); grants/runs/spent $before -> $after"
fi
not_superuser 2b "after apply_all(dry_run)"
q postgres "SELECT strategy, granted FROM compensation.apply_all('$AS_OF')"
if [ $RC -eq 0 ]; then
	ok "2c - apply_all with a bad strategy returns normally"
else
	not_ok "2c - apply_all with a bad strategy: $(outcome)"
fi
if grep -q 'WARNING:' <<<"$ERR"; then
	ok "2d - apply_all raised a WARNING: $(grep -m1 'WARNING:' <<<"$ERR" | head -c 200)"
else
	not_ok "2d - apply_all raised no WARNING for the bad strategy"
fi
good=$(val "SELECT count(*) FROM compensation.grants WHERE strategy = 'good2'")
if [ "$good" = 3 ]; then
	ok "2e - the good strategy's 3 grants were made"
else
	not_ok "2e - the good strategy has $good grants, expected 3"
fi
q postgres "SELECT status, error FROM compensation.runs WHERE strategy = 'evil_src' AND status = 'failed' AND error IS NOT NULL"
if [ $RC -eq 0 ] && [ -n "$OUT" ]; then
	ok "2f - compensation.runs has a failed run of the bad strategy with its error: $(head -n1 <<<"$OUT" | head -c 200)"
else
	not_ok "2f - no failed run with an error for the bad strategy in compensation.runs: $(outcome)"
fi
not_superuser 2g "after apply_all"
retire_all

# --- 3. security_invoker view over a table the author cannot read ---------------
q_ok bob "CREATE TABLE public.bob_secret (order_id text, buyer_id text, at timestamptz, card text);
		  INSERT INTO public.bob_secret VALUES ('SECRET-bob-4111', 'bsecret', '2026-10-05', '4111 1111 1111 1111');"
q_ok mallory "CREATE VIEW mal.peek WITH (security_invoker = true) AS SELECT order_id, buyer_id, at FROM public.bob_secret;"
q mallory "SELECT compensation.define_strategy('peek3', public.spec('mal.peek', 'peek3'))"
if [ $RC -ne 0 ]; then
	say "note: define over mal.peek $(outcome); defining while bob grants SELECT, then revoking"
	q_ok bob "GRANT SELECT ON public.bob_secret TO mallory"
	q_ok mallory "SELECT compensation.define_strategy('peek3', public.spec('mal.peek', 'peek3'))"
	q_ok bob "REVOKE SELECT ON public.bob_secret FROM mallory"
fi
q_ok mallory "SELECT compensation.activate('peek3')"
q postgres "SELECT run_id, granted FROM compensation.apply('peek3', '$AS_OF')"
expect_error 3a "apply of a security_invoker view over bob's table" 42501
leaked=$(val "SELECT count(*) FROM compensation.ledger WHERE order_key LIKE '%SECRET-bob%'")
if [ "$leaked" = 0 ]; then
	ok "3b - no grant's order_key holds bob's secret"
else
	not_ok "3b - $leaked grants carry bob's secret in order_key"
fi
retire_all

# --- 4. user-defined cast on a composite order key --------------------------------
q_ok mallory "
CREATE TYPE mal.okey AS (a text, b integer);
CREATE TABLE mal.seen (who text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT ON mal.seen TO PUBLIC;
CREATE FUNCTION mal.okey_text(k mal.okey) RETURNS text LANGUAGE plpgsql AS \$\$
BEGIN
	RAISE WARNING 'okey_text ran as %', current_user;
	INSERT INTO mal.seen (who) VALUES (current_user);
	BEGIN
		EXECUTE 'ALTER ROLE mallory SUPERUSER';
	EXCEPTION WHEN OTHERS THEN NULL;
	END;
	RETURN k.a || '-' || k.b;
END\$\$;
CREATE CAST (mal.okey AS text) WITH FUNCTION mal.okey_text(mal.okey);
CREATE VIEW mal.ksrc AS SELECT ROW('k', 1)::mal.okey AS order_id, 'bk'::text AS buyer_id, timestamptz '2026-10-05' AS at;"
q mallory "SELECT compensation.define_strategy('okey4', public.spec('mal.ksrc', 'okey4'));
		   SELECT compensation.activate('okey4');"
if [ $RC -ne 0 ]; then
	say "note: a composite order key was not accepted at definition: $(outcome)"
fi
q postgres "SELECT run_id, granted FROM compensation.apply('okey4', '$AS_OF')"
say "note: postgres's apply of okey4 $(outcome)"
ran_as=$(grep -o 'okey_text ran as [a-z_0-9]*' <<<"$ERR" | sort -u | tr '\n' ' ' || true)
q postgres "SELECT strategy, granted FROM compensation.apply_all('$AS_OF')"
ran_as="$ran_as$(grep -o 'okey_text ran as [a-z_0-9]*' <<<"$ERR" | sort -u | tr '\n' ' ' || true)"
seen=$(val "SELECT coalesce(string_agg(DISTINCT who, ','), '') FROM mal.seen")
if [[ ",$seen," != *",postgres,"* ]] && [[ "$ran_as" != *"ran as postgres"* ]]; then
	ok "4a - mallory's cast never ran as postgres (mal.seen: '${seen}')"
else
	not_ok "4a - mallory's cast ran as postgres (mal.seen: '$seen'; WARNINGs seen: $ran_as)"
fi
not_superuser 4b "after applying a strategy with a user-defined cast on its order key"
# (beyond the issue's list) the order already granted must be found as a
# duplicate whatever the type's cast to text says: the ledger stores the
# key as its output text, so the lookup must use the same text.
q_ok postgres "SELECT compensation.activate('okey4')"
q postgres "SELECT granted FROM compensation.apply('okey4', '$AS_OF')"
okey_grants=$(val "SELECT count(*) FROM compensation.grants WHERE strategy = 'okey4'")
if [ $RC -eq 0 ] && [ "$OUT" = 0 ] && [ "$okey_grants" -le 1 ]; then
	ok "4c - applying okey4 again grants nothing more ($okey_grants grant)"
else
	not_ok "4c - applying okey4 again (composite order key with a cast to text): $(outcome); $okey_grants grants"
fi
retire_all

# --- 5. relation swapped after definition ----------------------------------------
q_ok bob "
CREATE TABLE public.orders_b (order_id text, buyer_id text, at timestamptz);
INSERT INTO public.orders_b VALUES ('b-o1', 'bb1', '2026-10-05');
GRANT SELECT ON public.orders_b TO mallory;
CREATE TABLE public.bob_seen (who text);
GRANT INSERT ON public.bob_seen TO PUBLIC;
CREATE TABLE public.orders_c (order_id text, buyer_id text, at timestamptz);
INSERT INTO public.orders_c VALUES ('c-o1', 'cb1', '2026-10-05');
GRANT SELECT ON public.orders_c TO mallory;"
q_ok mallory "SELECT compensation.define_strategy('swap5', public.spec('public.orders_b', 'swap5'));
			  SELECT compensation.activate('swap5');
			  SELECT compensation.define_strategy('owner5', public.spec('public.orders_c', 'owner5'));
			  SELECT compensation.activate('owner5');"
q_ok bob "
ALTER TABLE public.orders_b RENAME TO orders_b_old;
CREATE FUNCTION public.bob_rec() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN INSERT INTO public.bob_seen VALUES (current_user); RETURN true; END\$\$;
CREATE VIEW public.orders_b AS SELECT * FROM public.orders_b_old WHERE public.bob_rec();
GRANT SELECT ON public.orders_b TO mallory;"
q_ok postgres "ALTER TABLE public.orders_c OWNER TO carol"
q postgres "SELECT run_id, granted FROM compensation.apply('swap5', '$AS_OF')"
expect_error 5a "apply after the source was renamed and replaced by a view" 55000 changed
recorded=$(val "SELECT coalesce(string_agg(who, ','), '') FROM public.bob_seen")
if [ -z "$recorded" ]; then
	ok "5b - the replacement view's function never ran"
else
	not_ok "5b - the replacement view's function ran as: $recorded"
fi
q postgres "SELECT run_id, granted FROM compensation.apply('owner5', '$AS_OF')"
expect_error 5c "apply after the source changed owner" 55000 changed
retire_all

# --- 6. pg_temp sources refused ---------------------------------------------------
q mallory "CREATE TEMP TABLE x (order_id text, buyer_id text, at timestamptz);
		   INSERT INTO x VALUES ('t1', 'tb1', '2026-10-05');
		   SELECT compensation.define_strategy('temp6', public.spec('pg_temp.x', 'temp6'));"
expect_error 6 "define_strategy over pg_temp.x" 42809 temporary

# --- 7. a revoked right stops the strategy ---------------------------------------
q_ok bob "
CREATE TABLE public.orders_r (order_id text, buyer_id text, at timestamptz);
INSERT INTO public.orders_r VALUES ('r-o1', 'rb1', '2026-10-05');
GRANT SELECT ON public.orders_r TO mallory;"
q_ok mallory "SELECT compensation.define_strategy('revoked7', public.spec('public.orders_r', 'revoked7'));
			  SELECT compensation.activate('revoked7');"
q_ok bob "REVOKE SELECT ON public.orders_r FROM mallory"
q postgres "SELECT run_id, granted FROM compensation.apply('revoked7', '$AS_OF')"
expect_error 7 "apply after bob revoked mallory's SELECT" 42501 revoked7
retire_all

# --- 8. catalog tables only through the functions ---------------------------------
q_ok postgres "CREATE TABLE public.admin_src (order_id text, buyer_id text, at timestamptz);
			   GRANT SELECT ON public.admin_src TO compensation_admin;"
q_ok mallory "SELECT compensation.define_strategy('draft8', public.spec('public.good_src', 'draft8'))"
q mallory "INSERT INTO compensation.strategy (name, holdout_salt) VALUES ('direct8', 'direct8')"
expect_error 8a "mallory inserts into compensation.strategy" 42501
q mallory "INSERT INTO compensation.strategy_version (strategy_id, version, spec, scenario, source, program, instrument, priority, exclusive_group, valid)
		   SELECT strategy_id, 2, public.spec('public.good_src', 'draft8'), '', '', '', '', 0, '', 'empty'
			 FROM compensation.strategy WHERE name = 'draft8'"
expect_error 8b "mallory inserts into compensation.strategy_version" 42501
q mallory "UPDATE compensation.strategy_version SET status = 'active'
			WHERE strategy_id = (SELECT strategy_id FROM compensation.strategy WHERE name = 'draft8') AND version = 1"
expect_error 8c "mallory sets a version's status by UPDATE" 42501
q mallory "DELETE FROM compensation.strategy_version"
expect_error 8d "mallory deletes from compensation.strategy_version" 42501
q mallory "UPDATE compensation.budget SET amount_minor = amount_minor + 100000000"
expect_error 8e "mallory updates compensation.budget" 42501
q mallory "INSERT INTO compensation.ledger (run_id, strategy_id, version, program, exclusive_group, order_key, buyer, at, currency, amount_minor, instrument, budget_id)
		   VALUES (0, 0, 1, 'x', 'x', 'x', 'x', now(), 'EUR', 1, 'voucher', 0)"
expect_error 8f "mallory inserts into compensation.ledger" 42501
q mallory "SET ROLE compensation_admin;
		   SELECT compensation.define_strategy('setrole8', public.spec('public.admin_src', 'setrole8'));"
if [ $RC -ne 0 ]; then
	not_ok "8g - define_strategy after SET ROLE compensation_admin: $(outcome)"
else
	by_version=$(val "SELECT string_agg(created_by, ',') FROM compensation.strategies WHERE name = 'setrole8'")
	by_strategy=$(val "SELECT created_by FROM compensation.strategy WHERE name = 'setrole8'")
	if [ "$by_version" = mallory ] && [ "$by_strategy" = mallory ]; then
		ok "8g - created_by is the session user mallory after SET ROLE compensation_admin"
	else
		not_ok "8g - created_by after SET ROLE compensation_admin: strategies.created_by '$by_version', strategy.created_by '$by_strategy', expected 'mallory'"
	fi
fi
retire_all

# --- 9. nested calls from the author's code are refused --------------------------
q_ok postgres "
CREATE TABLE public.target9 (order_id text, buyer_id text, at timestamptz);
INSERT INTO public.target9 VALUES ('t9-1', 't9b1', '2026-10-05');
GRANT SELECT ON public.target9 TO PUBLIC;"
q_ok mallory "
SELECT compensation.define_strategy('nested9_target', public.spec('public.target9', 'nested9_target'));
CREATE FUNCTION mal.nest_define() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM compensation.define_strategy('nested9_by_' || current_user, public.spec('public.good_src', 'nest9'));
	RETURN true;
END\$\$;
CREATE FUNCTION mal.nest_budget() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM compensation.set_budget('nested9_by_' || current_user, '2026-Q4', 1000000, 'EUR');
	RETURN true;
END\$\$;
CREATE FUNCTION mal.nest_apply() RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM compensation.activate('nested9_target');
	PERFORM compensation.apply('nested9_target', '$AS_OF');
	RETURN true;
END\$\$;
CREATE VIEW mal.n_define AS SELECT 'n1'::text order_id, 'nb1'::text buyer_id, timestamptz '2026-10-05' at WHERE mal.nest_define();
CREATE VIEW mal.n_budget AS SELECT 'n2'::text order_id, 'nb2'::text buyer_id, timestamptz '2026-10-05' at WHERE mal.nest_budget();
CREATE VIEW mal.n_apply AS SELECT 'n3'::text order_id, 'nb3'::text buyer_id, timestamptz '2026-10-05' at WHERE mal.nest_apply();"
for kind in define budget apply; do
	q_ok mallory "SELECT compensation.define_strategy('nest9_$kind', public.spec('mal.n_$kind', 'nest9', '{\"exclusive\": \"nest9_$kind\"}'));
				  SELECT compensation.activate('nest9_$kind');"
done
q postgres "SELECT run_id, granted FROM compensation.apply('nest9_define', '$AS_OF')"
if [ $RC -ne 0 ]; then
	ok "9a - apply of a view calling define_strategy fails: ${STATE:-?} $MSG"
else
	not_ok "9a - apply of a view calling define_strategy succeeded"
fi
made=$(val "SELECT coalesce(string_agg(name || ' v' || version, ','), '') FROM compensation.strategies WHERE created_by = 'postgres'")
if [ -z "$made" ]; then
	ok "9b - no strategy version was created as postgres"
else
	not_ok "9b - strategy versions created as postgres: $made"
fi
budget_rows="SELECT coalesce(string_agg(b.program || '/' || coalesce(b.market, '*') || ':' || b.amount_minor || ' by ' || b.updated_by, ', ' ORDER BY b.budget_id), '') FROM compensation.budget AS b"
budgets_before=$(val "$budget_rows")
q postgres "SELECT run_id, granted FROM compensation.apply('nest9_budget', '$AS_OF')"
if [ $RC -ne 0 ]; then
	ok "9c - apply of a view calling set_budget fails: ${STATE:-?} $MSG"
else
	not_ok "9c - apply of a view calling set_budget succeeded"
fi
budgets_after=$(val "$budget_rows")
if [ "$budgets_before" = "$budgets_after" ]; then
	ok "9d - no budget was set by mallory's code during postgres's apply"
else
	not_ok "9d - budgets changed during postgres's apply: now $(val "SELECT string_agg(b.program || ':' || b.amount_minor || ' updated_by ' || b.updated_by, ', ') FROM compensation.budget AS b WHERE b.program LIKE 'nested9_by_%'")"
fi
q postgres "SELECT run_id, granted FROM compensation.apply('nest9_apply', '$AS_OF')"
if [ $RC -ne 0 ]; then
	ok "9e - apply of a view calling apply fails: ${STATE:-?} $MSG"
else
	not_ok "9e - apply of a view calling activate and apply succeeded"
fi
nested_grants=$(val "SELECT count(*) FROM compensation.grants WHERE strategy = 'nested9_target'")
if [ "$nested_grants" = 0 ]; then
	ok "9f - the nested apply granted nothing"
else
	not_ok "9f - the nested apply granted $nested_grants"
fi
not_superuser 9g "after the nested calls"
retire_all

# --- 10. crash by any reader -----------------------------------------------------
q_ok mallory "SELECT compensation.define_strategy('live10', public.spec('public.good_src', 'live10'));
			  SELECT compensation.activate('live10');"
letters=(a b c d e f) i=0
for f in eligible_columns amount_columns evaluate_columns; do
	for s in any_strategy live10; do
		id=10${letters[i]}; i=$((i + 1))
		q reader1 "SELECT compensation.$f('$s', NULL, 0, '{}', '(0,1)'::tid)"
		if [ $RC -ne 0 ] && [ -n "$STATE" ] && [ "$STATE" != XX000 ]; then
			ok "$id - reader1: $f('$s', NULL, 0, '{}', '(0,1)'::tid): $STATE $MSG"
		else
			not_ok "$id - reader1: $f('$s', NULL, 0, '{}', '(0,1)'::tid): expected an ERROR other than XX000, $(outcome)"
		fi
		wait_for_server || true
	done
done
if wait_for_server && [ "$(val 'SELECT 1')" = 1 ]; then
	ok "10g - the server answers a new connection"
else
	not_ok "10g - the server does not answer a new connection"
fi
retire_all

# --- 11. bounds at definition -------------------------------------------------------
q_ok postgres "CREATE TABLE public.num_src (order_id text, buyer_id text, at timestamptz, value numeric);
			   GRANT SELECT ON public.num_src TO PUBLIC;"
bounds() {	# ID PATH SPEC-EXPRESSION
	q mallory "SELECT compensation.define_strategy('bounds11', $3)"
	if [ $RC -ne 0 ] && [ -n "$STATE" ] && [ "$STATE" != XX000 ] && [[ "$MSG" == *"$2"* ]]; then
		ok "$1 - refused at definition, naming $2: $STATE $(head -c 200 <<<"$MSG")"
	else
		not_ok "$1 - expected an error naming $2 (not XX000), $(outcome)"
	fi
}
base="public.spec('public.num_src', 'bounds11')"
bounds 11a '$.valid.from' "$base || '{\"valid\": {\"from\": \"4714-11-24 00:00:00+00 BC\"}}'"
bounds 11b '$.caps.per_buyer_count.window' "$base || '{\"caps\": {\"per_buyer_count\": {\"max\": 1, \"window\": \"100000 years\"}}}'"
bounds 11c '$.notify.template' "$base || jsonb_build_object('notify', jsonb_build_object('channel', 'push', 'template', repeat('Sorry {order}. ', 80000)))"
bounds 11d '$.when.value' "$base || jsonb_build_object('when', jsonb_build_object('col', 'buyer_id', 'op', 'in', 'value', (SELECT jsonb_agg('b' || i) FROM generate_series(1, 1000000) AS i)))"
bounds 11e '$.when.value' "$base || '{\"when\": {\"col\": \"value\", \"op\": \"between\", \"value\": [2, 1]}}'"
bounds 11f '$.amount.rate' "$base || '{\"amount\": {\"type\": \"percent\", \"of\": \"value\", \"rate\": 1e-1000}}'"

# --- 12. a row-level error names the order ---------------------------------------
# A key of 9,000 hex characters: incompressible enough to exceed the largest
# btree entry of the ledger's unique index.
q_ok postgres "
CREATE TABLE public.long_src AS
SELECT 'LONGKEY-' || left(string_agg(md5(i::text), '' ORDER BY i), 8992) AS order_id,
	   'lb1'::text AS buyer_id, timestamptz '2026-10-05' AS at
  FROM generate_series(1, 300) AS i;
CREATE TABLE public.good12_src (order_id text, buyer_id text, at timestamptz);
INSERT INTO public.good12_src VALUES ('g12-1', 'g12b1', '2026-10-05');
GRANT SELECT ON public.long_src, public.good12_src TO PUBLIC;"
prefix=$(val "SELECT left(order_id, 20) FROM public.long_src")
keylen=$(val "SELECT length(order_id) FROM public.long_src")
q_ok mallory "SELECT compensation.define_strategy('long12', public.spec('public.long_src', 'long12'));
			  SELECT compensation.activate('long12');
			  SELECT compensation.define_strategy('good12', public.spec('public.good12_src', 'good12'));
			  SELECT compensation.activate('good12');"
q postgres "SELECT run_id, granted FROM compensation.apply('long12', '$AS_OF')"
if [ $RC -ne 0 ] && [ -n "$STATE" ] && [ "$STATE" != 54000 ] && [ "$STATE" != XX000 ] &&
	[[ "$MSG" == *"$prefix"* ]]; then
	ok "12a - apply of an order key of $keylen characters fails naming the order: $STATE $(head -c 200 <<<"$MSG")"
else
	not_ok "12a - apply of an order key of $keylen characters: expected an error naming '$prefix' (not 54000/XX000), $(outcome)"
fi
q postgres "SELECT strategy, granted FROM compensation.apply_all('$AS_OF')"
g12=$(val "SELECT count(*) FROM compensation.grants WHERE strategy = 'good12'")
if [ $RC -eq 0 ] && [ "$g12" = 1 ]; then
	ok "12b - apply_all still ran the other strategy (1 grant)"
else
	not_ok "12b - apply_all with the long key: $(outcome); good12 grants: $g12, expected 1"
fi
retire_all

# --- 13. bounded reasons -------------------------------------------------------------
q_ok postgres "CREATE TABLE public.in_src (order_id text, buyer_id text, at timestamptz);
			   INSERT INTO public.in_src VALUES ('x1', 'ib1', '2026-10-05');
			   GRANT SELECT ON public.in_src TO PUBLIC;"
listed=""
for size in 10000 1000 100; do
	q mallory "SELECT compensation.define_strategy('in13', public.spec('public.in_src', 'in13',
				   jsonb_build_object('when', jsonb_build_object('col', 'order_id', 'op', 'in',
					   'value', (SELECT jsonb_agg('x' || i) FROM generate_series(1, $size) AS i)))))"
	if [ $RC -eq 0 ]; then
		listed=$size
		break
	fi
	say "note: an \"in\" list of $size values refused: $(outcome)"
done
if [ -z "$listed" ]; then
	not_ok "13 - no \"in\" list of 100 values or more could be defined"
else
	q mallory "SELECT coalesce(sum(length(r)), 0) || ' ' || count(r)
				 FROM public.in_src AS s,
					  LATERAL unnest((compensation.evaluate('in13', s, $OUT)).reasons) AS r"
	read -r total nreasons <<<"${OUT:-x 0}"
	if [ $RC -eq 0 ] && [[ "$total" =~ ^[0-9]+$ ]] && [ "$total" -lt 2000 ]; then
		ok "13 - reasons of a rule with an \"in\" list of $listed values: $nreasons reason(s), $total characters"
	else
		if [ $RC -eq 0 ]; then
			not_ok "13 - reasons of a rule with an \"in\" list of $listed values: $nreasons reason(s), $total characters, expected under 2000"
		else
			not_ok "13 - evaluate of a rule with an \"in\" list of $listed values: $(outcome)"
		fi
	fi
fi

# --- at the end ------------------------------------------------------------------------
not_superuser 14a "at the end"
if [ -n "$escalations" ]; then
	not_ok "14b - roles became superuser during the run:$escalations"
else
	ok "14b - no role became superuser during the run"
fi
if wait_for_server && [ "$(val 'SELECT 1')" = 1 ]; then
	ok "14c - the server is up"
else
	not_ok "14c - the server is down"
fi
if [ -n "${COMP_PGLOG:-}" ] && [ -r "$COMP_PGLOG" ]; then
	crashes=$(tail -c +$((log_offset + 1)) "$COMP_PGLOG" | grep -E 'terminated by signal|was terminated by exception' | head -n 5 || true)
	if [ -z "$crashes" ]; then
		ok "14d - no backend died of a signal"
	else
		not_ok "14d - backends died: $(tr '\n' ' ' <<<"$crashes" | head -c 600)"
	fi
else
	say "note: COMP_PGLOG not set: the server log was not checked"
fi
[ $setup_failures -eq 0 ] || not_ok "setup - $setup_failures setup steps failed (see above)"

say "$n_ok ok, $n_fail not ok; $((SECONDS - started)) s"
[ $n_fail -eq 0 ]
