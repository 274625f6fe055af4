#!/usr/bin/env bash
# Pull request plan: validate, `sync --check` and `plan stop|start`, assembled
# into one markdown body for the sticky pull request comment (and the step
# summary).
#
# Environment:
#   TIERCTL_PLAN_MODE  online (AWS credentials present: sync --check + plans
#                      against DynamoDB) | offline (no AWS call at all)
#   OFFLINE_REASON     optional sentence shown in the offline note
#   TIERCTL            tierctl command (default: tierctl on PATH)
#   COMMENT_MARKER     hidden marker that identifies the comment
#                      (default: <!-- tierctl-plan -->)
#   COMMENT_FILE       where to write the body (default: $RUNNER_TEMP/tierctl-plan-comment.md)
#   COMMENT_LIMIT      max characters of a comment (default 60000; GitHub's limit is 65536)
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_SHA, GITHUB_SERVER_URL,
#   GITHUB_REPOSITORY, GITHUB_RUN_ID   as set by GitHub Actions (all optional)
#
# Writes to GITHUB_OUTPUT: body-file, status (ok | drift | failed), mode.
# Exit code: 0 when every command succeeded (exit 2 of `sync --check` means the
# pull request changes the configuration, which is what pull requests do: not
# a failure); 1 when validation or any tierctl command failed. The body is
# written in every case, so the comment step can still post it.
# Markdown code spans are written in single quotes on purpose:
# shellcheck disable=SC2016
set -euo pipefail

TIERCTL=${TIERCTL:-tierctl}
MODE=${TIERCTL_PLAN_MODE:-offline}
MARKER=${COMMENT_MARKER:-<!-- tierctl-plan -->}
LIMIT=${COMMENT_LIMIT:-60000}
tmp_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
COMMENT_FILE=${COMMENT_FILE:-$tmp_root/tierctl-plan-comment.md}

case "$MODE" in
  online | offline) ;;
  *)
    echo "::error::TIERCTL_PLAN_MODE must be online or offline, not '$MODE'"
    exit 1
    ;;
esac

work=$(mktemp -d "$tmp_root/tierctl-plan.XXXXXX")
trap 'rm -rf "$work"' EXIT

status=ok
failed=0

# Run tierctl with the step summary hidden from it (tierctl appends markdown
# there by itself; this script writes the whole body there once instead).
# Sets $rc; stdout goes to the file $1, stderr (logs) to the job log.
tierctl_to() {
  local out=$1
  shift
  rc=0
  env -u GITHUB_STEP_SUMMARY "$TIERCTL" --color never "$@" >"$out" || rc=$?
}

# A fenced block that the captured text cannot close early.
fenced() {
  local lang=$1 file=$2
  printf '~~~~%s\n' "$lang"
  cat "$file"
  if [[ -s $file && -n $(tail -c1 "$file") ]]; then echo; fi
  printf '~~~~\n'
}

# section TITLE FILE RC OK_CODES...: markdown section for one command.
section() {
  local title=$1 file=$2 code=$3
  shift 3
  printf '\n### %s\n\n' "$title"
  local ok
  for ok in "$@"; do
    if [[ $code == "$ok" ]]; then
      if [[ -s $file ]]; then cat "$file"; else echo "_(no output)_"; fi
      printf '\n'
      return 0
    fi
  done
  printf ':x: `tierctl` exited with code %s.\n\n' "$code"
  if [[ -s $file ]]; then fenced text "$file"; fi
  printf 'See the job log for details.\n'
}

# --- validate: annotations go to the job log (stdout of this step) ----------
rc=0
"$TIERCTL" --color never validate -o github || rc=$?
validate_rc=$rc
validate_md=$work/validate.md
if [[ $validate_rc -eq 0 ]]; then
  echo ':white_check_mark: All workload specs are valid.' >"$validate_md"
else
  failed=1
  tierctl_to "$work/validate.txt" validate -o text || true
  {
    printf ':x: Validation failed (exit code %s); the files are annotated on the pull request.\n\n' "$validate_rc"
    fenced text "$work/validate.txt"
  } >"$validate_md"
fi

