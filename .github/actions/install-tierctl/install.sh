#!/usr/bin/env bash
# Install a released tierctl binary: download tierctl-<version>-<target>.tar.gz
# and its .sha256 from the GitHub release v<version> with the gh CLI, verify
# the checksum, unpack it under DEST and put it on PATH (GITHUB_PATH).
#
# Environment:
#   TIERCTL_VERSION  0.2.0 or v0.2.0 (required here; empty = the action builds from source)
#   TIERCTL_REPO     owner/name of the repository with the releases
#   RUNNER_ARCH      X64 | ARM64 (GitHub's); falls back to uname -m
#   DEST             install folder (default $RUNNER_TEMP/tierctl)
#   GH_TOKEN         token for gh (public releases need none beyond github.token)
#   GITHUB_PATH, GITHUB_OUTPUT  as set by GitHub Actions (optional)
set -euo pipefail

version=${TIERCTL_VERSION:?TIERCTL_VERSION is not set}
version=${version#v}
repo=${TIERCTL_REPO:?TIERCTL_REPO is not set}
dest=${DEST:-${RUNNER_TEMP:-/tmp}/tierctl}

if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "::error title=install-tierctl::version '$version' is not a release version like 0.2.0"
  exit 1
fi

arch=${RUNNER_ARCH:-$(uname -m)}
case "$arch" in
  X64 | x86_64 | amd64) target=x86_64-unknown-linux-gnu ;;
  ARM64 | aarch64 | arm64) target=aarch64-unknown-linux-gnu ;;
  *)
    echo "::error title=install-tierctl::no tierctl release binary for architecture '$arch'"
    exit 1
    ;;
esac
if [[ -n ${RUNNER_OS:-} && $RUNNER_OS != Linux ]]; then
  echo "::error title=install-tierctl::release binaries are built for Linux only, not $RUNNER_OS"
  exit 1
fi

name="tierctl-$version-$target"
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT

echo "Downloading $name.tar.gz from $repo release v$version"
gh release download "v$version" --repo "$repo" --dir "$download" \
  --pattern "$name.tar.gz" --pattern "$name.tar.gz.sha256"

# The .sha256 file must name exactly this archive, then the archive must match.
expected=$(awk -v f="$name.tar.gz" '$2 == f || $2 == "*" f { print $1 }' "$download/$name.tar.gz.sha256")
if [[ ! $expected =~ ^[0-9a-f]{64}$ ]]; then
  echo "::error title=install-tierctl::$name.tar.gz.sha256 has no checksum for $name.tar.gz"
  exit 1
fi
actual=$(sha256sum "$download/$name.tar.gz" | awk '{ print $1 }')
if [[ $actual != "$expected" ]]; then
  echo "::error title=install-tierctl::checksum mismatch for $name.tar.gz: expected $expected, got $actual"
  exit 1
fi
echo "sha256 verified: $actual"

mkdir -p "$dest/bin"
tar -xzf "$download/$name.tar.gz" -C "$download"
install -m 0755 "$download/$name/tierctl" "$dest/bin/tierctl"

"$dest/bin/tierctl" --version
if [[ -n ${GITHUB_PATH:-} ]]; then
  echo "$dest/bin" >>"$GITHUB_PATH"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  {
    echo "path=$dest/bin/tierctl"
    echo "source=release"
  } >>"$GITHUB_OUTPUT"
fi
