#!/usr/bin/env bash
# bench/outbox.sh — the notification queue's two speed targets (issue #15):
#
#   1. outbox_claim + outbox_mark_sent with 8 concurrent workers drain
#      MESSAGES messages (default 1,000,000) at >= 50% of the rate of a
#      plain DELETE ... RETURNING queue (FOR UPDATE SKIP LOCKED, batches of
#      100) over a table of the same size, also with 8 workers (pgbench).
#      A worker's batch is two transactions: the claim, then the marks
#      (outbox_mark_all_sent, one statement for the batch).
#   2. apply's cost per grant with a template that uses a column
#      placeholder, {money}, {expires_at} and {code} (a voucher code per
#      grant, checked against its grant id by the ledger's CHECK) grows by
#      at most 10% over a template with the plain placeholders whose
#      messages are as long (so that what is measured is the placeholders
#      and the code, not the length of the text).  Reported too: against a
#      short plain template, and the rich template with a correction
#      template and a channel choice.  GRANTS grants per run (default
#      100,000), ROUNDS rounds (default 9).
#
#   bash bench/outbox.sh [MESSAGES] [GRANTS] [ROUNDS]     (as root or with sudo)
#
# bench/run runs it with the defaults and writes its table into RESULTS.md.
#
# Same set-up as bench/run (test/lib.sh).  Prints a Markdown table; figures
# on a shared machine are for reading, not asserting.
set -euo pipefail
cd "$(dirname "$0")/.."
source test/lib.sh
[ -n "${COMP_BENCH_LIB:-}" ] && source "$COMP_BENCH_LIB"	# e.g. a private PostgreSQL
comp_require_root "$@"
messages=${1:-1000000}
grants=${2:-100000}
rounds=${3:-9}
workers=8
batch=100
comp_install_deps
comp_build_install
comp_cluster_start -c shared_buffers=1GB -c work_mem=64MB -c max_wal_size=4GB \
	-c checkpoint_timeout=30min -c jit=off -c autovacuum=off -c max_connections=50
