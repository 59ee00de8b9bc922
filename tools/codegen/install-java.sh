#!/usr/bin/env bash
# Installs the pinned Java code generators into tools/codegen/bin (from Maven Central):
#   protoc                 com.google.protobuf:protoc        (same version as protobuf-java in clients/java/pom.xml)
#   protoc-gen-grpc-java   io.grpc:protoc-gen-grpc-java      (same version as grpc-* in clients/java/pom.xml)
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
PROTOC_VERSION=4.33.6        # protoc prints "libprotoc 33.6"
GRPC_JAVA_VERSION=1.83.1

cd "$(dirname "$0")"
bin="$PWD/bin"
mkdir -p "$bin"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) classifier=linux-x86_64 ;;
  Linux-aarch64) classifier=linux-aarch_64 ;;
  Darwin-x86_64) classifier=osx-x86_64 ;;
  Darwin-arm64) classifier=osx-aarch_64 ;;
  *) echo "install-java.sh: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

fetch() { # group:artifact:version -> $bin/$2
  local coords=$1 name=$2 tmp
  tmp=$(mktemp -d)
  mvn -q -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="$coords:exe:$classifier" -DoutputDirectory="$tmp" -Dmdep.stripVersion=true
  install -m 0755 "$tmp"/*.exe "$bin/$name"
  rm -rf "$tmp"
}

if [ "$("$bin/protoc" --version 2>/dev/null)" != "libprotoc ${PROTOC_VERSION#*.}" ]; then
  echo "installing protoc $PROTOC_VERSION"
  fetch "com.google.protobuf:protoc:$PROTOC_VERSION" protoc
fi
stamp="$bin/.protoc-gen-grpc-java.version"
if [ ! -x "$bin/protoc-gen-grpc-java" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$GRPC_JAVA_VERSION" ]; then
  echo "installing protoc-gen-grpc-java $GRPC_JAVA_VERSION"
  fetch "io.grpc:protoc-gen-grpc-java:$GRPC_JAVA_VERSION" protoc-gen-grpc-java
  echo "$GRPC_JAVA_VERSION" >"$stamp"
fi
