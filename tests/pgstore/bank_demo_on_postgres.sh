#!/usr/bin/env bash
# The bank demo, unchanged but for the store it opens, run twice on PostgreSQL: the second run must find
# the account the first one wrote, and the read models must answer. Then its schema is dropped.
#   bank_demo_on_postgres.sh BANK_DEMO PG_DIR
set -euo pipefail
demo=$1
url=$(cat "$2/url")
schema="bank_$$"
trap 'psql -q "$url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true' EXIT
"$demo" --postgres "$url" --schema "$schema"
second=$("$demo" --postgres "$url" --schema "$schema")
echo "$second"
grep -q "survived the restart" <<<"$second" || { echo "second run did not find the first run's account" >&2; exit 1; }
grep -q "read model" <<<"$second" || { echo "no read model in the output" >&2; exit 1; }