db=compensation_bench_outbox
createdb "$db"
psql() { command psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
psql -c 'CREATE EXTENSION compensation'
work=$(mktemp -d)
chmod 755 "$work"

# --- 1: draining the queue ------------------------------------------------------
comp_log "queue: $messages messages, $workers workers"
psql <<SQL >/dev/null
INSERT INTO compensation.outbox_message (grant_id, kind, channel, message)
SELECT i, 'grant', 'push', 'Sorry order o' || i || ' was late: a R\$ 5,00 voucher, code ABCD-EFGH-JKLM-NPQR'
  FROM generate_series(1, $messages) AS i;
UPDATE compensation.outbox_message SET available_at = now() - interval '1 minute';
CREATE TABLE public.plain_queue (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, grant_id bigint NOT NULL,
								 channel text NOT NULL, message text NOT NULL,
								 created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO public.plain_queue (grant_id, channel, message)
SELECT grant_id, channel, message FROM compensation.outbox_message;
VACUUM (ANALYZE) compensation.outbox_message, public.plain_queue;
SQL
cat >"$work/claim.sql" <<SQL
SELECT COALESCE(string_agg(message_id::text, ','), '') AS ids FROM compensation.outbox_claim('push', $batch) \gset
SELECT count(*) FROM compensation.outbox_mark_all_sent('{:ids}'::bigint[]);
SQL
cat >"$work/delete.sql" <<SQL
DELETE FROM public.plain_queue WHERE id IN
	(SELECT id FROM public.plain_queue ORDER BY id LIMIT $batch FOR UPDATE SKIP LOCKED) RETURNING *;
SQL
per_client=$(( messages / batch / workers ))
drain() {	# drain SCRIPT REMAINING_QUERY -> messages per second
	local t0 t1 left
	t0=$(date +%s.%N)
	pgbench -n -c $workers -j $workers -t $per_client -f "$1" "$db" >"$work/pgbench.out" 2>&1 ||
		{ cat "$work/pgbench.out" >&2; exit 1; }
	t1=$(date +%s.%N)
	left=$(command psql -X -At -d "$db" -c "$2")
	awk -v n="$messages" -v left="$left" -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "%.0f %.2f %d\n", (n - left) / (t1 - t0), t1 - t0, n - left }'
}
read -r plain_rate plain_s plain_n < <(drain "$work/delete.sql" "SELECT count(*) FROM public.plain_queue")
read -r claim_rate claim_s claim_n < <(drain "$work/claim.sql" "SELECT count(*) FROM compensation.outbox_message WHERE status <> 'sent'")
dupes=$(command psql -X -At -d "$db" -c "SELECT count(*) FROM compensation.outbox_message WHERE attempts <> 1 AND status = 'sent'")

# --- 2: apply's cost per grant with rich templates -----------------------------
# Every run goes into its own copy of one database (CREATE DATABASE ...
# TEMPLATE), so that no variant runs into a ledger or an outbox the others
# filled; a round runs the variants back to back, in an order that turns
# each round; the growth is the median of the rounds' ratios to the plain
# run, which cancels the drifts of a shared machine's load.
comp_log "apply: $grants grants per run, plain and rich templates, $rounds rounds"
template_db=compensation_bench_templates
createdb "$template_db"
command psql -X -q -v ON_ERROR_STOP=1 -d "$template_db" <<SQL >/dev/null
CREATE EXTENSION compensation;
CREATE TABLE public.bench_orders AS
SELECT 'o' || i AS order_id, 'b' || (i % 50000) AS buyer_id,
	   timestamptz '2026-10-01' + i * interval '1 second' AS delivered_at,
	   (i % 17) AS days_late, (ARRAY['push', 'email', 'sms'])[1 + i % 3] AS contact_channel,
	   'BRL'::text AS currency, 'BR'::text AS market
  FROM generate_series(1, $grants) AS i;
VACUUM (ANALYZE) public.bench_orders;
SQL
spec() {	# spec NAME NOTIFY_JSON [EXTRA_TOP_LEVEL_JSON]
	printf '%s' "{\"scenario\": \"bench\", \"source\": \"public.bench_orders\", \"instrument\": \"voucher\",
	  \"program\": \"$1\", \"exclusive\": \"$1\", \"max_age\": null,
	  \"keys\": {\"order\": \"order_id\", \"buyer\": \"buyer_id\", \"at\": \"delivered_at\",
				 \"currency\": \"currency\", \"market\": \"market\"},
	  \"when\": {\"col\": \"order_id\", \"op\": \"is not null\"},
	  \"amount\": {\"type\": \"fixed\", \"value\": 5}, \"notify\": $2 ${3:-}}"
}
rich_template='"template": "Pedido {order} ({col:days_late} dias de atraso): cupom de {money}, código {code}, válido até {expires_at}"'
# plain's messages are as long as template's (~108 bytes), short's ~37
declare -A variant_spec=(
	[short]="$(spec short '{"channel": "push", "template": "Sorry order {order} was late: {amount} {currency}"}')"
	[plain]="$(spec plain '{"channel": "push", "template": "Pedido {order}: desculpe pelo atraso. Um cupom de {amount} {currency} está na sua conta, para usar na próxima compra."}')"
	[template]="$(spec template "{\"channel\": \"push\", $rich_template}" ', "locale": "pt_BR", "expires": "30 days"')"
	[everything]="$(spec everything "{\"channels\": [\"push\", \"email\", \"sms\"], \"preferred_channel\": \"contact_channel\", $rich_template, \"void_template\": \"O cupom {code} foi cancelado\"}" ', "locale": "pt_BR", "expires": "30 days"')"
)
variants=(plain template everything short)
run_apply() {	# run_apply VARIANT -> milliseconds, in a fresh copy of the template database
	local run_db=compensation_bench_run
	dropdb --if-exists "$run_db"
	createdb -T "$template_db" "$run_db"
	command psql -X -q -v ON_ERROR_STOP=1 -d "$run_db" \
		-c "SELECT compensation.set_budget('$1', '2026-Q4', 1e12, 'BRL', 'BR')" \
		-c "SELECT compensation.define_strategy('$1', '${variant_spec[$1]}'::jsonb)" \
		-c "SELECT compensation.activate('$1')" -c 'CHECKPOINT' >/dev/null
	command psql -X -q -At -d "$run_db" -c '\timing on' \
		-c "SELECT granted FROM compensation.apply('$1', '2026-12-31')" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
declare -A runs_ms ratios
for round in $(seq 0 $((rounds - 1))); do
	declare -A this_round=()
	for i in 0 1 2 3; do
		v=${variants[$(( (i + round) % 4 ))]}
		this_round[$v]=$(run_apply "$v")
		runs_ms[$v]+="${this_round[$v]} "
	done
	for v in template everything; do
		ratios[$v]+="$(awk -v a="${this_round[$v]}" -v b="${this_round[plain]}" 'BEGIN { printf "%.4f", a / b }') "
	done
	ratios[template_short]+="$(awk -v a="${this_round[template]}" -v b="${this_round[short]}" 'BEGIN { printf "%.4f", a / b }') "
	unset this_round
done
median() { printf '%s\n' $@ | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
per_grant() { awk -v m="$(median $1)" -v n="$grants" 'BEGIN { printf "%.2f µs", 1000 * m / n }'; }
growth() { awk -v r="$(median $1)" 'BEGIN { printf "%+.1f%%", 100 * (r - 1) }'; }

cat <<EOF

## Notification queue and templates (bench/outbox.sh, $(date -u +%Y-%m-%d))

| measure | value | target |
|---|---:|---|
| plain DELETE … RETURNING queue, $workers workers, batches of $batch | $plain_rate msg/s ($plain_n in ${plain_s} s) | baseline |
| outbox_claim + outbox_mark_all_sent, $workers workers, batches of $batch | $claim_rate msg/s ($claim_n in ${claim_s} s) | ≥ 50% of baseline |
| ratio | $(awk -v a="$claim_rate" -v b="$plain_rate" 'BEGIN { printf "%.0f%%", 100 * a / b }') | ≥ 50% |
| messages claimed more than once | $dupes | 0 |
| apply, plain template ({order}, {amount}, {currency}), messages of ~108 bytes, per grant (median of $rounds runs of $grants grants) | $(per_grant "${runs_ms[plain]}") | baseline |
| apply, template with a column, {money}, {code}, {expires_at}, messages of ~108 bytes, per grant | $(per_grant "${runs_ms[template]}") | |
| growth (median of the rounds' ratios) | $(growth "${ratios[template]}") | ≤ +10% |
| apply, short plain template, messages of ~37 bytes, per grant | $(per_grant "${runs_ms[short]}") | |
| growth of the rich template over the short one | $(growth "${ratios[template_short]}") | (the length of the text too) |
| apply, the rich template with a correction template and a channel choice, per grant | $(per_grant "${runs_ms[everything]}") | |
| growth over the plain template | $(growth "${ratios[everything]}") | (not a target) |

runs (ms): plain ${runs_ms[plain]}; template ${runs_ms[template]}; short ${runs_ms[short]}; everything ${runs_ms[everything]}
EOF
rm -rf "$work"
