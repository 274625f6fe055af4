# tierctl developer tasks. `make demo` and `make test` set up what they need
# (a project-local Python venv for the AWS emulator) on a fresh machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
EMULATOR_LOCK := tests/emulator/requirements.lock
CARGO ?= cargo
TIERCTL := $(or $(CARGO_TARGET_DIR),target)/debug/tierctl


.PHONY: man completions test-tools lambda-zip
.PHONY: help venv build test test-rust test-emulator test-workflows test-deploy lint-deploy demo lint fmt bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(VENV_STAMP): $(EMULATOR_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r $(EMULATOR_LOCK)
	touch $@

venv: $(VENV_STAMP) ## Create the Python venv with the AWS emulator (moto, pinned)

build: ## Build tierctl (debug)
	$(CARGO) build

tests/mermaid/node_modules/.installed: tests/mermaid/package-lock.json
	@if command -v npm > /dev/null; then \
		npm ci --prefix tests/mermaid --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Mermaid parse check (tests/it/mermaid.rs) will be skipped"; fi

test-tools: tests/mermaid/node_modules/.installed ## Node packages for the Mermaid check (npm ci), zsh for the completion check
	@command -v zsh > /dev/null || { command -v apt-get > /dev/null && [ "$$(id -u)" = 0 ] \
		&& (apt-get install -y -qq zsh > /dev/null 2>&1 || (apt-get update -qq > /dev/null 2>&1 && apt-get install -y -qq zsh > /dev/null 2>&1)) \
		|| echo "zsh not installed: the zsh completion check will be skipped"; }

test: venv test-tools ## Run every test: Rust unit + end-to-end (against the emulator), emulator and workflow-script tests, schema drift, examples, the demo
	$(MAKE) --no-print-directory test-emulator
	$(MAKE) --no-print-directory test-workflows
	$(MAKE) --no-print-directory test-rust
	$(MAKE) --no-print-directory test-deploy
	$(TIERCTL) schema --check
	$(TIERCTL) validate workloads
	TIERCTL=$(TIERCTL) TIERCTL_EMULATOR_PYTHON=$(VENV_PY) NO_COLOR=1 tests/demo/demo.sh > /dev/null

test-rust:
	TIERCTL_EMULATOR_PYTHON=$(CURDIR)/$(VENV_PY) $(CARGO) test --all-targets

test-emulator: venv
	cd tests/emulator && PYTHONDONTWRITEBYTECODE=1 ../../$(VENV_PY) -m unittest discover -s tests

lint-deploy: venv ## cfn-lint on the runner's CloudFormation template (deploy/)
	$(VENV)/bin/cfn-lint deploy/tierctl-runner.yaml

test-deploy: lint-deploy ## The runner template: cfn-lint, and its roles' policies = `tierctl iam-policy --role ...` (needs the debug build)
	TIERCTL=$(TIERCTL) PYTHONDONTWRITEBYTECODE=1 $(VENV_PY) -m unittest discover -s tests/deploy

test-workflows: venv ## Workflow scripts, with fake tierctl and gh
	PYTHONDONTWRITEBYTECODE=1 $(VENV_PY) -m unittest discover -s tests/workflows

demo: venv build ## The main job on the built-in example: emulator, example fleet, validate, sync, plan, run
	TIERCTL=$(TIERCTL) TIERCTL_EMULATOR_PYTHON=$(VENV_PY) tests/demo/demo.sh

lint: ## cargo fmt --check, clippy -D warnings, actionlint on the workflows, cfn-lint on deploy/
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	tests/workflows/lint.sh
	$(MAKE) --no-print-directory lint-deploy

bench: venv build ## Benchmarks against the emulator: AWS calls and wall time of sync, plan, override checks and runs
	$(VENV_PY) tests/bench/bench.py --tierctl $(TIERCTL)

lambda-zip: ## The Lambda runner zip for this machine (target/lambda/): a release build, packaged as `bootstrap`
	$(CARGO) build --release --locked
	.github/scripts/package-lambda.sh "$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" \
	  "$$(uname -m | sed 's/^arm64$$/aarch64/')-unknown-linux-gnu" target/release/tierctl target/lambda
	@echo "note: linked against this machine's glibc; provided.al2023 has 2.34 (the release zips are built for it)"

man: build ## Man pages (one per command) into target/man/man1
	$(TIERCTL) man --out target/man/man1

completions: build ## Shell completion scripts into target/completions
	mkdir -p target/completions
	$(TIERCTL) completions bash > target/completions/tierctl.bash
	$(TIERCTL) completions zsh > target/completions/_tierctl
	$(TIERCTL) completions fish > target/completions/tierctl.fish

fmt: ## Format the code
	$(CARGO) fmt --all

clean: ## Remove build output and the venv
	$(CARGO) clean
	rm -rf $(VENV)
