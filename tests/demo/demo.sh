#!/usr/bin/env bash
# `make demo`: tierctl's main job on the built-in example, against the local
# AWS emulator (loopback only, dummy credentials, nothing leaves the machine).
set -euo pipefail
cd "$(dirname "$0")/../.."

TIERCTL=${TIERCTL:-target/debug/tierctl}
PY=${TIERCTL_EMULATOR_PYTHON:-.venv/bin/python}
SPECS=${SPECS:-workloads}
work=$(mktemp -d)
emulator_pid=""
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain" >&2; }
run() { step "tierctl $*"; "$TIERCTL" "$@"; }

PYTHONPATH=tests/emulator "$PY" -m tierctl_emulator --port 0 --port-file "$work/port" --parent-pid $$ \
  >"$work/emulator.out" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/emulator.log" >&2; echo "the emulator did not start" >&2; exit 1; }
port=$(cat "$work/port")

# Everything below talks to the emulator only.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-west-2
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "AWS emulator on 127.0.0.1:$port" >&2

run validate "$SPECS"
step "tierctl sync --check   # before the first sync: drift, exit code 2"
set +e; "$TIERCTL" --specs "$SPECS" sync --check; code=$?; set -e
echo "exit code: $code" >&2
[ "$code" -eq 2 ] || { echo "expected drift (2) before the first sync" >&2; exit 1; }
run --specs "$SPECS" sync
run --specs "$SPECS" sync --check
run --specs "$SPECS" import --all --out "$work/imported"
step "cat imported/WinReporting.yaml   # the tables, back as a spec"
cat "$work/imported/WinReporting.yaml"
printf '\ndemo finished: validate, sync, import against the local emulator\n' >&2
