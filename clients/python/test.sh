#!/usr/bin/env bash
# The shared SDK scenarios from Python (run by scripts/sdk-scenarios with KILN_ADDRESS set).
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/pytest -q -p no:cacheprovider clients/python/tests/test_scenarios.py
