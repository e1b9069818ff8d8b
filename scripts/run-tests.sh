#!/usr/bin/env bash
# Runs the test suite; "no test ran" (pytest exit 5) is a failure, not a pass.
set -uo pipefail
PY=${1:-python}
shift || true
"$PY" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "run-tests: pytest collected no tests" >&2; exit 1; fi
exit "$rc"
