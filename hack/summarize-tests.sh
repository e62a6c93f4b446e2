#!/usr/bin/env bash
# Passes `go test -v` output through and keeps go test's exit status (set -o pipefail in the caller's shell is
# not available in make), printing a count of passed and failed tests at the end.
set -u
log=$(mktemp)
tee "$log"
pass=$(grep -c -- '^\s*--- PASS' "$log" || true)
fail=$(grep -c -- '^\s*--- FAIL' "$log" || true)
skip=$(grep -c -- '^\s*--- SKIP' "$log" || true)
echo "e2e: $pass passed, $fail failed, $skip skipped"
bad=0
grep -q '^FAIL' "$log" && bad=1
grep -q '^panic:' "$log" && bad=1
rm -f "$log"
exit $bad
