#!/usr/bin/env bash
# Scheduled or manual stop/start: maps the workflow inputs to
# `tierctl run ACTION (WORKLOAD... | --all) --from dynamodb [--profile P] [--dry-run]`
# and its exit code to the job result.
#
# Environment:
#   ACTION      stop | start (required)
#   WORKLOADS   "--all" (default) or workload names separated by spaces or commas
#   PROFILE     scaling profile (optional)
#   DRY_RUN     true | false (default false)
#   TIERCTL     tierctl command (default: tierctl on PATH)
#   GITHUB_OUTPUT receives exit-code and result (ok | held-back | failed)
#
# tierctl writes the run's markdown summary to GITHUB_STEP_SUMMARY itself.
# Exit codes: tierctl 0 -> 0; 3 (finished, some instances deliberately held
# back or bypassed, e.g. an override file) -> a ::warning:: and 0, so the job
# stays green but visible; 1 or anything else -> ::error:: and that code.
set -euo pipefail

TIERCTL=${TIERCTL:-tierctl}
ACTION=${ACTION:-}
WORKLOADS=${WORKLOADS:-}
PROFILE=${PROFILE:-}
DRY_RUN=${DRY_RUN:-false}

output() {
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    echo "$1" >>"$GITHUB_OUTPUT"
  fi
}

case "$ACTION" in
  stop | start) ;;
  *)
    echo "::error title=tierctl run::action must be stop or start, not '$ACTION' (a schedule whose cron is not mapped to an action in schedule.yml?)"
    exit 1
    ;;
esac

# Workloads: "--all" or names; anything else (another flag, a path, shell
# syntax) is refused so that the input cannot smuggle in options.
if [[ $WORKLOADS == *$'\n'* ]]; then
  echo "::error title=tierctl run::workloads must be one line"
  exit 1
fi
read -r -a words <<<"${WORKLOADS//,/ }"
targets=()
if [[ ${#words[@]} -eq 0 ]]; then
  targets=(--all)
elif [[ ${#words[@]} -eq 1 && ${words[0]} == --all ]]; then
  targets=(--all)
else
  for w in "${words[@]}"; do
    if [[ $w == --all ]]; then
      echo "::error title=tierctl run::workloads: use --all alone or a list of names, not both"
      exit 1
    fi
    if [[ ! $w =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]]; then
      echo "::error title=tierctl run::workloads: '$w' is not a workload name"
      exit 1
    fi
    targets+=("$w")
  done
fi

args=(run "$ACTION" "${targets[@]}" --from dynamodb)
if [[ -n $PROFILE ]]; then
  if [[ ! $PROFILE =~ ^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$ ]]; then
    echo "::error title=tierctl run::profile: '$PROFILE' is not a profile name"
    exit 1
  fi
  args+=(--profile "$PROFILE")
fi
case "$DRY_RUN" in
  true) args+=(--dry-run) ;;
  false | '') ;;
  *)
    echo "::error title=tierctl run::dry_run must be true or false, not '$DRY_RUN'"
    exit 1
    ;;
esac

echo "+ tierctl --color never ${args[*]}"
rc=0
"$TIERCTL" --color never "${args[@]}" || rc=$?
output "exit-code=$rc"

case $rc in
  0)
    output "result=ok"
    ;;
  3)
    output "result=held-back"
    echo "::warning title=tierctl run $ACTION::finished, but some instances were deliberately held back or bypassed (override file, kill switch, or not in the expected state); see the job summary"
    rc=0
    ;;
  130)
    output "result=failed"
    echo "::error title=tierctl run $ACTION::interrupted"
    ;;
  *)
    output "result=failed"
    echo "::error title=tierctl run $ACTION::failed with exit code $rc; see the log above and the job summary"
    ;;
esac
exit "$rc"
