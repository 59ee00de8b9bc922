#!/usr/bin/env bash
# TypeScript SDK tests: unit and fake-server tests always; the shared scenarios against a real
# server when KILN_ADDRESS is set (scripts/sdk-scenarios sets it, plus KILN_VECTORS and
# KILN_SCENARIO_OUT).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
npm run --silent build
npm test --silent
