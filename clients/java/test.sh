#!/usr/bin/env bash
# Builds the Java client and runs its tests: unit tests, plus the shared server scenarios when
# KILN_ADDRESS is set (scripts/sdk-scenarios sets KILN_ADDRESS, KILN_VECTORS, KILN_SCENARIO_OUT).
set -euo pipefail
cd "$(dirname "$0")"
status=0
mvn -q -B -ntp -Dstyle.color=never test || status=$?
# One summary line from the Surefire reports (quiet mode prints none).
if compgen -G "target/surefire-reports/TEST-*.xml" >/dev/null; then
  sed -n 's/.*<testsuite [^>]* tests="\([0-9]*\)" errors="\([0-9]*\)" skipped="\([0-9]*\)" failures="\([0-9]*\)".*/\1 \2 \3 \4/p' \
    target/surefire-reports/TEST-*.xml |
    awk '{t+=$1; e+=$2; s+=$3; f+=$4} END {printf "java: %d tests, %d passed, %d skipped, %d failed, %d errors\n", t, t-s-f-e, s, f, e}'
fi
exit $status
