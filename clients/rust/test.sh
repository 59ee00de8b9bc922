#!/usr/bin/env bash
# Builds the Rust client and runs its tests: unit tests and doctests, plus the shared server
# scenarios (tests/scenarios.rs) when KILN_ADDRESS is set (scripts/sdk-scenarios sets KILN_ADDRESS,
# KILN_VECTORS, KILN_SCENARIO_OUT). --nocapture shows the scenarios' SKIP lines.
set -euo pipefail
cd "$(dirname "$0")"
exec cargo test --locked -- --nocapture
