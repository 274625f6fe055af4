#!/usr/bin/env bash
# Package the Lambda runner as tierctl-lambda-<version>-<arch>.zip (arch:
# x86_64 or arm64, Lambda's names) plus a sha256sum-format .sha256 file.
# The zip holds one file, `bootstrap` (mode 0755): the tierctl binary, which
# acts as the runner when started under that name by the provided.al2023
# runtime. Reproducible: fixed mtime SOURCE_DATE_EPOCH (default: the commit
# time), no extra attributes.
#
# Usage: package-lambda.sh VERSION TARGET BINARY OUT_DIR
#   VERSION  without the leading v (0.2.0)
#   TARGET   x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu
#   BINARY   the built tierctl binary (for Lambda: glibc 2.34 or older, see release.yml)
# Writes to GITHUB_OUTPUT: zip, checksum (paths).
set -euo pipefail

version=${1:?usage: package-lambda.sh VERSION TARGET BINARY OUT_DIR}
target=${2:?target missing}
binary=${3:?binary missing}
out_dir=${4:?out dir missing}

if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "::error::version '$version' is not a semantic version (without the v)"
  exit 1
fi
case "$target" in
  x86_64-unknown-linux-gnu) arch=x86_64 ;;
  aarch64-unknown-linux-gnu) arch=arm64 ;;
  *)
    echo "::error::unsupported target '$target'"
    exit 1
    ;;
esac
if [[ ! -x $binary ]]; then
  echo "::error::binary not found or not executable: $binary"
  exit 1
fi

epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
name="tierctl-lambda-$version-$arch.zip"
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -m 0755 "$binary" "$stage/bootstrap"
touch -d "@$epoch" "$stage/bootstrap"
rm -f "$out_dir/$name"
(cd "$stage" && TZ=UTC zip -X -9 -q "$out_dir/$name" bootstrap)
(cd "$out_dir" && sha256sum "$name" >"$name.sha256")

echo "packaged $out_dir/$name"
cat "$out_dir/$name.sha256"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  {
    echo "zip=$out_dir/$name"
    echo "checksum=$out_dir/$name.sha256"
  } >>"$GITHUB_OUTPUT"
fi
