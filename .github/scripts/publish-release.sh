#!/usr/bin/env bash
# Attach the packaged archives, the Lambda runner zips and their .sha256 files to the GitHub release
# of TAG with the gh CLI: creates the release (notes generated from the
# commits) or, when it exists already (a re-run), replaces the assets.
#
# Usage: publish-release.sh TAG DIR
# Environment: GH_TOKEN (contents: write), GITHUB_REPOSITORY.
set -euo pipefail

tag=${1:?usage: publish-release.sh TAG DIR}
dir=${2:?dir missing}
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"

shopt -s nullglob
assets=("$dir"/tierctl-*.tar.gz "$dir"/tierctl-*.tar.gz.sha256 "$dir"/tierctl-lambda-*.zip "$dir"/tierctl-lambda-*.zip.sha256)
shopt -u nullglob
archives=0
for a in "${assets[@]}"; do
  [[ $a == *.tar.gz ]] && archives=$((archives + 1))
done
if [[ $archives -eq 0 ]]; then
  echo "::error::no tierctl-*.tar.gz in $dir"
  exit 1
fi

# Every archive must match its checksum before it is published.
for a in "${assets[@]}"; do
  if [[ $a == *.sha256 ]]; then
    (cd "$(dirname "$a")" && sha256sum --check --strict "$(basename "$a")")
  fi
done

prerelease=()
if [[ $tag == *-* ]]; then
  prerelease=(--prerelease)
fi

if gh release view "$tag" --repo "$GITHUB_REPOSITORY" >/dev/null 2>&1; then
  gh release upload "$tag" "${assets[@]}" --repo "$GITHUB_REPOSITORY" --clobber
else
  gh release create "$tag" "${assets[@]}" --repo "$GITHUB_REPOSITORY" \
    --verify-tag --title "tierctl ${tag#v}" --generate-notes "${prerelease[@]}"
fi
