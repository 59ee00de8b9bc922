#!/usr/bin/env bash
# Builds the Rust client and runs its tests: unit tests and doctests, plus the shared server
# scenarios (tests/scenarios.rs) when KILN_ADDRESS is set (scripts/sdk-scenarios sets KILN_ADDRESS,
# KILN_VECTORS, KILN_SCENARIO_OUT, and KILN_TLS_ADDRESS, KILN_TLS_CA, KILN_TLS_CLIENT_CERT,
# KILN_TLS_CLIENT_KEY for the mutual TLS scenario). Runs them all twice: with the default features,
# and with the `tls` feature, which adds the TLS builder methods and the mutual TLS scenario.
# --nocapture shows the scenarios' SKIP lines.
set -euo pipefail
cd "$(dirname "$0")"
echo "--- default features"
cargo test --locked -- --nocapture
echo "--- features: tls"
cargo test --locked --features tls -- --nocapture
