#!/usr/bin/env bash
# Installs the pinned Rust code generators into tools/codegen/bin (from crates.io):
#   protoc-gen-prost  0.5.0  (prost-build 0.14: matches prost 0.14 in clients/rust/Cargo.toml)
#   protoc-gen-tonic  0.5.0  (tonic-build 0.14: matches tonic 0.14 / tonic-prost 0.14)
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
PROTOC_GEN_PROST_VERSION=0.5.0
PROTOC_GEN_TONIC_VERSION=0.5.0

cd "$(dirname "$0")"
bin="$PWD/bin"
root="$bin/rust"            # cargo's install root (keeps its .crates.toml inside the ignored bin/)
mkdir -p "$bin"
# Build outputs, never committed.
[ -f "$bin/.gitignore" ] || printf '*\n' >"$bin/.gitignore"

have() { [ -x "$bin/$1" ] && grep -q "^\"$1 $2 " "$root/.crates.toml" 2>/dev/null; }

missing=()
have protoc-gen-prost "$PROTOC_GEN_PROST_VERSION" || missing+=("protoc-gen-prost@$PROTOC_GEN_PROST_VERSION")
have protoc-gen-tonic "$PROTOC_GEN_TONIC_VERSION" || missing+=("protoc-gen-tonic@$PROTOC_GEN_TONIC_VERSION")
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing ${missing[*]}"
# One shared target dir so the two tools build their common dependencies once.
target=$(mktemp -d)
trap 'rm -rf "$target"' EXIT
for crate in "${missing[@]}"; do
  CARGO_TARGET_DIR="$target" cargo install --quiet --locked --force --root "$root" "$crate"
  name=${crate%@*}
  ln -sf "rust/bin/$name" "$bin/$name"
done