# --- sync --check and plans --------------------------------------------------
sync_rc=skip
if [[ $validate_rc -eq 0 ]]; then
  if [[ $MODE == online ]]; then
    tierctl_to "$work/sync.md" sync --check -o markdown
    sync_rc=$rc
    case $sync_rc in
      0) ;;
      2) status=drift ;;
      *) failed=1 ;;
    esac
    offline=()
  else
    offline=(--offline)
  fi
  # Online, the plans can be saved (PLAN_DIR) for the workflow to attach
  # as an artifact: exactly what `run --plan` would execute, or refuse as stale.
  save_stop=() save_start=()
  if [[ $MODE == online && -n ${PLAN_DIR:-} ]]; then
    mkdir -p "$PLAN_DIR"
    save_stop=(--out "$PLAN_DIR/plan-stop.json")
    save_start=(--out "$PLAN_DIR/plan-start.json")
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
      echo "plan-dir=$PLAN_DIR" >>"$GITHUB_OUTPUT"
    fi
  fi
  tierctl_to "$work/stop.md" plan stop --all "${offline[@]}" "${save_stop[@]}" -o markdown
  stop_rc=$rc
  tierctl_to "$work/start.md" plan start --all "${offline[@]}" "${save_start[@]}" -o markdown
  start_rc=$rc
  for c in "$stop_rc" "$start_rc"; do
    [[ $c == 0 || $c == 2 ]] || failed=1
  done
fi
[[ $failed -eq 0 ]] || status=failed

# --- assemble ----------------------------------------------------------------
sha=${GITHUB_SHA:-}
run_url=
if [[ -n ${GITHUB_RUN_ID:-} && -n ${GITHUB_REPOSITORY:-} ]]; then
  run_url="${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID"
fi

header() {
  printf '%s\n## tierctl plan\n\n' "$MARKER"
  case $status in
    ok)
      if [[ $MODE == online ]]; then
        printf ':white_check_mark: Valid; no configuration drift.'
      else
        printf ':white_check_mark: Valid (configuration drift not checked offline).'
      fi
      ;;
    drift) printf ':memo: Valid; merging this pull request changes the DynamoDB configuration (see below).' ;;
    failed) printf ':x: **tierctl failed**: see below and the job log.' ;;
  esac
  [[ -n $sha ]] && printf ' Commit `%s`.' "${sha:0:12}"
  [[ -n $run_url ]] && printf ' [Workflow run](%s).' "$run_url"
  printf '\n'
  if [[ $MODE == offline ]]; then
    printf '\n> [!NOTE]\n> **Offline plan**: no AWS credentials in this run'
    if [[ -n ${OFFLINE_REASON:-} ]]; then printf ' (%s)' "$OFFLINE_REASON"; fi
    printf '.\n> `sync --check` was skipped and the plans were computed from the YAML alone (`plan --offline`),\n> without reading DynamoDB or the instances.\n'
  fi
  printf '\n### Validate\n\n'
  cat "$validate_md"
}

body() {
  header
  if [[ $sync_rc == skip && $validate_rc -ne 0 ]]; then
    printf '\n_`sync --check` and `plan` were skipped because validation failed._\n'
    return
  fi
  if [[ $MODE == online ]]; then
    section 'Configuration drift (`tierctl sync --check`)' "$work/sync.md" "$sync_rc" 0 2
  fi
  section 'Plan: stop (`tierctl plan stop --all`)' "$work/stop.md" "$stop_rc" 0 2
  section 'Plan: start (`tierctl plan start --all`)' "$work/start.md" "$start_rc" 0 2
}

mkdir -p "$(dirname "$COMMENT_FILE")"
body >"$work/full.md"

if [[ -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  cat "$work/full.md" >>"$GITHUB_STEP_SUMMARY"
fi

size=$(wc -c <"$work/full.md")
if ((size > LIMIT)); then
  {
    header
    printf '\n> [!WARNING]\n> The full plan (%s bytes) is too long for a pull request comment;' "$size"
    if [[ -n $run_url ]]; then
      printf ' read it in the [job summary](%s).\n' "$run_url"
    else
      printf ' read it in the job summary.\n'
    fi
  } >"$COMMENT_FILE"
else
  cp "$work/full.md" "$COMMENT_FILE"
fi

if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  {
    echo "body-file=$COMMENT_FILE"
    echo "status=$status"
    echo "mode=$MODE"
  } >>"$GITHUB_OUTPUT"
fi

echo "tierctl plan: status=$status mode=$MODE body=$COMMENT_FILE" >&2
[[ $status != failed ]]
