#!/usr/bin/env bash
# Create or update the one sticky pull request comment that carries a hidden
# marker: the first comment whose body contains the marker (and, by default,
# whose author is github-actions[bot]) is updated in place (PATCH); only when
# there is none is a new comment created (POST). Uses the gh CLI.
#
# Usage: upsert-comment.sh BODY_FILE
# Environment:
#   GH_TOKEN            token for gh (github.token, pull-requests: write)
#   GITHUB_REPOSITORY   owner/name
#   PR_NUMBER           pull request number
#   COMMENT_MARKER      default <!-- tierctl-plan -->; must be in BODY_FILE
#   COMMENT_AUTHOR      only update comments by this login (default
#                       github-actions[bot]; empty = any author)
#   COMMENT_SOFT_FAIL   true: a failing gh call becomes a ::warning:: and
#                       exit 0 (fork pull requests get a read-only token)
#   GITHUB_OUTPUT       receives comment-id, comment-url, comment-action
set -euo pipefail

body_file=${1:?usage: upsert-comment.sh BODY_FILE}
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
: "${PR_NUMBER:?PR_NUMBER is not set}"
MARKER=${COMMENT_MARKER:-<!-- tierctl-plan -->}
AUTHOR=${COMMENT_AUTHOR-github-actions[bot]}

if [[ ! $PR_NUMBER =~ ^[0-9]+$ ]]; then
  echo "::error::PR_NUMBER must be a number, not '$PR_NUMBER'"
  exit 1
fi
if [[ ! -f $body_file ]]; then
  echo "::error::comment body file not found: $body_file"
  exit 1
fi
if ! grep -qF -- "$MARKER" "$body_file"; then
  echo "::error::the comment body does not contain the marker $MARKER; it could never be found again"
  exit 1
fi

fail() {
  if [[ ${COMMENT_SOFT_FAIL:-false} == true ]]; then
    echo "::warning title=tierctl plan comment::$1 (the plan is in the job summary)"
    exit 0
  fi
  echo "::error title=tierctl plan comment::$1"
  exit 1
}

repo=$GITHUB_REPOSITORY
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every page of comments (--paginate prints one JSON array per page).
gh api --paginate "repos/$repo/issues/$PR_NUMBER/comments?per_page=100" >"$work/comments.json" ||
  fail "could not list the comments of pull request #$PR_NUMBER"

existing=$(jq -rs --arg marker "$MARKER" --arg author "$AUTHOR" '
  [ .[][]
    | select((.body // "") | contains($marker))
    | select($author == "" or .user.login == $author) ]
  | sort_by(.id) | first | .id // empty' "$work/comments.json")

jq -Rs '{body: .}' "$body_file" >"$work/request.json"

if [[ -n $existing ]]; then
  gh api --method PATCH "repos/$repo/issues/comments/$existing" --input "$work/request.json" >"$work/response.json" ||
    fail "could not update comment $existing on pull request #$PR_NUMBER"
  action=updated
else
  gh api --method POST "repos/$repo/issues/$PR_NUMBER/comments" --input "$work/request.json" >"$work/response.json" ||
    fail "could not comment on pull request #$PR_NUMBER"
  action=created
fi

id=$(jq -r '.id // empty' "$work/response.json")
url=$(jq -r '.html_url // empty' "$work/response.json")
echo "tierctl plan comment $action: ${url:-$id}"
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  {
    echo "comment-id=$id"
    echo "comment-url=$url"
    echo "comment-action=$action"
  } >>"$GITHUB_OUTPUT"
fi
