#!/usr/bin/env bash
# Lint the GitHub Actions workflows (actionlint, with shellcheck on the run:
# blocks when available) and the scripts they call (shellcheck, bash -n).
# Installs the pinned tools into the project venv (.venv) when missing.
#
# Environment: PYTHON (default python3, to create .venv), VENV (default .venv).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${VENV:-.venv}
lock=tests/workflows/requirements.lock
stamp=$venv/.workflow-lint-installed

if [[ ! -x $venv/bin/python ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
if [[ ! -x $venv/bin/actionlint || ! -f $stamp || $lock -nt $stamp ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  touch "$stamp"
fi

shellcheck=
if [[ -x $venv/bin/shellcheck ]]; then
  shellcheck=$venv/bin/shellcheck
elif command -v shellcheck >/dev/null 2>&1; then
  shellcheck=$(command -v shellcheck)
fi

scripts=(.github/scripts/*.sh .github/actions/*/*.sh tests/workflows/*.sh)

echo "bash -n: ${#scripts[@]} scripts"
for s in "${scripts[@]}"; do
  bash -n "$s"
done

if [[ -n $shellcheck ]]; then
  echo "shellcheck: ${#scripts[@]} scripts ($("$shellcheck" --version | sed -n 's/^version: //p'))"
  "$shellcheck" --shell=bash --severity=style "${scripts[@]}"
  shellcheck_flag=(-shellcheck "$shellcheck")
else
  echo "shellcheck: not available, skipped"
  shellcheck_flag=(-shellcheck=)
fi

echo "actionlint: $("$venv/bin/actionlint" -version | head -1)"
"$venv/bin/actionlint" -no-color "${shellcheck_flag[@]}" -pyflakes= .github/workflows/*.yml
echo "workflows lint: ok"
