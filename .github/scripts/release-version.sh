#!/usr/bin/env bash
# The release version of a tag: v1.2.3 -> 1.2.3, checked against the version
# in Cargo.toml so that a tag can never publish a binary that reports another
# version.
#
# Usage: release-version.sh TAG [CARGO_TOML]
# Prints the version; writes version=... to GITHUB_OUTPUT when set.
set -euo pipefail

tag=${1:?usage: release-version.sh TAG [CARGO_TOML]}
manifest=${2:-Cargo.toml}

if [[ ! $tag =~ ^v([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?)$ ]]; then
  echo "::error::tag '$tag' is not v<semver> (for example v0.2.0)"
  exit 1
fi
version=${BASH_REMATCH[1]}

# The version of the [package] table (the first `version = "..."` in it).
cargo_version=$(awk '
  /^\[/ { in_pkg = ($0 == "[package]") }
  in_pkg && /^version[[:space:]]*=/ {
    sub(/^version[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
  }' "$manifest")

if [[ $cargo_version != "$version" ]]; then
  echo "::error file=$manifest::tag $tag does not match the package version '$cargo_version' in $manifest"
  exit 1
fi
echo "$version"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  echo "version=$version" >>"$GITHUB_OUTPUT"
fi
