#!/usr/bin/env bash
# Installs the pinned Go code generators (protoc-gen-go, protoc-gen-go-grpc) into tools/codegen/bin.
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")"
PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc
bin="$PWD/bin"
mkdir -p "$bin"
# Build outputs, never committed.
[ -f "$bin/.gitignore" ] || printf '*\n' >"$bin/.gitignore"

have() { [ -x "$bin/$1" ] && [ "$("$bin/$1" --version 2>/dev/null | awk '{print $NF}')" = "$2" ]; }

if ! have protoc-gen-go "$PROTOC_GEN_GO_VERSION"; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi
if ! have protoc-gen-go-grpc "${PROTOC_GEN_GO_GRPC_VERSION#v}"; then
  GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi
