#!/usr/bin/env bash
# Export the tierctl settings that are set (repository variables) to the
# following steps through GITHUB_ENV. tierctl treats an environment variable
# that is present but empty as a value, so empty ones are left out.
#
# Environment (each optional):
#   IN_DYNAMODB_REGION  -> TIERCTL_DYNAMODB_REGION
#   IN_WORKLOAD_TABLE   -> TIERCTL_WORKLOAD_TABLE
#   IN_TIER_TABLE       -> TIERCTL_TIER_TABLE
#   IN_SPECS            -> TIERCTL_SPECS
#   IN_RUNNER_ARN       -> TIERCTL_RUNNER_ARN          (sync: the schedules' runner)
#   IN_SCHEDULER_ROLE_ARN -> TIERCTL_SCHEDULER_ROLE_ARN (sync: Scheduler's role)
#   IN_DEAD_LETTER_ARN  -> TIERCTL_DEAD_LETTER_ARN     (sync: the schedules' DLQ)
#   GITHUB_ENV          file to append to (required)
set -euo pipefail

: "${GITHUB_ENV:?GITHUB_ENV is not set}"

export_if_set() {
  local name=$1 value=$2
  [[ -n $value ]] || return 0
  if [[ $value == *$'\n'* ]]; then
    echo "::error::$name must be one line"
    exit 1
  fi
  echo "$name=$value" >>"$GITHUB_ENV"
  echo "$name=$value"
}

export_if_set TIERCTL_DYNAMODB_REGION "${IN_DYNAMODB_REGION:-}"
export_if_set TIERCTL_WORKLOAD_TABLE "${IN_WORKLOAD_TABLE:-}"
export_if_set TIERCTL_TIER_TABLE "${IN_TIER_TABLE:-}"
export_if_set TIERCTL_SPECS "${IN_SPECS:-}"
export_if_set TIERCTL_RUNNER_ARN "${IN_RUNNER_ARN:-}"
export_if_set TIERCTL_SCHEDULER_ROLE_ARN "${IN_SCHEDULER_ROLE_ARN:-}"
export_if_set TIERCTL_DEAD_LETTER_ARN "${IN_DEAD_LETTER_ARN:-}"
