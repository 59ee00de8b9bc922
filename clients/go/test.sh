#!/usr/bin/env bash
# Go SDK tests: unit tests always; the shared scenarios against a real server when KILN_ADDRESS
# is set (scripts/sdk-scenarios sets it, plus KILN_VECTORS and KILN_SCENARIO_OUT).
set -euo pipefail
cd "$(dirname "$0")"
go mod download
go vet ./...
go test -count=1 -v ./...
