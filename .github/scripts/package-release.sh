#!/usr/bin/env bash
# Package a release binary as tierctl-<version>-<target>.tar.gz plus a
# sha256sum-format .sha256 file beside it.
#
# Usage: package-release.sh VERSION TARGET BINARY OUT_DIR
#   VERSION  without the leading v (0.2.0)
#   TARGET   x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu
#   BINARY   the built tierctl binary
# The archive holds tierctl-<version>-<target>/{tierctl,README.md}, and when
# EXTRAS names a folder (the man pages and shell completions the release
# workflow generates: man/man1/*.1, completions/*), its contents too; it is
# reproducible: sorted names, fixed owner, mtime SOURCE_DATE_EPOCH (default:
# the commit time), gzip without a name or time stamp.
# Writes to GITHUB_OUTPUT: archive, checksum (paths).
set -euo pipefail

version=${1:?usage: package-release.sh VERSION TARGET BINARY OUT_DIR}
target=${2:?target missing}
binary=${3:?binary missing}
out_dir=${4:?out dir missing}

if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "::error::version '$version' is not a semantic version (without the v)"
  exit 1
fi
case "$target" in
  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu) ;;
  *)
    echo "::error::unsupported target '$target'"
    exit 1
    ;;
esac
if [[ ! -x $binary ]]; then
  echo "::error::binary not found or not executable: $binary"
  exit 1
fi

readme=${README:-README.md}
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
name="tierctl-$version-$target"
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir "$stage/$name"
install -m 0755 "$binary" "$stage/$name/tierctl"
if [[ -f $readme ]]; then
  install -m 0644 "$readme" "$stage/$name/README.md"
fi

if [[ -n ${EXTRAS:-} ]]; then
  if [[ ! -d $EXTRAS ]]; then
    echo "::error::EXTRAS is not a folder: $EXTRAS"
    exit 1
  fi
  cp -R "$EXTRAS/." "$stage/$name/"
  find "$stage/$name" -type f ! -name tierctl -exec chmod 0644 {} +
  find "$stage/$name" -type d -exec chmod 0755 {} +
fi

tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
  -C "$stage" -cf - "$name" | gzip -9n >"$out_dir/$name.tar.gz"
(cd "$out_dir" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")

echo "packaged $out_dir/$name.tar.gz"
cat "$out_dir/$name.tar.gz.sha256"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  {
    echo "archive=$out_dir/$name.tar.gz"
    echo "checksum=$out_dir/$name.tar.gz.sha256"
  } >>"$GITHUB_OUTPUT"
fi
