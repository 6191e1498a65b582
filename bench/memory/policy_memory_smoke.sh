#!/usr/bin/env bash
# policy_memory_smoke.sh MAKE_POLICIES POLICY_MEMORY
# 200 generated policies load, evaluate 3 cycles and scrape; the report has
# its rows. Nothing about size.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$1" "$work" --policies 200
"$2" --dir "$work" --policies 200 --cycles 3 | tee "$work/report.txt"
grep -q '^own state: sources + evaluation ' "$work/report.txt"
grep -q '^all included ' "$work/report.txt"
